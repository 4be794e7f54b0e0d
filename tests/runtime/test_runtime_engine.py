"""The worker's counts and the text side of generation (deltas, stop strings, unfinished characters)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from suanli.runtime.engine import TextStream, Worker
from suanli.runtime.tokenizer import shared_tokenizer


def pieces(stream: TextStream, ids: Sequence[int]) -> list[str]:
    return [stream.push(i) for i in ids] + [stream.finish()]


def test_deltas_add_up_to_the_decoded_text_and_never_split_a_character() -> None:
    tk = shared_tokenizer()
    text = "算力租赁 leases compute, 每个令牌计费。"
    ids = tk.encode(text)
    out = pieces(TextStream(tk.decode, []), ids)
    assert "".join(out) == text
    assert all("\ufffd" not in p for p in out)


def test_stop_string_ends_the_text_before_it_even_across_tokens() -> None:
    tk = shared_tokenizer()
    ids = tk.encode("The gateway sends each request to the ready replica.")
    s = TextStream(tk.decode, ["each req", "zzz"])
    out = pieces(s, ids)
    assert "".join(out) == "The gateway sends "
    assert s.stopped
    # text that only looks like the start of a stop string is held back, then released
    s2 = TextStream(tk.decode, ["sends nothing"])
    assert "".join(pieces(s2, ids)) == "The gateway sends each request to the ready replica."
    assert not s2.stopped


def test_worker_runs_one_at_a_time_and_counts_queue_and_inflight() -> None:
    async def main() -> None:
        w = Worker()
        gate = threading.Event()
        seen: list[tuple[int, int]] = []

        def first() -> str:
            gate.wait(timeout=10)
            return "a"

        def second() -> str:
            m = w.snapshot()
            seen.append((m.inflight, m.queued))
            return "b"

        t1 = asyncio.ensure_future(w.run(first))
        t2 = asyncio.ensure_future(w.run(second))
        t3 = asyncio.ensure_future(w.run(second))
        for _ in range(200):  # bounded: until the first holds the worker
            if w.snapshot().inflight == 1:
                break
            await asyncio.sleep(0.005)
        m = w.snapshot()
        assert (m.inflight, m.queued) == (1, 2)
        t3.cancel()  # a caller that leaves while queued leaves the queue
        await asyncio.sleep(0)
        gate.set()
        assert await t1 == "a" and await t2 == "b"
        assert seen == [(1, 0)]
        m = w.snapshot()
        assert (m.inflight, m.queued, m.requests) == (0, 0, 2)
        w.shutdown()

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: a browser test's event loop may run in this one
        pool.submit(asyncio.run, main()).result()
