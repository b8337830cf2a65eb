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

Configured by ``voila.json`` as ``Voila.kernel_websocket_connection_class``.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web

__all__ = ["V1_PROTOCOL", "SafeKernelConnection", "v1_frame_problem"]

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
# A v1 message has 6 offsets (channel, header, parent header, metadata, content, end) plus one
# per binary buffer; widgets send a handful of buffers at most (FileUpload: one per file).
MAX_OFFSETS = 6 + 64
# Tornado's close code for "a message that violates the protocol".
POLICY_VIOLATION = 1008


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
    return None


class SafeKernelConnection(ZMQChannelsWebsocketConnection):
    """Jupyter's kernel websocket connection, speaking v1 only and checking each frame's offsets."""

    async def prepare(self) -> None:
        """Refuse (HTTP 400, before the websocket opens) a client that does not offer the v1 protocol."""
        offered = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        if V1_PROTOCOL not in (p.strip() for p in offered.split(",")):
            raise web.HTTPError(400, f"this server speaks only the {V1_PROTOCOL} kernel protocol")
        await super().prepare()

    def handle_incoming_message(self, incoming_msg: bytes | str) -> None:
        """Forward a well-formed message to the kernel; close the websocket of a client that forges one."""
        problem = v1_frame_problem(incoming_msg)
        if problem is not None:
            self.log.warning("Closing the websocket of kernel %s: it sent %s.", self.kernel_id, problem)
            self.websocket_handler.close(POLICY_VIOLATION, "malformed message")
            return
        super().handle_incoming_message(incoming_msg)
