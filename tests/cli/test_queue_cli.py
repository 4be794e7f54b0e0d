"""`suanli order create --wait-until`, `suanli order when`, `suanli queue list|weight|weights` as people type
them: a full fleet, an order that waits with its place, "when?", the operator's weights (a tenant cannot)."""

from __future__ import annotations

from datetime import timedelta

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_wait_in_the_queue_ask_when_and_weights(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    for _ in range(2):
        cli.json("order", "create", "--form", "server", "--model", "A800", "--hours", "2", token=acme)
    shape = ("--form", "gpu", "-n", "8", "--model", "A800", "--hours", "1")
    later = (clock.now() + timedelta(hours=2)).isoformat()
    asked = cli.json("order", "when", *shape, token=acme)
    assert asked["start"].startswith(later[:16]) and not asked["now"]
    assert "earliest start: now" in cli("order", "when", "--form", "gpu", "--model", "L20", token=acme).stdout
    until = (clock.now() + timedelta(hours=5)).isoformat()
    r = cli("order", "create", *shape, "--wait-until", until, token=acme)
    assert r.exit_code == 0 and "queued; position 1, estimated start" in r.stdout, r.output
    listed = cli("queue", "list", token=acme)
    assert listed.exit_code == 0 and "A800" not in listed.stderr and "1 waiting" in listed.stdout
    r = cli("order", "create", *shape, "--wait-until", (clock.now() - timedelta(hours=1)).isoformat(), token=acme)
    assert r.exit_code == 1 and "wait_until" in r.stderr and "not in the future" in r.stderr
    r = cli("order", "create", *shape, "--wait-until", until, "--priority", "high", token=acme)
    assert r.exit_code == 1 and "priority high is not allowed" in r.stderr
    r = cli("queue", "weight", "--tenant", "acme", "--weight", "2", token=acme)
    assert r.exit_code == 1 and "operator" in r.stderr
    r = cli("queue", "weight", "--tenant", "acme", "--weight", "0", token=op)
    assert r.exit_code == 1 and "weight must be a number between 0.01 and 1000" in r.stderr
    assert cli.json("queue", "weight", "--tenant", "acme", "--weight", "2", "--allow-high", token=op)["allow_high"]
    assert "acme" in cli("queue", "weights", token=op).stdout
    assert "--wait-until" in cli("order", "create", "--help").stdout
