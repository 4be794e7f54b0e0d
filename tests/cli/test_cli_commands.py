"""The ``suanli`` commands as a user runs them, against the real app and database (in-process)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import typer
import yaml
from cli_harness import Cli

from suanli.cli.main import app
from suanli.domain.invoices import stored
from suanli.testing.clock import FakeClock

H800 = ("order", "create", "--form", "gpu", "--quantity", "2", "--model", "H800")


def test_offers_json_lists_sites_models_and_both_units(cli: Cli, tokens: dict[str, str]) -> None:
    offers = cli.json("offers", token=tokens["acme"])
    assert len({o["site"] for o in offers}) >= 3
    assert len({o["model"] for o in offers}) >= 5
    for o in offers:
        if o["price_device_hour"] is not None:
            Decimal(o["price_device_hour"]), Decimal(o["price_p_year"])  # exact decimal strings
            assert isinstance(o["price_device_hour"], str) and isinstance(o["price_p_year"], str)
    assert {o["site"] for o in cli.json("offers", "--site", "sz-edge-1", token=tokens["acme"])} == {"sz-edge-1"}
    assert all(o["memory_gib"] >= 64 for o in cli.json("offers", "--min-memory", "64", token=tokens["acme"]))


def test_offers_table_rounds_for_display(cli: Cli, tokens: dict[str, str]) -> None:
    r = cli("offers", "--model", "H800", token=tokens["acme"])
    assert r.exit_code == 0, r.output
    # H800 at 90,000 元/P/年 (demo): 90000 x 0.9894 / 8760 = 10.165... 元/device-hour
    assert "10.17" in r.stdout and "90,000" in r.stdout and "sh-east-1" in r.stdout


def test_order_gpu_gives_an_active_lease_naming_devices(cli: Cli, tokens: dict[str, str]) -> None:
    out = cli.json(*H800, token=tokens["acme"])
    order, lease = out["order"], out["lease"]
    assert order["status"] == "fulfilled" and lease["id"] == order["lease_id"]
    assert lease["state"] == "active"
    assert len(lease["allocations"]) == 2 and {a["model"] for a in lease["allocations"]} == {"H800"}
    node = lease["allocations"][0]["node"]

    r = cli("lease", "show", lease["id"], token=tokens["acme"])
    assert r.exit_code == 0, r.output
    assert lease["id"] in r.stdout and node in r.stdout and "active" in r.stdout and "events" in r.stdout
    r = cli("lease", "list", token=tokens["acme"])
    assert lease["id"] in r.stdout and f"{node}/" in r.stdout
    human = cli(*H800, token=tokens["acme"])
    assert human.exit_code == 0 and "fulfilled" in human.stdout and "devices" in human.stdout


def test_ended_lease_is_invoiced_per_second(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    hourly_one = Decimal(cli.json("offers", "--model", "H800", token=tokens["acme"])[0]["price_device_hour"])
    lease_id = cli.json(*H800, token=tokens["acme"])["lease"]["id"]
    clock.advance(4321)
    r = cli("lease", "end", lease_id, token=tokens["acme"])
    assert r.exit_code == 0 and "ended" in r.stdout
    period = clock.now().strftime("%Y-%m")
    inv = cli.json("invoice", "show", "--period", period, token=tokens["acme"])
    (line,) = inv["lines"]
    expected = (4321 * 2 * hourly_one / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert line["lease"] == lease_id and Decimal(line["quantity"]) == stored(Decimal(2 * 4321) / 3600)  # device-hours (12 places)
    assert Decimal(line["unit_price"]) == stored(hourly_one) and line["price_unit"] == "device-hour"
    assert Decimal(line["amount"]) == expected and Decimal(inv["total"]) == Decimal(inv["amount_due"]) == expected
    table = cli("invoice", "show", "--period", period, token=tokens["acme"])
    assert f"total {expected:f} CNY" in table.stdout and "rounded once to 0.01, half up" in table.stdout
    assert f"amount due {expected:f} CNY" in table.stdout and lease_id in table.stdout
    op_view = cli.json("invoice", "show", "--period", period, "--tenant", "acme", token=tokens["operator"])
    assert op_view["total"] == inv["total"]
    assert Decimal(op_view["lines"][0]["supplier_share"]) + Decimal(op_view["lines"][0]["commission"]) == expected
    # revenue is the supplier's statement of issued invoices: nothing until the month is issued
    rev = cli.json("revenue", "--period", period, "--supplier", "huadong-idc", token=tokens["operator"])
    assert Decimal(rev["gross"]) == 0 and rev["lines"] == []
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = cli.json("invoice", "issue", "acme", "--period", period, token=tokens["operator"])
    assert issued["total"] == inv["total"]  # what `invoice show` showed is what is issued
    rev = cli.json("revenue", "--period", period, "--supplier", "huadong-idc", token=tokens["operator"])
    assert Decimal(rev["supplier_share"]) + Decimal(rev["commission"]) == Decimal(rev["gross"]) == expected
    assert rev == cli.json("statement", "supplier", "--supplier", "huadong-idc", "--period", period,
                           token=tokens["operator"])
    r = cli("revenue", "--period", period, token=tokens["acme"])
    assert r.exit_code == 1  # a tenant never sees supplier revenue


def test_second_tenant_cannot_see_the_lease(cli: Cli, tokens: dict[str, str]) -> None:
    lease_id = cli.json(*H800, token=tokens["acme"])["lease"]["id"]
    for cmd in (("lease", "show", lease_id), ("lease", "end", lease_id)):
        r = cli(*cmd, token=tokens["globex"])
        assert r.exit_code == 1
        assert "not found" in r.stderr.lower() or "no lease" in r.stderr.lower(), r.stderr
    assert cli.json("lease", "list", token=tokens["globex"]) == []
    assert cli.json("lease", "show", lease_id, token=tokens["acme"])["state"] == "active"


def test_bad_orders_exit_1_with_the_servers_message(cli: Cli, tokens: dict[str, str]) -> None:
    cases = [
        (("--form", "gpu", "--quantity", "9", "--model", "H800"), "no node can hold 9 devices"),
        (("--form", "slice", "--share-pct", "150", "--memory-mib", "1024"), "a whole number from 1 to 100"),
        (("--form", "gpu", "--quantity", "1", "--model", "NOPE-9000"), "unknown model 'NOPE-9000'"),
        (("--form", "gpu", "--quantity", "0"), "quantity"),
        (("--form", "teleport"), "not a product form"),
    ]
    for args, message in cases:
        r = cli("order", "create", *args, token=tokens["acme"])
        assert r.exit_code == 1, (args, r.output)
        assert message in r.stderr and r.stderr.startswith("error:"), (args, r.stderr)
    assert cli.json("lease", "list", "--state", "active", token=tokens["acme"]) == []


def test_usage_errors_exit_2(cli: Cli, tokens: dict[str, str]) -> None:
    for args in (("price", "set", "H800", "lots"), ("lease", "extend", "ls_x"),
                 ("order", "create", "--form", "gpu", "--hours", "2", "--end", "2027-01-01"),
                 ("order", "create", "--form", "gpu", "--start", "tomorrow"), ("offers", "--bogus")):
        r = cli(*args, token=tokens["operator"])
        assert r.exit_code == 2, (args, r.output)


def test_reservation_extend_and_cancel(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    t = tokens["acme"]
    lease = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "A800", "--hours", "2",
                     token=t)["lease"]
    extended = cli.json("lease", "extend", lease["id"], "--hours", "1.5", token=t)
    assert extended["end"] > lease["end"]
    start = clock.now().replace(day=24).isoformat()
    out = cli.json("order", "create", "--form", "server", "--quantity", "1", "--model", "L20", "--start", start,
                   "--hours", "4", token=t)
    assert out["lease"]["state"] == "scheduled"
    r = cli("order", "cancel", out["order"]["id"], token=t)
    assert r.exit_code == 0 and "cancelled" in r.stdout
    assert {o["status"] for o in cli.json("order", "list", token=t)} == {"fulfilled", "cancelled"}
    active = next(o for o in cli.json("order", "list", token=t) if o["status"] == "fulfilled")
    r = cli("order", "cancel", active["id"], token=t)
    assert r.exit_code == 1 and "active" in r.stderr


def test_price_set_in_p_year_shows_both_units(cli: Cli, tokens: dict[str, str]) -> None:
    op = tokens["operator"]
    r = cli("price", "set", "H800", "180000", "--unit", "p_year", "--site", "sh-east-1", token=op)
    assert r.exit_code == 0, r.output
    assert "20.33" in r.stdout and "180,000" in r.stdout
    entry = cli.json("price", "set", "H800", "120000", "--unit", "p_year", "--effective-from", "2027-01-01", token=op)
    assert entry["p_year"] == "120000" and Decimal(entry["device_hour"]).quantize(Decimal("0.01")) == Decimal("13.55")
    assert entry["effective_from"].startswith("2027-01-01T00:00:00")
    listed = cli("price", "list", token=tokens["acme"])
    assert "20.33" in listed.stdout and "180,000" in listed.stdout and "13.55" in listed.stdout
    r = cli("price", "set", "H800", "1", "--unit", "per_fortnight", token=op)
    assert r.exit_code == 1 and "allowed: device_hour, p_year" in r.stderr
    r = cli("price", "set", "H800", "1", token=tokens["acme"])
    assert r.exit_code == 1


def test_fleet_yaml_round_trip(cli: Cli, tokens: dict[str, str], tmp_path: Path) -> None:
    op = tokens["operator"]
    doc = {
        "sites": [{"name": "bj-lab", "region": "cn-north", "tier": "edge", "pue": "1.6", "power_price_kwh": "0.70"}],
        "suppliers": [{"name": "lab-co", "display_name": "Lab Co"}],
        "nodes": [{"name": f"bj-t4-{i}", "site": "bj-lab", "supplier": "lab-co", "cpu_cores": 32, "memory_gib": 256,
                   "nic_gbps": 25, "disk_gb": 1920, "fabric": "bj-lab/eth", "devices": {"model": "T4", "count": 4}}
                  for i in (1, 2)],
        "prices": [{"model": "T4", "site": "bj-lab", "unit": "device_hour", "amount": "0.95"}],
    }
    src = tmp_path / "lab.yaml"
    src.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert cli.json("fleet", "import", str(src), token=op)["new_nodes"] == 2

    out = tmp_path / "export.yaml"
    r = cli("fleet", "export", "--out", str(out), token=op)
    assert r.exit_code == 0, r.output
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    nodes = {n["name"]: n for n in exported["nodes"]}
    assert nodes["bj-t4-1"]["devices"] == {"model": "T4", "count": 4} and nodes["bj-t4-2"]["site"] == "bj-lab"
    assert {"name": "lab-co", "display_name": "Lab Co"} in exported["suppliers"]
    assert any(p["model"] == "T4" and p["site"] == "bj-lab" and Decimal(p["amount"]) == Decimal("0.95")
               for p in exported["prices"])
    again = cli.json("fleet", "import", str(out), token=op)  # the export reads back: nothing new
    assert again["new_nodes"] == 0 and again["nodes"] == len(exported["nodes"])

    as_json = tmp_path / "lab.json"
    as_json.write_text(json.dumps(doc), encoding="utf-8")
    assert cli.json("fleet", "import", str(as_json), token=op)["new_nodes"] == 0
    assert "bj-t4-1" in cli("fleet", "list", token=op).stdout
    assert {o["site"] for o in cli.json("offers", "--model", "T4", token=tokens["acme"])} == {"bj-lab"}


def test_fleet_import_bad_files(cli: Cli, tokens: dict[str, str], tmp_path: Path) -> None:
    op = tokens["operator"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: [unclosed", encoding="utf-8")
    r = cli("fleet", "import", str(broken), token=op)
    assert r.exit_code == 1 and "is not valid YAML" in r.stderr
    r = cli("fleet", "import", str(tmp_path / "missing.yaml"), token=op)
    assert r.exit_code == 1 and "cannot read" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"nodes": [], "colour": "blue"}), encoding="utf-8")
    r = cli("fleet", "import", str(bad), token=op)
    assert r.exit_code == 1 and "unknown keys ['colour']" in r.stderr


def test_nodes_floors_catalog_and_accounts(cli: Cli, tokens: dict[str, str]) -> None:
    op = tokens["operator"]
    r = cli("node", "state", "sz-l20-01", "maintenance", "--reason", "fan swap", token=op)
    assert r.exit_code == 0 and "maintenance (fan swap)" in r.stdout
    assert cli.json("node", "state", "sz-l20-01", "available", token=op)["state"] == "available"
    assert cli("node", "state", "sz-l20-01", "melting", token=op).exit_code == 1
    assert cli.json("floor", "set", "huadong-idc", "L20", "1.80", token=op)["device_hour"] == "1.8"
    floors = cli.json("floor", "list", "--supplier", "huadong-idc", token=op)
    assert {f["model"]: Decimal(f["device_hour"]) for f in floors} == {"H800": Decimal(7), "L20": Decimal("1.8")}
    listed = cli("floor", "list", "--supplier", "huadong-idc", token=op)
    assert listed.exit_code == 0 and "L20" in listed.stdout and "1.80" in listed.stdout
    no_supplier = cli("floor", "list", token=op)
    assert no_supplier.exit_code == 1 and "--supplier" in no_supplier.stderr
    catalog = cli.json("catalog", token=tokens["acme"])
    assert {"H800", "Ascend-910B", "RTX-4090"} <= {m["name"] for m in catalog}
    assert all(m["source"] and Decimal(m["p"]) > 0 for m in catalog)
    assert "H800" in cli("catalog", token=tokens["acme"]).stdout

    created = cli.json("account", "create", "sup", "--role", "supplier", "--supplier", "xibu-compute", token=op)
    assert created["token"] and created["supplier"] == "xibu-compute"
    fresh = cli("account", "token", "sup", token=op).stdout.strip()
    assert cli.json("whoami", token=fresh)["account"]["name"] == "sup"
    names = {a["name"] for a in cli.json("account", "list", token=op)}
    assert names == {"operator", "acme", "globex", "sup"}
    own = cli.json("fleet", "list", token=fresh)
    assert own and {n["supplier"] for n in own} == {"xibu-compute"}
    r = cli("fleet", "list", token=tokens["acme"])
    assert r.exit_code == 1 and "offers" in r.stderr
    r = cli("account", "create", "x", "--role", "king", token=op)
    assert r.exit_code == 1 and "not allowed" in r.stderr


def test_config_precedence_flag_env_file(cli: Cli, tokens: dict[str, str], clean_env: Path,
                                         monkeypatch: object) -> None:
    r = cli("offers")  # no token anywhere
    assert r.exit_code == 1 and "missing API token" in r.stderr and "suanli login" in r.stderr
    r = cli("login", "--server", "http://testserver", "--token", tokens["acme"])
    assert r.exit_code == 0 and "as acme (tenant)" in r.stdout
    saved = json.loads(clean_env.read_text())
    assert saved == {"server": "http://testserver", "token": tokens["acme"]}
    assert oct(clean_env.stat().st_mode & 0o777) == "0o600"
    who = cli.json("whoami")
    assert who["account"]["name"] == "acme" and who["server"] == "http://testserver"
    monkeypatch.setenv("SUANLI_TOKEN", tokens["globex"])  # type: ignore[attr-defined]
    assert cli.json("whoami")["account"]["name"] == "globex"  # env beats file
    assert cli.json("whoami", token=tokens["operator"])["account"]["name"] == "operator"  # flag beats env
    after = cli("whoami", "--json", "--token", tokens["operator"])  # global options also work after the command
    assert after.exit_code == 0 and json.loads(after.stdout)["account"]["name"] == "operator"
    r = cli("login", "--token", "wrong")
    assert r.exit_code == 1 and "unknown or revoked" in r.stderr
    assert json.loads(clean_env.read_text())["token"] == tokens["acme"]  # a failed login saves nothing


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from typer.testing import CliRunner

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = CliRunner().invoke(app, ["--server", f"http://127.0.0.1:{port}", "--token", "t", "--timeout", "5", "offers"])
    assert r.exit_code == 1
    assert f"cannot reach suanli server at http://127.0.0.1:{port}" in r.stderr


def test_every_command_has_help() -> None:
    from typer.testing import CliRunner

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    assert {"serve", "offers", "catalog", "login", "revenue"} <= {p[0] for p in paths if len(p) == 1}
    for path in paths:
        r = CliRunner().invoke(app, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        if len(path) >= 1 and path[0] not in ("sim", "bench"):
            text = " ".join(r.stdout.split())
            assert "Usage:" in text and len(text) > 80, path


def test_slice_and_flops_orders_as_documented(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    t = tokens["acme"]
    sl = cli.json("order", "create", "--form", "slice", "--share-pct", "25", "--memory-mib", "12288", "--model", "L20",
                  token=t)["lease"]
    (a,) = sl["allocations"]
    assert sl["state"] == "active" and (a["milli"], a["memory_mib"]) == (250, 12288)
    assert Decimal(0) < Decimal(sl["devices"]) < 1  # billed by its share of the device
    assert "0.25" in cli("lease", "show", sl["id"], token=t).stdout
    start = clock.now().replace(day=28).isoformat()
    fl = cli.json("order", "create", "--form", "flops", "--p", "5", "--min-memory", "64", "--topology", "fabric",
                  "--start", start, "--hours", "72", "--idempotency-key", "fl-1", token=t)
    assert fl["lease"]["state"] == "scheduled"
    p_total = sum(Decimal(m["p"]) for m in cli.json("catalog", token=t)
                  for a in fl["lease"]["allocations"] if a["model"] == m["name"] and a["milli"] == 1000)
    assert p_total >= 5
    again = cli.json("order", "create", "--form", "flops", "--p", "5", "--min-memory", "64", "--topology", "fabric",
                     "--start", start, "--hours", "72", "--idempotency-key", "fl-1", token=t)
    assert again["order"]["id"] == fl["order"]["id"] and again["order"]["replayed"]
