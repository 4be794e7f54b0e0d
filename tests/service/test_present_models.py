"""``placement.present_models`` (the admission's slice check, ORDERS2) answers exactly what asking each
model's node capacity did: the allowed models with a device at an allowed site, for no, one, two or all
of the catalog's models and every site filter, with devices busy or not."""

from __future__ import annotations

from itertools import combinations

import pytest

from suanli.domain.accounts import Principal
from suanli.service import orders, placement
from suanli.service.platform import Platform


def _one_by_one(snap: placement.Snapshot, allowed: frozenset[int], sites: frozenset[int] | None) -> frozenset[int]:
    return frozenset(c for c in allowed
                     if placement._node_capacity(snap, frozenset({c}), sites).max(initial=0) > 0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a computation on a snapshot: one database is enough
def test_present_models_equals_the_per_model_capacity(demo: Platform, tenant: Principal) -> None:
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8})  # a whole node busy: busy devices still count
    with demo.tx() as s:
        snap = placement.snapshot(demo, s, demo.clock.now(), None)
    codes = range(len(snap.state.model_names))
    site_filters: list[frozenset[int] | None] = [None, frozenset()]
    site_filters += [frozenset({i}) for i in range(len(snap.sites))]
    site_filters.append(frozenset(range(len(snap.sites))))
    subsets = [frozenset(c) for k in (0, 1, 2) for c in combinations(codes, k)] + [frozenset(codes)]
    for allowed in subsets:
        for sites in site_filters:
            assert placement.present_models(snap, allowed, sites) == _one_by_one(snap, allowed, sites)
    everywhere = placement.present_models(snap, frozenset(codes), None)
    assert 0 < len(everywhere) < len(codes)  # the catalog knows models the demo fleet does not have
