"""The HTTP edge under attack: huge and endless bodies, deep JSON, huge echoes, token guessing,
request floods; security headers on every answer (suanli.api.middleware)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.api.middleware import BodyLimit, EdgeLimits, clip, html_csp, json_depth
from suanli.errors import ValidationError
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock

MiB = 1 << 20


def _platform(tmp_path: Path, clock: FakeClock, **settings: Any) -> Platform:
    return Platform(Settings(data_dir=tmp_path / "data", driver="none", **settings), clock=clock)


@pytest.fixture
def edge(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """A client with the default settings, the operator's headers and a tenant's."""
    p = _platform(tmp_path, clock)
    op_token = accounts.bootstrap_operator(p)
    op = {"Authorization": f"Bearer {op_token}"}
    with TestClient(create_app(p)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        yield c, op, {"Authorization": f"Bearer {r.json()['token']}"}
    p.close()


def _short(r: Any, most: int = 2_000) -> dict[str, Any]:
    """The JSON error body, checked to be short whatever the input was."""
    assert len(r.content) < most, f"{r.status_code}: {len(r.content)} bytes echoed: {r.text[:300]}"
    body: dict[str, Any] = r.json()
    return body["error"]  # type: ignore[no-any-return]


# -- request-body limit --------------------------------------------------------------------------

def test_a_body_over_the_limit_is_refused_with_413_by_its_length(edge: Any) -> None:
    c, _op, t = edge
    r = c.post("/v1/orders", content=b'{"form": "gpu", "pad": "' + b"x" * (2 * MiB) + b'"}',
               headers={**t, "Content-Type": "application/json"})
    assert r.status_code == 413
    e = _short(r)
    assert e["code"] == "too_large" and "limit of 1,048,576 bytes" in e["message"]
    assert e["details"]["limit_bytes"] == MiB
    # without a token too: the limit comes before anything reads the body
    assert c.post("/v1/orders", content=b"[" + b"1," * MiB + b"1]").status_code == 413


def test_a_chunked_body_that_grows_past_the_limit_is_refused(edge: Any) -> None:
    c, _op, t = edge

    def endless() -> Iterator[bytes]:
        yield b'{"form": "gpu", "pad": "'
        for _ in range(64):
            yield b"y" * 65_536

    r = c.post("/v1/orders", content=endless(), headers={**t, "Content-Type": "application/json"})
    assert r.status_code == 413 and "more than 1,048,576 bytes" in _short(r)["message"]


def test_the_body_limit_counts_chunks_and_stops_reading() -> None:
    """Driven as ASGI: a client that never stops sending is cut off after the limit, not read to the end."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"z" * 1000, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see the request")

    limits = EdgeLimits.from_settings(Settings(max_body_bytes=10_000))
    scope = {"type": "http", "method": "POST", "path": "/v1/orders", "headers": []}
    asyncio.run(BodyLimit(app, limits)(scope, receive, send))
    assert pulled == 11 and sent[0]["status"] == 413


def test_bulk_routes_take_larger_bodies(edge: Any) -> None:
    c, op, _t = edge
    r = c.post("/v1/fleet/import", json={"sites": [], "pad": "p" * (2 * MiB)}, headers=op)
    assert r.status_code == 422  # read and refused for its content, not its size
    assert "p" * 65 not in r.text and len(r.content) < 2_000


# -- JSON nesting ----------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_deeply_nested_json_is_refused_before_parsing(edge: Any, depth: int) -> None:
    c, op, _t = edge
    body = b'{"events": ' + b"[" * depth + b"]" * depth + b"}"
    for path in ("/v1/usage/batch", "/v1/orders", "/v1/fleet/import"):
        r = c.post(path, content=body, headers={**op, "Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert "at most 32 levels" in _short(r)["message"]


def test_nesting_up_to_the_limit_and_brackets_in_strings_pass(edge: Any) -> None:
    c, op, _t = edge
    ok = b'{"events": ' + b"[" * 31 + b"]" * 31 + b"}"  # 32 levels with the object
    r = c.post("/v1/usage/batch", content=ok, headers={**op, "Content-Type": "application/json"})
    assert r.status_code == 422 and "nested" not in r.text  # refused by the route for its shape
    in_string = json.dumps({"events": [], "note": "[" * 10_000 + '\\"{' * 100}).encode()
    r = c.post("/v1/usage/batch", content=in_string, headers={**op, "Content-Type": "application/json"})
    assert "nested" not in r.text


def test_json_depth_scan() -> None:
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(b'"[[[[" ' * 20) == 0  # brackets inside strings do not count
    assert json_depth(b'["\\"[[[[[", [[]]]') == 3  # an escaped quote does not end the string
    assert json_depth(b"[" * 1_000_000) == 1_000_000  # unclosed brackets count: a parser recurses into them
    assert json_depth(b"") == 0 and json_depth(b"not json ]]") == 0
    # an unterminated string of escaped quotes made a backtracking scan quadratic (minutes for 1 MB)
    assert json_depth(b'"' + b'\\"' * 500_000 + b"[" * 40) == 0  # all inside the string
    assert json_depth(b'"\\' * 500_000 + b"[" * 40) == 0
    assert json_depth(b"[" * 40 + b'"' + b'\\"' * 500_000) == 40


# -- error bodies never echo more than a prefix ---------------------------------------------------

def test_clip_keeps_short_text_and_shortens_long_words() -> None:
    assert clip("name 'acme' taken") == "name 'acme' taken"
    long = clip("name '" + "n" * 10_000_000 + "' is too long")
    assert long.startswith("name '" + "n" * 63 + "… (10,000,002 characters) is too long") and len(long) < 200
    words = clip("word " * 100_000)
    assert len(words) < 600 and words.endswith("… (500,000 characters)")


def test_a_10_mb_name_is_refused_without_echo(edge: Any) -> None:
    c, op, _t = edge
    r = c.post("/v1/accounts", json={"name": "n" * 10_000_000, "role": "tenant"}, headers=op)
    assert r.status_code == 413 and "n" * 65 not in r.text
    _short(r)


@pytest.mark.parametrize("size", [100_000, 900_000])
def test_huge_values_are_never_echoed_whole(edge: Any, size: int) -> None:
    c, op, t = edge
    huge = "Q" * size
    attempts = [
        c.post("/v1/accounts", json={"name": huge, "role": "tenant"}, headers=op),
        c.post("/v1/accounts", json={"name": "x", "role": huge}, headers=op),
        c.post("/v1/nodes/nope/state", json={"state": "maintenance", "reason": huge}, headers=op),
        c.post("/v1/nodes/" + huge[:50_000] + "/state", json={"state": "maintenance", "reason": "r"}, headers=op),
        c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": [huge]}, headers=t),
        c.post("/v1/orders", json={"form": huge, "quantity": 1}, headers=t),
        c.post("/v1/orders", json={"form": "gpu", huge: 1}, headers=t),
        c.post("/v1/usage/events", json={"id": huge, "source": "gw", "type": "x", "subject": "acme",
                                         "time": "2026-11-02T09:00:00Z", "data": {"quantity": "1"}}, headers=op),
        c.post("/v1/usage/batch", content=json.dumps({"events": [huge]}).encode(), headers=op),
        c.post("/v1/usage/batch", content=huge.encode(), headers=op),
        c.get("/v1/offers", params={"model": huge[:50_000]}, headers=t),
        c.get("/v1/leases/" + huge[:50_000], headers=t),
        c.get("/v1/nothing-here/" + huge[:50_000], headers=t),
        c.post("/v1/wallet/credits", json={"tenant": "acme", "amount": "1", "reason": huge}, headers=op),
        c.post("/v1/orders", json=[{"form": "gpu"}] * 5_000, headers=t),
    ]
    for r in attempts:
        assert r.status_code < 500, (r.request.url.path[:80], r.status_code, r.text[:300])
        assert "Q" * 65 not in r.text, (r.request.url.path[:80], r.text[:300])
        if r.status_code >= 400:
            _short(r, 4_000)


def test_an_unexpected_error_is_a_json_500_that_echoes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    p = _platform(tmp_path, clock)
    app = create_app(p)

    def boom(value: str) -> None:
        raise RuntimeError(f"secret internals {value}")

    app.add_api_route("/boom/{value}", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom/" + "Q" * 1000)
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
        assert "secret" not in r.text and "Q" * 65 not in r.text
    p.close()


# -- security headers ------------------------------------------------------------------------------

def _common(r: Any) -> None:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff", r.request.url
    assert h["referrer-policy"] == "no-referrer", r.request.url
    assert h["x-frame-options"] == "DENY", r.request.url
    assert "frame-ancestors 'none'" in h["content-security-policy"], r.request.url


def test_every_answer_has_the_security_headers(edge: Any) -> None:
    c, _op, t = edge
    answers = [c.get("/health"), c.get("/v1/offers", headers=t), c.get("/v1/offers"),
               c.get("/v1/offers", headers={"Authorization": "Bearer sl_nope"}),
               c.get("/no/such/thing"), c.delete("/health"), c.get("/openapi.json"),
               c.post("/v1/orders", json={"form": 1}, headers=t),
               c.post("/v1/orders", content=b"x" * (2 * MiB), headers=t),
               c.get("/console/"), c.get("/console/app.js"), c.get("/console/console.css"),
               c.get("/", follow_redirects=False),
               c.get("/v1/invoices/2026-11", params={"format": "html"}, headers=t),
               c.get("/v1/invoices/2026-11", params={"format": "csv"}, headers=t)]
    for r in answers:
        _common(r)
    ok, anonymous = answers[1], answers[2]
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert anonymous.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in ok.headers["content-security-policy"]
    # the console keeps its own CSP (same origin only, no inline script or style)
    console = answers[9]
    assert console.status_code == 200 and "script-src 'self'" in console.headers["content-security-policy"]
    assert "unsafe-inline" not in console.headers["content-security-policy"]
    # an invoice document may use its own inline style (by hash), and nothing else: no script, no fetching
    html = answers[13]
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    csp = html.headers["content-security-policy"]
    assert csp == html_csp(html.content) and "<script" not in html.text
    assert "style-src 'sha256-" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert "default-src 'none'" in csp


def test_an_html_csp_allows_exactly_the_documents_own_styles() -> None:
    import base64
    import hashlib

    doc = b"<html><head><style>b{color:red}</style></head><body><style media=print>i{}</style></body></html>"
    want = {"'sha256-" + base64.b64encode(hashlib.sha256(x).digest()).decode() + "'" for x in (b"b{color:red}", b"i{}")}
    styles = html_csp(doc).split("style-src ")[1].split(";")[0].split()
    assert set(styles) == want
    assert "style-src 'none'" in html_csp(b"<p>no style</p>")


def test_no_docs_page_that_loads_from_the_internet(edge: Any) -> None:
    c, _op, _t = edge
    for path in ("/docs", "/redoc"):
        r = c.get(path)
        assert r.status_code == 404 and "/openapi.json" in r.json()["error"]["message"]
    assert c.get("/openapi.json").json()["info"]["title"] == "suanli"


# -- rate limits -----------------------------------------------------------------------------------

def test_500_bad_tokens_are_slowed_down(edge: Any) -> None:
    """The issue's attack, with the default settings: after 20 refused tokens the address gets 429."""
    c, _op, t = edge
    assert c.get("/v1/offers", headers=t).status_code == 200  # this token has authenticated before
    codes = [c.get("/v1/offers", headers={"Authorization": f"Bearer sl_guess{i}"}).status_code for i in range(500)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    r = c.get("/v1/offers", headers={"Authorization": "Bearer sl_one-more"})
    e = _short(r)
    assert e["code"] == "rate_limited" and "failed authentications" in e["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 60 and e["details"]["retry_after_s"] == int(r.headers["retry-after"])
    # a token that authenticated before still works; requests with no token are answered as usual
    assert c.get("/v1/offers", headers=t).status_code == 200
    assert c.get("/v1/offers").status_code == 401
    assert c.get("/health").status_code == 200


def test_a_real_token_unseen_before_the_lockout_waits_too(tmp_path: Path, clock: FakeClock) -> None:
    p = _platform(tmp_path, clock, auth_failure_limit="3/minute")
    op_token = accounts.bootstrap_operator(p)
    with TestClient(create_app(p)) as c:
        for i in range(3):
            assert c.get("/v1/offers", headers={"Authorization": f"Bearer sl_{i}"}).status_code == 401
        r = c.get("/v1/offers", headers={"Authorization": f"Bearer {op_token}"})
        assert r.status_code == 429 and "retry-after" in r.headers
    p.close()


def test_only_a_token_that_authenticated_passes_the_lockout(tmp_path: Path, clock: FakeClock) -> None:
    """A guess answered without a 401 (a public route, a route that fails validation first) is not
    thereby known-good: only the authentication dependency marks a token as real."""
    p = _platform(tmp_path, clock, auth_failure_limit="3/minute")
    with TestClient(create_app(p)) as c:
        guess = {"Authorization": "Bearer sl_guess"}
        assert c.get("/health", headers=guess).status_code == 200
        assert c.get("/no/such/route", headers=guess).status_code == 404
        assert c.get("/v1/leases", params={"offset": -1}, headers=guess).status_code in (401, 422)
        for i in range(3):
            c.get("/v1/offers", headers={"Authorization": f"Bearer sl_{i}"})
        assert c.get("/v1/offers", headers=guess).status_code == 429
    p.close()


def test_limits_per_token_and_per_address(tmp_path: Path, clock: FakeClock) -> None:
    p = _platform(tmp_path, clock, rate_limit_per_token="5/minute", rate_limit_per_address="8/minute")
    op_token = accounts.bootstrap_operator(p)
    who = accounts.authenticate(p, op_token)
    other = accounts.issue_token(p, who, who.name)
    with TestClient(create_app(p)) as c:
        op = {"Authorization": f"Bearer {op_token}"}
        codes = [c.get("/v1/offers", headers=op).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        r = c.get("/v1/offers", headers=op)
        e = _short(r)
        assert "with this token: at most 5 per minute" in e["message"] and e["details"]["which"] == "per_token"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # another token from the same address goes on until the address's own limit (8, counting the 7 above)
        assert c.get("/v1/offers", headers={"Authorization": f"Bearer {other}"}).status_code == 200
        r = c.get("/health")
        assert r.status_code == 429 and _short(r)["details"]["which"] == "per_address"
        _common(r)
    p.close()


def test_a_limit_of_0_is_no_limit(tmp_path: Path, clock: FakeClock) -> None:
    p = _platform(tmp_path, clock, auth_failure_limit="0", rate_limit_per_address="0", rate_limit_per_token="0")
    with TestClient(create_app(p)) as c:
        codes = {c.get("/v1/offers", headers={"Authorization": f"Bearer sl_{i}"}).status_code for i in range(300)}
        assert codes == {401}
    p.close()


@pytest.mark.parametrize("bad", ["lots", "5/fortnight", "-1/minute", "0/minute"])
def test_a_rate_that_is_not_one_is_refused_at_start(tmp_path: Path, clock: FakeClock, bad: str) -> None:
    p = _platform(tmp_path, clock, rate_limit_per_token=bad)
    with pytest.raises(ValidationError, match=r"rate_limit_per_token \(SUANLI_RATE_LIMIT_PER_TOKEN\) .* is not a rate; write e\.g\. '600/minute'"):
        create_app(p)
    p.close()


def test_settings_read_the_edge_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("SUANLI_RATE_LIMIT_PER_TOKEN", "10/second;1000/hour")
    s = Settings.from_env()
    assert s.max_body_bytes == 2048 and s.rate_limit_per_token == "10/second;1000/hour"
    assert len(EdgeLimits.from_settings(s).per_token) == 2
    monkeypatch.setenv("SUANLI_MAX_BODY_BYTES", "1MB")
    with pytest.raises(ValidationError, match="SUANLI_MAX_BODY_BYTES='1MB' is not a whole number"):
        Settings.from_env()
