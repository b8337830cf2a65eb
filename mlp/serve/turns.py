"""Rendering a page is the server's one costly job: a few at a time, each client in turn.

Every new page costs its kernel about 2 s of CPU: Python starts, NumPy and the
widgets load, the notebook runs. A visitor who is drawing needs about 40 ms of
CPU per stroke. When ten pages render at once on a 2-core server, a stroke's
answer waits behind them (p99 330 ms with 12 pages loaded four at a time by one
client), and a new visitor's page waits behind all ten.

:class:`RenderTurns` hands out *turns*: at most ``at_once`` renders run at once,
and waiting clients are served in rotation, one render each, so a client that
asks for twelve pages delays another client's page by one render, not twelve.
The server keeps a kernel ready for the next visitor; refilling it goes first
(``first=True``), since that kernel is what makes the next page fast for
everyone.

:func:`pin` and :func:`unpin` keep a rendering kernel off the first CPU, which
is left to the kernels of visitors who are drawing.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict, deque
from collections.abc import Hashable
from pathlib import Path

__all__ = ["RenderTurns", "Turn", "all_cpus", "pin", "render_cpus", "unpin"]

# A render takes about 2 s (a minute on a crowded server: Voila waits up to 60 s for a cell). A
# turn that nobody gives back (a request that died without finishing) is taken back after this,
# so the server never stops rendering pages.
LONGEST_TURN_S = 120.0


class Turn:
    """One render's turn: give it back with :meth:`release` (again does nothing)."""

    def __init__(self, turns: RenderTurns, client: Hashable) -> None:
        self.client = client
        self._turns = turns
        self._released = False
        self._timer = asyncio.get_running_loop().call_later(LONGEST_TURN_S, self.release)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._timer.cancel()
            self._turns._give_back()


class RenderTurns:
    """At most ``at_once`` renders at once; waiting clients served in rotation, the kept kernel first."""

    def __init__(self, at_once: int = 1) -> None:
        if at_once < 1:
            raise ValueError(f"at_once must be at least 1, not {at_once}")
        self.at_once = at_once
        self.running = 0
        # Waiting clients in the order they are served; each with its requests, oldest first.
        self._queue: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()

    def waiting(self, client: Hashable | None = None) -> int:
        """How many renders wait for a turn (``client``'s only, if given)."""
        if client is not None:
            return len(self._queue.get(client, ()))
        return sum(len(q) for q in self._queue.values())

    async def take(self, client: Hashable, *, first: bool = False) -> Turn:
        """Wait for ``client``'s turn (``first``: before every other client) and return it."""
        if self.running < self.at_once and not self._queue:
            self.running += 1
            return Turn(self, client)
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.setdefault(client, deque()).append(ticket)
        if first:
            self._queue.move_to_end(client, last=False)
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._give_back()  # granted as it was cancelled: pass the turn on
            else:
                self._forget(client, ticket)
            raise
        return Turn(self, client)

    def _forget(self, client: Hashable, ticket: asyncio.Future[None]) -> None:
        tickets = self._queue.get(client)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            if not tickets:
                del self._queue[client]

    def _give_back(self) -> None:
        """A render ended: the next client in rotation gets its turn (``running`` stays counted)."""
        while self._queue:
            client, tickets = next(iter(self._queue.items()))
            ticket = tickets.popleft()
            if tickets:
                self._queue.move_to_end(client)  # its next render waits for the others'
            else:
                del self._queue[client]
            if not ticket.done():
                ticket.set_result(None)
                return
        self.running -= 1


# --- which CPUs a render may use ----------------------------------------------------------------


def all_cpus() -> set[int]:
    """The CPUs this server may run on (empty where the system cannot say)."""
    getter = getattr(os, "sched_getaffinity", None)
    return set(getter(0)) if getter is not None else set()


def render_cpus() -> set[int]:
    """The CPUs a rendering kernel may use: all but the first, left to drawing (none on 1 CPU)."""
    cpus = sorted(all_cpus())
    return set(cpus[1:]) if len(cpus) > 1 else set()


def _set_cpus(pid: int | None, cpus: set[int]) -> bool:
    """Run every thread of process ``pid`` on ``cpus``; False where that cannot be done."""
    setter = getattr(os, "sched_setaffinity", None)
    if pid is None or not cpus or setter is None:
        return False
    tasks = Path(f"/proc/{pid}/task")
    threads = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]
    done = False
    for thread in threads:
        try:
            setter(thread, cpus)
            done = True
        except OSError:  # the thread (or the process) has just ended
            pass
    return done


def pin(pid: int | None) -> bool:
    """Keep process ``pid`` (a kernel about to run the notebook) off the first CPU."""
    return _set_cpus(pid, render_cpus())


def unpin(pid: int | None) -> bool:
    """Let process ``pid`` (a kernel whose page has arrived) run on every CPU again."""
    return _set_cpus(pid, all_cpus())
