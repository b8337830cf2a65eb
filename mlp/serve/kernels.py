"""The kernels of a class on one Voila server: a cap on their number, and no kernel culled under a new page.

Voila keeps one kernel ready with the notebook already run (``preheat_kernel``)
and hands it to the next page. Two things went wrong with Jupyter's kernel
manager underneath:

* **The kept kernel was culled under a new page.** Culling shuts down a kernel
  nobody is connected to once it has been idle for ``cull_idle_timeout``.
  The kept kernel is idle from the moment its notebook has run; Voila never
  culls it while it is kept, but once it is handed to a page its
  ``last_activity`` is as old as the wait for a visitor. A cull tick in the
  second or two before that page's websocket connects shut it down: the
  visitor got the page's text and no pad. :class:`ClassroomKernelManager`
  marks a kernel active when it is handed to a page, so a page always has the
  full ``cull_idle_timeout`` to connect (see :meth:`ClassroomKernelManager.handed_out`).
* **Anyone could start kernels without limit.** Each anonymous ``GET /`` starts
  a kernel (about 80 MB), kept until culled minutes later.
  ``ClassroomKernelManager.max_kernels`` caps them; the page over the cap says,
  plainly, that the class is full and to try again in a minute (HTTP 503).

Configured by ``voila.json`` as ``VoilaConfiguration.multi_kernel_manager_class``;
Voila builds its preheating manager on top of it.
"""

from __future__ import annotations

import functools
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ensure_async
from tornado import web
from traitlets import Int

try:
    from jupyter_server._tz import utcnow
except ImportError:  # pragma: no cover - older jupyter_server
    from datetime import UTC, datetime

    def utcnow():  # type: ignore[no-redef]
        return datetime.now(UTC)


__all__ = ["CLASS_FULL", "BoundedBuffer", "ClassFull", "ClassroomKernelManager"]

# What the server keeps for a page whose websocket closed, to replay when it reconnects: the
# kernel's messages meanwhile (a phone locked for a minute: a few KB). Jupyter keeps them all.
MAX_OFFLINE_BYTES = 16 * 2**20

CLASS_FULL = "The class is full right now: please try again in a minute."


class ClassFull(web.HTTPError):
    """HTTP 503 with the one plain sentence a visitor over the kernel cap reads."""

    def __init__(self) -> None:
        super().__init__(503, CLASS_FULL, reason="The class is full")


class BoundedBuffer(list):
    """Jupyter's list of messages kept for a disconnected page, that stops growing at ``limit`` bytes.

    A client that asked the kernel for a lot, then closed its socket, made the
    server keep every answer (hundreds of MB) for a reconnection that never came.
    """

    def __init__(self, limit: int, log: Any) -> None:
        super().__init__()
        self.limit, self.size, self.dropped, self.log = limit, 0, 0, log

    def append(self, item: Any) -> None:
        _channel, parts = item
        size = sum(len(p) if hasattr(p, "__len__") else len(p.bytes) for p in parts)
        if self.size + size > self.limit:
            self.dropped += 1
            if self.dropped == 1:
                self.log.warning(
                    "A disconnected page's kernel sent over %d bytes: no longer kept.", self.limit
                )
            return
        self.size += size
        super().append(item)


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, with a cap on kernels and none culled before its page could connect."""

    max_kernels = Int(
        40,
        config=True,
        help="""Most kernels visitors' pages may have at once (the one Voila keeps ready comes on top).
        A page over the cap gets a plain 'the class is full' page instead of a kernel.""",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._starting = 0  # kernels asked for by pages and not yet running: counted against the cap
        self._for_pages: set[str] = set()  # kernels started for, or handed to, a page
        # Voila's preheating manager is built on top of this class, so its
        # get_rendered_notebook (which hands the kept kernel to a page) overrides any
        # method here: it is wrapped on the instance instead.
        hand_out = getattr(self, "get_rendered_notebook", None)
        if hand_out is not None:
            self.get_rendered_notebook = self._wrap_hand_out(hand_out)

    # --- the cap --------------------------------------------------------------------------------

    def kernels_for_pages(self) -> int:
        """Kernels pages have (running) or are getting (starting); the ones kept ready are not counted."""
        self._for_pages &= set(self.list_kernel_ids())  # shut down, culled, or gone
        return len(self._for_pages) + self._starting

    def check_room(self) -> None:
        """Raise :class:`ClassFull` if one more page would go over ``max_kernels``."""
        if self.kernels_for_pages() >= self.max_kernels:
            self.log.warning("Refusing a page: %d kernels, the cap is %d.", len(self), self.max_kernels)
            raise ClassFull()

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Start a kernel for a page (refused over the cap) or to keep ready (Voila's pool: never refused)."""
        if kwargs.get("env", {}).get("VOILA_PREHEAT") == "True":
            return await ensure_async(super().start_kernel(*args, **kwargs))
        self.check_room()
        self._starting += 1
        try:
            kernel_id = await ensure_async(super().start_kernel(*args, **kwargs))
        finally:
            self._starting -= 1
        self._for_pages.add(kernel_id)
        return kernel_id

    def start_buffering(self, kernel_id: str, session_key: str, channels: Any) -> None:
        """Jupyter's buffering of a disconnected page's messages, up to ``MAX_OFFLINE_BYTES``."""
        super().start_buffering(kernel_id, session_key, channels)
        info = self._kernel_buffers.get(kernel_id)
        if info is not None and isinstance(info.get("buffer"), list):
            info["buffer"] = BoundedBuffer(MAX_OFFLINE_BYTES, self.log)

    # --- culling --------------------------------------------------------------------------------

    def handed_out(self, kernel_id: str) -> None:
        """A page got ``kernel_id``: its idle time starts now, so culling waits a full timeout for it.

        Until the page's websocket connects (a second or two, a minute on a
        crowded server) the kernel has no connection and looks idle since its
        notebook ran; the page must not lose it to a cull tick in that window.
        Once connected it is never culled (``cull_connected`` false).
        """
        self._for_pages.add(kernel_id)
        kernel = self._kernels.get(kernel_id)
        if kernel is not None:
            kernel.last_activity = utcnow()

    def _wrap_hand_out(self, hand_out: Any) -> Any:
        @functools.wraps(hand_out)
        async def get_rendered_notebook(*args: Any, **kwargs: Any) -> Any:
            self.check_room()
            render_task, rendered_cache, kernel_id = await hand_out(*args, **kwargs)
            self.handed_out(kernel_id)
            return render_task, rendered_cache, kernel_id

        return get_rendered_notebook
