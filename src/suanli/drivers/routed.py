"""The routing driver: the server's own engine for its nodes, the node agents for theirs.

A node whose devices are run by an agent (a row in ``agent_nodes``, see docs/agents.md) is an
*agent node*; every other node stays on the primary engine (``settings.driver``: local, slurm, or
none). :class:`RoutedDriver` holds both and a callable ``is_agent_node(node)``:

- ``provision`` splits the grant by node: the agent nodes' allocations go to the agent driver, the
  rest to the primary (without one, those nodes stay bookkeeping only, as with ``driver=none``);
  ``created`` is true when either side created something.
- ``release`` asks both (each is idempotent and ignores leases it does not know).
- ``submit`` goes by ``spec.node``; without one, to the agent driver when it holds the lease
  (``holds(lease_id)``), else to the primary.
- ``poll`` / ``cancel`` / ``logs`` go by the job id: agent jobs are ``agj_…``.
- ``usage`` and ``node_health`` are the union (the primary's health only for its own nodes).

Its ``name`` is the primary's (job rows and lease mirrors keep matching), ``agent`` without one.
Other attributes (``sandbox``, ``import_fleet``, a local driver's ``wait``…) are the primary's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from suanli.drivers.base import (
    Capabilities,
    Driver,
    Feature,
    JobHandle,
    JobSpec,
    JobStatus,
    JobUsage,
    LeaseGrant,
    NodeHealth,
    ProvisionResult,
    engine_error,
)
from suanli.errors import NotFoundError

AGENT_JOB_PREFIX = "agj_"
"""Job ids of work run by node agents."""


class AgentSide(Driver, Protocol):
    """The agent driver as the router needs it: a driver that can say whether it holds a lease."""

    def holds(self, lease_id: str) -> bool: ...


def is_agent_job(job_id: str) -> bool:
    return job_id.startswith(AGENT_JOB_PREFIX)


class RoutedDriver:
    def __init__(self, primary: Driver | None, agents: AgentSide, is_agent_node: Callable[[str], bool]) -> None:
        self.primary = primary
        self.agents = agents
        self.is_agent_node = is_agent_node
        self.name = primary.name if primary is not None else agents.name

    def __getattr__(self, attr: str) -> Any:
        primary = self.__dict__.get("primary")
        if primary is None or attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(primary, attr)

    def _primary(self, what: str, *, lease_id: str | None = None) -> Driver:
        if self.primary is None:
            raise engine_error(f"{what} is not on an agent node and this server runs no engine of its own "
                               "(driver=none); only agent nodes run work", engine=self.name, lease_id=lease_id)
        return self.primary

    # ------------------------------------------------------------------ protocol

    def capabilities(self) -> Capabilities:
        """What both sides can do; a feature one side lacks is missing with that side's reason."""
        sides = [self.agents.capabilities()]
        if self.primary is not None:
            sides.insert(0, self.primary.capabilities())
        supported = frozenset(Feature)
        missing: dict[Feature, str] = {}
        for caps in sides:
            supported &= caps.supported
            for feature, why in caps.missing.items():
                text = f"{caps.driver}: {why}" if len(sides) > 1 else why
                missing[feature] = f"{missing[feature]}; {text}" if feature in missing else text
        if self.primary is not None and Feature.SERVE in sides[0].supported:
            supported |= {Feature.SERVE}  # model replicas run on the server's own engine, never on an agent node
            missing.pop(Feature.SERVE, None)
        mechanisms = frozenset.intersection(*(c.slice_mechanisms for c in sides))
        return Capabilities(driver=self.name, supported=supported, missing=missing, slice_mechanisms=mechanisms)

    def provision(self, grant: LeaseGrant) -> ProvisionResult:
        remote = tuple(a for a in grant.allocations if self.is_agent_node(a.node))
        own = tuple(a for a in grant.allocations if not self.is_agent_node(a.node))
        results: list[ProvisionResult] = []
        if own and self.primary is None:  # no engine of its own: those nodes stay bookkeeping only, as before
            results.append(ProvisionResult(grant.lease_id, "", created=False, notes=(
                f"node {', '.join(a.node for a in own)}: no engine (driver=none), bookkeeping only",)))
        elif own:
            assert self.primary is not None
            results.append(self.primary.provision(replace(grant, allocations=own)))
        if remote:
            results.append(self.agents.provision(replace(grant, allocations=remote)))
        return ProvisionResult(grant.lease_id, results[-1].engine_ref, created=any(r.created for r in results),
                               notes=tuple(n for r in results for n in r.notes))

    def release(self, lease_id: str) -> None:
        if self.primary is not None:
            self.primary.release(lease_id)
        self.agents.release(lease_id)

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle:
        remote = self.is_agent_node(spec.node) if spec.node is not None else self.agents.holds(lease_id)
        if remote:
            return self.agents.submit(lease_id, spec)
        return self._primary(f"lease {lease_id}", lease_id=lease_id).submit(lease_id, spec)

    def _by_job(self, job_id: str) -> Driver:
        if is_agent_job(job_id):
            return self.agents
        if self.primary is None:
            raise NotFoundError(f"job {job_id!r} not known: this server runs no engine of its own (driver=none) "
                                f"and agent jobs are named {AGENT_JOB_PREFIX}…", job=job_id)
        return self.primary

    def poll(self, job_id: str) -> JobStatus:
        return self._by_job(job_id).poll(job_id)

    def cancel(self, job_id: str) -> None:
        self._by_job(job_id).cancel(job_id)

    def logs(self, job_id: str) -> str:
        return self._by_job(job_id).logs(job_id)

    def usage(self, since: datetime) -> list[JobUsage]:
        own = self.primary.usage(since) if self.primary is not None else []
        return own + self.agents.usage(since)

    def node_health(self) -> list[NodeHealth]:
        own = self.primary.node_health() if self.primary is not None else []
        return [h for h in own if not self.is_agent_node(h.node)] + self.agents.node_health()
