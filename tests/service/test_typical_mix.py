"""The live mix of typical requests (service.typical_mix): learnt from recent orders, cached for
the refresh interval, the built-in mix without history; fgd+ is the server's default policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.catalog_data import builtin_catalog
from suanli.scheduler.policies.fgd import DEFAULT_TYPICAL
from suanli.scheduler.policies.fgdplus import FGDPlusPolicy
from suanli.service import leases, orders, typical_mix
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock


def test_fgdplus_is_the_default_policy() -> None:
    assert Settings().placement_policy == "fgd+"


def test_order_shapes() -> None:
    cat = builtin_catalog()
    shape = typical_mix.order_shape
    gpu = shape({"form": "gpu", "quantity": 2, "models": ["h800"]}, cat)
    assert gpu is not None and (gpu.num_devices, gpu.device_milli, gpu.allowed_models) == (2, 1000, frozenset({"H800"}))
    piece = shape({"form": "slice", "share_pct": 25, "memory_mib": 8192}, cat)
    assert piece is not None and (piece.num_devices, piece.device_milli, piece.allowed_models) == (1, 250, None)
    nv = shape({"form": "gpu", "quantity": 1, "vendors": ["nvidia"]}, cat)
    assert nv is not None and nv.allowed_models and "H800" in nv.allowed_models
    # whole nodes, gangs and FLOPS are not typical device requests; nonsense is skipped, not an error
    for doc in ({"form": "server", "quantity": 1}, {"form": "cluster", "quantity": 2}, {"form": "flops", "p": "1"},
                {"form": "gpu", "quantity": 0}, {"form": "gpu", "quantity": "2"}, {"form": "slice", "share_pct": 0},
                {"form": "slice", "share_pct": True}, {}):
        assert shape(doc, cat) is None


def test_learn_mix_counts_shapes_and_falls_back_without_history(clock: FakeClock) -> None:
    cat = builtin_catalog()
    few = [{"form": "gpu", "quantity": 1}] * (typical_mix.MIN_ORDERS - 1)
    mix = typical_mix.learn_mix(few, cat, clock.now())
    assert mix.source == "built-in" and mix.typical == DEFAULT_TYPICAL and mix.orders == 0
    docs = ([{"form": "slice", "share_pct": 50, "memory_mib": 1024}] * 60 + [{"form": "gpu", "quantity": 8}] * 38
            + [{"form": "gpu", "quantity": 1, "models": ["L20"]}] * 2 + [{"form": "server", "quantity": 1}] * 50)
    mix = typical_mix.learn_mix(docs, cat, clock.now())
    assert mix.source == "orders" and mix.orders == 100
    shapes = {(p.num_devices, p.device_milli, p.allowed_models): p.count for p in mix.typical.pods}
    # the 95 % cut keeps the 50 % slices and the 8-device orders; the two L20 orders are below it
    assert shapes == {(1, 500, None): 60, (8, 1000, None): 38}
    assert mix.workload is not None and len(mix.workload.pods) == 3  # every shape, for fgd+'s rare ones


def _order(p: Platform, who: Principal, **raw: object) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return res.order.lease_id


def test_the_mix_is_learnt_from_orders_and_refreshed_on_its_interval(demo: Platform, tenant: Principal,
                                                                     clock: FakeClock) -> None:
    typical_mix.forget(demo)
    first = typical_mix.current_mix(demo)
    assert first.source == "built-in"
    for _ in range(typical_mix.MIN_ORDERS + 5):
        leases.end_lease(demo, tenant, _order(demo, tenant, form="slice", share_pct=30, memory_mib=4096, models=["L20"]))
    # within the refresh interval the cached mix is used, whatever arrived since
    clock.advance(demo.settings.placement_mix_refresh_seconds - 1)
    assert typical_mix.current_mix(demo) is first
    clock.advance(2)
    learnt = typical_mix.current_mix(demo)
    assert learnt.source == "orders" and learnt.orders == typical_mix.MIN_ORDERS + 5
    assert [(p.num_devices, p.device_milli, p.allowed_models) for p in learnt.typical.pods] == [(1, 300, frozenset({"L20"}))]
    pol = typical_mix.placement_policy(demo)
    assert isinstance(pol, FGDPlusPolicy) and pol.raw_typical == learnt.typical and pol.workload == learnt.workload
    # orders older than the window no longer count
    clock.advance((typical_mix.WINDOW + timedelta(seconds=demo.settings.placement_mix_refresh_seconds)).total_seconds())
    assert typical_mix.current_mix(demo).source == "built-in"
    # and the server keeps placing with the learnt mix
    assert _order(demo, tenant, form="gpu", quantity=1, models=["H800"])


@pytest.mark.parametrize("policy", ["fgd", "fgd+"])
def test_either_policy_takes_the_live_mix(demo: Platform, tenant: Principal, policy: str) -> None:
    p = Platform(Settings(data_dir=demo.settings.data_dir, database_url=demo.settings.database_url,
                          placement_policy=policy), clock=demo.clock, migrate=False)
    try:
        mix = typical_mix.current_mix(p)
        pol = typical_mix.placement_policy(p)
        assert pol.typical == mix.typical if policy == "fgd" else pol.raw_typical == mix.typical  # type: ignore[attr-defined]
        assert _order(p, tenant, form="gpu", quantity=2, models=["H800"])
    finally:
        p.close()
