"""Fetching a URL into a file, within a deadline and a size limit.

``urllib``'s ``timeout`` bounds each wait for the server, not the download: a
server that sends one byte every few seconds never trips it, and a dead
mirror costs a full timeout before the next is tried. So we read in chunks,
check the clock and the byte count after each, and give every wait at most
the time that is left.
"""

from __future__ import annotations

import time
import urllib.request
from typing import BinaryIO

CHUNK = 1 << 16


class DownloadLimitError(OSError):
    """A download took longer than its deadline or sent more bytes than allowed."""


def fetch(url: str, out: BinaryIO, *, timeout: float, stop_at: float, max_bytes: int) -> int:
    """Write the body of ``url`` into ``out``; return its size in bytes.

    ``timeout`` is the longest wait for any one answer or chunk; ``stop_at``
    (a ``time.monotonic()`` instant) ends the whole transfer, and no wait is
    allowed to run past it; more than ``max_bytes`` ends it too. Raises
    ``DownloadLimitError`` for either, ``OSError`` or ``http.client.HTTPException``
    for network and server failures.
    """
    remaining = stop_at - time.monotonic()
    if remaining <= 0:
        raise DownloadLimitError("no time left before the deadline")
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, remaining)) as response:
            # read1: at most one wait for the server (read(n) waits until n bytes have come, however slowly)
            while chunk := response.read1(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadLimitError(f"the server sent more than {max_bytes:,} bytes")
                out.write(chunk)
                remaining = stop_at - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                _limit_next_wait(response, min(timeout, remaining))
    except TimeoutError as exc:  # the socket's, or ours: say which limit it was
        if time.monotonic() < stop_at:
            raise TimeoutError(f"the server sent nothing for {timeout:g} s") from exc
        raise DownloadLimitError(f"the deadline passed after {size:,} bytes") from exc
    return size


def _limit_next_wait(response: object, seconds: float) -> None:
    """Let the next read wait at most ``seconds``.

    ``http.client`` offers no public way to change a response's timeout, so
    this reaches for its socket; if that ever moves, each wait is bounded by
    ``timeout`` alone, and the deadline still ends the transfer between chunks.
    """
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)
