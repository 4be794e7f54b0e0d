"""The deployments repository: names unique per owner, resolve_model (own first, then public),
visible_models, CAS on version, guarded replica writes, measured tokens/s per hardware."""

from __future__ import annotations

from datetime import timedelta

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.inference import DeploymentSpec, DeploymentState, ReplicaState, parse_deployment
from suanli.errors import ConflictError
from suanli.service.platform import Platform
from suanli.store import inference as store
from suanli.store.inference_tables import InferenceRequestRow
from suanli.testing.factories import make_tenant


def spec(name: str = "tiny") -> DeploymentSpec:
    return parse_deployment({"name": name, "model": "tiny-gpt", "shapes": [{"form": "slice", "model": "L20",
                                                                             "share": "0.25"}]})


def test_resolve_own_first_then_public(platform: Platform, operator: Principal) -> None:
    acme = make_tenant(platform, operator, "acme")
    other = make_tenant(platform, operator, "other")
    house = make_tenant(platform, operator, "house")
    now = platform.clock.now()
    with platform.tx() as s:
        pub = store.create_deployment(s, spec(), owner_id=house.account_id, public=True, created_by="op",
                                      now=now)
        own = store.create_deployment(s, spec(), owner_id=acme.account_id, public=False, created_by="acme",
                                      now=now)
        priv = store.create_deployment(s, spec("secret"), owner_id=other.account_id, public=False,
                                       created_by="other", now=now)
        with pytest.raises(ConflictError):
            store.create_deployment(s, spec(), owner_id=acme.account_id, public=False, created_by="acme", now=now)
    with platform.read() as s:
        assert store.resolve_model(s, acme.account_id, "tiny") == own
        assert store.resolve_model(s, other.account_id, "tiny") == pub
        assert store.resolve_model(s, acme.account_id, "secret") is None
        assert store.resolve_model(s, other.account_id, "secret") == priv
        assert store.resolve_model(s, None, "tiny") == pub
        assert [d.id for d in store.visible_models(s, acme.account_id)] == [own.id]
        assert [d.name for d in store.visible_models(s, other.account_id)] == ["secret", "tiny"]
    with platform.tx() as s:
        d = store.update_deployment(s, own.id, version=own.version, now=now, state=DeploymentState.DELETED.value)
        assert d.version == own.version + 1
        with pytest.raises(ConflictError):
            store.update_deployment(s, own.id, version=own.version, now=now, desired_replicas=2)
    with platform.read() as s:
        assert store.resolve_model(s, acme.account_id, "tiny") == pub


def test_replicas_guarded_and_measured(platform: Platform, operator: Principal) -> None:
    acme = make_tenant(platform, operator, "acme")
    now = platform.clock.now()
    with platform.tx() as s:
        d = store.create_deployment(s, spec(), owner_id=acme.account_id, public=False, created_by="a", now=now)
        r = store.create_replica(s, d.id, now=now)
        assert store.update_replica(s, r.id, expect=[ReplicaState.STARTING], state=ReplicaState.READY) is None
        up = store.update_replica(s, r.id, expect=[ReplicaState.PENDING], state=ReplicaState.READY, hardware="L20")
        assert up is not None and up.state is ReplicaState.READY
        for i, (n, secs) in enumerate([(100, 2), (50, 3)]):
            s.add(InferenceRequestRow(id=f"req_{i}", token_id=None, tenant_id=acme.account_id, deployment_id=d.id,
                                      replica_id=r.id, model="tiny", endpoint="completion", prompt_tokens=3,
                                      completion_tokens=n, cached_tokens=0, status="ok", stream=False,
                                      started_at=now + timedelta(seconds=10 * i),
                                      ended_at=now + timedelta(seconds=10 * i + secs)))
    with platform.read() as s:
        assert [x.id for x in store.ready_replicas(s, d.id)] == [r.id]
        assert store.tokens_per_s_by_hardware(s, d.id) == {"L20": 30}  # 150 tokens / 5 s
        assert store.last_request_at(s, d.id) == now + timedelta(seconds=10)
        assert store.active_deployment_ids(s) == [d.id]
