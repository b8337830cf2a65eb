"""What one anonymous visitor's crafted client can do to the dashboard's server: little, nothing to others.

Each test plays one attack of issue 17 against Voila started as the README
starts it (``voila.json``), on 127.0.0.1, bounded in count and in time, and
checks that it is refused or cut short and that the server still answers. The
figures (how much it slows a second visitor, memory) come from ``python -m
benchmarks attacks``; no test here measures speed.

The attacker's kernel is one a page gets without running its JavaScript (a
plain ``GET /``); ``KernelSocket`` and ``RawWebSocket`` talk to it as a crafted
client would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import json
import re
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from tornado.httpclient import HTTPClientError

from benchmarks.drivers.kernel_socket import KernelSocket, RawWebSocket, v1_frame
from benchmarks.drivers.voila_server import ROOT, VoilaServer
from mlp.serve import websocket
from mlp.serve.kernels import CLASS_FULL, TOO_MANY_PAGES
from mlp.serve.turns import all_cpus, render_cpus
from mlp.serve.websocket import host_allowed, v1_frame_problem

pytestmark = pytest.mark.slow

# A liveness check, not a timing: a frozen server never answers, a busy one well within this.
ANSWERS_WITHIN_S = 5
SERVER_PATHS = (str(ROOT), sys.prefix, "site-packages")


# --- fast: the checks themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8866", True),
        ("127.0.0.1:8866", True),
        ("[::1]:8866", True),
        ("192.168.1.20:8866", True),  # a LAN address: no other site can send it as its Host
        ("attacker.example", False),
        ("attacker.example:8866", False),
        ("localhost.attacker.example", False),
        ("", False),
        (None, False),
    ],
)
def test_only_addresses_and_the_server_s_own_names_reach_a_kernel(host, allowed):
    assert host_allowed(host, ["localhost"]) is allowed


def test_a_part_too_large_is_named_before_anything_is_parsed():
    padded = v1_frame("shell", "comm_msg", {}, header_extra={"x": [[]] * 10_000})  # 40 KB of header
    assert "a header of" in v1_frame_problem(padded)
    content = v1_frame("shell", "comm_msg", {"data": "x" * (websocket.MAX_CONTENT_BYTES + 1)})
    assert "a content of" in v1_frame_problem(content)
    photo = v1_frame("shell", "comm_msg", {"data": {}}, buffers=[bytes(5_000_000)])
    assert v1_frame_problem(photo) is None  # the pad's largest file passes
    assert "bytes (at most" in v1_frame_problem(
        v1_frame("shell", "comm_msg", {}, buffers=[bytes(websocket.MAX_FRAME_BYTES)])
    )


# --- against the real server --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[VoilaServer]:
    with VoilaServer() as server:
        yield server


def page_kernel(server: VoilaServer, query: str = "") -> tuple[str, str]:
    """A page fetched without JavaScript (its kernel starts, nobody connects): ``(kernel id, html)``."""
    with urllib.request.urlopen(server.page_url + query, timeout=120) as response:
        html = response.read().decode()
    return re.search(r'"kernelId": "([\w-]+)"', html).group(1), html


def shut_down(server: VoilaServer, kernel_id: str) -> None:
    """What a page's unload beacon does (the XSRF token as cookie and field, as dashboard.js sends it)."""
    request = urllib.request.Request(
        f"{server.url}voila/api/shutdown/{kernel_id}",
        data=b"_xsrf=t",
        headers={"Cookie": "_xsrf=t", "Content-Type": "application/x-www-form-urlencoded"},
    )
    urllib.request.urlopen(request, timeout=30).close()


@pytest.fixture(scope="module")
def attacker(server) -> Iterator[str]:
    kernel_id, _ = page_kernel(server)
    yield kernel_id
    shut_down(server, kernel_id)


def channels(server: VoilaServer, kernel_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"


def assert_server_answers(server: VoilaServer, kernel_id: str) -> None:
    assert server.api(f"api/kernels/{kernel_id}", timeout=ANSWERS_WITHIN_S)["id"] == kernel_id


def _type(message) -> str | None:
    return message["header"]["msg_type"] if isinstance(message, dict) else None


async def widget_comms(socket: KernelSocket) -> dict[str, str]:
    """``{model name: comm id}`` of the page's widgets (the first of each model)."""
    await socket.send("shell", "comm_info_request", {"target_name": "jupyter.widget"})
    comms = next(m["content"]["comms"] for m in await socket.read(10) if _type(m) == "comm_info_reply")
    for comm_id in comms:
        await socket.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}})
    models: dict[str, str] = {}
    for message in await socket.read(5):
        if _type(message) == "comm_msg" and "state" in message["content"]["data"]:
            models.setdefault(
                message["content"]["data"]["state"].get("_model_name"), message["content"]["comm_id"]
            )
    return models


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 120))


def test_a_crafted_comm_message_sends_back_no_traceback_and_is_logged_on_the_server(server, attacker):
    async def crafted() -> list:
        async with KernelSocket(channels(server, attacker)) as socket:
            models = await widget_comms(socket)
            upload = models["FileUploadModel"]
            for data in (
                {"method": "update", "state": {"value": "not a list"}, "buffer_paths": []},
                {"method": "update", "state": {"value": [{"name": 5, "content": "x"}]}, "buffer_paths": []},
                {"method": "no such method"},
            ):
                await socket.send("shell", "comm_msg", {"comm_id": upload, "data": data})
            # ipykernel itself logs a comm that fails to open (here: no protocol version), traceback and all.
            control = {"comm_id": uuid.uuid4().hex, "target_name": "jupyter.widget.control", "data": {}}
            await socket.send("shell", "comm_open", control)
            return await socket.read(5)

    published = run(crafted())
    text = json.dumps([m["content"] for m in published if isinstance(m, dict)])
    assert "Traceback" not in text
    assert not [path for path in SERVER_PATHS if path in text], "server paths went down the websocket"
    assert not [m for m in published if _type(m) in ("stream", "error")], "the page got output for it"
    assert "FileUpload dropped a message it could not handle" in server.log()
    assert "Traceback" in server.log(), "the server's log has the traceback"


def test_a_widget_the_page_asks_the_kernel_to_create_is_refused(server, attacker):
    comm_id = uuid.uuid4().hex
    state = {"_model_name": "TextModel", "_model_module": "@jupyter-widgets/controls", "value": "x" * 100_000}

    async def open_widget() -> list:
        async with KernelSocket(channels(server, attacker)) as socket:
            data = {"state": state, "buffer_paths": []}
            content = {"comm_id": comm_id, "target_name": "jupyter.widget", "data": data}
            # As a page would send it: with the widget protocol's version, which ipywidgets checks.
            await socket.send_frame(v1_frame("shell", "comm_open", content, metadata={"version": "2.1.0"}))
            return await socket.read(5)

    published = run(open_widget())
    closed = [m for m in published if _type(m) == "comm_close" and m["content"]["comm_id"] == comm_id]
    assert closed, "the kernel closes the comm of a widget the page asked for"
    assert "refused what the page asked for (\"to create a widget 'TextModel'\")" in server.log()


def test_a_header_too_large_closes_the_socket_unparsed_and_the_server_keeps_answering(server, attacker):
    async def padded_header() -> list:
        async with KernelSocket(channels(server, attacker)) as socket:
            frame = v1_frame("shell", "kernel_info_request", {}, header_extra={"x": [[]] * 500_000})  # 2 MB
            await socket.send_frame(frame)
            await socket.read(ANSWERS_WITHIN_S)
            return [socket.connection.close_code, socket.connection.close_reason]

    assert run(padded_header()) == [1008, "malformed message"]
    assert "it sent a header of 2000" in server.log()
    assert_server_answers(server, attacker)


def test_a_message_over_the_size_limit_is_cut_off_by_tornado(server, attacker):
    frame = v1_frame("shell", "kernel_info_request", {}, buffers=[bytes(websocket.MAX_FRAME_BYTES + 1)])
    with RawWebSocket(channels(server, attacker)) as raw:
        assert raw.status == 101
        try:
            raw.send(frame)
        except ConnectionError:
            pass  # cut off while sending: tornado reads the frame's length first
        else:
            assert raw.closed_by_server(ANSWERS_WITHIN_S)
    assert_server_answers(server, attacker)


def test_a_kernel_takes_only_so_many_websockets(server, attacker):
    async def many() -> int:
        sockets = []
        try:
            for _ in range(websocket.MAX_SOCKETS_PER_KERNEL):
                sockets.append(await KernelSocket(channels(server, attacker)).__aenter__())
            with pytest.raises(HTTPClientError) as refused:
                await KernelSocket(channels(server, attacker)).__aenter__()
            return refused.value.code
        finally:
            for socket in sockets:
                await socket.__aexit__()

    assert run(many()) == 503
    time.sleep(1)  # the closed sockets are released: a new one is admitted again

    async def one_more() -> None:
        async with KernelSocket(channels(server, attacker)) as socket:
            await socket.send("shell", "kernel_info_request", {})
            assert any(_type(m) == "kernel_info_reply" for m in await socket.read(ANSWERS_WITHIN_S))

    run(one_more())


def test_a_websocket_for_another_host_is_refused(server, attacker):
    """DNS rebinding: a page on attacker.example, whose name now resolves to this server."""
    rebinding = {"Host": "attacker.example", "Origin": "http://attacker.example"}

    async def connect() -> int:
        with pytest.raises(HTTPClientError) as refused:
            await KernelSocket(channels(server, attacker), headers=rebinding).__aenter__()
        return refused.value.code

    assert run(connect()) == 403
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/", headers={"Host": "attacker.example"})  # nor the page itself
    assert connection.getresponse().status == 403


def test_a_flood_of_messages_is_dropped_then_cut_and_the_kernel_answers(server, attacker):
    async def flood() -> tuple[int | None, list]:
        async with KernelSocket(channels(server, attacker)) as socket:
            canvas = (await widget_comms(socket))["CanvasModel"]
            move = {
                "comm_id": canvas,
                "data": {"method": "custom", "content": {"event": "mouse_move", "x": 1, "y": 1}},
            }
            # The burst passes, then MAX_DROPPED are dropped, then the websocket is closed.
            with contextlib.suppress(Exception):  # writing to a socket the server closed
                for _ in range(websocket.MESSAGE_BURST + websocket.MAX_DROPPED + 200):
                    await socket.send("shell", "comm_msg", move)
            await socket.read(3)  # what the kernel sent meanwhile, up to the server's closing
            closed = socket.connection.close_code
        async with KernelSocket(channels(server, attacker)) as again:  # the kernel is fine
            await again.send("shell", "kernel_info_request", {})
            return closed, await again.read(ANSWERS_WITHIN_S)

    closed, replies = run(flood())
    assert closed == websocket.POLICY_VIOLATION
    assert any(_type(m) == "kernel_info_reply" for m in replies)
    assert "messages from a client sending more than" in server.log()
    assert f"{websocket.MAX_DROPPED} messages over" in server.log()


def test_a_client_that_stops_reading_is_disconnected(server, attacker):
    """It sets a widget's text to 200 KB, asks for its state again and again, and never reads.

    Bounded: at most 90 s of asking, 250 requests a second (under the server's message rate limit).
    """

    async def enlarge() -> str:
        async with KernelSocket(channels(server, attacker)) as socket:
            html = (await widget_comms(socket))["HTMLModel"]
            update = {"method": "update", "state": {"value": "x" * 200_000}, "buffer_paths": []}
            await socket.send("shell", "comm_msg", {"comm_id": html, "data": update})
            await socket.read(1)
            return html

    html = run(enlarge())
    ask = {"comm_id": html, "data": {"method": "request_state"}}
    stopped = "the client has stopped reading"
    with RawWebSocket(channels(server, attacker), receive_buffer=4096) as raw:
        assert raw.status == 101
        time.sleep(2)  # the server connects the socket to the kernel: what comes before is dropped
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and stopped not in server.log():
            try:
                for _ in range(50):  # each a new message: the kernel drops a replayed one
                    raw.send(v1_frame("shell", "comm_msg", ask))
            except OSError:
                break  # the server closed it: our writes fail
            time.sleep(0.2)
        assert stopped in server.log()
        assert raw.closed_by_server(30)
    assert_server_answers(server, attacker)


def test_template_and_theme_overrides_are_off(server):
    kernel_id, html = page_kernel(server, "?template=lab&theme=dark")
    try:
        assert "static/dashboard.js" in html, "the page is served with the dashboard's template"
        assert "cdn.jsdelivr.net" not in html
    finally:
        shut_down(server, kernel_id)


def test_over_the_kernel_cap_a_visitor_reads_that_the_class_is_full():
    with VoilaServer(extra_args=("--ClassroomKernelManager.max_kernels=1",)) as server:
        first, _ = page_kernel(server)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.request("GET", "/")
        response = connection.getresponse()
        page = response.read().decode()
        assert response.status == 503
        assert CLASS_FULL in page
        assert "Traceback" not in page and str(ROOT) not in page
        shut_down(server, first)  # a page leaves: the next visitor gets in
        deadline = time.monotonic() + 30
        while server.kernel_running(first) and time.monotonic() < deadline:
            time.sleep(0.2)
        second, _ = page_kernel(server)
        assert server.kernel_running(second)


# --- page loads: one client cannot take the kept kernels, nor every render ---------------------------

SCRIPT = "127.0.0.2"  # another client than the visitors (127.0.0.1): any 127.x address is loopback


def get_from(server: VoilaServer, address: str) -> tuple[int, str | None, str]:
    """``GET /`` without JavaScript from ``address``: ``(status, kernel id or None, html)``."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=120, source_address=(address, 0)
    )
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        html = response.read().decode()
    finally:
        connection.close()
    found = re.search(r'"kernelId": "([\w-]+)"', html)
    return response.status, found.group(1) if found else None, html


def wait_kept_kernels(server: VoilaServer) -> None:
    deadline = time.monotonic() + 120
    while "is filled with" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert "is filled with" in server.log()


def kernel_process(server: VoilaServer, kernel_id: str):
    (process,) = [p for p in server.processes()[1:] if any(kernel_id in part for part in p.cmdline())]
    return process


def test_a_script_loading_pages_gets_one_kept_kernel_then_a_plain_refusal():
    """Pages that never connect: the first takes a kept kernel, the next wait their turn for a new one,
    and past ``max_unconnected_per_client`` the next waits for one of them to connect, then reads a
    sentence; a visitor from another address still gets a kept kernel at once."""
    caps = (
        "--ClassroomKernelManager.max_unconnected_per_client=3",
        "--ClassroomKernelManager.unconnected_wait_s=3",
    )
    with VoilaServer(extra_args=caps) as server:
        wait_kept_kernels(server)
        time.sleep(1)
        kept = [p for p in server.processes()[1:] if "ipykernel" in " ".join(p.cmdline())]
        assert len(kept) == 2
        if len(all_cpus()) > 1:  # they ran the notebook off the first CPU, left to visitors who draw
            assert all(set(p.cpu_affinity()) == render_cpus() for p in kept)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:  # at once: pages on their way count
            loads = sorted(pool.map(lambda _: get_from(server, SCRIPT), range(5)), key=lambda load: load[0])
        assert [status for status, _, _ in loads] == [200, 200, 200, 503, 503]
        served = [kernel_id for _, kernel_id, _ in loads if kernel_id]
        log = server.log()
        assert sum(f"Using pre-heated kernel: {k}" in log for k in served) == 1
        for _, _, html in loads[3:]:
            assert TOO_MANY_PAGES in html
            assert "Traceback" not in html and str(ROOT) not in html
        status, visitor, _ = get_from(server, "127.0.0.1")
        assert status == 200
        assert f"Using pre-heated kernel: {visitor}" in server.log()
        # A page's kernel, once its page is sent, runs on every CPU.
        assert {frozenset(kernel_process(server, k).cpu_affinity()) for k in [*served, visitor]} == {
            frozenset(all_cpus())
        }


def test_a_page_over_the_address_cap_waits_for_an_earlier_page_to_connect():
    """A class behind one address on slow wifi: the page over the cap is served once one connects."""
    caps = (
        "--ClassroomKernelManager.max_unconnected_per_client=1",
        "--ClassroomKernelManager.unconnected_wait_s=60",
    )
    with VoilaServer(extra_args=caps) as server, concurrent.futures.ThreadPoolExecutor(1) as pool:
        wait_kept_kernels(server)
        status, first, _ = get_from(server, SCRIPT)
        assert status == 200
        waiting = pool.submit(get_from, server, SCRIPT)
        time.sleep(3)
        assert not waiting.done(), "served before the earlier page connected"

        async def connect() -> None:
            async with KernelSocket(channels(server, first)) as socket:
                await socket.send("shell", "kernel_info_request", {})
                await socket.read(1)

        run(connect())
        status, second, _ = waiting.result(timeout=60)
        assert status == 200 and second not in (None, first)
