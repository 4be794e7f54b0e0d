"""FakeDriver: a :class:`suanli.drivers.base.Driver` for service-layer unit tests only.

Every call is recorded in ``calls`` as a :class:`DriverCall` and handed to ``handler``. The
handler returns the result, raises (e.g. ``EngineError(..., retryable=True)`` to simulate an
unreachable engine), or returns :data:`DEFAULT` to get the built-in in-memory behaviour:
provision/release idempotent by lease id, ``submit`` checks the grant like a real driver and
returns ``fake-1``, ``fake-2``…, jobs stay ``running`` until ``finish_job``/``cancel``.

    def engine_down(call: DriverCall) -> Any:
        if call.method == "provision":
            raise EngineError("slurmctld unreachable", retryable=True)
        return DEFAULT

    driver = FakeDriver(engine_down)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from suanli.domain.clock import Clock, SystemClock, utc
from suanli.domain.slicing import ALL_MECHANISMS
from suanli.drivers.base import (
    Capabilities,
    Feature,
    JobHandle,
    JobSpec,
    JobState,
    JobStatus,
    JobUsage,
    LeaseGrant,
    NodeHealth,
    NodeState,
    ProvisionResult,
    check_submit,
    conflict_if_changed,
    device_seconds,
    engine_error,
)
from suanli.errors import NotFoundError

DEFAULT: Any = object()
"""Return this from a handler to get the fake's built-in behaviour."""


@dataclass(frozen=True)
class DriverCall:
    method: str
    args: dict[str, Any]


def default_handler(call: DriverCall) -> Any:
    return DEFAULT


@dataclass
class FakeDriver:
    handler: Callable[[DriverCall], Any] = default_handler
    clock: Clock = field(default_factory=SystemClock)
    name: str = "fake"
    calls: list[DriverCall] = field(default_factory=list)
    grants: dict[str, LeaseGrant] = field(default_factory=dict)
    jobs: dict[str, JobStatus] = field(default_factory=dict)
    health: dict[str, NodeHealth] = field(default_factory=dict)
    _seq: int = 0

    def _call(self, method: str, **args: Any) -> Any:
        call = DriverCall(method, args)
        self.calls.append(call)
        return self.handler(call)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    # ------------------------------------------------------------------ protocol

    def capabilities(self) -> Capabilities:
        r = self._call("capabilities")
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        return Capabilities(driver=self.name, supported=frozenset(Feature), slice_mechanisms=ALL_MECHANISMS)

    def provision(self, grant: LeaseGrant) -> ProvisionResult:
        r = self._call("provision", grant=grant)
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        if grant.lease_id in self.grants:
            conflict_if_changed(self.grants[grant.lease_id], grant)
            return ProvisionResult(grant.lease_id, grant.lease_id, created=False)
        self.grants[grant.lease_id] = grant
        return ProvisionResult(grant.lease_id, grant.lease_id, created=True)

    def release(self, lease_id: str) -> None:
        if self._call("release", lease_id=lease_id) is not DEFAULT:
            return
        now = utc(self.clock.now())
        for jid, st in list(self.jobs.items()):
            if st.lease_id == lease_id and not st.state.terminal:
                self.jobs[jid] = replace(st, state=JobState.CANCELLED, end=now, reason=f"lease {lease_id} released")
        self.grants.pop(lease_id, None)

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle:
        r = self._call("submit", lease_id=lease_id, spec=spec)
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        grant = self.grants.get(lease_id)
        if grant is None:
            raise engine_error("lease is not provisioned on the fake driver", engine=self.name, lease_id=lease_id)
        now = utc(self.clock.now())
        alloc, devices = check_submit(grant, spec, now, driver=self.name)
        self._seq += 1
        job_id = f"fake-{self._seq}"
        self.jobs[job_id] = JobStatus(job_id, lease_id, JobState.RUNNING, node=alloc.node,
                                      device_indices=alloc.device_indices[:devices], start=now)
        return JobHandle(job_id, lease_id, alloc.node, devices, now)

    def poll(self, job_id: str) -> JobStatus:
        r = self._call("poll", job_id=job_id)
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        if job_id not in self.jobs:
            raise NotFoundError(f"job {job_id!r} is not known to the fake driver", job_id=job_id)
        return self.jobs[job_id]

    def cancel(self, job_id: str) -> None:
        if self._call("cancel", job_id=job_id) is not DEFAULT:
            return
        st = self.poll(job_id)
        if not st.state.terminal:
            self.jobs[job_id] = replace(st, state=JobState.CANCELLED, end=utc(self.clock.now()))

    def logs(self, job_id: str) -> str:
        r = self._call("logs", job_id=job_id)
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        self.poll(job_id)
        return ""

    def usage(self, since: datetime) -> list[JobUsage]:
        r = self._call("usage", since=since)
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        out = []
        for st in self.jobs.values():
            if st.end is None or st.start is None or st.end < since:
                continue
            elapsed = int((st.end - st.start).total_seconds())
            out.append(JobUsage(st.job_id, st.lease_id, st.node, st.device_indices, len(st.device_indices),
                                st.start, st.end, st.state, st.exit_code,
                                device_seconds(elapsed, tuple(1000 for _ in st.device_indices))))
        return sorted(out, key=lambda u: (u.end, u.job_id))

    def node_health(self) -> list[NodeHealth]:
        r = self._call("node_health")
        if r is not DEFAULT:
            return r  # type: ignore[no-any-return]
        nodes = {a.node for g in self.grants.values() for a in g.allocations} | set(self.health)
        return [self.health.get(n, NodeHealth(n, NodeState.UP)) for n in sorted(nodes)]

    # ------------------------------------------------------------------ test controls

    def finish_job(self, job_id: str, *, exit_code: int = 0, at: datetime | None = None) -> None:
        st = self.jobs[job_id]
        state = JobState.COMPLETED if exit_code == 0 else JobState.FAILED
        self.jobs[job_id] = replace(st, state=state, exit_code=exit_code, end=utc(at or self.clock.now()))

    def set_node(self, node: str, state: NodeState, reason: str | None = None) -> None:
        self.health[node] = NodeHealth(node, state, reason)
