"""RoutedDriver: the server's own engine for its nodes, the agents for theirs (two fake drivers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from suanli.drivers.base import (
    Capabilities,
    DeviceAllocation,
    Driver,
    Feature,
    JobHandle,
    JobSpec,
    LeaseGrant,
    NodeHealth,
    NodeState,
)
from suanli.drivers.routed import RoutedDriver
from suanli.errors import ConflictError, EngineError, NotFoundError
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import FakeDriver

AGENT_NODES = {"edge-1", "edge-2"}


@dataclass
class FakeAgents(FakeDriver):
    """A fake agent side: job ids agj_…, and it says which leases it holds."""

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle:
        h = super().submit(lease_id, spec)
        st = self.jobs.pop(h.job_id)
        job_id = f"agj_{self._seq:012x}"
        self.jobs[job_id] = type(st)(job_id, st.lease_id, st.state, st.node, st.device_indices, st.start)
        return JobHandle(job_id, h.lease_id, h.node, h.devices, h.submitted_at)

    def holds(self, lease_id: str) -> bool:
        return lease_id in self.grants


def _grant(clock: FakeClock, *nodes: str, lease_id: str = "lease1") -> LeaseGrant:
    return LeaseGrant(lease_id=lease_id, tenant="acme", start=clock.now(), end=clock.now() + timedelta(hours=1),
                      allocations=tuple(DeviceAllocation(n, (0, 1), (1000, 1000)) for n in nodes))


@pytest.fixture
def sides() -> tuple[FakeClock, FakeDriver, FakeAgents, RoutedDriver]:
    clock = FakeClock()
    primary = FakeDriver(clock=clock, name="local")
    agents = FakeAgents(clock=clock, name="agent")
    return clock, primary, agents, RoutedDriver(primary, agents, AGENT_NODES.__contains__)


def test_it_is_a_driver_named_after_the_primary(sides):
    _, _primary, agents, routed = sides
    assert isinstance(routed, Driver)
    assert routed.name == "local"
    assert RoutedDriver(None, agents, AGENT_NODES.__contains__).name == "agent"


def test_provision_splits_the_grant_by_node(sides):
    clock, primary, agents, routed = sides
    grant = _grant(clock, "edge-1", "gpu-1")
    assert routed.provision(grant).created
    assert [a.node for a in primary.grants["lease1"].allocations] == ["gpu-1"]
    assert [a.node for a in agents.grants["lease1"].allocations] == ["edge-1"]
    again = routed.provision(grant)
    assert not again.created  # idempotent on both sides
    moved = _grant(clock, "edge-2", "gpu-1")
    with pytest.raises(ConflictError):  # a different grant under the same lease id, like any driver
        routed.provision(moved)


def test_a_grant_only_on_agent_nodes_never_reaches_the_primary(sides):
    clock, primary, agents, routed = sides
    routed.provision(_grant(clock, "edge-1"))
    assert "provision" not in primary.methods()
    routed.release("lease1")
    assert "lease1" not in agents.grants
    assert primary.methods().count("release") == 1  # release asks both; unknown leases are a no-op


def test_submit_poll_cancel_logs_go_where_the_job_runs(sides):
    clock, primary, agents, routed = sides
    routed.provision(_grant(clock, "edge-1", "gpu-1"))
    remote = routed.submit("lease1", JobSpec(command=("true",), node="edge-1"))
    own = routed.submit("lease1", JobSpec(command=("true",), node="gpu-1"))
    assert remote.job_id.startswith("agj_") and remote.node == "edge-1"
    assert own.job_id.startswith("fake-") and own.node == "gpu-1"
    assert routed.poll(remote.job_id).node == "edge-1"
    assert routed.poll(own.job_id).node == "gpu-1"
    routed.cancel(remote.job_id)
    assert agents.jobs[remote.job_id].state.terminal and not primary.jobs[own.job_id].state.terminal
    assert routed.logs(own.job_id) == ""
    assert [c.method for c in primary.calls].count("logs") == 1
    with pytest.raises(NotFoundError):
        routed.poll("agj_000000000099")


def test_submit_without_a_node_goes_to_the_side_holding_the_lease(sides):
    clock, _primary, _agents, routed = sides
    routed.provision(_grant(clock, "edge-1", lease_id="remote"))
    routed.provision(_grant(clock, "gpu-1", lease_id="own"))
    assert routed.submit("remote", JobSpec(command=("true",))).job_id.startswith("agj_")
    assert routed.submit("own", JobSpec(command=("true",))).job_id.startswith("fake-")


def test_without_a_primary_only_agent_nodes_run_work(sides):
    clock, _, agents, _ = sides
    routed = RoutedDriver(None, agents, AGENT_NODES.__contains__)
    own = routed.provision(_grant(clock, "gpu-1"))  # bookkeeping only, as with driver=none before agents
    assert not own.created and own.notes == ("node gpu-1: no engine (driver=none), bookkeeping only",)
    assert "lease1" not in agents.grants
    both = routed.provision(_grant(clock, "gpu-1", "edge-1", lease_id="lease2"))
    assert both.created and [a.node for a in agents.grants["lease2"].allocations] == ["edge-1"]
    with pytest.raises(EngineError, match="lease lease1 is not on an agent node"):
        routed.submit("lease1", JobSpec(command=("true",), node="gpu-1"))
    with pytest.raises(NotFoundError, match="driver=none"):
        routed.poll("fake-1")
    assert routed.usage(clock.now()) == []
    routed.release("lease1")


def test_usage_and_health_are_the_union(sides):
    clock, primary, agents, routed = sides
    routed.provision(_grant(clock, "edge-1", "gpu-1"))
    a = routed.submit("lease1", JobSpec(command=("true",), node="edge-1"))
    b = routed.submit("lease1", JobSpec(command=("true",), node="gpu-1"))
    start = clock.now()
    clock.advance(10)
    agents.finish_job(a.job_id)
    primary.finish_job(b.job_id)
    assert sorted(u.job_id for u in routed.usage(start)) == sorted([a.job_id, b.job_id])
    primary.set_node("edge-1", NodeState.UP)  # the primary's word on an agent node is not used
    agents.set_node("edge-1", NodeState.DOWN, "agent: no heartbeat for 31 s")
    health = {h.node: h for h in routed.node_health()}
    assert health["edge-1"] == NodeHealth("edge-1", NodeState.DOWN, "agent: no heartbeat for 31 s")
    assert health["gpu-1"].state is NodeState.UP
    assert len(routed.node_health()) == 2


def test_capabilities_are_what_both_sides_can_do(sides):
    _, primary, agents, _ = sides
    primary.handler = lambda call: (Capabilities("local", frozenset(Feature) - {Feature.RESOURCE_LIMITS},
                                                 {Feature.RESOURCE_LIMITS: "no MPS"})
                                    if call.method == "capabilities" else _default(call))
    routed = RoutedDriver(primary, agents, AGENT_NODES.__contains__)
    caps = routed.capabilities()
    assert caps.driver == "local"
    assert not caps.supports(Feature.RESOURCE_LIMITS)
    assert caps.reason(Feature.RESOURCE_LIMITS) == "local: no MPS"
    assert caps.supports(Feature.MULTI_NODE)


def test_other_attributes_are_the_primarys(sides):
    _, primary, agents, routed = sides
    assert routed.grants is primary.grants
    with pytest.raises(AttributeError):
        RoutedDriver(None, agents, AGENT_NODES.__contains__).grants  # noqa: B018


def _default(call):
    from suanli.testing.fake_driver import default_handler
    return default_handler(call)
