"""`suanli plan` as the operator types it: a term holds its devices (or is refused, writing
nothing), the list says what each plan holds, a spend commitment holds nothing, `plan end` gives
the devices back; a tenant can do none of it. Through HTTP, services and SQL (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_plan_create_list_and_end(cli: Cli, tokens: dict[str, str], clock: FakeClock, tmp_path: Path) -> None:
    op, acme, globex = tokens["operator"], tokens["acme"], tokens["globex"]

    def plan_file(**doc: object) -> str:
        path = tmp_path / f"plan-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(doc))
        return str(path)

    term = {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800", "discount": "0.2"}
    r = cli("plan", "create", plan_file(**term, term_devices=33), token=op)
    assert r.exit_code == 1 and "cannot hold 33 x H800" in r.output and "nothing was written" in r.output
    assert cli.json("plan", "list", "--tenant", "acme", token=op) == []
    r = cli("plan", "create", plan_file(**term, term_devices=32), token=acme)
    assert r.exit_code == 1 and "operator" in r.output
    r = cli("plan", "create", plan_file(**term, term_devices=32), token=op)
    assert r.exit_code == 0 and "holds 32 x H800 (reservation ls_" in r.output, r.output
    pl = cli.json("plan", "list", "--tenant", "acme", token=op)[0]
    assert pl["kind"] == "term" and pl["reservation"].startswith("ls_")
    r = cli("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=globex)
    assert r.exit_code == 1 and "rejected" in r.output, r.output
    r = cli("plan", "create", plan_file(tenant="globex", kind="commit", commit_meter="device_seconds",
                                        commit_model="L20", commit_quantity="100", commit_price="2"), token=op)
    assert r.exit_code == 1 and "spend_commitment" in r.output
    r = cli("plan", "create", plan_file(tenant="globex", kind="spend_commitment", commit_meter="device_seconds",
                                        commit_model="L20", commit_quantity="100", commit_price="2"), token=op)
    assert r.exit_code == 0 and "holds no capacity" in r.output
    r = cli("plan", "list", token=op)
    assert "holds 32 x H800" in r.output and "holds no capacity" in r.output
    r = cli("plan", "end", pl["id"], token=acme)
    assert r.exit_code == 1 and "operator" in r.output
    r = cli("plan", "end", pl["id"], "--at", "2026-11-01T00:00:00Z", token=op)
    assert r.exit_code == 1 and "never in the past" in r.output
    clock.advance(hours=1)
    r = cli("plan", "end", pl["id"], token=op)
    assert r.exit_code == 0 and "ends 2026-11-23 09:00:00" in r.output, r.output
    assert cli("order", "create", "--form", "gpu", "--quantity", "8", "--model", "H800", token=globex).exit_code == 0
