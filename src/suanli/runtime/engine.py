"""What runs a request: one worker thread per runtime process (requests execute one at a time, the rest
queue, both counted), and the text side of generation (deltas, stop strings).

Load figures (what ``/health`` and ``/metrics-json`` report): ``inflight`` — requests executing now (0 or
1), ``queued`` — requests waiting for the worker; so ``inflight + queued`` is the work outstanding.
``served_tokens`` — prompt plus completion tokens (embedding inputs included) of the requests executed;
``busy_seconds`` — time the worker spent executing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Metrics:
    inflight: int = 0
    queued: int = 0
    requests: int = 0
    served_prompt_tokens: int = 0
    served_completion_tokens: int = 0
    busy_seconds: float = 0.0

    def as_json(self) -> dict[str, int | float]:
        return {"inflight": self.inflight, "queued": self.queued,
                "served_tokens": self.served_prompt_tokens + self.served_completion_tokens,
                "served_prompt_tokens": self.served_prompt_tokens,
                "served_completion_tokens": self.served_completion_tokens,
                "requests": self.requests, "busy_seconds": round(self.busy_seconds, 6)}


class Worker:
    """One thread that executes requests in arrival order, with the counts of :class:`Metrics`."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suanli-runtime")
        self._lock = threading.Lock()
        self.metrics = Metrics()

    def snapshot(self) -> Metrics:
        with self._lock:
            return Metrics(**vars(self.metrics))

    def count(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Add tokens the worker has processed (called from the worker as they are done)."""
        with self._lock:
            self.metrics.served_prompt_tokens += prompt_tokens
            self.metrics.served_completion_tokens += completion_tokens

    async def run(self, fn: Callable[[], T]) -> T:
        """Execute ``fn`` on the worker thread after the requests queued before it. A caller cancelled while
        still queued leaves the queue (``fn`` never runs); once running, ``fn`` runs to its end (a stream
        stops early through its own cancel flag)."""
        with self._lock:
            self.metrics.queued += 1

        def wrapped() -> T:
            with self._lock:
                self.metrics.queued -= 1
                self.metrics.inflight += 1
                self.metrics.requests += 1
            t0 = time.perf_counter()
            try:
                return fn()
            finally:
                with self._lock:
                    self.metrics.inflight -= 1
                    self.metrics.busy_seconds += time.perf_counter() - t0

        fut: Future[T] = self._pool.submit(wrapped)

        def on_done(f: Future[T]) -> None:
            if f.cancelled():  # never started: it leaves the queue
                with self._lock:
                    self.metrics.queued -= 1

        fut.add_done_callback(on_done)
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class TextStream:
    """Turns generated token ids into text deltas: holds back bytes of an unfinished UTF-8 character and any
    tail that could be the start of a ``stop`` string; a complete stop string ends the text before it (the
    tokens that formed it are still counted: they were generated)."""

    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Sequence[str]) -> None:
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self.emitted = ""
        self.stopped = False

    def push(self, token_id: int) -> str:
        """The text that may be shown after ``token_id`` (possibly empty)."""
        if self.stopped:
            return ""
        self._ids.append(token_id)
        text = self._decode(self._ids).rstrip("\ufffd")
        cut = min((i for i in (text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            return self._emit(text[:cut])
        hold = max((k for s in self._stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        return self._emit(text[:len(text) - hold])

    def finish(self) -> str:
        """The rest of the text once generation has ended."""
        if self.stopped:
            return ""
        return self._emit(self._decode(self._ids))

    def _emit(self, upto: str) -> str:
        if len(upto) <= len(self.emitted):
            return ""
        delta = upto[len(self.emitted):]
        self.emitted = upto
        return delta
