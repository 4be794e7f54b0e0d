"""Invoices ready for China through the CLI as an operator, a tenant and a supplier type it: legal
profiles, tax rates, the zh-CN document written to a file, payouts and earnings to date."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cli_harness import Cli

from suanli.domain.rmb import rmb_upper
from suanli.testing.clock import FakeClock


def test_profiles_tax_document_payouts_and_earnings(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                                    tmp_path: Path) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    east = cli.json("account", "create", "east", "--role", "supplier", "--supplier", "huadong-idc", token=op)["token"]
    r = cli("legal", "seller", "set", "--legal-name", "北京算力运营有限公司", "--tax-id", "91350100M000100Y44", token=op)
    assert r.exit_code == 1 and "check character" in r.output
    seller = cli.json("legal", "seller", "set", "--legal-name", "北京算力运营有限公司", "--tax-id", "91350100M000100Y43",
                      "--address", "北京市海淀区", "--phone", "010-62345678", "--bank-name", "工商银行",
                      "--bank-account", "0200004509012345678", token=op)
    assert seller["tax_id"] == "91350100M000100Y43"
    r = cli("legal", "seller", "set", "--legal-name", "x", "--tax-id", "91350100M000100Y43", token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    buyer = cli.json("legal", "buyer", "set", "acme", "--legal-name", "深圳甲科技有限公司", "--tax-id",
                     "9144030071526726XG", token=acme)
    assert buyer["invoice_type"] == "normal" and "深圳甲科技有限公司" in cli("legal", "buyer", "show", "acme", token=op).stdout
    assert cli("legal", "buyer", "show", "acme", token=tokens["globex"]).exit_code == 1
    assert cli.json("tax-rate", "set", "compute", "0.06", "--reason", "现代服务业", token=op)["rate"] == "0.06"
    r = cli("tax-rate", "set", "compute", "0.06", token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    assert "compute" in cli("tax-rate", "list", token=acme).stdout

    order = cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "H800", token=acme)
    assert order["lease"]["id"]
    clock.advance(hours=3)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    out = tmp_path / "invoice.html"
    r = cli("invoice", "show", inv["id"], "--lang", "zh-CN", "--format", "html", "-o", str(out), token=acme)
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    for word in ("发票", "税额", "大写", "91350100M000100Y43", "9144030071526726XG", rmb_upper(Decimal(inv["total"]))):
        assert word in page, word
    assert cli.json("invoice", "show", inv["id"], token=acme)["taxes"][0]["rate"] == "0.06"
    csv_zh = cli("invoice", "export", inv["id"], "--format", "csv", "--lang", "zh-CN", token=acme).stdout
    assert csv_zh.startswith("发票号,序号")

    owed = Decimal(cli.json("statement", "supplier", token=east)["payable_balance"])
    r = cli("payout", "record", "huadong-idc", str(owed + 1), token=op)
    assert r.exit_code == 1 and "exceeds what is owed" in r.output
    made = cli.json("payout", "record", "huadong-idc", "10", "--reference", "ICBC-0001", "--period", "2026-11",
                    "--key", "k-1", token=op)
    again = cli.json("payout", "record", "huadong-idc", "10", "--reference", "ICBC-0001", "--period", "2026-11",
                     "--key", "k-1", token=op)
    assert again["id"] == made["id"] and Decimal(made["owed_after"]) == owed - 10
    assert [x["id"] for x in cli.json("payout", "list", token=east)] == [made["id"]]
    assert "ICBC-0001" in cli("payout", "list", token=east).stdout
    earned = cli.json("statement", "earnings", token=east)
    assert earned["status"] == "provisional" and earned["paid"] == "10.00" and Decimal(earned["owed"]) == owed - 10
    assert "PROVISIONAL" in cli("statement", "earnings", token=east).stdout
