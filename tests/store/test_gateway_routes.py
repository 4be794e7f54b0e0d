"""The gateway's one-statement route (store.inference_routes.route) chooses as resolve_model does."""

from __future__ import annotations

from suanli.domain.accounts import Principal, Role
from suanli.domain.inference import ReplicaState, parse_deployment
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.store import inference as store
from suanli.store.inference_routes import route
from suanli.testing.clock import FakeClock


def _dep(p: Platform, owner: str, name: str, *, public: bool, ready: int, clock: FakeClock) -> str:
    spec = parse_deployment({"name": name, "model": "tiny-gpt", "kind": "generate",
                             "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
                             "min_replicas": 0, "max_replicas": 4})
    clock.advance(seconds=1)
    with p.tx() as s:
        d = store.create_deployment(s, spec, owner_id=owner, public=public, created_by="t", now=clock.now())
        for i in range(ready + 1):  # one more that is not ready
            r = store.create_replica(s, d.id, now=clock.now())
            if i < ready:
                store.update_replica(s, r.id, expect=[ReplicaState.PENDING], state=ReplicaState.READY,
                                     endpoint=f"unix:/run/{r.id}.sock")
    return d.id


def test_own_then_public_then_none_and_the_operator_any(platform: Platform, operator: Principal,
                                                        clock: FakeClock) -> None:
    p = platform
    a, _ = accounts.create_account(p, operator, "a", Role.TENANT)
    b, _ = accounts.create_account(p, operator, "b", Role.TENANT)
    pub = _dep(p, b.account_id, "m", public=True, ready=2, clock=clock)
    own = _dep(p, a.account_id, "m", public=False, ready=1, clock=clock)
    secret = _dep(p, b.account_id, "hidden", public=False, ready=0, clock=clock)
    with p.read() as s:
        for tenant, name in ((a.account_id, "m"), (b.account_id, "m"), (None, "m"), (a.account_id, "hidden"),
                             (None, "hidden"), (a.account_id, "nope")):
            want = store.resolve_model(s, tenant, name)
            got = route(s, tenant, name)
            assert (got.id if got else None) == (want.id if want else None), (tenant, name)
        r = route(s, a.account_id, "m")
        assert r is not None and r.id == own and len(r.ready) == 1
        r = route(s, b.account_id, "m")
        assert r is not None and r.id == pub and [x.id for x in r.ready] == sorted(x.id for x in r.ready)
        assert len(r.ready) == 2 and all(x.endpoint.startswith("unix:") for x in r.ready)
        assert route(s, a.account_id, "hidden") is None
        r = route(s, None, "hidden")
        assert r is not None and r.id == secret and r.ready == ()
