"""Page renders take turns: a few at a time, each client in turn, the kept kernels' refill first.

``mlp.serve.turns.RenderTurns`` on its own, with asyncio only: who gets the
next turn, in what order, and that nothing is lost when a waiting visitor
leaves. ``tests/test_dashboard_attacks.py`` plays it on a server.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from mlp.serve import turns as turns_module
from mlp.serve.turns import RenderTurns, all_cpus, pin, render_cpus, unpin


def run(coroutine):
    return asyncio.run(coroutine)


async def served_order(turns: RenderTurns, requests: list[tuple[str, bool]]) -> list[str]:
    """Queue ``requests`` (client, first) behind one running render, then end renders one by one."""
    order: list[str] = []
    running = await turns.take("already rendering")

    async def render(client: str, first: bool) -> None:
        turn = await turns.take(client, first=first)
        order.append(client)
        await asyncio.sleep(0)
        turn.release()

    tasks = []
    for client, first in requests:
        tasks.append(asyncio.create_task(render(client, first)))
        await asyncio.sleep(0)  # queued in this order
    running.release()
    await asyncio.gather(*tasks)
    return order


def test_one_clients_many_pages_wait_in_rotation_with_other_clients():
    requests = [("script", False)] * 4 + [("student", False), ("teacher", False)]
    order = run(served_order(RenderTurns(1), requests))
    # The student asked after the script's four pages, and is served after one of them.
    assert order == ["script", "student", "teacher", "script", "script", "script"]


def test_the_kept_kernels_refill_goes_before_every_waiting_client():
    requests = [("script", False), ("script", False), ("student", False), ("kept", True)]
    order = run(served_order(RenderTurns(1), requests))
    assert order[0] == "kept"
    assert order[1:] == ["script", "student", "script"]


def test_at_most_at_once_renders_run_together():
    async def main() -> int:
        turns = RenderTurns(2)
        busy = most = 0

        async def render(client: str) -> None:
            nonlocal busy, most
            turn = await turns.take(client)
            busy += 1
            most = max(most, busy)
            await asyncio.sleep(0.01)
            busy -= 1
            turn.release()

        await asyncio.gather(*(render(f"client {i % 3}") for i in range(9)))
        assert turns.running == 0 and turns.waiting() == 0
        return most

    assert run(main()) == 2


def test_a_visitor_who_leaves_while_waiting_costs_no_turn():
    async def main() -> None:
        turns = RenderTurns(1)
        running = await turns.take("a")
        leaving = asyncio.create_task(turns.take("b"))
        staying = asyncio.create_task(turns.take("c"))
        await asyncio.sleep(0)
        assert turns.waiting() == 2
        leaving.cancel()
        await asyncio.sleep(0)
        assert turns.waiting("b") == 0 and turns.waiting() == 1
        running.release()
        turn = await asyncio.wait_for(staying, 1)
        assert turn.client == "c" and turns.running == 1
        turn.release()
        turn.release()  # twice: still one turn given back
        assert turns.running == 0

    run(main())


def test_a_turn_nobody_gives_back_is_taken_back(monkeypatch):
    monkeypatch.setattr(turns_module, "LONGEST_TURN_S", 0.05)

    async def main() -> None:
        turns = RenderTurns(1)
        await turns.take("a request that died")  # never released
        turn = await asyncio.wait_for(turns.take("b"), 2)
        assert turn.client == "b"

    run(main())


def test_at_once_is_at_least_one():
    with pytest.raises(ValueError, match="at least 1"):
        RenderTurns(0)


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(all_cpus()) < 2, reason="needs 2 CPUs and Linux"
)
def test_a_rendering_kernel_keeps_off_the_first_cpu_until_its_page_is_sent():
    import subprocess
    import sys

    # A child with a second thread, as a kernel has (its threads must move too).
    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        threads = f"/proc/{child.pid}/task"
        for _ in range(100):
            if len(os.listdir(threads)) == 2:
                break
            asyncio.run(asyncio.sleep(0.02))
        assert pin(child.pid)
        for tid in os.listdir(threads):
            assert os.sched_getaffinity(int(tid)) == render_cpus()
        assert min(all_cpus()) not in render_cpus()
        assert unpin(child.pid)
        for tid in os.listdir(threads):
            assert os.sched_getaffinity(int(tid)) == all_cpus()
    finally:
        child.kill()
        child.wait()
    assert not pin(None)


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same home: the same client
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),  # an IPv4 client on an IPv6 socket
        (None, None),
    ],
)
def test_a_client_is_an_address_or_an_ipv6_network(address, client):
    from types import SimpleNamespace

    from mlp.serve.kernels import client_of

    assert client_of(SimpleNamespace(request=SimpleNamespace(remote_ip=address))) == client
    assert client_of(None) is None
