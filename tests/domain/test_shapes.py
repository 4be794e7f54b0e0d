"""Custom shapes: validation of the order fields (422 naming the field and what is allowed) and the
hold / extras arithmetic (docs/orders.md "Custom shapes")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.leases import ProductForm, order_to_dict, parse_order
from suanli.domain.shapes import Amounts, NodeCapacity, ResourceKind, Shape, hold_for, quantity, share_of
from suanli.errors import ValidationError

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
L20_NODE = NodeCapacity.of(cpu_cores=64, memory_gib=512, nic_gbps=100, disk_gb=7680)


def test_a_gpu_order_with_a_shape_is_parsed_and_stored() -> None:
    spec = parse_order({"form": "gpu", "models": ["L20"], "cpu_cores": 4, "ram_gib": 16}, now=NOW)
    assert spec.shape == Shape(cpu_cores=4, ram_gib=16)
    assert order_to_dict(spec)["cpu_cores"] == 4 and order_to_dict(spec)["ram_gib"] == 16
    assert parse_order(order_to_dict(spec), now=NOW).shape == spec.shape


def test_a_cpu_instance_needs_cores_and_ram() -> None:
    spec = parse_order({"form": "cpu", "cpu_cores": 8, "ram_gib": 32, "disk_gib": 100}, now=NOW)
    assert spec.form is ProductForm.CPU and spec.shape == Shape(8, 32, 0, 100)
    with pytest.raises(ValidationError, match="needs ram_gib") as e:
        parse_order({"form": "cpu", "cpu_cores": 8}, now=NOW)
    assert e.value.details["field"] == "ram_gib"
    with pytest.raises(ValidationError, match="needs cpu_cores"):
        parse_order({"form": "cpu", "ram_gib": 8}, now=NOW)
    with pytest.raises(ValidationError, match="quantity must be 1"):
        parse_order({"form": "cpu", "cpu_cores": 1, "ram_gib": 1, "quantity": 2}, now=NOW)


@pytest.mark.parametrize("raw, field, words", [
    ({"form": "gpu", "cpu_cores": 0}, "cpu_cores", "between 1 and 4096"),
    ({"form": "gpu", "cpu_cores": 2.5}, "cpu_cores", "whole number"),
    ({"form": "gpu", "ram_gib": "16"}, "ram_gib", "whole number"),
    ({"form": "gpu", "ram_gib": True}, "ram_gib", "whole number"),
    ({"form": "slice", "share_pct": 10, "memory_mib": 1000, "nic_gbps": 10001}, "nic_gbps", "between 1 and 10000"),
    ({"form": "gpu", "disk_gib": -5}, "disk_gib", "between 1"),
    ({"form": "server", "cpu_cores": 8}, "cpu_cores", "holds its whole nodes"),
    ({"form": "cluster", "quantity": 2, "ram_gib": 8}, "ram_gib", "holds its whole nodes"),
])
def test_bad_shapes_are_refused_naming_the_field(raw: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as e:
        parse_order(raw, now=NOW)
    assert e.value.details["field"] == field


def test_disk_capacity_is_counted_in_gib_from_the_nodes_gb() -> None:
    assert NodeCapacity(64_000, 512 * 1024, 100_000, 7152) == L20_NODE


def test_one_l20_holds_its_share_or_what_it_asks_when_more() -> None:
    share = share_of(L20_NODE, 8, 1000)
    assert share == Amounts(8000, 65536, 12500, 894)
    small = hold_for(7, L20_NODE, 8, 1000, Shape(cpu_cores=4, ram_gib=16), cpu_only=False, whole_node=False)
    assert small.held == share and not small.extra.any  # less than the share: the share, nothing extra
    big = hold_for(7, L20_NODE, 8, 1000, Shape(cpu_cores=16, ram_gib=128, disk_gib=1000), cpu_only=False,
                   whole_node=False)
    assert big.held == Amounts(16000, 131072, 12500, 1000)
    assert big.extra == Amounts(8000, 65536, 0, 106)


def test_a_cpu_instance_holds_and_pays_for_all_it_asks() -> None:
    h = hold_for(7, L20_NODE, 8, 0, Shape(cpu_cores=4, ram_gib=16), cpu_only=True, whole_node=False)
    assert h.held == h.extra == Amounts(4000, 16384, 0, 0)


def test_a_whole_node_holds_everything_and_nothing_is_extra() -> None:
    h = hold_for(7, L20_NODE, 8, 8000, Shape(), cpu_only=False, whole_node=True)
    assert h.held == Amounts(64000, 524288, 100000, 7152) and not h.extra.any


def test_quantities_per_price_unit() -> None:
    assert quantity(ResourceKind.CPU_CORE_HOUR, Decimal(4), Decimal(1800)) == Decimal(2)
    assert quantity(ResourceKind.DISK_GIB_MONTH, Decimal(730), Decimal(3600)) == Decimal(1)
