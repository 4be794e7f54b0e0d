"""Feature.SERVE: the local engine serves model replicas, Slurm and agents say why not, and a server that
also has agent nodes still serves on its own engine (its replicas never run on an agent node)."""

from __future__ import annotations

from pathlib import Path

from suanli.drivers.base import Capabilities, Feature
from suanli.drivers.local import LocalDriver
from suanli.drivers.routed import RoutedDriver
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver


def _agents(clock: FakeClock) -> FakeDriver:
    no_serve = Capabilities("agent", frozenset(Feature) - {Feature.SERVE}, {Feature.SERVE: "jobs on other hosts"})
    return FakeDriver(lambda call: no_serve if call.method == "capabilities" else DEFAULT, clock=clock, name="agent")


def test_serve_is_the_local_engines(tmp_path: Path) -> None:
    clock = FakeClock()
    local = LocalDriver(tmp_path / "e", nodes={"n1": 1}, clock=clock)
    assert local.capabilities().supports(Feature.SERVE)
    routed = RoutedDriver(local, _agents(clock), {"edge-1"}.__contains__)
    assert routed.capabilities().supports(Feature.SERVE)
    assert routed.capabilities().reason(Feature.SERVE) is None
    only_agents = RoutedDriver(None, _agents(clock), {"edge-1"}.__contains__).capabilities()
    assert not only_agents.supports(Feature.SERVE) and only_agents.reason(Feature.SERVE) == "jobs on other hosts"


def test_a_primary_without_serve_does_not_serve() -> None:
    clock = FakeClock()
    lacks = Capabilities("slurm", frozenset(Feature) - {Feature.SERVE}, {Feature.SERVE: "compute nodes"})

    def handler(call: DriverCall) -> object:
        return lacks if call.method == "capabilities" else DEFAULT

    routed = RoutedDriver(FakeDriver(handler, clock=clock, name="slurm"), _agents(clock), {"edge-1"}.__contains__)
    assert not routed.capabilities().supports(Feature.SERVE)
    assert "compute nodes" in (routed.capabilities().reason(Feature.SERVE) or "")
