"""Deployment validation, the autoscaling rule and placement by cost per token (hand-computed numbers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.inference import (
    DeploymentKind,
    PlacementOption,
    ShapeForm,
    autoscale,
    choose_placement,
    hourly_energy,
    parse_deployment,
    parse_shape_text,
    prior_tokens_per_s,
)
from suanli.errors import ValidationError

SLICE = {"form": "slice", "model": "L20", "share": "0.25"}


def doc(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "tiny", "model": "tiny-gpt", "shapes": [SLICE], "min_replicas": 1,
                               "max_replicas": 4}
    base.update(kw)
    return base


def test_valid_deployment_defaults() -> None:
    spec = parse_deployment(doc())
    assert spec.kind is DeploymentKind.GENERATE and spec.context_length == 256 and spec.max_output_tokens == 128
    assert spec.shapes[0].form is ShapeForm.SLICE and spec.shapes[0].share_pct == 25
    assert parse_deployment(doc(model="all-minilm-l6-v2", name="emb")).kind is DeploymentKind.EMBED


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "bad name!"}, "name"), ({"name": ""}, "name"), ({"name": "x" * 65}, "name"),
    ({"min_replicas": 3, "max_replicas": 2}, "min_replicas"), ({"max_replicas": 33}, "max_replicas"),
    ({"min_replicas": -1}, "min_replicas"), ({"max_replicas": True}, "max_replicas"),
    ({"shapes": []}, "shapes"), ({"shapes": "slice"}, "shapes"),
    ({"shapes": [{"form": "flops", "model": "L20"}]}, "shapes[0].form"),
    ({"shapes": [SLICE, {"form": "slice", "model": "L20", "share": "1.5"}]}, "shapes[1].share"),
    ({"shapes": [{"form": "slice", "model": "L20", "share": "0.333"}]}, "shapes[0].share"),
    ({"shapes": [{"form": "gpu", "model": "L20", "quantity": 0}]}, "shapes[0].quantity"),
    ({"shapes": [{"form": "gpu"}]}, "shapes[0].model"),
    ({"context_length": 100000}, "context_length"), ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"max_output_tokens": 256}, "max_output_tokens"),
    ({"model": "llama-70b"}, "model"), ({"runtime": "vllm"}, "runtime"), ({"runtime": "nope"}, "runtime"),
    ({"kind": "embed"}, "kind"), ({"max_rtt_ms": 20}, "max_rtt_ms"), ({"public": "yes"}, "public"),
    ({"target_inflight": 0}, "target_inflight"), ({"idle_seconds": 0}, "idle_seconds"),
])
def test_bad_documents_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_deployment(doc(**changes))
    assert e.value.details.get("field") == field, e.value.message


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown deployment fields"):
        parse_deployment(doc(price="0"))


def test_shape_text() -> None:
    assert parse_shape_text("slice:L20:0.25").to_dict() == SLICE
    assert parse_shape_text("gpu:A100-80G:2").to_dict() == {"form": "gpu", "model": "A100-80G", "quantity": 2}
    assert parse_shape_text("node:L20:1").form is ShapeForm.SERVER
    for bad in ("slice", "gpu:L20:x", "tpu:L20:1", "slice:L20:0"):
        with pytest.raises(ValidationError):
            parse_shape_text(bad)


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def scale(**kw: object) -> tuple[int, datetime | None]:
    args: dict[str, object] = {"min_replicas": 0, "max_replicas": 4, "target_inflight": 4, "idle_seconds": 300,
                               "current": 1, "inflight": 0, "queued": 0, "now": T0, "low_since": None,
                               "last_request_at": None, "scale_down_seconds": 30.0}
    args.update(kw)
    d = autoscale(**args)  # type: ignore[arg-type]
    return d.desired, d.low_since


def test_autoscale_up_at_once_and_clamped() -> None:
    assert scale(inflight=9)[0] == 3  # ceil(9/4)
    assert scale(inflight=8, queued=1)[0] == 3
    assert scale(inflight=100)[0] == 4  # max
    assert scale(min_replicas=2, current=2)[0] == 2


def test_autoscale_down_waits_for_the_window() -> None:
    assert scale(current=3, inflight=4) == (3, T0)  # load wants 1: start the window
    assert scale(current=3, inflight=4, now=T0 + timedelta(seconds=29), low_since=T0) == (3, T0)
    assert scale(current=3, inflight=4, now=T0 + timedelta(seconds=30), low_since=T0) == (1, None)
    # the load comes back within the window: the window resets
    assert scale(current=3, inflight=12, now=T0 + timedelta(seconds=20), low_since=T0) == (3, None)


def test_scale_to_zero_only_when_idle_and_min_zero() -> None:
    later = T0 + timedelta(seconds=60)
    recent = later - timedelta(seconds=100)
    assert scale(current=1, now=later, low_since=T0, last_request_at=recent)[0] == 1  # 100 s < idle 300 s
    assert scale(current=1, now=later + timedelta(seconds=200), low_since=T0, last_request_at=recent)[0] == 0
    assert scale(current=2, now=later, low_since=T0, last_request_at=recent)[0] == 1  # down to 1, not 0
    assert scale(min_replicas=1, current=1, now=later + timedelta(days=1), low_since=T0)[0] == 1


def test_cost_per_token_hand_computed() -> None:
    # L20 quarter slice: 2.00/h + energy 275 W x 0.25 x PUE 1.3 x 0.85/kWh = 0.0759688 (rounded below)
    e = hourly_energy(275, Decimal("0.25"), Decimal("1.3"), Decimal("0.85"))
    assert e == Decimal("0.07596875")
    slice_ = PlacementOption(0, "L20", Decimal("2.00"), e, Decimal(100), measured=True)
    # (2.07596875 / (100 x 3600)) x 1e6 = 5.766579861...
    assert slice_.cost_per_million_tokens.quantize(Decimal("0.000001")) == Decimal("5.766580")
    # A100 whole: 12/h + 400 W x 1 x 1.15 x 0.36 = 0.1656 ; 1000 tokens/s -> 12.1656/3.6 = 3.3793333
    gpu = PlacementOption(1, "A100-80GB", Decimal(12), hourly_energy(400, Decimal(1), Decimal("1.15"),
                                                                      Decimal("0.36")), Decimal(1000))
    assert gpu.cost_per_million_tokens.quantize(Decimal("0.0000001")) == Decimal("3.3793333")
    best = choose_placement([slice_, gpu])
    assert best is not None and best[0] is gpu and "A100-80GB" in best[1] and "prior" in best[1]
    # equal cost: the lower energy wins
    a = PlacementOption(0, "X", Decimal("1.0"), Decimal("0.5"), Decimal(100))
    b = PlacementOption(1, "Y", Decimal("1.4"), Decimal("0.1"), Decimal(100))
    best = choose_placement([a, b])
    assert best is not None and best[0] is b
    assert choose_placement([]) is None


def test_prior_is_proportional_to_p_with_a_floor() -> None:
    assert prior_tokens_per_s(Decimal("0.1")) == Decimal(400)
    assert prior_tokens_per_s(Decimal("0.001")) == Decimal(50)
