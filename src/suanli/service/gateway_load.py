"""The gateway's in-process load tracker: requests in flight per replica and requests waiting for one.

One tracker per :class:`~suanli.service.platform.Platform` (``p.attached(GatewayLoad)``), so the load
it reports is this server process's only: with several API replicas each autoscales on what it sees
(docs/inference.md says so). The gateway calls :func:`acquire` (or :func:`begin`) before it proxies a
request and :func:`end` when the response is over (sent, abandoned or failed); a request that waits
for a replica to become ready counts as queued between :func:`begin_wait` and :func:`end_wait`.

Routing rule (design "Gateway"): the least outstanding (in-flight) replica among the ready ones, ties
by the lowest replica id. :func:`acquire` picks and counts in one step under the lock, so concurrent
requests spread instead of all picking the same idle replica.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from suanli.service.platform import Platform


class Load(NamedTuple):
    inflight: int
    """Requests being served by the deployment's replicas."""
    queued: int
    """Requests waiting for a ready replica (cold start)."""


class GatewayLoad:
    """Counters for one platform; every method is thread-safe and O(replicas of one deployment)."""

    def __init__(self, p: Platform) -> None:
        self._clock = p.clock
        self._lock = threading.Lock()
        self._inflight: dict[str, dict[str, int]] = {}
        self._queued: dict[str, int] = {}
        self._last: dict[str, datetime] = {}

    def begin(self, deployment_id: str, replica_id: str) -> None:
        with self._lock:
            per = self._inflight.setdefault(deployment_id, {})
            per[replica_id] = per.get(replica_id, 0) + 1
            self._last[deployment_id] = self._clock.now()

    def acquire(self, deployment_id: str, ready: Iterable[str]) -> str | None:
        with self._lock:
            per = self._inflight.setdefault(deployment_id, {})
            best = min(ready, key=lambda r: (per.get(r, 0), r), default=None)
            if best is not None:
                per[best] = per.get(best, 0) + 1
                self._last[deployment_id] = self._clock.now()
            return best

    def end(self, deployment_id: str, replica_id: str) -> None:
        with self._lock:
            per = self._inflight.get(deployment_id, {})
            n = per.get(replica_id, 0) - 1
            if n > 0:
                per[replica_id] = n
            else:
                per.pop(replica_id, None)

    def begin_wait(self, deployment_id: str) -> None:
        with self._lock:
            self._queued[deployment_id] = self._queued.get(deployment_id, 0) + 1
            self._last[deployment_id] = self._clock.now()

    def end_wait(self, deployment_id: str) -> None:
        with self._lock:
            n = self._queued.get(deployment_id, 0) - 1
            if n > 0:
                self._queued[deployment_id] = n
            else:
                self._queued.pop(deployment_id, None)

    def load_of(self, deployment_id: str) -> Load:
        with self._lock:
            return Load(sum(self._inflight.get(deployment_id, {}).values()), self._queued.get(deployment_id, 0))

    def inflight_of(self, deployment_id: str, replica_id: str) -> int:
        with self._lock:
            return self._inflight.get(deployment_id, {}).get(replica_id, 0)

    def least_loaded(self, deployment_id: str, ready: Iterable[str]) -> str | None:
        with self._lock:
            per = self._inflight.get(deployment_id, {})
            return min(ready, key=lambda r: (per.get(r, 0), r), default=None)

    def last_request_at(self, deployment_id: str) -> datetime | None:
        with self._lock:
            return self._last.get(deployment_id)


def tracker(p: Platform) -> GatewayLoad:
    return p.attached(GatewayLoad)


def begin(p: Platform, deployment_id: str, replica_id: str) -> None:
    """A request started on ``replica_id`` (prefer :func:`acquire`, which also picks the replica)."""
    tracker(p).begin(deployment_id, replica_id)


def acquire(p: Platform, deployment_id: str, ready_replicas: Iterable[str]) -> str | None:
    """Pick the least-loaded of ``ready_replicas`` (ties: lowest id) and count a request on it; None if empty."""
    return tracker(p).acquire(deployment_id, ready_replicas)


def end(p: Platform, deployment_id: str, replica_id: str) -> None:
    """A request on ``replica_id`` is over (whatever its outcome)."""
    tracker(p).end(deployment_id, replica_id)


def begin_wait(p: Platform, deployment_id: str) -> None:
    tracker(p).begin_wait(deployment_id)


def end_wait(p: Platform, deployment_id: str) -> None:
    tracker(p).end_wait(deployment_id)


def load_of(p: Platform, deployment_id: str) -> Load:
    """(inflight, queued) of the deployment as this server process sees it."""
    return tracker(p).load_of(deployment_id)


def inflight_of(p: Platform, deployment_id: str, replica_id: str) -> int:
    """Requests in flight on one replica (a draining replica stops when this is 0)."""
    return tracker(p).inflight_of(deployment_id, replica_id)


def least_loaded(p: Platform, deployment_id: str, ready_replicas: Iterable[str]) -> str | None:
    """The ready replica with the fewest requests in flight, ties by the lowest id (None if none is ready)."""
    return tracker(p).least_loaded(deployment_id, ready_replicas)


def last_request_at(p: Platform, deployment_id: str) -> datetime | None:
    """When this process last routed (or queued) a request for the deployment; None if never."""
    return tracker(p).last_request_at(deployment_id)
