"""Scoped tokens through every route of the app (the authorization matrix's world and requests).

- A ``read`` token of the operator, tenant A or supplier 1 sends every write route with the request
  that succeeds with that party's full token: each answers 403, writes nothing and asks the engine
  for nothing.
- A ``lease`` token for tenant A's lease sends every route: the few a lease token may use
  (:data:`LEASE_ROUTES`) answer as A's full token does; every other non-public route answers 403
  (fail closed: a new route is refused to lease tokens unless it is added here on purpose).
- An ``inference`` key of tenant A the same: /v1/me and the model gateway, every other route 403.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_authz_matrix import (
    ACTORS,
    EXPECTED,
    MUTATING,
    NODE_CREDENTIAL_ROUTES,
    PUBLIC,
    Cell,
    World,
    _build,
    request_for,
)

LEASE_ROUTES = {
    ("GET", "/v1/me"), ("GET", "/v1/leases"), ("GET", "/v1/leases/{lease_id}"), ("POST", "/v1/leases/{lease_id}/jobs"),
    ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{job_id}"), ("GET", "/v1/jobs/{job_id}/logs"),
    ("POST", "/v1/jobs/{job_id}/cancel"), ("GET", "/v1/leases/{lease_id}/usage"),
}
INFERENCE_ROUTES = {("GET", "/v1/me")}
"""What an inference key may use besides the model gateway's routes (:data:`GATEWAY_ROUTES`)."""
DEFRAG_PLAN_ROUTES = {("POST", "/v1/defrag/plans/{defrag_plan_id}/approve"),
                      ("POST", "/v1/defrag/plans/{defrag_plan_id}/cancel")}
"""The matrix names no defrag plan (making one needs a fragmented fleet): the operator's full token gets a 404."""
GATEWAY_ROUTES = {("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/completions"),
                  ("POST", "/v1/embeddings")}
"""The model gateway (tests/**/test_gateway*.py test what they answer; here only: not 403)."""
ENGINE_WRITES = {"provision", "release", "submit", "cancel"}


def public(route: tuple[str, str]) -> bool:
    return len(set(EXPECTED[route].split())) == 1  # the same answer with no token or a bad one


def expected(route: tuple[str, str], actor: str) -> int:
    return int(EXPECTED[route].split()[ACTORS.index(actor)])


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Cell, dict[str, dict[str, str]]]]:
    """The matrix's world on its own copy, with a read token for op, A and S1 and a lease token for A's lease."""
    base = tmp_path_factory.mktemp("scoped")
    w = _build(base / "base")
    shutil.copytree(w.base_dir, base / "copy")
    cell = Cell(w, base / "copy")
    tokens: dict[str, dict[str, str]] = {}
    for actor in ("op", "A", "S1"):
        r = cell.client.post("/v1/tokens", json={"scope": "read", "label": "matrix"}, headers=w.headers(actor))
        assert r.status_code == 201, r.text
        tokens[f"{actor}-read"] = {"Authorization": f"Bearer {r.json()['token']}"}
    r = cell.client.post("/v1/tokens", json={"scope": "lease", "lease": w.parties["A"].ids["lease"]},
                         headers=w.headers("A"))
    assert r.status_code == 201, r.text
    tokens["A-lease"] = {"Authorization": f"Bearer {r.json()['token']}"}
    r = cell.client.post("/v1/tokens", json={"scope": "inference", "rate_limit_per_minute": 100_000},
                         headers=w.headers("A"))
    assert r.status_code == 201, r.text
    tokens["A-inference"] = {"Authorization": f"Bearer {r.json()['token']}"}
    for h in tokens.values():  # the first use records last_used_at; later ones (same minute) write nothing
        assert cell.client.get("/v1/me", headers=h).status_code == 200
    yield w, cell, tokens
    cell.close()


WRITES = sorted(r for r in EXPECTED if r[0] in MUTATING and r not in NODE_CREDENTIAL_ROUTES)  # no account token there


@pytest.mark.parametrize("route", WRITES, ids=lambda k: f"{k[0]} {k[1]}")
def test_a_read_token_is_refused_every_write(route: tuple[str, str], scoped: tuple[World, Cell, dict[str, dict[str, str]]]
                                             ) -> None:
    w, cell, tokens = scoped
    method, path = route
    # the party whose full token gets past authorization on this route (a success, the engine's 422, or
    # a 409 of the world's state: a finished what-if run, an invoice already paid)
    # (the model gateway's calls: past authorization, the matrix's model "nope" is a 404)
    actor = next(a for a in ("op", "A", "S1") if expected(route, a) < 300 or expected(route, a) in (409, 422)
                 or (route in GATEWAY_ROUTES and expected(route, a) == 404)
                 or (route in DEFRAG_PLAN_ROUTES and expected(route, a) == 404))
    url, query, body = request_for(w, method, path)
    before = cell.fingerprint()
    calls = len(cell.driver.calls)
    r = cell.client.request(method, url, params=query, json=body, headers=tokens[f"{actor}-read"])
    assert r.status_code == 403, f"{method} {url} with {actor}'s read token: {r.status_code} {r.text[:300]}"
    assert "read-only token" in r.json()["error"]["message"]
    assert cell.fingerprint() == before, f"{method} {url} with a read token answered 403 but wrote"
    assert not [c.method for c in cell.driver.calls[calls:] if c.method in ENGINE_WRITES]


@pytest.mark.parametrize("route", sorted(r for r in EXPECTED if EXPECTED[r] != PUBLIC and not public(r)),
                         ids=lambda k: f"{k[0]} {k[1]}")
def test_a_lease_token_does_only_what_it_is_for(route: tuple[str, str],
                                                scoped: tuple[World, Cell, dict[str, dict[str, str]]],
                                                tmp_path: Path) -> None:
    w, shared, tokens = scoped
    method, path = route
    url, query, body = request_for(w, method, path)
    want = expected(route, "A") if route in LEASE_ROUTES else 403
    writes = method in MUTATING and want < 300
    cell = shared
    if writes:  # a write that succeeds runs on its own copy
        shutil.copytree(shared.platform.settings.data_dir, tmp_path / "data")
        cell = Cell(w, tmp_path / "data")
    try:
        before = "" if writes else cell.fingerprint()
        r = cell.client.request(method, url, params=query, json=body, headers=tokens["A-lease"])
        assert r.status_code == want, f"{method} {url} with A's lease token: {r.status_code} {r.text[:300]}"
        if want == 403 and expected(route, "A") < 300:  # A may, its lease token may not (say why)
            assert "lease token" in r.json()["error"]["message"]
        if want >= 300:  # a refusal writes nothing (a read may refresh a job's state from the engine)
            assert cell.fingerprint() == before, f"{method} {url} with A's lease token answered {r.status_code} but wrote"
    finally:
        if cell is not shared:
            cell.close()


@pytest.mark.parametrize("route", sorted(r for r in EXPECTED if EXPECTED[r] != PUBLIC and not public(r)),
                         ids=lambda k: f"{k[0]} {k[1]}")
def test_an_inference_key_only_calls_models(route: tuple[str, str],
                                            scoped: tuple[World, Cell, dict[str, dict[str, str]]]) -> None:
    w, cell, tokens = scoped
    method, path = route
    url, query, body = request_for(w, method, path)
    before = cell.fingerprint()
    r = cell.client.request(method, url, params=query, json=body, headers=tokens["A-inference"])
    if route in GATEWAY_ROUTES:
        assert r.status_code != 403, f"{method} {url} with A's inference key: {r.status_code} {r.text[:300]}"
        return
    want = expected(route, "A") if route in INFERENCE_ROUTES else 403
    assert r.status_code == want, f"{method} {url} with A's inference key: {r.status_code} {r.text[:300]}"
    if want == 403 and expected(route, "A") < 300:
        assert "inference key" in r.json()["error"]["message"]
    if want >= 300:
        assert cell.fingerprint() == before, f"{method} {url} with A's inference key answered {r.status_code} but wrote"
