"""`suanli audit list|export` as an operator and a tenant type them: the price change and the lease
end appear with their actor; the export parses as CSV and JSON; a tenant sees only its own;
`suanli lease show` names who caused each event."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_audit_list_and_export(cli: Cli, tokens: dict[str, str], clock: FakeClock, tmp_path: Path) -> None:
    op, acme, globex = tokens["operator"], tokens["acme"], tokens["globex"]
    cli.json("price", "set", "H800", "150000", "--unit", "p_year", token=op)
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=acme)
    lease_id = order["lease"]["id"]
    cli.json("order", "create", "--form", "gpu", "--quantity", "1", token=globex)
    clock.advance(hours=1)
    assert cli("lease", "end", lease_id, "--reason", "maintenance", token=op).exit_code == 0

    r = cli("audit", "list", "--type", "leases", "--id", lease_id, token=op)
    assert r.exit_code == 0, r.output
    assert "operator" in r.stdout and "active -> ended" in r.stdout
    page = cli.json("audit", "list", "--type", "prices", "--actor", "operator", token=op)
    assert page["items"][0]["changes"]["amount"] == [None, "150000"]  # newest first (the fleet import set the rest)

    rows = list(csv.DictReader(io.StringIO(cli("audit", "export", "--type", "leases", token=op).stdout)))
    assert any(x["object_id"] == lease_id and x["actor"] == "operator" for x in rows)
    out = tmp_path / "audit.json"
    r = cli("audit", "export", "--format", "json", "--output", str(out), token=acme)
    assert r.exit_code == 0, r.output
    mine = json.loads(out.read_text())
    assert mine and {d["tenant_id"] for d in mine} == {order["lease"]["tenant_id"]}
    assert "globex" not in out.read_text()

    shown = cli("lease", "show", lease_id, token=acme)
    assert shown.exit_code == 0 and "by" in shown.stdout and "operator" in shown.stdout

    r = cli("audit", "list", "--action", "rename", token=op)
    assert r.exit_code == 1 and "allowed: create, update, delete" in r.stderr
    r = cli("audit", "export", "--format", "xml", token=op)
    assert r.exit_code == 2 and "allowed: csv, json" in r.output
    assert "--since" in cli("audit", "list", "--help").stdout
