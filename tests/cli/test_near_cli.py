"""``suanli order create --near REGION --max-rtt-ms N`` and the measured RTT in ``suanli offers``
(issue 14 item 3), over the real app and database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cli_harness import Cli

from suanli.service.platform import Platform
from suanli.store.agent_tables import AgentNodeRow


def agent(p: Platform, node: str, rtt: str) -> None:
    now = p.clock.now()
    with p.tx() as s:
        s.merge(AgentNodeRow(node=node, state="approved", updated_at=now, last_seen_at=now - timedelta(seconds=1),
                             rtt_ms=Decimal(rtt)))


def test_near_and_max_rtt(cli: Cli, tokens: dict[str, str], platform: Platform) -> None:
    agent(platform, "sz-l20-01", "3.5")
    agent(platform, "sh-h800-01", "28")
    placed = cli.json("order", "create", "--form", "gpu", "--near", "cn-south", "--max-rtt-ms", "10",
                      token=tokens["acme"])
    assert {a["site"] for a in placed["lease"]["allocations"]} == {"sz-edge-1"}
    far = cli("order", "create", "--form", "gpu", "--near", "cn-east", "--max-rtt-ms", "10", token=tokens["acme"])
    assert far.exit_code == 1 and "sh-east-1 28 ms" in far.output, far.output
    bad = cli("order", "create", "--form", "gpu", "--max-rtt-ms", "0", token=tokens["acme"])
    assert bad.exit_code != 0 and "max_rtt_ms" in bad.output, bad.output
    offers = cli("offers", token=tokens["acme"])
    assert offers.exit_code == 0 and "RTT ms" in offers.stdout
    rows = {o["site"]: o["rtt_ms"] for o in cli.json("offers", token=tokens["acme"])}
    assert rows["sz-edge-1"] == "3.5" and rows["sh-east-1"] == "28" and rows["nx-west-1"] is None
