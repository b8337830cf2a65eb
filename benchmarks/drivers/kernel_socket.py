"""A second client on a page's kernel websocket, for tests that send what no browser would.

A browser page and this client can share one kernel: the kernel answers each
on its own, and broadcasts what it publishes (iopub) to both. That is how the
tests check that a crafted message cannot break a visitor's page, freeze the
server, or send a traceback back down the websocket.

``KernelSocket`` speaks the v1 protocol that pages speak (binary frames:
a little-endian count of 8-byte offsets, then the channel, header, parent
header, metadata and content) or, with ``protocol=None``, the legacy one
(one JSON text frame per message), which ``voila.json`` makes the server refuse.
``headers`` sends others than tornado's (a ``Host`` and ``Origin`` of another site).

``RawWebSocket`` is a client that writes frames and reads only when told to,
over a plain socket: a client that stops reading, or sends a message larger
than tornado's client would build.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def v1_frame(
    channel: str,
    msg_type: str,
    content: dict[str, Any],
    *,
    header_extra: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    buffers: list[bytes] = (),
) -> bytes:
    """A v1 websocket frame, as a page sends it (``content`` may hold NaN: the kernel parses it).

    ``header_extra`` adds keys to the header (what a crafted client pads it with); ``buffers`` are
    binary parts after the content.
    """
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "test",
        "session": uuid.uuid4().hex,
        "date": "",
        "version": "5.3",
        **(header_extra or {}),
    }
    parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)] + list(buffers)
    channel_bytes = channel.encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(channel_bytes))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    table = [len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets)]
    return b"".join([*table, channel_bytes, *parts])


def parse_v1_frame(frame: bytes) -> dict[str, Any]:
    """The message in a v1 frame: its channel, header, parent header, metadata, content and buffers."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * i : 8 * (i + 1)], "little") for i in range(1, count + 1)]
    parts = [frame[a:b] for a, b in itertools.pairwise(offsets)]
    message = dict(zip(("header", "parent_header", "metadata", "content"), map(json.loads, parts[1:5])))
    return {"channel": parts[0].decode(), **message, "buffers": parts[5:]}


class KernelSocket:
    """``/api/kernels/<id>/channels`` of a running server, as a context manager inside ``asyncio``.

    >>> async with KernelSocket(url) as ws:     # doctest: +SKIP
    ...     await ws.send("shell", "comm_info_request", {"target_name": "jupyter.widget"})
    """

    def __init__(
        self, url: str, *, protocol: str | None = V1_PROTOCOL, headers: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.headers = headers or {}
        self.connection: WebSocketClientConnection | None = None
        self.received: list[dict[str, Any] | bytes | str] = []

    async def __aenter__(self) -> KernelSocket:
        self.connection = await websocket_connect(
            HTTPRequest(self.url, headers=self.headers, request_timeout=60),
            subprotocols=[self.protocol] if self.protocol else None,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.connection.close()

    async def send(self, channel: str, msg_type: str, content: dict[str, Any]) -> None:
        """Send one message in the socket's protocol."""
        if self.protocol is None:
            await self.connection.write_message(_legacy_frame(channel, msg_type, content))
        else:
            await self.connection.write_message(v1_frame(channel, msg_type, content), binary=True)

    async def send_frame(self, frame: bytes) -> None:
        """Send raw bytes as one binary frame (a forged message)."""
        await self.connection.write_message(frame, binary=True)

    async def read(self, seconds: float) -> list[dict[str, Any] | bytes | str]:
        """Every message that arrives within ``seconds``, decoded where possible, until the server closes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        got: list[dict[str, Any] | bytes | str] = []
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await asyncio.wait_for(self.connection.read_message(), left)
            except TimeoutError:
                break
            if frame is None:  # the server closed the socket
                break
            got.append(_decode(frame))
        self.received.extend(got)
        return got


def _legacy_frame(channel: str, msg_type: str, content: dict[str, Any]) -> str:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "test", "session": "test"}
    header |= {"date": "", "version": "5.3"}
    return json.dumps(
        {"channel": channel, "header": header, "parent_header": {}, "metadata": {}, "content": content}
    )


def _decode(frame: bytes | str) -> dict[str, Any] | bytes | str:
    try:
        return json.loads(frame) if isinstance(frame, str) else parse_v1_frame(frame)
    except (ValueError, IndexError, UnicodeDecodeError):
        return frame  # not a message we can read: kept as it came


class RawWebSocket:
    """A v1 kernel websocket over a plain socket: frames go out as written, nothing is read unless asked.

    >>> with RawWebSocket(url) as ws:          # doctest: +SKIP
    ...     ws.send(v1_frame("shell", "kernel_info_request", {}))
    """

    def __init__(self, url: str, *, receive_buffer: int | None = None, timeout: float = 30) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.receive_buffer = receive_buffer
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.status: int | None = None

    def __enter__(self) -> RawWebSocket:
        self.sock = socket.socket()
        if self.receive_buffer:  # a small window: the server's writes back up sooner
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.address)
        key = base64.b64encode(os.urandom(16)).decode()
        host = f"{self.address[0]}:{self.address[1]}"
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {V1_PROTOCOL}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = self.sock.recv(1)  # byte by byte: nothing past the handshake is consumed
            if not chunk:
                break
            answer += chunk
        self.status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
        return self

    def send(self, payload: bytes) -> None:
        """One masked binary frame (clients must mask), as large as ``payload``."""
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = bytes([0x82, 0x80 | length])
        elif length < 2**16:
            head = bytes([0x82, 0x80 | 126]) + length.to_bytes(2, "big")
        else:
            head = bytes([0x82, 0x80 | 127]) + length.to_bytes(8, "big")
        self.sock.sendall(head + mask + _mask(payload, mask))

    def closed_by_server(self, seconds: float) -> bool:
        """Whether the server closes the connection within ``seconds`` (reads and discards until then)."""
        self.sock.settimeout(seconds)
        try:
            while self.sock.recv(1 << 16):
                pass
        except TimeoutError:
            return False
        except OSError:
            return True
        return True

    def __exit__(self, *exc_info: object) -> None:
        if self.sock is not None:
            self.sock.close()


def _mask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask``, fast for megabytes (NumPy is a dependency anyway)."""
    import numpy as np

    data = np.frombuffer(payload, dtype=np.uint8)
    key = np.resize(np.frombuffer(mask, dtype=np.uint8), data.size)
    return (data ^ key).tobytes()
