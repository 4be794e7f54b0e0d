"""Node agents' identity in the service layer (SQLite and PostgreSQL): a join token is used once even
when agents race with it; the domain refuses impossible telemetry on its own (a caller that does not
come through the API's wire schema), audited, with nothing stored."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.agents import AgentState, Telemetry
from suanli.errors import AuthenticationError, ValidationError
from suanli.service import agents, audit
from suanli.service.platform import Platform
from suanli.store import agents as agent_store

NODE = "nx-910b-03"
DEVICES = [{"index": i, "name": "Ascend-910B", "uuid": f"npu-{i}", "memory_total_mib": 65536} for i in range(8)]


def _join(p: Platform, token: str, boot: str) -> agents.Joined:
    return agents.join(p, token=token, node=NODE, agent_id="install-1", boot_id=boot, version="0.1",
                       backend="npu-smi", devices=DEVICES, address="10.0.0.9")


def refusals(p: Platform, operator: Principal) -> list[str]:
    f = audit.make_filter(object_type=agent_store.REFUSAL_OBJECT, object_id=NODE)
    return [e.changes["refused"][1] for e in audit.list_events(p, operator, f, limit=100)]


def test_racing_joins_with_one_token_let_exactly_one_in(demo: Platform, operator: Principal) -> None:
    token = agents.create_join_token(demo, operator, NODE).token
    results: list[object] = []
    start = threading.Barrier(4)

    def attempt(k: int) -> None:
        start.wait()
        try:
            results.append(_join(demo, token, f"boot-{k}"))
        except AuthenticationError as e:
            results.append(e)

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    joined = [r for r in results if isinstance(r, agents.Joined)]
    refused = [r for r in results if isinstance(r, AuthenticationError)]
    assert len(joined) == 1 and len(refused) == 3, results
    assert all("already used" in e.message for e in refused)
    agent = agents.authenticate(demo, joined[0].credential, NODE)
    assert agent.state is AgentState.PENDING
    assert len([x for x in refusals(demo, operator) if "already used" in x]) == 3


def test_the_domain_refuses_impossible_telemetry(demo: Platform, operator: Principal) -> None:
    joined = _join(demo, agents.create_join_token(demo, operator, NODE, approve=True).token, "boot-1")
    agent = agents.authenticate(demo, joined.credential, NODE)
    with demo.tx() as s:
        before = agent_store.get_agent(s, NODE)
    demo.clock.advance(5)  # type: ignore[attr-defined]
    bad = Telemetry(index=1, at=demo.clock.now(), power_w=Decimal("-3"))
    with pytest.raises(ValidationError, match=r"device 1: power_w -3 is impossible; allowed: 0 to 5000"):
        agents.heartbeat(demo, agent, boot_id="boot-2", rtt_ms=Decimal(4), devices=[bad], address="10.0.0.10")
    with pytest.raises(ValidationError, match="rtt_ms"):
        agents.heartbeat(demo, agent, boot_id="boot-2", rtt_ms=Decimal(-1), devices=[], address="10.0.0.10")
    with demo.tx() as s:
        assert agent_store.get_agent(s, NODE) == before  # not even last seen, boot id or address
    assert any("power_w" in x for x in refusals(demo, operator)) and any("rtt_ms" in x for x in refusals(demo, operator))
    beat = agents.heartbeat(demo, agent, boot_id="boot-2", rtt_ms=Decimal("4.5"),
                            devices=[Telemetry(index=1, at=demo.clock.now(), power_w=Decimal("300"))],
                            address="10.0.0.10")
    assert beat.state is AgentState.APPROVED
    with demo.tx() as s:
        after = agent_store.get_agent(s, NODE)
    assert after is not None and before is not None
    assert after.last_seen_at == before.last_seen_at + timedelta(seconds=5)  # type: ignore[operator]
    assert (after.boot_id, after.address, after.rtt_ms) == ("boot-2", "10.0.0.10", Decimal("4.5"))
    assert [(t.index, t.power_w) for t in after.telemetry] == [(1, Decimal("300"))]
