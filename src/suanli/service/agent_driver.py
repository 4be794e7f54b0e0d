"""The agent driver: the engine of agent nodes, backed by the database (docs/drivers.md, "Agent driver").

The server does not reach into an agent node. It writes what the node should run (``agent_leases``,
``agent_jobs``), the node's agent fetches it (``GET /v1/agents/{node}/work``), runs it on its own
local engine and reports back (``POST /v1/agents/{node}/reports``: job states, log tails, usage).
So every method here is one short transaction on those tables, and the contract of
:mod:`suanli.drivers.base` holds as for any driver:

- ``provision`` stores the grant once per agent node (restricted to that node's allocation); the
  same grant again: ``created=False``; a different grant under a lease still held: ConflictError.
- ``release`` marks the lease's rows released and asks its live jobs to stop (``cancel``).
- ``submit`` checks the lease window and devices (:func:`check_submit`), refuses a node whose agent
  is down or not approved (409), and queues an ``agj_…`` job for the agent.
- ``poll`` is the agent's last report; a job not finished on a node whose agent is *down* reads as
  ``node_fail`` (by then the agent fenced it: docs/agents.md "Health and fencing").
- ``usage(since)``: records of jobs that ended, or reached the server, at or after ``since``.
- ``node_health()``: each agent node's health derived from its last heartbeat (never written).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from suanli.domain.agents import AgentHealth, AgentNode, health_of
from suanli.domain.slicing import ALL_MECHANISMS, Mechanism
from suanli.drivers.base import (
    Capabilities,
    DeviceAllocation,
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
    check_lease_id,
    check_submit,
    engine_error,
)
from suanli.drivers.routed import AGENT_JOB_PREFIX
from suanli.errors import ConflictError, NotFoundError
from suanli.store import agent_work as store
from suanli.store import agents as agent_store
from suanli.store.db import DatabaseError

if TYPE_CHECKING:  # the platform builds this driver: it imports this module
    from suanli.service.platform import Platform

NAME = "agent"


class _Raced(Exception):
    """Another transaction provisioned the lease between this one's look and its write."""


def node_grant(grant: LeaseGrant, alloc: DeviceAllocation) -> LeaseGrant:
    """The grant as one agent node holds it: its own allocation only."""
    return LeaseGrant(lease_id=grant.lease_id, tenant=grant.tenant, start=grant.start, end=grant.end,
                      allocations=(alloc,))


def spec_to_dict(spec: JobSpec, devices: int, node: str) -> dict[str, object]:
    """The job as the agent's work list carries it (wire route 3)."""
    return {"command": list(spec.command), "env": dict(spec.env), "devices": devices, "node": node,
            "cpus": spec.cpus, "memory_mib": spec.memory_mib,
            "time_limit_s": None if spec.time_limit is None else int(spec.time_limit.total_seconds()),
            "name": spec.name}


class AgentDriver:
    """Implements :class:`suanli.drivers.base.Driver` over the agent tables of ``p``'s database."""

    name = NAME

    def __init__(self, p: Platform) -> None:
        self.p = p

    def _health(self, agent: AgentNode | None, now: datetime) -> tuple[AgentHealth, str]:
        if agent is None:
            return AgentHealth.DOWN, "agent not joined"
        st = self.p.settings
        return health_of(agent.state, agent.last_seen_at, now, st.agent_suspect_s, st.agent_down_s)

    # ------------------------------------------------------------------ protocol

    def capabilities(self) -> Capabilities:
        return Capabilities(
            driver=self.name,
            supported=frozenset({Feature.WHOLE_DEVICES, Feature.FRACTIONAL_DEVICES, Feature.SHARED_NODE,
                                 Feature.DEVICE_PINNING, Feature.FUTURE_START, Feature.OPEN_ENDED,
                                 Feature.MULTI_NODE, Feature.USAGE_ACCOUNTING, Feature.NODE_HEALTH}),
            missing={Feature.RESOURCE_LIMITS: "per node: see GET /v1/agents (an agent's sandbox holds jobs to "
                     "their CPU and memory where its node has cgroups; a fractional device is not isolated)",
                     Feature.SERVE: "an agent's jobs run on another host: the server cannot reach a model "
                     "replica's Unix socket there (model deployments run on the local engine)"},
            slice_mechanisms=self.slice_mechanisms(),
        )

    def slice_mechanisms(self) -> frozenset[Mechanism]:
        """What every live agent (approved, not down) reports it probed on its node: the intersection, so a
        slice is never declared enforced on a node that cannot hold it. Without a live agent the agent side
        constrains nothing (every mechanism): a node whose agent is not live is down and takes no work."""
        now, st = self.p.clock.now(), self.p.settings
        known = {x.value for x in Mechanism}
        sets = [frozenset(Mechanism(m) for m in mechs if m in known) for _, state, seen, mechs in self.p.agent_reports()
                if health_of(state, seen, now, st.agent_suspect_s, st.agent_down_s)[0] is not AgentHealth.DOWN]
        return frozenset.intersection(*sets) if sets else ALL_MECHANISMS

    def holds(self, lease_id: str) -> bool:
        with self.p.tx() as s:
            return bool(store.holds(s, lease_id))

    def provision(self, grant: LeaseGrant) -> ProvisionResult:
        for _ in range(3):
            try:
                return self._provision(grant)
            except (DatabaseError, _Raced):  # provisioned at the same moment by another pass: decide again
                continue
        return self._provision(grant)

    def _provision(self, grant: LeaseGrant) -> ProvisionResult:
        now = self.p.clock.now()
        wanted = {a.node: node_grant(grant, a).to_dict() for a in grant.allocations}
        with self.p.tx() as s:
            live = {x.node: x.grant for x in store.leases_of(s, grant.lease_id, for_update=True) if not x.released}
            if live:
                if live != wanted:
                    raise ConflictError(
                        f"lease {grant.lease_id} is already provisioned with a different grant (on agent nodes "
                        f"{', '.join(sorted(live))}); release it before provisioning it again with other devices "
                        "or another window", lease_id=grant.lease_id)
                return ProvisionResult(grant.lease_id, grant.lease_id, created=False)
            for node, raw in sorted(wanted.items()):
                if not store.put_lease(s, node, grant.lease_id, raw, now):
                    raise _Raced(grant.lease_id)  # rolls back what this attempt wrote
        return ProvisionResult(grant.lease_id, grant.lease_id, created=True)

    def release(self, lease_id: str) -> None:
        check_lease_id(lease_id)
        with self.p.tx() as s:
            store.release_lease(s, lease_id, self.p.clock.now())

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle:
        check_lease_id(lease_id)
        now = self.p.clock.now()
        with self.p.tx() as s:
            # locked: a release at the same moment waits, then asks this job to stop too
            held = [x for x in store.leases_of(s, lease_id, for_update=True) if not x.released]
            if not held:
                raise engine_error("lease is not provisioned on any agent node (provision it first, or it "
                                   "was released)", engine=self.name, lease_id=lease_id)
            grants = [LeaseGrant.from_dict(x.grant) for x in held]
            grant = LeaseGrant(lease_id=lease_id, tenant=grants[0].tenant, start=grants[0].start, end=grants[0].end,
                               allocations=tuple(g.allocations[0] for g in grants))
            alloc, devices = check_submit(grant, spec, now, driver=self.name)
            health, why = self._health(agent_store.get_agent(s, alloc.node), now)
            if health is AgentHealth.DOWN:
                raise ConflictError(f"lease {lease_id}: node {alloc.node} is down ({why}); its agent must be "
                                    "approved and heard from before jobs run there", lease_id=lease_id,
                                    node=alloc.node)
            job_id = AGENT_JOB_PREFIX + secrets.token_hex(6)
            store.insert_job(s, job_id=job_id, lease_id=lease_id, node=alloc.node,
                             spec=spec_to_dict(spec, devices, alloc.node), devices=devices, now=now)
        return JobHandle(job_id, lease_id, alloc.node, devices, now)

    def _job(self, job_id: str) -> tuple[store.AgentJob, tuple[AgentHealth, str]]:
        now = self.p.clock.now()
        with self.p.tx() as s:
            job = store.get_job(s, job_id)
            if job is None:
                raise NotFoundError(f"job {job_id!r} is not known to the agent driver", job_id=job_id)
            return job, self._health(agent_store.get_agent(s, job.node), now)

    def poll(self, job_id: str) -> JobStatus:
        job, (health, why) = self._job(job_id)
        state = JobState(job.state)
        reason = job.reason or None
        if not state.terminal and health is AgentHealth.DOWN:
            state, reason = JobState.NODE_FAIL, f"node {job.node}: {why}"
        return JobStatus(job.job_id, job.lease_id, state, node=job.node, device_indices=job.device_indices,
                         start=job.start, end=job.end, exit_code=job.exit_code, reason=reason)

    def cancel(self, job_id: str) -> None:
        self._job(job_id)
        with self.p.tx() as s:
            store.request_cancel(s, job_id, self.p.clock.now())

    def logs(self, job_id: str) -> str:
        job, _ = self._job(job_id)
        out, err = job.stdout, job.stderr
        return out if not err else f"{out}{'' if out.endswith(chr(10)) or not out else chr(10)}--- stderr ---\n{err}"

    def usage(self, since: datetime) -> list[JobUsage]:
        with self.p.tx() as s:
            rows = store.usage_since(s, since)
        return [JobUsage(u.job_id, u.lease_id, u.node, u.device_indices, u.devices, u.start, u.end, JobState(u.state),
                         u.exit_code, u.device_seconds) for u in rows]

    def node_health(self) -> list[NodeHealth]:
        now = self.p.clock.now()
        with self.p.tx() as s:
            agents = agent_store.list_agents(s)
        out = []
        for a in agents:
            health, why = self._health(a, now)
            out.append(NodeHealth(a.node, NodeState.DOWN if health is AgentHealth.DOWN else NodeState.UP,
                                  why or None))
        return out
