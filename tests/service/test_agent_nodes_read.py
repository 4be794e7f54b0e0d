"""The platform's cached agent nodes (``Platform.agent_nodes``, read at most every second) are read by ONE
thread at a time: under load every request thread found the read due at once and each made it (BATCHWRITE,
docs/performance.md). After a change (``agent_nodes_changed``) no thread goes on with what was read before it.
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event

from suanli.service.platform import AGENT_NODES_TTL_S, Platform

THREADS = 6


def _run_counting_reads(p: Platform, work: Callable[[int], None], held: threading.Event) -> int:
    """Run ``work`` on THREADS threads at once; the reads of the agent nodes they made, each held until
    ``held`` is set (at most 10 s)."""
    count: list[int] = []

    def on(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM agent_nodes" in statement and statement.lstrip().upper().startswith("SELECT"):
            count.append(1)
            held.wait(timeout=10)

    event.listen(p.engine, "before_cursor_execute", on)
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(work, range(THREADS)))
    finally:
        event.remove(p.engine, "before_cursor_execute", on)
    return len(count)


def test_a_due_read_of_the_agent_nodes_is_made_by_one_thread(demo: Platform) -> None:
    demo.agent_nodes()  # something was read
    demo._agent_nodes_at -= AGENT_NODES_TTL_S  # only its age makes the read due
    demo._agent_nodes_due = True
    all_in = threading.Event()  # the reader is held until the other threads are inside their transactions
    inside: list[int] = []
    lock = threading.Lock()

    def work(_i: int) -> None:
        with demo.tx(), lock:
            inside.append(1)
            if len(inside) == THREADS - 1:  # all but the reader
                all_in.set()

    reads = _run_counting_reads(demo, work, all_in)
    assert reads == 1, f"{reads} reads of the agent nodes by {THREADS} threads"
    assert all_in.is_set()  # the others went on while one read


def test_after_a_change_every_thread_waits_for_a_read_that_saw_it(demo: Platform) -> None:
    demo.agent_nodes()
    seen: list[int] = []
    free = threading.Event()
    free.set()  # nothing held: the threads wait for the read, not the read for them
    before = demo._agent_seen

    def work(_i: int) -> None:
        with demo.tx():
            seen.append(demo._agent_seen)

    demo.agent_nodes_changed()
    assert _run_counting_reads(demo, work, free) == 1  # one read, the others waited for it
    assert min(seen) > before, seen  # none went on with the read from before the change
