"""Kernel websockets that one crafted message cannot freeze.

A visitor's page talks to its kernel over a websocket, in the "v1" protocol
(``v1.kernel.websocket.jupyter.org``) that every browser page negotiates. Two
ways of misusing that websocket hang a Voila 0.5 server for good (100 % CPU, no
answer to anyone, memory growing), and anyone who can open the page can do it:

* **The legacy protocol.** A client that offers no subprotocol gets the legacy
  one, in which the server sends messages with binary buffers in the old
  framing (a big-endian count of 4-byte offsets). Voila's websocket handler
  reads the header of every outgoing binary message as if it were v1 (a
  little-endian count of 8-byte offsets): eight bytes of the old header read as
  a count of about 10**18, and ``read_header_from_binary_message`` builds a
  list that long. One ``request_state`` for an Image widget sends such a
  message. :meth:`SafeKernelConnection.prepare` refuses the legacy protocol
  before the websocket opens.
* **A forged v1 frame.** ``deserialize_msg_from_ws_v1`` (jupyter_server) trusts
  the offset count in the frame's first eight bytes and loops that many times:
  72 bytes are enough. :meth:`SafeKernelConnection.handle_incoming_message`
  checks the offset table first and closes the websocket of a client that
  sends a malformed one.

And one visitor must not slow another down, lock them out, or fill the server.
Every limit below is set from what the pad needs (a 5 MB photo, a drawing, a
few hundred examples), checked before the server does any work for it:

* **Message parts.** Jupyter parses a v1 message's header (``json.loads``, on
  the server's one event loop) to read its type. A 60 MB header froze the
  server for 12 s. The offset table gives every part's size before anything is
  parsed: a header, parent header or metadata over ``MAX_HEADER_BYTES``, a
  JSON content over ``MAX_CONTENT_BYTES`` or a frame over ``MAX_FRAME_BYTES``
  closes the socket unread. (Tornado's ``websocket_max_message_size`` in
  ``voila.json`` caps what it reads into memory at all.)
* **Websockets.** Each costs the server four ZMQ sockets, and pyzmq allows
  1,023 in all: 260 idle websockets locked every new page out. A kernel takes
  at most ``MAX_SOCKETS_PER_KERNEL``, the server ``MAX_SOCKETS``; one more is
  refused (HTTP 503) before it opens.
* **Messages per second.** A page sends a message per pointer move (60 to
  120 a second while drawing). A client flooding more than
  ``MESSAGES_PER_SECOND`` (bursts of ``MESSAGE_BURST``) has the excess
  dropped here, before it costs the kernel anything; one that goes on
  (``MAX_DROPPED`` dropped) is not a browser, and its websocket is closed:
  even dropped, 2,500 messages a second cost the server a fifth of a core
  and the kernel the 300 a second it let through.
* **What a connection may have buffered.** A client that stops reading makes
  the server hold everything the kernel sends it: past
  ``MAX_BUFFERED_BYTES`` unsent, its websocket is closed.
* **Hosts.** A page on another site whose name resolves to this server (DNS
  rebinding) would send its own name as ``Host`` and ``Origin``: the websocket
  is accepted only for an IP address (no other site can be reached by one) or
  a name in the server's ``local_hostnames`` setting.

Configured by ``voila.json`` as ``Voila.kernel_websocket_connection_class``.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from typing import Any, ClassVar
from urllib.parse import urlsplit

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web

__all__ = ["V1_PROTOCOL", "SafeKernelConnection", "host_allowed", "unsent_bytes", "v1_frame_problem"]

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
# A v1 message has 6 offsets (channel, header, parent header, metadata, content, end) plus one
# per binary buffer; widgets send a handful of buffers at most (FileUpload: one per file).
MAX_OFFSETS = 6 + 64
# Tornado's close code for "a message that violates the protocol".
POLICY_VIOLATION = 1008
# ... and for "try again later" (the server is overloaded by this client).
TRY_AGAIN_LATER = 1013
MB = 2**20
# A header is a few hundred bytes of JSON (ids, type, date, version); parent header and metadata
# are empty or a header's size.
MAX_HEADER_BYTES = 16 * 1024
# A comm message's JSON content: a widget update or a pointer event, a few KB at most (an upload's
# bytes travel as a binary buffer, not in the JSON).
MAX_CONTENT_BYTES = 256 * 1024
# The whole frame: the pad's largest file (5 MB) as a buffer, and the JSON around it.
MAX_FRAME_BYTES = 8 * MB
# A page opens one websocket to its kernel (two for a moment while reconnecting); a test or a
# second tab one more.
MAX_SOCKETS_PER_KERNEL = 4
# Four ZMQ sockets each, under pyzmq's 1,023 with room for the kernels' own (40 kernels, voila.json).
MAX_SOCKETS = 160
# Drawing sends one message per pointer move, 60 to 120 a second; a button press a few.
MESSAGES_PER_SECOND = 300
MESSAGE_BURST = 600
# A page never exceeds the rate (a 240 Hz screen sends 240 moves a second): a client that has had
# this many messages dropped is flooding on purpose.
MAX_DROPPED = 1000
# What the kernel sends a page: its widgets' state (~100 KB), a photo shown back (5 MB).
MAX_BUFFERED_BYTES = 16 * MB


def v1_frame_problem(frame: bytes | str) -> str | None:
    """What is wrong with ``frame`` as a v1 kernel message, or ``None`` if its offset table is sound.

    Only what ``deserialize_msg_from_ws_v1`` relies on is checked, in time
    proportional to the table's length: the count is small, the table fits in
    the frame, and the offsets run forward from the table's end to the frame's.
    """
    if isinstance(frame, str):
        return "a text frame (v1 messages are binary)"
    if len(frame) < 8:
        return f"{len(frame)} bytes, too short for an offset count"
    count = int.from_bytes(frame[:8], "little")
    if not 6 <= count <= MAX_OFFSETS:
        return f"an offset count of {count} (expected 6 to {MAX_OFFSETS})"
    table_end = 8 * (count + 1)
    if table_end > len(frame):
        return f"an offset table of {table_end} bytes in a frame of {len(frame)}"
    offsets = [int.from_bytes(frame[8 * i : 8 * (i + 1)], "little") for i in range(1, count + 1)]
    if offsets[0] != table_end or offsets[-1] > len(frame) or offsets != sorted(offsets):
        return "offsets that do not run forward through the frame"
    if len(frame) > MAX_FRAME_BYTES:
        return f"{len(frame)} bytes (at most {MAX_FRAME_BYTES})"
    # Parts: channel, header, parent header, metadata, content, then the binary buffers.
    sizes = [b - a for a, b in zip(offsets, [*offsets[1:], len(frame)], strict=True)]
    for name, size in zip(("header", "parent header", "metadata"), sizes[1:4], strict=True):
        if size > MAX_HEADER_BYTES:
            return f"a {name} of {size} bytes (at most {MAX_HEADER_BYTES})"
    if sizes[4] > MAX_CONTENT_BYTES:
        return f"a content of {sizes[4]} bytes (at most {MAX_CONTENT_BYTES})"
    return None


def host_allowed(host: str | None, local_hostnames: list[str] | tuple[str, ...]) -> bool:
    """Whether a request for ``host`` (a ``Host`` header, with or without a port) may reach a kernel.

    An IP address is allowed: DNS rebinding needs a name, since a page on
    another site is always reached, and sends its ``Host``, by its own name.
    A name must be one the server is meant to be reached by (``local_hostnames``).
    """
    if not host:
        return False
    name = urlsplit(f"//{host}").hostname or ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name in {n.lower() for n in local_hostnames}
    return True


def unsent_bytes(handler: Any) -> int:
    """Bytes a websocket handler's connection has queued and not yet sent (0 if unknown).

    Tornado has no public figure for it: its ``IOStream`` keeps them in
    ``_write_buffer`` (6.x); a version that renames it makes this 0, and the
    limit inactive, which ``tests/test_dashboard_attacks.py`` would notice.
    """
    stream = getattr(getattr(handler, "ws_connection", None), "stream", None)
    buffer = getattr(stream, "_write_buffer", None)
    return len(buffer) if buffer is not None else 0


class SafeKernelConnection(ZMQChannelsWebsocketConnection):
    """Jupyter's kernel websocket connection: v1 only, each frame checked, each client within its limits."""

    # Websockets admitted (from prepare() until disconnect()), per kernel id.
    admitted: ClassVar[Counter[str]] = Counter()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._admitted = False
        self._tokens = float(MESSAGE_BURST)
        self._refilled = time.monotonic()
        self._dropped = 0
        self._cut = False  # closed (not reading, or flooding): nothing more is sent or forwarded

    async def prepare(self) -> None:
        """Refuse, before the websocket opens: another host, the legacy protocol, one socket too many."""
        request = self.websocket_handler.request
        names = self.websocket_handler.settings.get("local_hostnames", ["localhost"])
        origin = request.headers.get("Origin")
        origin_host = urlsplit(origin).netloc if origin else None
        if not host_allowed(request.host, names) or (origin and not host_allowed(origin_host, names)):
            self.log.warning("Refusing a websocket for host %r, origin %r: not ours.", request.host, origin)
            raise web.HTTPError(403, "not a host this server is reached by")
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        if V1_PROTOCOL not in (p.strip() for p in offered.split(",")):
            raise web.HTTPError(400, f"this server speaks only the {V1_PROTOCOL} kernel protocol")
        in_all = sum(self.admitted.values())
        if self.admitted[self.kernel_id] >= MAX_SOCKETS_PER_KERNEL or in_all >= MAX_SOCKETS:
            self.log.warning(
                "Refusing a websocket to kernel %s: %d to it, %d in all (at most %d and %d).",
                self.kernel_id,
                self.admitted[self.kernel_id],
                in_all,
                MAX_SOCKETS_PER_KERNEL,
                MAX_SOCKETS,
            )
            raise web.HTTPError(503, "too many connections")
        self.admitted[self.kernel_id] += 1
        self._admitted = True
        try:
            await super().prepare()
        except BaseException:
            self._release()
            raise
        # The kernel manager counts, per client, the kernels whose page never connected.
        page_connected = getattr(self.multi_kernel_manager, "page_connected", None)
        if page_connected is not None:
            page_connected(self.kernel_id)

    def disconnect(self) -> None:
        self._release()
        super().disconnect()

    def _release(self) -> None:
        if self._admitted:
            self._admitted = False
            self.admitted[self.kernel_id] -= 1
            if self.admitted[self.kernel_id] <= 0:
                del self.admitted[self.kernel_id]

    def handle_incoming_message(self, incoming_msg: bytes | str) -> None:
        """Forward a well-formed message to the kernel; close the websocket of a client that forges one."""
        if self._cut:
            return
        problem = v1_frame_problem(incoming_msg)
        if problem is not None:
            self.log.warning("Closing the websocket of kernel %s: it sent %s.", self.kernel_id, problem)
            self.websocket_handler.close(POLICY_VIOLATION, "malformed message")
            return
        if not self._take_token():
            if self._dropped >= MAX_DROPPED and not self._cut:
                self._cut = True
                self.log.warning(
                    "Closing the websocket of kernel %s: %d messages over %d a second dropped.",
                    self.kernel_id,
                    self._dropped,
                    MESSAGES_PER_SECOND,
                )
                self.websocket_handler.close(POLICY_VIOLATION, "too many messages")
            return
        super().handle_incoming_message(incoming_msg)

    def _take_token(self) -> bool:
        """A token bucket, ``MESSAGES_PER_SECOND`` in, ``MESSAGE_BURST`` deep: no token, message dropped."""
        now = time.monotonic()
        self._tokens = min(MESSAGE_BURST, self._tokens + (now - self._refilled) * MESSAGES_PER_SECOND)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self._dropped += 1
        if self._dropped in (1, 1000) or self._dropped % 100_000 == 0:
            self.log.warning(
                "Kernel %s: dropped %d messages from a client sending more than %d a second.",
                self.kernel_id,
                self._dropped,
                MESSAGES_PER_SECOND,
            )
        return False

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        """Forward the kernel's message, unless the client has stopped reading: then close its websocket.

        At once and for good: tornado's ``close()`` keeps the connection and its
        unsent bytes for 5 s more, and Jupyter, which no longer sees the v1
        protocol on a closed websocket, would go on re-encoding every message
        the kernel sends (3.5 GB of churn in 3 s when it was tried).
        """
        if self._cut:
            return
        buffered = unsent_bytes(self.websocket_handler)
        if buffered > MAX_BUFFERED_BYTES:
            self._cut = True
            self.log.warning(
                "Closing the websocket of kernel %s: %d bytes unsent, the client has stopped reading.",
                self.kernel_id,
                buffered,
            )
            ws = self.websocket_handler.ws_connection
            stream = getattr(ws, "stream", None)
            self.websocket_handler.close(TRY_AGAIN_LATER, "not reading")
            if stream is not None:
                stream.close()  # its unsent bytes are dropped now
            return
        super().handle_outgoing_message(stream, outgoing_msg)
