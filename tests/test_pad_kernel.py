"""Crafted comm messages sent to a real kernel running the pad: nothing but widget updates comes back.

The other tests feed messages to the widgets in this process; this one sends
them as a crafted client would, over the kernel's shell channel, and reads
every message the kernel then publishes on iopub, the channel a page's
websocket carries. A traceback would come back as an ``error`` message, or
as ``stream`` text on stderr (``showtraceback``, or a log record printed
through ``sys.stderr``, which a kernel forwards to the page).
"""

from __future__ import annotations

import json
import math
import os
import queue
import sys
from collections.abc import Iterator

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager

pytestmark = [
    pytest.mark.slow,  # a kernel starts: a few seconds
    pytest.mark.filterwarnings("ignore:Message serialization failed:UserWarning"),  # the NaN, on purpose
]

SETUP = """
import json
from mlp.pad.widget import DigitPad
pad = DigitPad()
print(json.dumps({"canvas": pad.canvas.comm.comm_id, "upload": pad.upload.comm.comm_id,
                  "teach": pad.teach.teach_button.comm.comm_id}))
"""
CRAFTED = [
    ("canvas", {"method": "custom", "content": {"event": "mouse_down", "y": 1}}),
    ("canvas", {"method": "custom", "content": {"event": "mouse_move", "x": math.nan, "y": 1}}),
    ("canvas", {"method": "custom", "content": {"event": "touch_start", "touches": None}}),
    ("canvas", {"method": "custom", "content": {"event": "key_down"}}),
    ("canvas", {"method": "custom", "content": None}),
    ("upload", {"method": "update", "state": {"value": "not files"}}),
    ("upload", {"method": "update", "state": {"value": [{"name": "a.png"}]}}),
    ("upload", {"method": "update", "state": {"accept": 12}}),
    ("upload", {"method": "explode"}),
    ("teach", {"method": "custom", "content": {"event": "click"}}),  # no examples: a message, no error
]
CHECK = "print(pad.raster.points, pad.uploaded is None, pad.model is pad.initial_model)"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Iterator[BlockingKernelClient]:
    """An IPython kernel of this Python (not whatever "python3" kernel the machine lists)."""
    home = tmp_path_factory.mktemp("kernel")
    spec = home / "kernels" / "mlp-pad"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "mlp-pad", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(home / "kernels")])
    manager = KernelManager(kernel_name="mlp-pad", kernel_spec_manager=specs)
    manager.start_kernel(env={**os.environ, "IPYTHONDIR": str(home / "ipython")})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> list[dict]:
    """Execute ``code``; every iopub message until the kernel is idle again."""
    msg_id = client.execute(code)
    return until_idle(client, msg_id)


def until_idle(client, msg_id: str) -> list[dict]:
    messages = []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=60)
        except queue.Empty:
            pytest.fail("the kernel went quiet")
        messages.append(msg)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return messages


def stdout(messages: list[dict]) -> str:
    return "".join(
        m["content"]["text"]
        for m in messages
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


def test_crafted_messages_send_no_traceback_to_the_page(kernel):
    ids = json.loads(stdout(run(kernel, SETUP)))
    published = []
    for target, data in CRAFTED:
        msg = kernel.session.msg("comm_msg", {"comm_id": ids[target], "data": data})
        kernel.shell_channel.send(msg)
        published += until_idle(kernel, msg["header"]["msg_id"])
    errors = [m for m in published if m["msg_type"] == "error"]
    streams = [m["content"]["text"] for m in published if m["msg_type"] == "stream"]
    assert errors == [] and streams == [], (errors, streams)
    assert any(
        m["msg_type"] == "comm_msg" and "No examples yet" in json.dumps(m["content"]) for m in published
    ), "the Teach click was answered, with a message for the visitor"
    assert stdout(run(kernel, CHECK)).split() == ["0", "True", "True"], "the pad is as it was"
    draw = (
        "from mlp.pad.canvas import canvas_event\n"
        "for e, y in [('mouse_down', 100), ('mouse_move', 300), ('mouse_up', 460)]:\n"
        "    canvas_event(pad.canvas, event=e, x=290, y=y)\n"
        "print(pad.prediction[0])"
    )
    assert stdout(run(kernel, draw)).strip() == "1", "and it still draws and reads"
