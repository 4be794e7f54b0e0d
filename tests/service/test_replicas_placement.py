"""Where a new replica goes: the shape with the lowest cost per million tokens, priced at list for the
owner plus energy, with the prior throughput until this deployment's requests measured it (demo fleet;
numbers by hand)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from suanli.domain.accounts import Principal
from suanli.domain.inference import ReplicaState, choose_placement
from suanli.service import deployments, replicas
from suanli.service.platform import Platform
from suanli.store import inference as store
from suanli.store.inference_tables import InferenceRequestRow

Q = Decimal("0.0001")


def test_cost_per_token_prior_then_measured(demo: Platform, operator: Principal) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, {
        "name": "tiny", "model": "tiny-gpt", "min_replicas": 0, "max_replicas": 2,
        "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}, {"form": "gpu", "model": "A100-80GB",
                                                                       "quantity": 1}]})
    owner = replicas.owner_principal(p, dep.owner_id)
    options, refused = replicas.placement_options(p, dep, owner)
    assert refused == []
    l20, a100 = options
    # L20 quarter: 2.60/h x 0.25 = 0.65; energy 275 W x 0.25 x PUE 2.00 x 1.05/kWh (sz-edge-1) = 0.144375
    assert (l20.hardware, l20.hourly_price, l20.hourly_energy) == ("L20", Decimal("0.65"), Decimal("0.144375"))
    # A100-80GB whole: 5.80/h; energy 400 W x 1 x PUE 1.15 x 0.36/kWh (nx-west-1) = 0.1656
    assert (a100.hardware, a100.hourly_price, a100.hourly_energy) == ("A100-80GB", Decimal("5.80"), Decimal("0.1656"))
    # prior: 4000 tokens/s per P: L20 0.1195 P x 0.25 -> 119.5; A100 0.312 P -> 1248
    assert (l20.tokens_per_s, a100.tokens_per_s) == (Decimal("119.5"), Decimal("1248"))
    # per million tokens: 0.794375 / (119.5 x 3600) x 1e6 = 1.8465; 5.9656 / (1248 x 3600) x 1e6 = 1.3278
    assert l20.cost_per_million_tokens.quantize(Q) == Decimal("1.8465")
    assert a100.cost_per_million_tokens.quantize(Q) == Decimal("1.3278")
    chosen = choose_placement(options)
    assert chosen is not None and chosen[0] is a100 and "prior" in chosen[1]
    # measured: the built-in runtime runs on the CPU, 100 tokens/s whatever the lease holds
    now = p.clock.now()
    with p.tx() as s:
        for hw in ("L20", "A100-80GB"):
            r = store.create_replica(s, dep.id, now=now)
            store.update_replica(s, r.id, expect=list(ReplicaState), hardware=hw)
            s.add(InferenceRequestRow(id=f"req_{hw}", token_id=None, tenant_id=dep.owner_id, deployment_id=dep.id,
                                      replica_id=r.id, model="tiny", endpoint="completion", prompt_tokens=5,
                                      completion_tokens=200, cached_tokens=0, status="ok", stream=True,
                                      started_at=now, ended_at=now + timedelta(seconds=2)))
    options, _ = replicas.placement_options(p, dep, owner)
    l20, a100 = options
    assert l20.measured and a100.measured and l20.tokens_per_s == a100.tokens_per_s == 100
    # 0.794375 / 360000 x 1e6 = 2.2066 ; 5.9656 / 360000 x 1e6 = 16.5711
    assert (l20.cost_per_million_tokens.quantize(Q), a100.cost_per_million_tokens.quantize(Q)) == (
        Decimal("2.2066"), Decimal("16.5711"))
    chosen = choose_placement(options)
    assert chosen is not None and chosen[0] is l20 and "measured" in chosen[1]


def test_near_keeps_replicas_in_the_callers_region(demo: Platform, operator: Principal) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, {
        "name": "edge", "model": "tiny-gpt", "min_replicas": 0, "max_replicas": 1, "near": "cn-south",
        "shapes": [{"form": "gpu", "model": "A100-80GB", "quantity": 1}, {"form": "slice", "model": "L20",
                                                                          "share": "0.5"}]})
    options, refused = replicas.placement_options(p, dep, replicas.owner_principal(p, dep.owner_id))
    assert [o.hardware for o in options] == ["L20"]  # sz-edge-1 is cn-south; the A100s are in cn-northwest
    assert len(refused) == 1 and refused[0].startswith("gpu:A100-80GB:1")
