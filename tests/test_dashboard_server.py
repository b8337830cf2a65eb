"""The dashboard's server settings, and what one visitor's crafted websocket cannot do to the server.

The fast tests read the shipped configuration; the slow ones start Voila as the
README does (``voila.json`` and all) and send, with tornado's websocket client,
the two messages that froze Voila 0.5.13 for everyone: a binary ``request_state``
reply over the legacy protocol, and a forged v1 frame.
"""

from __future__ import annotations

import asyncio
import filecmp
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from tornado.httpclient import HTTPClientError

from benchmarks.drivers.kernel_socket import KernelSocket, v1_frame
from benchmarks.drivers.voila_server import ROOT, VoilaServer, voila_config
from mlp.serve.websocket import MAX_OFFSETS, v1_frame_problem

SERVER_CONFIG = ROOT / "jupyter_server_config.json"
TEMPLATE = Path("share", "jupyter", "voila", "templates", "mlp-dashboard")
# A frozen server never answers; a working one answers this in milliseconds, a busy one in well
# under this. (A liveness check, not a timing: nothing here measures how fast.)
ANSWERS_WITHIN_S = 5
# The offset count 2**63 - 1 in eight bytes: deserialize_msg_from_ws_v1 would loop that many times.
FORGED_V1_FRAME = b"\xff" * 7 + b"\x7f" + bytes(64)


def server_config() -> dict:
    return json.loads(SERVER_CONFIG.read_text())


# --- the websocket frames a server accepts ---------------------------------------------------------


def test_well_formed_v1_frames_pass_the_check():
    header = json.dumps({"msg_id": "1", "msg_type": "comm_msg"}).encode()
    parts = [header, b"{}", b"{}", b'{"data": {}}']
    assert v1_frame_problem(serialize_msg_to_ws_v1(parts, "shell")) is None
    assert v1_frame_problem(serialize_msg_to_ws_v1([*parts, b"\x00" * 1000, b""], "shell")) is None
    assert v1_frame_problem(v1_frame("shell", "comm_info_request", {})) is None


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (FORGED_V1_FRAME, "an offset count of 9223372036854775807"),
        ('{"channel": "shell"}', "a text frame"),
        (b"\x06\x00", "2 bytes, too short"),
        ((MAX_OFFSETS + 1).to_bytes(8, "little") + bytes(8 * 80), f"an offset count of {MAX_OFFSETS + 1}"),
        ((6).to_bytes(8, "little") + bytes(16), "an offset table of 56 bytes in a frame of 24"),
        (
            (6).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in (56, 9, 9, 9, 9, 9)),
            "forward",
        ),
    ],
)
def test_malformed_v1_frames_are_named(frame, problem):
    assert problem in v1_frame_problem(frame)


# --- the shipped configuration ------------------------------------------------------------------------


def test_voila_and_jupyter_server_get_the_same_limits():
    voila, server = voila_config(), server_config()
    limit = voila["Voila"]["tornado_settings"]["websocket_max_message_size"]
    # 8 MiB: the pad's largest file (5 MB) and its JSON; the server reads no more of one message.
    assert limit == server["ServerApp"]["tornado_settings"]["websocket_max_message_size"] == 8 * 2**20
    for config in (voila, server):
        assert config["VoilaConfiguration"]["template"] == "mlp-dashboard"
        # The page refuses, before sending, exactly what the server would drop.
        assert config["VoilaConfiguration"]["resources"]["mlp_dashboard"]["max_message_bytes"] == limit
        assert config["VoilaExporter"]["TagRemovePreprocessor"]["remove_cell_tags"] == ["notebook-only"]
        # ?template=lab (or classic, reveal) would serve the page without this template.
        assert config["VoilaConfiguration"]["allow_template_override"] == "NO"
        assert config["VoilaConfiguration"]["allow_theme_override"] == "NO"


def test_culling_frees_disconnected_kernels_and_never_connected_ones():
    for config in (voila_config(), server_config()):
        culling = config["MappingKernelManager"]
        assert culling["cull_connected"] is False, "a student in front of an open page keeps their kernel"
        assert 60 <= culling["cull_idle_timeout"] <= 3600, "long enough for a dropped wifi to come back"
        assert 0 < culling["cull_interval"] <= culling["cull_idle_timeout"] / 4
    assert voila_config()["Voila"]["kernel_websocket_connection_class"] == (
        "mlp.serve.websocket.SafeKernelConnection"
    )


def test_the_template_voila_uses_is_the_repository_s():
    """pip installs the template into the environment; after editing it, re-run ``pip install -e .``."""
    installed = Path(sys.prefix) / TEMPLATE
    assert installed.is_dir(), f"{installed} is missing: run `pip install -e .` (the template is shared data)"
    source = ROOT / TEMPLATE
    files = [p.relative_to(source) for p in source.rglob("*") if p.is_file()]
    stale = [str(f) for f in files if not filecmp.cmp(source / f, installed / f, shallow=False)]
    assert files and not stale, (
        f"the installed template differs from the repository's in {stale}: pip install -e ."
    )


def test_postbuild_gives_binder_s_jupyter_server_the_repository_s_settings(tmp_path):
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter")}
    subprocess.run(["bash", str(ROOT / "postBuild")], env=env, check=True, timeout=60)
    assert json.loads((tmp_path / "jupyter" / "jupyter_server_config.json").read_text()) == server_config()


# --- a crafted websocket against the real server ------------------------------------------------------


@pytest.fixture(scope="module")
def page_kernel():
    """A server as the README starts it, and the kernel of one page on it (opened without JavaScript)."""
    with VoilaServer() as server:
        with urllib.request.urlopen(server.page_url, timeout=120) as response:
            kernel_id = re.search(r'"kernelId": "([\w-]+)"', response.read().decode()).group(1)
        yield server, kernel_id


def channels_url(server: VoilaServer, kernel_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id=crafted"


def assert_server_answers(server: VoilaServer, kernel_id: str) -> None:
    start = time.monotonic()
    model = server.api(f"api/kernels/{kernel_id}", timeout=ANSWERS_WITHIN_S)
    assert model["id"] == kernel_id, f"answered after {time.monotonic() - start:.2f} s"


async def request_every_widget_state(socket: KernelSocket) -> int:
    """What froze Voila: ``request_state`` to every widget; the Image widgets' replies carry buffers."""
    await socket.send("shell", "comm_info_request", {"target_name": "jupyter.widget"})
    comms = None
    for message in await socket.read(10):
        if isinstance(message, dict) and message["header"]["msg_type"] == "comm_info_reply":
            comms = message["content"]["comms"]
    assert comms, "the kernel lists the page's widgets"
    for comm_id in comms:
        await socket.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}})
    await socket.read(2)
    return len(comms)


@pytest.mark.slow
def test_a_legacy_protocol_websocket_is_refused_and_the_server_keeps_answering(page_kernel):
    server, kernel_id = page_kernel

    async def legacy_client() -> None:
        async with KernelSocket(channels_url(server, kernel_id), protocol=None) as socket:
            await request_every_widget_state(socket)  # only if the server let it in

    with pytest.raises(HTTPClientError) as refused:
        asyncio.run(legacy_client())
    assert refused.value.code == 400
    assert_server_answers(server, kernel_id)
    assert "speaks only the v1.kernel.websocket.jupyter.org" in server.log()


@pytest.mark.slow
def test_a_forged_v1_frame_closes_its_socket_and_the_server_keeps_answering(page_kernel):
    server, kernel_id = page_kernel

    async def forger() -> list:
        async with KernelSocket(channels_url(server, kernel_id)) as socket:
            await socket.send_frame(FORGED_V1_FRAME)
            await socket.read(ANSWERS_WITHIN_S)  # returns as soon as the server closes the socket
            return [socket.connection.close_code, socket.connection.close_reason]

    assert asyncio.run(forger()) == [1008, "malformed message"]
    assert_server_answers(server, kernel_id)


@pytest.mark.slow
def test_a_well_behaved_v1_client_still_reaches_the_kernel(page_kernel):
    server, kernel_id = page_kernel

    async def client() -> int:
        async with KernelSocket(channels_url(server, kernel_id)) as socket:
            return await request_every_widget_state(socket)  # v1 frames the widgets' buffers correctly

    assert asyncio.run(client()) > 10
    assert_server_answers(server, kernel_id)
