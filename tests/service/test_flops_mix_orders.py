"""P of compute across models (docs/orders.md "P of compute"), through the services on SQLite and
PostgreSQL: a flops order combines models and sites as its topology allows, at the cheapest mix by
the tenant's own rates, with a reason naming the mix; a refusal names the real largest block; a
mixed lease is quoted per (model, site), invoiced, and runs a job on each of its nodes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet
from suanli.domain.leases import Lease
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import CapacityError, ValidationError
from suanli.service import billing, fleet, jobs, leases, orders, plans, quotes
from suanli.service.platform import Platform
from suanli.store.tables import AllocationRow, LeaseRow, OrderRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

P = {"H800": Decimal("0.9894"), "Ascend-910B": Decimal("0.313"), "RTX-4090": Decimal("0.1652"),
     "L20": Decimal("0.1195"), "A100-80GB": Decimal("0.312"), "A800": Decimal("0.312")}

TWELVE_P_REASON = (
    "flops 12 P -> 31 x Ascend-910B at nx-west-1 (9.703 P, 6.85/P-hour) + 2 x H800 at sh-east-1 (1.9788 P, "
    "10.27/P-hour) + 2 x RTX-4090 at sz-edge-1 (0.3304 P, 12.71/P-hour) = 12.0122 P on 6 nodes (topology any: "
    "across the fleet); combined Ascend-910B + H800 + RTX-4090 because the cheapest whole-device mix covering 12 P: "
    "90.99/hour, 7.58 per P-hour ordered; no single model has that much free here")


def lease_of(p: Platform, who: Principal, raw: dict[str, Any]) -> Lease:
    res = orders.create_order(p, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return leases.get_lease(p, who, res.order.lease_id)[0]


def mix(lease: Lease) -> Counter[str]:
    return Counter(a.model for a in lease.allocations)


def rows(p: Platform) -> tuple[int, ...]:
    with p.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0 for t in (OrderRow, LeaseRow, AllocationRow))


def rent_h800_servers(p: Platform, operator: Principal, n: int) -> None:
    other = make_tenant(p, operator, "beta")
    for _ in range(n):
        lease_of(p, other, {"form": "server", "models": ["H800"]})


def test_twelve_p_is_granted_as_a_mix_with_its_reason_and_quote(demo: Platform, operator: Principal,
                                                                 tenant: Principal) -> None:
    rent_h800_servers(demo, operator, 3)  # 8 H800 (7.9 P) left: no model alone has 12 P free
    res = orders.create_order(demo, tenant, {"form": "flops", "p": "12", "topology": "any"})
    lease = leases.get_lease(demo, tenant, res.order.lease_id or "")[0]
    assert lease.placement == TWELVE_P_REASON
    assert mix(lease) == {"Ascend-910B": 31, "H800": 2, "RTX-4090": 2}
    assert all(a.milli == 1000 for a in lease.allocations)
    assert sum(P[a.model] for a in lease.allocations) == Decimal("12.0122") >= 12
    # the quote: one line per (model, site), at the list price in force; the hour costs what the reason says
    assert res.quote is not None
    lines = {(x.model, x.site): x.devices for x in res.quote.lines}
    assert lines == {("Ascend-910B", "nx-west-1"): 31, ("H800", "sh-east-1"): 2, ("RTX-4090", "sz-edge-1"): 2}
    assert res.quote.hourly.quantize(Decimal("0.01")) == Decimal("90.99")
    shown = quotes.lease_quote(demo, tenant, lease.id)
    assert shown is not None and {(x.model, x.site) for x in shown.lines} == set(lines)


def test_the_mix_is_never_dearer_than_one_model(demo: Platform, tenant: Principal) -> None:
    """On an idle fleet H800 alone holds 12 P (13 devices, 132.15/hour); the mix costs less."""
    lease = lease_of(demo, tenant, {"form": "flops", "p": "12", "topology": "any"})
    assert "one model alone costs more: 13 x H800 at 132.15/hour" in lease.placement
    assert mix(lease) == {"Ascend-910B": 31, "H800": 2, "RTX-4090": 2}


def test_fabric_combines_models_only_inside_one_domain(platform: Platform, operator: Principal) -> None:
    doc = demo_fleet()  # two L20 servers joined to the H800 fabric: one domain, two models
    for i in (1, 2):
        doc["nodes"].append({"name": f"sh-l20x-{i:02d}", "site": "sh-east-1", "supplier": "huadong-idc",
                             "cpu_cores": 64, "memory_gib": 512, "nic_gbps": 400, "disk_gb": 7680,
                             "fabric": "sh-east-1/ib-a", "devices": {"model": "L20", "count": 8}})
    fleet.import_fleet(platform, operator, doc)
    tenant = make_tenant(platform, operator, "acme")
    lease = lease_of(platform, tenant, {"form": "flops", "p": "1.1", "topology": "fabric", "models": ["H800", "L20"]})
    # 1 H800 + 1 L20 (12.77/hour) beats 2 H800 (20.33) and 10 L20 of an edge node (26.00)
    assert mix(lease) == {"H800": 1, "L20": 1}
    assert {a.fabric for a in lease.allocations} == {"sh-east-1/ib-a"}
    assert lease.placement.startswith("flops 1.1 P -> 1 x H800 at sh-east-1 (0.9894 P, 10.27/P-hour) + 1 x L20 at "
                                      "sh-east-1 (0.1195 P, 21.76/P-hour) = 1.1089 P on 2 nodes (topology fabric: in "
                                      "fabric sh-east-1/ib-a); combined H800 + L20 because")


def test_fabric_on_the_demo_fleet_keeps_one_model(demo: Platform, tenant: Principal) -> None:
    lease = lease_of(demo, tenant, {"form": "flops", "p": "1.1", "topology": "fabric", "models": ["H800", "L20"]})
    assert mix(lease) == {"H800": 2} and len({a.fabric for a in lease.allocations}) == 1
    # topology any may combine them across fabrics and sites
    anywhere = lease_of(demo, tenant, {"form": "flops", "p": "1.1", "topology": "any", "models": ["H800", "L20"]})
    assert mix(anywhere) == {"H800": 1, "L20": 1}
    assert {a.site for a in anywhere.allocations} == {"sh-east-1", "sz-edge-1"}


def test_node_topology_stays_on_one_node(demo: Platform, tenant: Principal) -> None:
    lease = lease_of(demo, tenant, {"form": "flops", "p": "3", "topology": "node"})
    assert mix(lease) == {"H800": 4} and len({a.node for a in lease.allocations}) == 1
    assert "(topology node: on node sh-h800-" in lease.placement


def test_a_refusal_names_the_real_largest_block(demo: Platform, operator: Principal, tenant: Principal) -> None:
    rent_h800_servers(demo, operator, 4)
    before = rows(demo)
    with pytest.raises(CapacityError) as e:
        orders.create_order(demo, tenant, {"form": "flops", "p": "12"})  # topology fabric (the default)
    assert str(e.value).split(": ", 2)[2] == (
        "no room for 12 P under topology fabric: the largest free block one fabric offers is 10.016 P "
        "(32 x Ascend-910B in fabric nx-west-1/roce-a); largest block per model: Ascend-910B 10.016 P (32 devices "
        "in fabric nx-west-1/roce-a), A100-80GB 4.992 P (16 devices in fabric nx-west-1/ib-a), A800 4.992 P "
        "(16 devices in fabric sh-east-1/ib-b), RTX-4090 1.3216 P (8 devices in fabric sz-edge-1/sz-4090-01), "
        "L20 0.956 P (8 devices in fabric sz-edge-1/sz-l20-01)")
    assert rows(demo) == (before[0] + 1, before[1] + 1, before[2])  # recorded as rejected, nothing held
    with pytest.raises(CapacityError, match=r"every free device the filters allow adds up to 25\.8768 P "
                                            r"\(16 x A100-80GB \+ 16 x A800 \+ 32 x Ascend-910B \+ 16 x L20 "
                                            r"\+ 24 x RTX-4090\); free per model: Ascend-910B 10.016 P \(32 devices\)"):
        orders.create_order(demo, tenant, {"form": "flops", "p": "30", "topology": "any"})
    with pytest.raises(CapacityError, match=r"largest free block: 0 P"):
        orders.create_order(demo, tenant, {"form": "flops", "p": "1", "models": ["H800"]})


@pytest.mark.parametrize(("raw", "message"), [
    ({"p": "50"}, "p 50 can never fit: no fabric can ever hold 50 P of the devices the order's filters allow: the "
                  "largest has 31.6608 P (32 x H800 in fabric sh-east-1/ib-a); topology any may combine fabrics and "
                  "sites"),
    ({"p": "8", "topology": "node"}, "the largest has 7.9152 P (8 x H800 on node sh-h800-01); topology fabric or "
                                     "any may combine nodes"),
    ({"p": "70", "topology": "any"}, "the devices the order's filters allow add up to 57.5376 P"),
    ({"p": "3", "topology": "any", "models": ["L20"]}, "add up to 1.912 P (16 x L20)"),
])
def test_an_order_that_can_never_fit_is_a_422(demo: Platform, tenant: Principal, raw: dict[str, Any],
                                             message: str) -> None:
    before = rows(demo)
    with pytest.raises(ValidationError) as e:
        orders.create_order(demo, tenant, {"form": "flops", **raw})
    assert message in str(e.value) and e.value.details["field"] == "p"
    assert rows(demo) == before


def test_the_tenants_plan_changes_the_mix(demo: Platform, operator: Principal, tenant: Principal) -> None:
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "payg", "rates": [
        {"meter": "device_seconds", "model": "L20", "unit": "device_hour", "price": "0.10"}]})
    res = orders.create_order(demo, tenant, {"form": "flops", "p": "1", "topology": "any"})
    lease = leases.get_lease(demo, tenant, res.order.lease_id or "")[0]
    assert mix(lease) == {"L20": 9}  # 0.90/hour at the plan's rate: cheaper for acme than any 910B mix
    assert res.quote is not None and [x.basis.value for x in res.quote.lines] == ["plan_rate"]
    listed = lease_of(demo, make_tenant(demo, operator, "beta"), {"form": "flops", "p": "1", "topology": "any"})
    assert mix(listed) == {"Ascend-910B": 3, "RTX-4090": 1}  # 8.53/hour at the list prices


def test_a_mixed_lease_is_invoiced_and_runs_jobs(demo: Platform, operator: Principal, tenant: Principal,
                                                clock: FakeClock) -> None:
    rent_h800_servers(demo, operator, 3)
    res = orders.create_order(demo, tenant, {"form": "flops", "p": "12", "topology": "any", "hours": 2})
    lease = leases.get_lease(demo, tenant, res.order.lease_id or "")[0]
    assert res.quote is not None and res.quote.pricing.value == "quoted"
    total = res.quote.term_total
    assert total is not None and total > 0
    # a job on each model's nodes: the local engine pins it to the lease's devices on that node
    by_model = {a.model: a.node for a in lease.allocations}
    assert isinstance(demo.driver, LocalDriver)
    for model, env in (("H800", "CUDA_VISIBLE_DEVICES"), ("Ascend-910B", "ASCEND_RT_VISIBLE_DEVICES")):
        node = by_model[model]
        job = jobs.submit_job(demo, tenant, lease.id, ["python3", "-c", f"import os; print(os.environ['{env}'])"],
                              node=node)
        assert demo.driver.wait(job.driver_job_id, 30).state is JobState.COMPLETED
        slots = sorted(a.slot for a in lease.allocations if a.node == node)
        assert jobs.job_logs(demo, tenant, job.id).strip().splitlines()[-1] == ",".join(map(str, slots))
    clock.advance(hours=3)
    period = lease.start.strftime("%Y-%m")
    draft = billing.preview(demo, tenant, period)
    mine = [x for x in draft.rated.lines if x.lease == lease.id]
    assert {(x.model, x.site) for x in mine} == {(m, s) for m, s in
                                                 {(a.model, a.site) for a in lease.allocations}}
    assert sum((x.amount for x in mine), Decimal(0)) == total  # the quote's term total, to the cent
    hours = {x.model: x.quantity for x in mine if x.kind == "usage"}
    assert {m: hours.get(m) for m in ("H800", "RTX-4090")} == {"H800": Decimal(4), "RTX-4090": Decimal(4)}
    assert Path(demo.settings.data_dir).exists()
    assert lease.end is not None and lease.end - lease.start == timedelta(hours=2)
