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
  And one client (one address) may hold at most ``max_unconnected_per_client``
  kernels whose page never connected: a class's pages connect within seconds
  of arriving (its next page waits for them), a script's ``GET`` never does.
* **One client's page loads slowed every visitor.** Rendering a page (about
  2 s of CPU) is the server's one costly job. Renders take turns
  (:mod:`mlp.serve.turns`): ``renders_at_once`` at a time, waiting clients
  served in rotation, the refill of the kept kernels first; a rendering kernel
  stays off the first CPU until its page is sent, and the server compiles the
  page's templates once (:mod:`mlp.serve.templates`). A client whose earlier page
  has not connected yet gets no kept kernel: it waits its turn for a new one,
  and the kept kernels stay for other visitors.

Configured by ``voila.json`` as ``VoilaConfiguration.multi_kernel_manager_class``;
Voila builds its preheating manager on top of it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections import Counter
from collections.abc import Callable
from typing import Any

from jupyter_server.base.call_context import CallContext
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ensure_async
from tornado import web
from traitlets import Float, Int

from mlp.serve.templates import keep_compiled_templates
from mlp.serve.turns import RenderTurns, Turn, pin, render_cpus, unpin

try:
    from jupyter_server._tz import utcnow
except ImportError:  # pragma: no cover - older jupyter_server
    from datetime import UTC, datetime

    def utcnow():  # type: ignore[no-redef]
        return datetime.now(UTC)


__all__ = ["CLASS_FULL", "TOO_MANY_PAGES", "BoundedBuffer", "ClassFull", "ClassroomKernelManager"]

# What the server keeps for a page whose websocket closed, to replay when it reconnects: the
# kernel's messages meanwhile (a phone locked for a minute: a few KB). Jupyter keeps them all.
MAX_OFFLINE_BYTES = 16 * 2**20

CLASS_FULL = "The class is full right now: please try again in a minute."
TOO_MANY_PAGES = "Too many pages opened from your address have not loaded: please try again in a minute."

# Who waits for the kept kernels' refill in the render turns (a client address never looks so).
KEPT_KERNELS = "the kernels kept ready"


class ClassFull(web.HTTPError):
    """HTTP 503 with the one plain sentence a visitor over a kernel cap reads."""

    def __init__(self, sentence: str = CLASS_FULL) -> None:
        super().__init__(503, sentence, reason="Please try again in a minute")


def current_request() -> Any:
    """The request handler being served (Jupyter sets it for each request), or None."""
    return CallContext.get(CallContext.JUPYTER_HANDLER)


def client_of(handler: Any) -> str | None:
    """The address a request came from: the client whose pages take turns (a class behind one
    NAT address is one client, which only means its pages take turns among themselves).

    An IPv6 client is its /64 network: one home or phone gets a whole /64 to pick addresses from.
    """
    address = getattr(getattr(handler, "request", None), "remote_ip", None)
    try:
        ip = ipaddress.ip_address(address) if address else None
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


def after_page(handler: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``handler`` has sent its page (or failed to), or now without one."""
    if handler is None:
        callback()
        return
    sent = handler.on_finish

    def on_finish() -> None:
        try:
            sent()
        finally:
            callback()

    handler.on_finish = on_finish


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
    """Jupyter's kernel manager for a class: kernels capped, renders in turn, none culled too soon."""

    max_kernels = Int(
        40,
        config=True,
        help="""Most kernels visitors' pages may have at once (the ones Voila keeps ready come on top).
        A page over the cap gets a plain 'the class is full' page instead of a kernel.""",
    )
    max_unconnected_per_client = Int(
        10,
        config=True,
        help="""Most kernels one client address may hold whose page was sent and never connected.
        A class's pages connect within seconds of arriving; a script that only GETs never does.
        The next page of that address waits (unconnected_wait_s) for one of them to connect.""",
    )
    unconnected_wait_s = Float(
        60,
        config=True,
        help="""How long a page over max_unconnected_per_client waits for one of its address's pages
        to connect (a class behind one address on slow wifi) before it reads 'Too many pages'.""",
    )
    renders_at_once = Int(
        0,
        config=True,
        help="""Pages rendered at once (0: half the CPUs but the first, at least 1). The others wait,
        each client in turn; a render costs its kernel about 2 s of CPU.""",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._starting = 0  # kernels asked for by pages and not yet running: counted against the cap
        self._for_pages: set[str] = set()  # kernels started for, or handed to, a page
        self._client: dict[str, str | None] = {}  # a page's kernel -> the address it was sent to
        self._sent: set[str] = set()  # kernels whose page has been sent
        self._connected: set[str] = set()  # kernels a page has connected to at least once
        self._sending: Counter[str | None] = Counter()  # pages being rendered or sent, per client
        self.turns = RenderTurns(self.renders_at_once or max(1, len(render_cpus()) // 2))
        # The rest of a render's cost on the server: Voila compiles the page's templates for every
        # page. This manager is what Voila builds of mlp.serve when it starts, in its own process.
        keep_compiled_templates()
        # Voila's preheating manager is built on top of this class, so its methods (which hand
        # out the kept kernel, count and refill the kept ones) override any here: they are
        # wrapped on the instance instead.
        for name, wrap in (
            ("get_rendered_notebook", self._wrap_hand_out),
            ("get_pool_size", self._wrap_pool_size),
            ("_initialize", self._wrap_refill),
        ):
            method = getattr(self, name, None)
            if method is not None:
                setattr(self, name, wrap(method))

    # --- the caps -------------------------------------------------------------------------------

    def kernels_for_pages(self) -> int:
        """Kernels pages have (running) or are getting (starting); the ones kept ready are not counted."""
        alive = set(self.list_kernel_ids())
        self._for_pages &= alive  # shut down, culled, or gone
        for gone in set(self._client) - alive:
            del self._client[gone]
            self._sent.discard(gone)
            self._connected.discard(gone)
        return len(self._for_pages) + self._starting

    def never_connected(self, client: str | None) -> int:
        """Kernels whose page was sent to ``client`` and never connected to them."""
        return sum(
            1
            for kernel_id, to in self._client.items()
            if to == client and kernel_id in self._sent and kernel_id not in self._connected
        )

    def unconnected(self, client: str | None) -> int:
        """``client``'s pages not connected: on their way (waiting, rendering, sending) or never."""
        return self.never_connected(client) + self._sending[client]

    def check_room(self, client: str | None = None) -> None:
        """Raise :class:`ClassFull` if one more page would go over ``max_kernels``, or ``client``'s cap."""
        if self.kernels_for_pages() >= self.max_kernels:
            self.log.warning("Refusing a page: %d kernels, the cap is %d.", len(self), self.max_kernels)
            raise ClassFull()
        if client is not None and self.unconnected(client) >= self.max_unconnected_per_client:
            self.log.warning(
                "Refusing a page to %s: %d of its pages not connected.", client, self.unconnected(client)
            )
            raise ClassFull(TOO_MANY_PAGES)

    async def wait_for_pages_to_connect(self, client: str | None, handler: Any) -> None:
        """Wait while ``client`` holds ``max_unconnected_per_client`` pages that never connected.

        A class behind one address on slow wifi has many pages on their way at
        once: the next one waits for one of them to connect, rather than fail.
        A script that never connects waits ``unconnected_wait_s``, then reads
        :data:`TOO_MANY_PAGES`.
        """
        deadline = asyncio.get_running_loop().time() + self.unconnected_wait_s
        # Pages on their way count too: a script opening a hundred connections at once gets no more.
        while client is not None and self.unconnected(client) >= self.max_unconnected_per_client:
            if asyncio.get_running_loop().time() >= deadline or _gone(handler):
                self.check_room(client)  # raises: too many pages from this address
            await asyncio.sleep(0.5)

    def page_connected(self, kernel_id: str) -> None:
        """A page's websocket connected to ``kernel_id`` (``SafeKernelConnection`` says so)."""
        self._connected.add(kernel_id)

    # --- starting kernels, in turn --------------------------------------------------------------

    def _pid(self, kernel_id: str) -> int | None:
        kernel = self._kernels.get(kernel_id)
        return getattr(getattr(kernel, "provisioner", None), "pid", None)

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Start a kernel for a page (in its client's turn, refused over a cap) or to keep ready."""
        if kwargs.get("env", {}).get("VOILA_PREHEAT") == "True":
            kernel_id = await ensure_async(super().start_kernel(*args, **kwargs))
            pin(self._pid(kernel_id))  # it runs the notebook now: off the CPU visitors draw on
            return kernel_id
        handler = current_request()
        client = client_of(handler)
        await self.wait_for_pages_to_connect(client, handler)
        self.check_room(client)
        self._starting += 1
        self._sending[client] += 1
        turn: Turn | None = None
        try:
            turn = await self.turns.take(client)
            if _gone(handler):
                raise web.HTTPError(503, "the visitor left before their page was rendered")
            kernel_id = await ensure_async(super().start_kernel(*args, **kwargs))
        except BaseException:
            self._page_sent(client, turn, None)
            raise
        finally:
            self._starting -= 1
        self._for_pages.add(kernel_id)
        self._client[kernel_id] = client
        pin(self._pid(kernel_id))
        after_page(handler, lambda: self._page_sent(client, turn, kernel_id))
        return kernel_id

    def _page_sent(self, client: str | None, turn: Turn | None, kernel_id: str | None) -> None:
        """A page has been sent (or failed): its turn passes on, its kernel may use every CPU."""
        self._sending[client] -= 1
        if self._sending[client] <= 0:
            del self._sending[client]
        if turn is not None:
            turn.release()
        if kernel_id is not None:
            self._sent.add(kernel_id)
            unpin(self._pid(kernel_id))

    def _wrap_pool_size(self, pool_size: Any) -> Any:
        @functools.wraps(pool_size)
        def get_pool_size(notebook_name: str) -> int:
            # A client whose last page has not connected yet (still on its way, or never to run
            # its JavaScript) waits its turn for a new kernel: the kept ones stay for other
            # visitors (one script's twelve GETs took them all, and then every refill).
            client = client_of(current_request())
            if self._sending[client] > 0 or self.never_connected(client) > 0:
                return 0
            return pool_size(notebook_name)

        return get_pool_size

    def _wrap_refill(self, initialize: Any) -> Any:
        @functools.wraps(initialize)
        async def _initialize(notebook_path: str, kernel_id: str | None = None, **kwargs: Any) -> Any:
            if kernel_id is not None:  # a restart: not a new page
                return await initialize(notebook_path, kernel_id, **kwargs)
            turn = await self.turns.take(KEPT_KERNELS, first=True)
            try:
                content = await initialize(notebook_path, kernel_id, **kwargs)
            except BaseException:
                turn.release()
                raise
            content["task"].add_done_callback(lambda _task: turn.release())
            return content

        return _initialize

    def start_buffering(self, kernel_id: str, session_key: str, channels: Any) -> None:
        """Jupyter's buffering of a disconnected page's messages, up to ``MAX_OFFLINE_BYTES``."""
        super().start_buffering(kernel_id, session_key, channels)
        info = self._kernel_buffers.get(kernel_id)
        if info is not None and isinstance(info.get("buffer"), list):
            info["buffer"] = BoundedBuffer(MAX_OFFLINE_BYTES, self.log)

    # --- handing out the kept kernel, and culling -----------------------------------------------

    def handed_out(self, kernel_id: str, client: str | None = None) -> None:
        """A page got ``kernel_id``: its idle time starts now, so culling waits a full timeout for it.

        Until the page's websocket connects (a second or two, a minute on a
        crowded server) the kernel has no connection and looks idle since its
        notebook ran; the page must not lose it to a cull tick in that window.
        Once connected it is never culled (``cull_connected`` false).
        """
        self._for_pages.add(kernel_id)
        self._client[kernel_id] = client
        kernel = self._kernels.get(kernel_id)
        if kernel is not None:
            kernel.last_activity = utcnow()

    def _wrap_hand_out(self, hand_out: Any) -> Any:
        @functools.wraps(hand_out)
        async def get_rendered_notebook(*args: Any, **kwargs: Any) -> Any:
            handler = current_request()
            client = client_of(handler)
            self.check_room(client)
            render_task, rendered_cache, kernel_id = await hand_out(*args, **kwargs)
            self.handed_out(kernel_id, client)
            unpin(self._pid(kernel_id))  # its notebook has run: it is the visitor's now
            self._sending[client] += 1
            after_page(handler, lambda: self._page_sent(client, None, kernel_id))
            return render_task, rendered_cache, kernel_id

        return get_rendered_notebook


def _gone(handler: Any) -> bool:
    """Whether the visitor behind ``handler`` closed their connection (while waiting their turn)."""
    stream = getattr(getattr(getattr(handler, "request", None), "connection", None), "stream", None)
    return stream is not None and stream.closed()
