"""``suanli agent token create|list|show|approve|revoke`` as the operator types them: a join token
(printed once), an agent joins (over the API, as `suanli agent run` would), the list shows its health,
approve, revoke; a tenant is refused; a bad --ttl is a usage error."""

from __future__ import annotations

from cli_harness import Cli
from fastapi.testclient import TestClient

from suanli.testing.clock import FakeClock

NODE = "nx-910b-03"


def test_agents_through_the_cli(cli: Cli, http: TestClient, tokens: dict[str, str], clock: FakeClock) -> None:
    op = tokens["operator"]
    r = cli("agent", "token", "create", NODE, "--ttl", "30m", token=op)
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("slj_") and "shown once" in r.stdout and NODE in r.stdout
    listed = cli.json("agent", "list", token=op)
    assert [(a["node"], a["state"], a["health"]) for a in listed] == [(NODE, "awaiting_join", "down")]
    joined = http.post("/v1/agents/join", json={
        "token": secret, "node": NODE, "agent_id": "install-1", "boot_id": "boot-1", "version": "0.1",
        "backend": "none", "devices": [{"index": i} for i in range(8)]})
    assert joined.status_code == 201, joined.text
    table = cli("agent", "list", token=op)
    assert table.exit_code == 0 and "pending" in table.stdout and "awaiting approval" in table.stdout, table.stdout
    assert cli.json("agent", "approve", NODE, token=op)["state"] == "approved"
    cred = {"Authorization": f"Bearer {joined.json()['credential']}"}
    beat = http.post(f"/v1/agents/{NODE}/heartbeat", headers=cred, json={
        "boot_id": "boot-1", "rtt_ms": "2.5", "devices": [{"index": 0, "utilisation_pct": 40, "power_w": "180"}]})
    assert beat.status_code == 200, beat.text
    shown = cli("agent", "show", NODE, token=op)
    assert shown.exit_code == 0 and "up" in shown.stdout and "2.5 ms" in shown.stdout and "180" in shown.stdout
    clock.advance(20)
    assert cli.json("agent", "list", token=op)[0]["health_reason"] == "suspect: no heartbeat for 20 s"
    assert "suspect" in cli("agent", "list", token=op).stdout
    assert cli.json("agent", "revoke", NODE, token=op)["state"] == "revoked"
    assert cli.json("agent", "show", NODE, token=op)["health_reason"] == "agent revoked"

    r = cli("agent", "list", token=tokens["acme"])
    assert r.exit_code == 1 and "403" not in r.output and "agents" in r.output.lower(), r.output
    r = cli("agent", "token", "create", NODE, "--ttl", "soon", token=op)
    assert r.exit_code == 2 and "not a duration" in r.output
    r = cli("agent", "token", "create", NODE, "--ttl", "8d", token=op)
    assert r.exit_code == 1 and "ttl_s" in r.output and "7 days" in r.output, r.output
    r = cli("agent", "show", "no-such-node", token=op)
    assert r.exit_code == 1 and "no-such-node" in r.output
