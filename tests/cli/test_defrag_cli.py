"""`suanli defrag …` and `suanli order create --migratable` as people type them: the operator sets the notice
and discount (a tenant cannot; a bad notice names the range), a fragmented A800 pair gets a plan that frees
one node with 4 moves, approval notifies, the plans list shows it."""

from __future__ import annotations

from cli_harness import Cli


def test_operator_plans_and_approves(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("defrag", "set", "--discount", "20", token=acme)
    assert r.exit_code == 1 and "operator" in r.stderr
    r = cli("defrag", "set", "--notice", "90000", token=op)
    assert r.exit_code == 1 and "86400" in r.stderr
    assert cli.json("defrag", "set", "--notice", "300", "--discount", "20", token=op)["discount_pct"] == "20"
    by_node: dict[str, list[str]] = {}
    spot: dict[str, str] = {}
    for _ in range(16):
        doc = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "A800", "--hours", "10",
                       "--migratable", token=acme)
        assert doc["order"]["spec"]["migratable"] is True
        a = doc["lease"]["allocations"][0]
        by_node.setdefault(a["node"], []).append(doc["lease"]["id"])
        spot[doc["lease"]["id"]] = f"{a['node']}/{a['device']} ({a['model']}, {a['site']})"
    for ids in by_node.values():
        for lid in ids[:4]:
            assert cli("lease", "end", lid, token=acme).exit_code == 0
    shown = cli("defrag", "plan", "--gpus", "8", "--model", "A800", token=op)
    assert shown.exit_code == 0, shown.stderr
    assert "4 move(s)" in shown.stdout and "approve with: suanli defrag approve dfg_" in shown.stdout
    plan_id = shown.stdout.split("approve with: suanli defrag approve ")[1].split()[0]
    moves = cli.json("defrag", "show", plan_id, token=op)["moves"]
    for m in moves:  # each move says where the lease is, as its allocation names it, and where it goes
        assert m["from_where"] == spot[m["lease_id"]] and m["from_where"] in shown.stdout
        assert m["to_where"] == f"{m['to'][0]['node']}/{m['to'][0]['device']}" and m["to_where"] in shown.stdout
    approved = cli.json("defrag", "approve", plan_id, token=op)
    assert approved["state"] == "notified" and all(m["due_at"] for m in approved["moves"])
    listed = cli("defrag", "plans", token=op)
    assert listed.exit_code == 0 and plan_id in listed.stdout
    assert cli("defrag", "plans", token=acme).exit_code == 1
    assert "--migratable" in cli("order", "create", "--help").stdout
