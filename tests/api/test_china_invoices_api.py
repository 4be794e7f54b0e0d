"""Invoices ready for China through the API, on SQLite and PostgreSQL: legal profiles (who may set
them, the credit code's check character), tax per product type from an instant, the parties and
taxes an issued invoice keeps, the zh-CN and English documents, supplier payouts (bounded,
idempotent, a supplier sees its own) and earnings to date (provisional until issued)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
SELLER = {"legal_name": "北京算力运营有限公司", "tax_id": "91350100M000100Y43", "address": "北京市海淀区中关村大街1号",
          "phone": "010-62345678", "bank_name": "中国工商银行北京中关村支行", "bank_account": "0200004509012345678"}
BUYER = {"legal_name": "深圳甲科技有限公司", "tax_id": "9144030071526726XG", "address": "深圳市南山区科技园",
         "phone": "0755-86013388", "bank_name": "招商银行深圳分行", "bank_account": "755912345610001",
         "invoice_type": "special"}
H = dict[str, str]


class Api:
    def __init__(self, c: TestClient, op: H) -> None:
        self.c, self.op = c, op

    def ok(self, method: str, path: str, who: H, body: Any = None, params: dict[str, Any] | None = None,
           status: int = 200, headers: H | None = None) -> Any:
        r = self.c.request(method, path, json=body, params=params, headers={**who, **(headers or {})})
        assert r.status_code == status, (method, path, r.status_code, r.text[:600])
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def refused(self, method: str, path: str, who: H, body: Any = None, *, status: int = 422, says: str = "",
                params: dict[str, Any] | None = None, headers: H | None = None) -> dict[str, Any]:
        r = self.c.request(method, path, json=body, params=params, headers={**who, **(headers or {})})
        assert r.status_code == status, (method, path, body, r.status_code, r.text[:600])
        err: dict[str, Any] = r.json()["error"]
        assert says in err["message"], (says, err["message"])
        return err

    def account(self, name: str, role: str = "tenant", supplier: str | None = None) -> H:
        made = self.ok("POST", "/v1/accounts", self.op, {"name": name, "role": role, "supplier": supplier}, status=201)
        return {"Authorization": f"Bearer {made['token']}"}


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    token = accounts.bootstrap_operator(platform)
    assert token
    op = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(platform), raise_server_exceptions=False) as c:
        a = Api(c, op)
        a.ok("POST", "/v1/fleet/import", op, demo_fleet())
        yield a


def snapshot(platform: Platform) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """The rows of the tables a refused write must not touch."""
    from sqlalchemy import text

    def take() -> dict[str, list[tuple[Any, ...]]]:
        with platform.engine.connect() as conn:
            return {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
                    for t in ("legal_profiles", "tax_rates", "supplier_payouts", "ledger_entries")}
    return take


def test_profiles_who_may_set_them_and_what_a_bad_tax_id_says(api: Api, platform: Platform) -> None:
    acme, other = api.account("acme"), api.account("other")
    sup = api.account("east", "supplier", "huadong-idc")
    api.refused("GET", "/v1/legal/seller", acme, status=404, says="not set the seller's legal profile")
    before = snapshot(platform)()
    # only the operator is the seller; nobody sets another tenant's profile
    api.refused("PUT", "/v1/legal/seller", acme, SELLER, status=403, says="needs the operator role")
    api.refused("PUT", "/v1/legal/buyers/acme", other, BUYER, status=404, says="no tenant 'acme' visible to you")
    api.refused("PUT", "/v1/legal/buyers/acme", sup, BUYER, status=403)
    # the unified social credit code: 18 characters, GB 32100-2015 check character
    bad = SELLER | {"tax_id": "91350100M000100Y44"}
    err = api.refused("PUT", "/v1/legal/seller", api.op, bad, says="check character (18th)")
    assert err["details"]["field"] == "tax_id" and "GB 32100-2015 gives '3'" in err["message"]
    api.refused("PUT", "/v1/legal/seller", api.op, SELLER | {"tax_id": "9135010"}, says="18 characters")
    api.refused("PUT", "/v1/legal/seller", api.op, SELLER | {"tax_id": "91350100M000100YI3"}, says="cannot be in")
    api.refused("PUT", "/v1/legal/seller", api.op, SELLER | {"legal_name": " "}, says="legal_name")
    api.refused("PUT", "/v1/legal/seller", api.op, SELLER | {"tax_rate": "0.06"}, says="sets no price")
    # a special VAT invoice needs the buyer's bank and account
    api.refused("PUT", "/v1/legal/buyers/acme", acme, BUYER | {"bank_account": ""}, says="bank_account")
    api.refused("PUT", "/v1/legal/buyers/acme", acme, BUYER | {"invoice_type": "red"}, says="allowed: normal")
    assert snapshot(platform)() == before  # nothing half-written
    seller = api.ok("PUT", "/v1/legal/seller", api.op, SELLER)
    assert seller["tax_id"] == "91350100M000100Y43" and seller["updated_by"]
    assert api.ok("GET", "/v1/legal/seller", sup)["legal_name"] == SELLER["legal_name"]  # printed on every invoice
    got = api.ok("PUT", "/v1/legal/buyers/acme", acme, BUYER | {"tax_id": "9144030071526726xg"})
    assert got["tax_id"] == "9144030071526726XG" and got["invoice_type_name"]["zh-CN"] == "增值税专用发票"
    assert api.ok("GET", "/v1/legal/buyers/acme", api.op)["legal_name"] == BUYER["legal_name"]
    api.refused("GET", "/v1/legal/buyers/acme", other, status=404)
    api.refused("GET", "/v1/legal/buyers/acme", sup, status=403)
    # a foreign party, flagged
    api.refused("PUT", "/v1/legal/buyers/other", other, {"legal_name": "Other GmbH", "tax_id": "DE123456789"},
                says="foreign_tax_id=true")
    f = api.ok("PUT", "/v1/legal/buyers/other", api.op,
               {"legal_name": "Other GmbH", "tax_id": "DE123456789", "foreign_tax_id": True})
    assert f["foreign_tax_id"] and f["invoice_type"] == "normal"
    # an organisation's finance member sets it; a developer member may not
    fin = api.ok("POST", "/v1/members", acme, {"name": "acme-fin", "role": "finance"}, status=201)
    dev = api.ok("POST", "/v1/members", acme, {"name": "acme-dev", "role": "developer"}, status=201)
    api.ok("PUT", "/v1/legal/buyers/acme", {"Authorization": f"Bearer {fin['token']}"}, BUYER)
    api.refused("PUT", "/v1/legal/buyers/acme", {"Authorization": f"Bearer {dev['token']}"}, BUYER, status=403,
                says="admin or finance")


def _usage(api: Api, clock: FakeClock, n: int = 3) -> None:
    """Tokens from a gateway (product type tokens) besides device time (compute)."""
    api.ok("POST", "/v1/plans", api.op, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                         "rates": [{"meter": "inference_input_tokens", "price": "2.37"}]}, status=201)
    events = [{"id": f"in-{i}", "source": "gateway", "type": "inference_input_tokens", "subject": "acme",
               "time": clock.now().isoformat(), "data": {"quantity": "1234567"}} for i in range(n)]
    api.ok("POST", "/v1/usage/batch", api.op, {"events": events}, status=202)


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_tax_per_product_type_from_an_instant_and_what_an_issued_invoice_keeps(api: Api, clock: FakeClock,
                                                                                platform: Platform) -> None:
    acme = api.account("acme")
    api.ok("PUT", "/v1/legal/seller", api.op, SELLER)
    api.ok("PUT", "/v1/legal/buyers/acme", acme, BUYER)
    # only the operator sets a rate; 0 <= rate < 1, never from the past
    api.refused("POST", "/v1/tax-rates", acme, {"product_type": "compute", "rate": "0"}, status=403,
                says="needs the operator role")
    for body, says in [({"product_type": "compute", "rate": "1"}, "from 0 (inclusive) to 1 (exclusive)"),
                       ({"product_type": "compute", "rate": "-0.01"}, "from 0 (inclusive)"),
                       ({"product_type": "compute", "rate": "0.060001"}, "at most 4 decimal places"),
                       ({"product_type": "gpu", "rate": "0.06"}, "allowed: compute, package"),
                       ({"product_type": "compute", "rate": 0.06}, "a float is never exact"),
                       ({"product_type": "compute", "rate": "0.06",
                         "effective_from": (clock.now() - timedelta(seconds=1)).isoformat()}, "is in the past")]:
        api.refused("POST", "/v1/tax-rates", api.op, body, says=says)
    api.ok("POST", "/v1/tax-rates", api.op, {"product_type": "compute", "rate": "0.06", "reason": "现代服务业"},
           status=201)
    api.ok("POST", "/v1/tax-rates", api.op, {"product_type": "tokens", "rate": "0.13"}, status=201)
    # a later rate for compute, from the 1st of December at 00:00 Beijing time, after this month's invoice
    later = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    api.ok("POST", "/v1/tax-rates", api.op, {"product_type": "compute", "rate": "0.09",
                                             "effective_from": later.isoformat()}, status=201)
    api.refused("POST", "/v1/tax-rates", api.op, {"product_type": "compute", "rate": "0.1",
                                                  "effective_from": later.isoformat()}, status=409, says="already has")
    rates = api.ok("GET", "/v1/tax-rates", acme)
    in_force = {x["product_type"]: x["rate"] for x in rates["in_force"]}
    assert in_force == {"compute": "0.06", "tokens": "0.13", "package": "0", "storage": "0", "traffic": "0"}
    order = api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 2, "models": ["H800"]}, status=201)
    _usage(api, clock)
    clock.advance(hours=3, seconds=11)
    draft = api.ok("GET", "/v1/invoices/2026-11", acme)
    clock.set(DEC1)
    inv = api.ok("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": "2026-11"}, status=201)
    groups = {g["rate"]: g for g in inv["taxes"]}
    compute = sum(Decimal(x["amount"]) for x in inv["lines"] if x["meter"] == "device_seconds")
    tokens = sum(Decimal(x["amount"]) for x in inv["lines"] if x["meter"] == "inference_input_tokens")
    assert compute > 0 and tokens > 0 and order["lease_id"]
    assert groups["0.06"]["product_types"] == ["compute"] and Decimal(groups["0.06"]["base"]) == compute
    assert Decimal(groups["0.06"]["tax"]) == cents(compute * Decimal("0.06"))  # rounded once per rate
    assert Decimal(groups["0.13"]["tax"]) == cents(tokens * Decimal("0.13"))
    assert Decimal(inv["tax"]) == Decimal(groups["0.06"]["tax"]) + Decimal(groups["0.13"]["tax"])
    assert Decimal(inv["total"]) == Decimal(inv["subtotal"]) + Decimal(inv["tax"])
    assert {g["rate"] for g in draft["taxes"]} == {"0.06", "0.13"}  # the draft showed the rates in force then
    assert inv["seller"]["tax_id"] == SELLER["tax_id"] and inv["buyer"]["invoice_type"] == "special"
    assert api.ok("GET", "/v1/ledger/check", api.op)["sum"] == "0"
    # later: the seller moves, the buyer changes bank, compute goes to 9 %: the issued invoice never changes
    clock.set(later + timedelta(hours=1))
    api.ok("PUT", "/v1/legal/seller", api.op, SELLER | {"legal_name": "上海算力运营有限公司", "address": "上海市浦东新区"})
    api.ok("PUT", "/v1/legal/buyers/acme", acme, BUYER | {"bank_account": "000000000000"})
    again = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme)
    for k in ("seller", "buyer", "taxes", "tax", "total", "subtotal"):
        assert again[k] == inv[k], k
    assert api.ok("GET", "/v1/invoices/2026-11", acme)["seller"]["legal_name"] == SELLER["legal_name"]
    # a draft of a later month uses the rate in force now
    api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 1, "models": ["H800"], "hours": 1}, status=201)
    clock.advance(hours=1)
    dec = api.ok("GET", "/v1/invoices/2026-12", acme)
    assert [g["rate"] for g in dec["taxes"]] == ["0.09"] and dec["seller"]["legal_name"] == "上海算力运营有限公司"


def test_the_document_in_chinese_and_english(api: Api, clock: FakeClock) -> None:
    acme = api.account("acme")
    api.ok("PUT", "/v1/legal/seller", api.op, SELLER)
    api.ok("PUT", "/v1/legal/buyers/acme", acme, BUYER)
    api.ok("POST", "/v1/tax-rates", api.op, {"product_type": "compute", "rate": "0.06"}, status=201)
    api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 1, "models": ["H800"]}, status=201)
    clock.advance(hours=2)
    clock.set(DEC1)
    inv = api.ok("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": "2026-11"}, status=201)
    zh = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "html", "lang": "zh-CN"})
    assert '<html lang=zh-CN>' in zh
    for word in ("发票", "税额", "大写", "销售方", "购买方", "增值税专用发票", "纳税人识别号", SELLER["tax_id"], BUYER["tax_id"],
                 SELLER["bank_account"], "算力租赁服务", "6%", "Asia/Shanghai"):
        assert word in zh, word
    from suanli.domain.rmb import rmb_upper
    assert rmb_upper(Decimal(inv["total"])) in zh and "2026-12-01 08:00:00" in zh  # 00:00 UTC = 08:00 Beijing
    en = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "html"})
    for word in ("Invoice", "Seller", "Buyer", "Tax per rate", SELLER["tax_id"], "special VAT invoice", "compute"):
        assert word in en, word
    assert "大写" not in en
    text = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "csv", "lang": "zh-CN"})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["发票号", "序号", "类别"] and any(r[2] == "tax_rate" and r[-1] == "算力租赁服务" for r in rows)
    assert any(r[-1] == "价税合计" and r[15] == inv["total"] for r in rows)
    en_rows = list(csv.reader(io.StringIO(api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme,
                                                 params={"format": "csv"}))))
    assert en_rows[0][:3] == ["invoice", "line_no", "kind"] and len(en_rows) == len(rows)
    api.refused("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "html", "lang": "fr"},
                says="allowed: en, zh-CN")
    draft = api.ok("GET", "/v1/invoices/2026-12", acme, params={"format": "html", "lang": "zh-CN"})
    assert "发票(草稿)" in draft


def test_an_invoice_issued_before_the_parties_were_kept_says_so(api: Api, clock: FakeClock,
                                                                platform: Platform) -> None:
    from sqlalchemy import text
    acme = api.account("acme")
    api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 1, "models": ["H800"]}, status=201)
    clock.advance(hours=1)
    clock.set(DEC1)
    inv = api.ok("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": "2026-11"}, status=201)
    assert inv["seller"] is None and inv["taxes"][0]["rate"] == "0"  # no profile set: none; the default rate
    page = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "html"})
    assert "not set" in page and "not kept" not in page
    with platform.engine.begin() as c:  # as an invoice issued before migration 0026
        c.execute(text("DELETE FROM invoice_legal WHERE invoice_id = :i"), {"i": inv["id"]})
    old = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme)
    assert old["seller"] is None and old["buyer"] is None and old["taxes"] == [] and old["tax"] == inv["tax"]
    page = api.ok("GET", f"/v1/billing/invoices/{inv['id']}", acme, params={"format": "html", "lang": "zh-CN"})
    assert "未记录" in page and "税额合计" in page


def test_payouts_are_bounded_idempotent_and_a_supplier_sees_its_own(api: Api, clock: FakeClock,
                                                                     platform: Platform) -> None:
    acme = api.account("acme")
    east = api.account("east", "supplier", "huadong-idc")
    west = api.account("west", "supplier", "xibu-compute")
    api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 8, "models": ["H800"]}, status=201)
    clock.advance(hours=5)
    clock.set(DEC1)
    api.ok("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": "2026-11"}, status=201)
    owed = Decimal(api.ok("GET", "/v1/statements/supplier", east)["payable_balance"])
    assert owed > 0
    before = snapshot(platform)()
    err = api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": str(owed + Decimal("0.01"))},
                      status=409, says="exceeds what is owed")
    assert Decimal(err["details"]["owed"]) == owed
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": "1", "paid_on": "2026-12-02"},
                says="in the future")
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": "1", "periods": ["2026-13"]})
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": "1", "periods": ["2027-01"]},
                says="has not begun")
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "nobody", "amount": "1"}, status=404)
    api.refused("POST", "/v1/payouts", east, {"supplier": "huadong-idc", "amount": "1"}, status=403)
    assert snapshot(platform)() == before
    first = str(cents(owed / 3))
    body = {"supplier": "huadong-idc", "amount": first, "reference": "ICBC-20261201-0001", "periods": ["2026-11"],
            "paid_on": "2026-12-01"}
    key = {"Idempotency-Key": "po-huadong-2026-11-a"}
    made = api.ok("POST", "/v1/payouts", api.op, body, status=201, headers=key)
    again = api.ok("POST", "/v1/payouts", api.op, body, status=200, headers=key)  # a retry records nothing new
    assert again["id"] == made["id"] and Decimal(made["owed_after"]) == owed - Decimal(first)
    api.refused("POST", "/v1/payouts", api.op, body | {"amount": "1.00"}, status=409, headers=key,
                says="was used for payout")
    rest = owed - Decimal(first)
    api.ok("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": str(rest)}, status=201)
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": "0.01"}, status=409,
                says="(0.00 CNY)")
    mine = api.ok("GET", "/v1/payouts", east)
    assert [x["amount"] for x in mine] == [f"{rest:.2f}", first] or {x["amount"] for x in mine} == {f"{rest:.2f}", first}
    assert {x["reference"] for x in mine} == {"ICBC-20261201-0001", ""}
    assert api.ok("GET", "/v1/payouts", west) == []
    api.refused("GET", "/v1/payouts", west, params={"supplier": "huadong-idc"}, status=404)
    api.refused("GET", "/v1/payouts", acme, status=403)
    assert len(api.ok("GET", "/v1/payouts", api.op, params={"supplier": "huadong-idc"})) == 2
    assert Decimal(api.ok("GET", "/v1/statements/supplier", east)["payable_balance"]) == 0
    assert api.ok("GET", "/v1/ledger/check", api.op)["sum"] == "0"


def test_earnings_to_date_are_provisional_until_the_month_is_issued(api: Api, clock: FakeClock) -> None:
    acme, beta = api.account("acme"), api.account("beta")
    east = api.account("east", "supplier", "huadong-idc")
    api.ok("POST", "/v1/orders", acme, {"form": "gpu", "quantity": 8, "models": ["H800"]}, status=201)
    api.ok("POST", "/v1/orders", beta, {"form": "gpu", "quantity": 4, "models": ["H800"]}, status=201)
    clock.advance(hours=4)
    now = api.ok("GET", "/v1/statements/supplier/earnings", east)
    assert now["status"] == "provisional" and now["period"] == "2026-11" and now["provisional_tenants"] == 2
    st = api.ok("GET", "/v1/statements/supplier", east, params={"period": "2026-11"})
    assert Decimal(now["provisional_share"]) == Decimal(st["provisional"]["supplier_share"]) > 0
    assert now["issued_share"] == "0.00" and now["earned_to_date"] == now["provisional_share"]
    assert now["owed"] == "0.00" and now["paid"] == "0.00"
    api.refused("GET", "/v1/statements/supplier/earnings", acme, status=403)
    api.refused("GET", "/v1/statements/supplier/earnings", east, params={"supplier": "xibu-compute"}, status=404)
    api.refused("GET", "/v1/statements/supplier/earnings", api.op, says="name the supplier")
    api.refused("GET", "/v1/statements/supplier/earnings", api.op, params={"supplier": "huadong-idc",
                                                                           "period": "last"}, says="allowed: current")
    # December: acme's November is issued, beta's not yet: issued + provisional, nothing counted twice
    clock.set(DEC1 + timedelta(hours=1))
    api.ok("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": "2026-11"}, status=201)
    nov = api.ok("GET", "/v1/statements/supplier/earnings", east, params={"period": "2026-11"})
    assert nov["provisional_tenants"] == 1 and Decimal(nov["period_issued_share"]) > 0
    assert Decimal(nov["issued_share"]) == Decimal(nov["owed"]) == Decimal(nov["period_issued_share"])
    assert Decimal(nov["earned_to_date"]) == Decimal(nov["issued_share"]) + Decimal(nov["provisional_share"])
    api.ok("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": "100"}, status=201)
    after = api.ok("GET", "/v1/statements/supplier/earnings", api.op, params={"supplier": "huadong-idc",
                                                                              "period": "2026-11"})
    assert after["paid"] == "100.00" and Decimal(after["owed"]) == Decimal(nov["owed"]) - 100
