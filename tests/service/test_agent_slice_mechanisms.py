"""Each node agent reports the slice mechanisms it probed on its node (join, then every heartbeat); the agent
engine declares what every live agent reports (the intersection: never more than the weakest live node); without
a live agent it constrains nothing (those nodes are down) (docs/slices.md "What each backend enforces"). SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.slicing import ALL_MECHANISMS, Mechanism
from suanli.errors import ValidationError
from suanli.service import agents
from suanli.service.agent_driver import AgentDriver
from suanli.service.platform import Platform
from suanli.store import agents as agent_store


def devices(n: int = 8) -> list[dict[str, object]]:
    return [{"index": i, "name": "NVIDIA A100-80GB", "uuid": f"GPU-{i}", "memory_total_mib": 81920} for i in range(n)]


def joined(p: Platform, operator: Principal, node: str, mechs: list[str] | None) -> agents.AgentNode:
    token = agents.create_join_token(p, operator, node, approve=True).token
    j = agents.join(p, token=token, node=node, agent_id=f"i-{node}", boot_id="b1", version="0.1", backend="nvml",
                    devices=devices(), address="10.0.0.9", slice_mechanisms=mechs)
    return agents.authenticate(p, j.credential, node)


def test_the_agent_engine_declares_what_every_live_agent_probed(demo: Platform, operator: Principal) -> None:
    drv = AgentDriver(demo)
    assert drv.capabilities().slice_mechanisms == ALL_MECHANISMS  # no live agent: its nodes are down, take no work
    a = joined(demo, operator, "nx-a100-01", ["mig", "mps"])
    assert drv.capabilities().slice_mechanisms == {Mechanism.MIG, Mechanism.MPS}
    b = joined(demo, operator, "nx-a100-02", ["mps"])
    assert drv.capabilities().slice_mechanisms == {Mechanism.MPS}  # the weakest live node bounds it
    agents.heartbeat(demo, b, boot_id="b1", rtt_ms=Decimal(3), devices=[], address="10.0.0.9",
                     slice_mechanisms=["mig", "mps"])  # its MIG mode was switched on and the agent restarted
    assert drv.capabilities().slice_mechanisms == {Mechanism.MIG, Mechanism.MPS}
    agents.heartbeat(demo, b, boot_id="b1", rtt_ms=None, devices=[], address="10.0.0.9")  # not reported: kept
    with demo.tx() as s:
        got = agent_store.get_agent(s, "nx-a100-02")
    assert got is not None and got.slice_mechanisms == ("mig", "mps")
    demo.clock.advance(demo.settings.agent_down_s + 1)  # type: ignore[attr-defined]
    agents.heartbeat(demo, a, boot_id="b1", rtt_ms=None, devices=[], address="10.0.0.9", slice_mechanisms=[])
    assert drv.capabilities().slice_mechanisms == frozenset()  # b is down; a (live) now reports none
    assert demo.driver is not None and demo.driver.capabilities().slice_mechanisms == frozenset()  # routed: both sides


def test_an_unknown_mechanism_is_refused_naming_the_allowed(demo: Platform, operator: Principal) -> None:
    a = joined(demo, operator, "nx-a100-01", ["mig"])
    with pytest.raises(ValidationError, match="slice_mechanisms: magic not known; allowed: mig, hami, mps, vnpu"):
        agents.heartbeat(demo, a, boot_id="b1", rtt_ms=None, devices=[], address="10.0.0.9",
                         slice_mechanisms=["magic"])
    token = agents.create_join_token(demo, operator, "nx-a100-02").token
    with pytest.raises(ValidationError, match="slice_mechanisms"):
        agents.join(demo, token=token, node="nx-a100-02", agent_id="x", boot_id="b", version="0", backend="nvml",
                    devices=devices(), address="", slice_mechanisms=["mig", "bogus"])
