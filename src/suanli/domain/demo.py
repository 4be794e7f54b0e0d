"""The demo fleet: three sites of a Chinese compute network, two suppliers, several fabrics.

Figures are illustrative assumptions for a demo, not quotes: PUE and power prices follow the
ranges in PRODUCT.md (large eastern centres ~1.3, western hubs ~1.15 with cheap power, edge ~2.0);
list prices are in the range of late-2025 leasing (after the 2023 peak of 180,000 元/P/年).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def demo_fleet() -> dict[str, Any]:
    sites = [
        {"name": "sh-east-1", "region": "cn-east", "tier": "cloud", "pue": "1.30", "power_price_kwh": "0.85"},
        {"name": "nx-west-1", "region": "cn-northwest", "tier": "hub", "pue": "1.15", "power_price_kwh": "0.36"},
        {"name": "sz-edge-1", "region": "cn-south", "tier": "edge", "pue": "2.00", "power_price_kwh": "1.05"},
    ]
    suppliers = [
        {"name": "huadong-idc", "display_name": "华东智算 (East China IDC)"},
        {"name": "xibu-compute", "display_name": "西部算力枢纽 (Western Compute Hub)"},
    ]
    nodes: list[dict[str, Any]] = []

    def add(prefix: str, count: int, site: str, supplier: str, model: str, devices: int, cpu: int, mem: int,
            fabric: str | None, nic: int) -> None:
        for i in range(1, count + 1):
            name = f"{prefix}-{i:02d}"
            nodes.append({"name": name, "site": site, "supplier": supplier, "cpu_cores": cpu, "memory_gib": mem,
                          "nic_gbps": nic, "disk_gb": 7680, "fabric": fabric or f"{site}/{name}",
                          "devices": {"model": model, "count": devices}})

    add("sh-h800", 4, "sh-east-1", "huadong-idc", "H800", 8, 128, 2048, "sh-east-1/ib-a", 3200)
    add("sh-a800", 2, "sh-east-1", "huadong-idc", "A800", 8, 128, 1024, "sh-east-1/ib-b", 1600)
    add("nx-910b", 4, "nx-west-1", "xibu-compute", "Ascend-910B", 8, 192, 1536, "nx-west-1/roce-a", 1600)
    add("nx-a100", 2, "nx-west-1", "xibu-compute", "A100-80GB", 8, 128, 1024, "nx-west-1/ib-a", 1600)
    add("sz-l20", 2, "sz-edge-1", "huadong-idc", "L20", 8, 64, 512, None, 100)
    add("sz-4090", 3, "sz-edge-1", "xibu-compute", "RTX-4090", 8, 64, 512, None, 100)
    prices = [
        {"model": "H800", "unit": "p_year", "amount": "90000"},
        {"model": "A800", "unit": "device_hour", "amount": "6.50"},
        {"model": "Ascend-910B", "unit": "p_year", "amount": "60000"},
        {"model": "A100-80GB", "unit": "device_hour", "amount": "5.80"},
        {"model": "L20", "unit": "device_hour", "amount": "2.60"},
        {"model": "RTX-4090", "unit": "device_hour", "amount": "1.90"},
        {"model": "RTX-4090", "site": "sz-edge-1", "unit": "device_hour", "amount": "2.10"},
    ]
    floors = [
        {"supplier": "huadong-idc", "model": "H800", "device_hour": "7.00"},
        {"supplier": "xibu-compute", "model": "Ascend-910B", "device_hour": "1.60"},
        {"supplier": "xibu-compute", "model": "RTX-4090", "device_hour": "1.20"},
    ]
    return {"sites": sites, "suppliers": suppliers, "nodes": nodes, "prices": prices, "floors": floors}


def demo_resource_prices() -> list[dict[str, str]]:
    """Resource list prices of custom shapes (CNY; docs/billing.md "Resource prices"). Indicative, not
    quotes: in the range of 2025 public-cloud pay-as-you-go list prices in mainland China, where a
    general-purpose 4 vCPU / 16 GiB instance lists at about 1 元/hour (here 4 x 0.12 + 16 x 0.03 =
    0.96 元/hour) and cloud block storage at about 0.35-1 元/GiB-month (local NVMe priced below it)."""
    return [{"resource": "cpu_core_hour", "amount": "0.12"}, {"resource": "ram_gib_hour", "amount": "0.03"},
            {"resource": "nic_gbps_hour", "amount": "0.50"}, {"resource": "disk_gib_month", "amount": "0.30"}]


def demo_package_products() -> list[dict[str, Any]]:
    """Package products the demo operator sells, a little below the list prices above (a package is
    paid in advance), with a volume tier for ten or more."""
    return [
        {"name": "L20 100 h", "meter": "device_seconds", "model": "L20", "quantity": Decimal(100),
         "price": Decimal(240), "valid_days": 30, "tiers": [(10, Decimal(225))]},
        {"name": "H800 100 h sh-east-1", "meter": "device_seconds", "model": "H800", "site": "sh-east-1",
         "quantity": Decimal(100), "price": Decimal(950), "valid_days": 90, "tiers": [(10, Decimal(900))]},
    ]


def demo_token_prices() -> dict[str, Any]:
    """The default plan (tenant ``*``) of the demo: per-token list prices of the built-in models, 元 per
    million tokens (illustrative: a tenth of a small hosted model's price in late 2025; tiny-gpt's output
    cheaper past 100 million tokens a month). Set them later with `suanli price tokens`."""
    return {"tenant": "*", "kind": "payg", "name": "list prices (demo)", "rates": [
        {"meter": "inference_input_tokens", "model": "tiny-gpt", "price": "0.5"},
        {"meter": "inference_cached_input_tokens", "model": "tiny-gpt", "price": "0.1"},
        {"meter": "inference_output_tokens", "model": "tiny-gpt",
         "tiers": [{"up_to": "100", "price": "2"}, {"up_to": None, "price": "1.5"}]},
        {"meter": "inference_input_tokens", "model": "all-minilm-l6-v2", "price": "0.05"}]}


DEMO_CAPEX = {"H800": "2200000", "A800": "1400000", "Ascend-910B": "1200000", "A100-80GB": "1100000",
              "L20": "350000", "RTX-4090": "200000"}
"""Purchase price of one 8-device server by model, 元 (illustrative: market quotes of 2023-2025 for
8-GPU servers, e.g. an H800 server ~2.2 M 元; PRODUCT.md's 2,000 P for ~1 billion 元 is ~500,000 元
per P for a whole project with buildings and power, the servers alone ~250,000-450,000 元 per P)."""


def demo_investment(fleet: dict[str, Any]) -> dict[str, Any]:
    """Investment inputs for the demo fleet (``PUT /v1/economics/inputs``): capex per node (residual
    10 %), fixed opex per site per year, 5 years of life, half the capex borrowed at 4.5 % over 4
    years, NPV at 8 %, prices expected to fall 10 % a year. Illustrative, like the fleet."""
    opex = {"sh-east-1": ("600000", "480000", "240000", "60000"), "nx-west-1": ("400000", "240000", "120000", "40000"),
            "sz-edge-1": ("200000", "120000", "60000", "20000")}
    nodes = [{"node": n["name"], "capex": DEMO_CAPEX[n["devices"]["model"]],
              "residual": str(Decimal(DEMO_CAPEX[n["devices"]["model"]]) / 10), "purchased_on": "2025-07-01"}
             for n in fleet["nodes"] if n["devices"]["model"] in DEMO_CAPEX]
    return {"settings": {"life_years": 5, "debt_share": "0.5", "interest_rate": "0.045", "loan_years": 4,
                         "discount_rate": "0.08", "price_decline": "0.10"},
            "sites": [{"site": k, "staff": a, "racks": b, "bandwidth": c, "other": d} for k, (a, b, c, d) in opex.items()],
            "nodes": nodes}


DEMO_SELLER = {"legal_name": "示例算力运营有限公司 (demo)", "tax_id": "91350100M000100Y43",
               "address": "上海市浦东新区示例路 1 号", "phone": "021-50000000", "bank_name": "中国工商银行上海示例支行",
               "bank_account": "1001000000000000000"}
"""The demo operator's legal profile as its invoices print it (illustrative: a valid GB 32100-2015 code)."""

DEMO_BUYER = {"legal_name": "示例科技有限公司 (demo)", "tax_id": "9144030071526726XG", "address": "深圳市南山区示例街 2 号",
              "phone": "0755-80000000", "bank_name": "招商银行深圳示例支行", "bank_account": "755900000000001",
              "invoice_type": "special"}
"""The demo tenant's buyer profile (it asks for a 增值税专用发票)."""

DEMO_TAX_RATES = {"compute": "0.06", "package": "0.06", "storage": "0.06", "traffic": "0.06", "tokens": "0.06"}
"""VAT per product type for the demo: 6 %, the rate of 现代服务业 (information technology services) in
China; the operator changes them with ``suanli tax-rate set``."""

