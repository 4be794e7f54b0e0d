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


def demo_package_products() -> list[dict[str, Any]]:
    """Package products the demo operator sells, a little below the list prices above (a package is
    paid in advance), with a volume tier for ten or more."""
    return [
        {"name": "L20 100 h", "meter": "device_seconds", "model": "L20", "quantity": Decimal(100),
         "price": Decimal(240), "valid_days": 30, "tiers": [(10, Decimal(225))]},
        {"name": "H800 100 h sh-east-1", "meter": "device_seconds", "model": "H800", "site": "sh-east-1",
         "quantity": Decimal(100), "price": Decimal(950), "valid_days": 90, "tiers": [(10, Decimal(900))]},
    ]
