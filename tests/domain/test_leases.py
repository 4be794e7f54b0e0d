from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.leases import TRANSITIONS, LeaseState, ProductForm, check_transition, parse_order
from suanli.errors import ConflictError, ValidationError

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


@given(st.sampled_from(list(LeaseState)), st.sampled_from(list(LeaseState)))
def test_transition_allowed_exactly_when_listed(a: LeaseState, b: LeaseState) -> None:
    if b in TRANSITIONS[a]:
        check_transition("ls_x", a, b)
    else:
        with pytest.raises(ConflictError, match=f"cannot become {b.value}"):
            check_transition("ls_x", a, b)


def test_final_states_allow_nothing() -> None:
    for s in (LeaseState.ENDED, LeaseState.CANCELLED, LeaseState.REJECTED):
        assert not TRANSITIONS[s]


@pytest.mark.parametrize(("raw", "message"), [
    ({"form": "gpu", "quantity": 0}, "quantity must be between 1 and 4096"),
    ({"form": "gpu", "quantity": -2}, "quantity must be between 1 and 4096"),
    ({"form": "gpu", "quantity": "2"}, "quantity must be an integer"),
    ({"form": "rack"}, "form 'rack' is not a product form; allowed: server, gpu, slice, cluster, flops"),
    ({"form": "slice", "share_pct": 101, "memory_mib": 1024}, "share_pct must be between 1 and 100"),
    ({"form": "slice", "share_pct": 50, "memory_mib": 0}, "memory_mib must be >= 1"),
    ({"form": "slice", "share_pct": 50}, "memory_mib is required: an integer >= 1"),
    ({"form": "slice", "memory_mib": 1024}, "share_pct is required: an integer between 1 and 100"),
    ({"form": "flops"}, "a flops order needs p"),
    ({"form": "flops", "p": "-1"}, "p must be > 0"),
    ({"form": "gpu", "start": NOW - timedelta(hours=1)}, "is in the past"),
    ({"form": "gpu", "end": NOW - timedelta(hours=1)}, "must be after start"),
    ({"form": "gpu", "hours": "0"}, "hours must be > 0"),
    ({"form": "gpu", "colour": "red"}, "unknown order fields ['colour']"),
    ({"form": "flops", "p": "1", "topology": "ring"}, "topology 'ring' not allowed; allowed: node, fabric, any"),
])
def test_bad_orders_say_what_is_allowed(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_order(raw, now=NOW)
    assert message in e.value.message


def test_hours_sets_the_end() -> None:
    spec = parse_order({"form": "gpu", "quantity": 2, "hours": "1.5", "start": NOW + timedelta(days=1)}, now=NOW)
    assert spec.form is ProductForm.GPU and spec.end == NOW + timedelta(days=1, hours=1, minutes=30)
