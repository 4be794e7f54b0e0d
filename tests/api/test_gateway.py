"""The OpenAI-compatible gateway against the real built-in runtime process, with the official openai client.

A real uvicorn server (in a thread) serves the app; the replicas are ready rows pointing at runtime
processes this module starts on Unix sockets (``python -m suanli.runtime serve --uds``). SQLite and,
when configured, PostgreSQL. What is checked: usage in the answer == the ``inference_requests`` row ==
the usage events; a stream the client closes after k chunks bills what it was sent; a runtime killed
mid-stream bills what was sent and the client sees an error; errors in the OpenAI format; routing to the
least outstanding replica.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from sqlalchemy import select

from suanli.api.app import create_app
from suanli.domain.accounts import Principal, Role
from suanli.domain.inference import ReplicaState, parse_deployment
from suanli.service import accounts, gateway_load, tokens, uds
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions
from suanli.store import inference as inference_store
from suanli.store import usage as usage_store
from suanli.store.inference_tables import InferenceKeyUsageRow, InferenceRequestRow
from suanli.testing.serve import free_port

START_TIMEOUT_S = 90


@dataclass
class Runtime:
    proc: subprocess.Popen[bytes]
    sock: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_runtime(where: Path, name: str, *extra: str) -> Runtime:
    where.mkdir(parents=True, exist_ok=True)
    sock = where / "runtime.sock"
    proc = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--model", "tiny-gpt", "--uds",
                             sock.name, "--name", name, "--max-output-tokens", "64",
                             "--orphan-seconds", "0", *extra],  # (in its cwd; stopped by the test, never probed)
                            cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:  # bounded poll for /health
        assert proc.poll() is None, "the runtime exited while starting"
        if sock.exists():
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=uds.connect_path(f"unix:{sock}")),
                                  base_url="http://rt") as c:
                    if c.get("/health").status_code == 200:
                        return Runtime(proc, sock)
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("runtime did not answer /health in time")


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Runtime]]:
    """Two replicas of the model ``tiny``, paced at 300 tokens/s so that a stream takes a while."""
    base = tmp_path_factory.mktemp("rt")
    rts = [start_runtime(base / f"r{i}", "tiny", "--tokens-per-second", "300") for i in range(2)]
    yield rts
    for r in rts:
        r.stop()


@dataclass
class Live:
    p: Platform
    url: str
    who: Principal
    key: str
    dep_id: str
    replica_ids: list[str]

    def client(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(api_key=key or self.key, base_url=f"{self.url}/v1", max_retries=0, timeout=60)


def _serve(p: Platform) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(p), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:  # bounded wait for the server to answer
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.05)
    return server, thread, url


def add_deployment(p: Platform, owner: str, name: str, sockets: list[Path], *, public: bool = False) -> tuple[str, list[str]]:
    now = p.clock.now()
    spec = parse_deployment({"name": name, "model": "tiny-gpt", "kind": "generate",
                             "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
                             "min_replicas": len(sockets), "max_replicas": max(1, len(sockets)),
                             "max_output_tokens": 64, "public": public})
    ids = []
    with p.tx() as s:
        dep = inference_store.create_deployment(s, spec, owner_id=owner, public=public, created_by="test", now=now)
        for sock in sockets:
            r = inference_store.create_replica(s, dep.id, now=now)
            assert inference_store.update_replica(s, r.id, expect=[ReplicaState.PENDING], state=ReplicaState.READY,
                                                  endpoint=f"unix:{sock}", ready_at=now) is not None
            ids.append(r.id)
    return dep.id, ids


@pytest.fixture
def live(platform: Platform, operator: Principal, runtimes: list[Runtime]) -> Iterator[Live]:
    p = platform
    _acct, token = accounts.create_account(p, operator, "acme", Role.TENANT)
    who = accounts.authenticate(p, token)
    _tok, key = tokens.create_token(p, who, TokenOptions(label="gw", scope="inference"))
    dep_id, rep_ids = add_deployment(p, who.tenant_id, "tiny", [r.sock for r in runtimes])
    server, thread, url = _serve(p)
    yield Live(p, url, who, key, dep_id, rep_ids)
    server.should_exit = True
    thread.join(10)


def rows(p: Platform) -> dict[str, InferenceRequestRow]:
    with p.read() as s:
        return {r.id: r for r in s.scalars(select(InferenceRequestRow))}


def wait_rows(p: Platform, n: int) -> dict[str, InferenceRequestRow]:
    deadline = time.monotonic() + 20
    while True:  # metering runs after the answer was sent: bounded wait for it
        got = rows(p)
        if len(got) >= n:
            return got
        assert time.monotonic() < deadline, f"{len(got)} metered requests, expected {n}"
        time.sleep(0.02)


def wait_row(p: Platform, rid: str) -> InferenceRequestRow:
    deadline = time.monotonic() + 20
    while (got := rows(p).get(rid)) is None:  # bounded wait for the metering after the answer
        assert time.monotonic() < deadline, f"request {rid} was not metered"
        time.sleep(0.02)
    return got


def events(p: Platform, who: Principal) -> dict[str, Decimal]:
    with p.read() as s:
        period = p.clock.now().strftime("%Y-%m")
        return {e.id: e.quantity for e in usage_store.events_for(s, who.tenant_id, period, source="gateway")}


def test_non_streaming_usage_is_what_is_metered(live: Live) -> None:
    c = live.client()
    r = c.chat.completions.with_raw_response.create(model="tiny", messages=[{"role": "user", "content": "hello"}],
                                                    max_tokens=12, temperature=0)
    rid = r.headers["x-request-id"]
    out = r.parse()
    assert rid.startswith("req_") and out.usage is not None
    got = wait_rows(live.p, 1)[rid]
    assert (got.prompt_tokens, got.completion_tokens, got.status, got.stream) == (
        out.usage.prompt_tokens, out.usage.completion_tokens, "ok", False)
    assert got.token_id == live.who.token_id or got.token_id is not None
    assert out.usage.completion_tokens == len((out.choices[0].model_extra or {})["token_ids"])
    assert events(live.p, live.who) == {f"{rid}:prompt": Decimal(out.usage.prompt_tokens),
                                        f"{rid}:completion": Decimal(out.usage.completion_tokens)}
    with live.p.read() as s:
        key = s.scalars(select(InferenceKeyUsageRow)).one()
    assert key.tokens == out.usage.total_tokens
    # text completions too
    t = c.completions.create(model="tiny", prompt="Once", max_tokens=5, temperature=0)
    assert t.usage is not None and t.usage.completion_tokens == len((t.choices[0].model_extra or {})["token_ids"])


def test_a_stream_bills_what_it_delivered_and_shows_usage_when_asked(live: Live) -> None:
    c = live.client()
    chunks = list(c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=20, temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    ids = sum(len((ch.choices[0].model_extra or {}).get("token_ids") or []) for ch in chunks if ch.choices)
    assert ids == usage.completion_tokens
    (row,) = wait_rows(live.p, 1).values()
    assert (row.prompt_tokens, row.completion_tokens, row.status, row.stream) == (
        usage.prompt_tokens, usage.completion_tokens, "ok", True)
    assert row.first_token_at is not None
    # without include_usage the client gets no usage chunk (every chunk has a choice)
    plain = list(c.completions.create(model="tiny", prompt="A", max_tokens=5, temperature=0, stream=True))
    assert plain and all(ch.choices for ch in plain)
    assert sorted(r.completion_tokens for r in wait_rows(live.p, 2).values()) == sorted(
        [usage.completion_tokens, sum(len((ch.choices[0].model_extra or {})["token_ids"]) for ch in plain)])


def _sse_request(url: str, key: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    host, port = url.removeprefix("http://").split(":")
    return (f"POST /v1/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload


def _token_ids_in(data: bytes) -> int:
    n = 0
    for line in data.split(b"\n"):
        if line.startswith(b"data: {"):
            doc = json.loads(line[6:])
            n += sum(len(ch.get("token_ids") or []) for ch in doc.get("choices") or [])
    return n


def test_a_stream_the_client_closes_bills_exactly_what_it_was_sent(live: Live) -> None:
    """The client reads k chunks and half-closes; it then reads to the end whatever the server still
    sent before it saw the close. Billed completion tokens == token ids the client received, < max_tokens."""
    host, port = live.url.removeprefix("http://").split(":")
    body = {"model": "tiny", "prompt": "Once upon", "max_tokens": 64, "temperature": 0, "stream": True}
    with socket.create_connection((host, int(port)), timeout=30) as sk:
        sk.sendall(_sse_request(live.url, live.key, body))
        got = b""
        while got.count(b"data: {") < 4:  # k = 3 token chunks after the headers' first read
            more = sk.recv(65536)
            assert more, "the stream ended early"
            got += more
        sk.shutdown(socket.SHUT_WR)
        while more := sk.recv(65536):
            got += more
    received = _token_ids_in(got)
    (row,) = wait_rows(live.p, 1).values()
    assert row.status == "abandoned"
    assert row.completion_tokens == received
    assert 3 <= received < 64
    assert events(live.p, live.who)[f"{row.id}:completion"] == Decimal(received)
    # the replica is no longer counted busy
    deadline = time.monotonic() + 10
    while gateway_load.load_of(live.p, live.dep_id).inflight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gateway_load.load_of(live.p, live.dep_id).inflight == 0


def test_a_runtime_killed_mid_stream_bills_what_was_sent(platform: Platform, operator: Principal,
                                                         tmp_path: Path) -> None:
    p = platform
    rt = start_runtime(tmp_path / ("k" * 70) / "work", "victim", "--tokens-per-second", "100")  # a long path
    assert len(str(rt.sock)) > 107
    _acct, token = accounts.create_account(p, operator, "acme", Role.TENANT)
    who = accounts.authenticate(p, token)
    add_deployment(p, who.tenant_id, "victim", [rt.sock])
    server, thread, url = _serve(p)
    try:
        c = openai.OpenAI(api_key=token, base_url=f"{url}/v1", max_retries=0, timeout=60)
        seen = 0
        with pytest.raises(openai.APIError) as err:
            for ch in c.completions.create(model="victim", prompt="Once", max_tokens=64, temperature=0,
                                           stream=True):
                seen += len((ch.choices[0].model_extra or {}).get("token_ids") or [])
                if seen == 3:
                    os.kill(rt.proc.pid, signal.SIGKILL)
        assert "stopped in the middle" in str(err.value)
        (row,) = wait_rows(p, 1).values()
        assert row.status == "failed"
        assert row.completion_tokens == seen and 3 <= seen < 64
        assert row.prompt_tokens > 0
        # the replica is gone: the next call fails before any token and bills nothing
        with pytest.raises(openai.APIStatusError) as gone:
            c.completions.create(model="victim", prompt="Once", max_tokens=4)
        assert gone.value.status_code == 502
        body = gone.value.body
        assert isinstance(body, dict) and body.get("code") == "upstream_error"
        failed = [r for r in wait_rows(p, 2).values() if r.id != row.id]
        assert failed[0].status == "failed" and failed[0].prompt_tokens == failed[0].completion_tokens == 0
    finally:
        server.should_exit = True
        thread.join(10)
        rt.stop()


def test_errors_are_in_the_openai_format(live: Live, operator: Principal) -> None:
    p = live.p
    c = live.client()
    with pytest.raises(openai.NotFoundError) as nf:
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert nf.value.code == "model_not_found" and "tiny" in nf.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}], max_tokens=10**9)
    assert bad.value.code == "invalid_value" and bad.value.param == "max_tokens" and "[1, 64]" in bad.value.message
    with pytest.raises(openai.BadRequestError) as ctx:  # the runtime's own 400, passed through
        c.completions.create(model="tiny", prompt="word " * 400, max_tokens=64)
    assert ctx.value.code == "context_length_exceeded"
    _tok, read_key = tokens.create_token(p, live.who, TokenOptions(label="r", scope="read"))
    with pytest.raises(openai.PermissionDeniedError) as denied:
        live.client(read_key).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}])
    assert denied.value.code == "permission_denied" and isinstance(denied.value.body, dict)
    with pytest.raises(openai.AuthenticationError) as unauth:
        live.client("not-a-token").models.list()
    assert unauth.value.code == "invalid_api_key"
    r = httpx.post(f"{live.url}/v1/chat/completions", content=b"{not json",
                   headers={"Authorization": f"Bearer {live.key}", "Content-Type": "application/json"})
    assert r.status_code == 400 and {"message", "type", "param", "code"} <= set(r.json()["error"])
    # the gateway's refusals are not metered; the runtime's refusal is a failed request that bills nothing
    (row,) = wait_rows(p, 1).values()
    assert (row.status, row.prompt_tokens, row.completion_tokens) == ("failed", 0, 0)
    assert events(p, live.who) == {}


def test_models_lists_own_and_public_deployments_only(live: Live, operator: Principal) -> None:
    p = live.p
    _acct, other_token = accounts.create_account(p, operator, "other", Role.TENANT)
    other = accounts.authenticate(p, other_token)
    add_deployment(p, other.tenant_id, "secret-model", [])
    add_deployment(p, other.tenant_id, "shared-model", [], public=True)
    names = sorted(m.id for m in live.client().models.list())
    assert names == ["shared-model", "tiny"]
    with pytest.raises(openai.NotFoundError):
        live.client().chat.completions.create(model="secret-model", messages=[{"role": "user", "content": "x"}])


def test_requests_go_to_the_least_outstanding_replica(live: Live) -> None:
    """With the lowest-id replica busy (one request in flight on it), a call goes to the other; with both
    idle, to the lowest id; once a stream ended nothing is counted in flight."""
    c = live.client()
    first, second = sorted(live.replica_ids)
    gateway_load.begin(live.p, live.dep_id, first)  # a request in flight on the first replica
    try:
        r = c.completions.with_raw_response.create(model="tiny", prompt="A", max_tokens=2, temperature=0)
        assert wait_row(live.p, r.headers["x-request-id"]).replica_id == second
    finally:
        gateway_load.end(live.p, live.dep_id, first)
    r = c.completions.with_raw_response.create(model="tiny", prompt="A", max_tokens=2, temperature=0)
    assert wait_row(live.p, r.headers["x-request-id"]).replica_id == first
    with c.completions.with_streaming_response.create(model="tiny", prompt="B", max_tokens=64, temperature=0,
                                                       stream=True) as s:
        rid = s.headers["x-request-id"]
        assert sum(1 for line in s.iter_lines() if line.startswith("data: {")) >= 1
    assert wait_row(live.p, rid).replica_id == first
    assert gateway_load.load_of(live.p, live.dep_id).inflight == 0


def test_no_ready_replica_is_a_503_with_retry_after(platform: Platform, operator: Principal) -> None:
    p = platform
    object.__setattr__(p.settings, "inference_cold_start_wait_seconds", 0.3)  # this platform's own settings
    _acct, token = accounts.create_account(p, operator, "acme", Role.TENANT)
    who = accounts.authenticate(p, token)
    add_deployment(p, who.tenant_id, "cold", [])
    server, thread, url = _serve(p)
    try:
        r = httpx.post(f"{url}/v1/completions", json={"model": "cold", "prompt": "x"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "service_unavailable"
    finally:
        server.should_exit = True
        thread.join(10)


def test_cached_prompt_tokens_are_metered_at_the_cached_meter(live: Live) -> None:
    """The runtime reuses a prompt prefix of the same tenant (cache scope = the tenant); the cached part is
    its own usage event and the prompt event carries the rest."""
    c = live.client()
    prompt = "The quick brown fox jumps over the lazy dog. " * 3
    c.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
    r = c.completions.with_raw_response.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
    rid, out = r.headers["x-request-id"], r.parse()
    assert out.usage is not None and out.usage.prompt_tokens_details is not None
    cached = out.usage.prompt_tokens_details.cached_tokens or 0
    if cached == 0:  # the other replica served it (the cache is per replica): once more lands on the warm one
        r = c.completions.with_raw_response.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
        rid, out = r.headers["x-request-id"], r.parse()
        assert out.usage is not None and out.usage.prompt_tokens_details is not None
        cached = out.usage.prompt_tokens_details.cached_tokens or 0
    assert cached > 0
    row = wait_row(live.p, rid)
    assert (row.prompt_tokens, row.cached_tokens) == (out.usage.prompt_tokens, cached)
    ev = events(live.p, live.who)
    assert ev[f"{rid}:cached"] == Decimal(cached)
    assert ev.get(f"{rid}:prompt", Decimal(0)) == Decimal(out.usage.prompt_tokens - cached)


def test_the_edge_refusals_are_in_the_openai_format_too(tmp_path: Path, clock: Any) -> None:
    """The server's per-token rate limit (429) and body limit (413), answered by middleware, on a gateway path."""
    from fastapi.testclient import TestClient

    from suanli.settings import Settings

    p = Platform(Settings(data_dir=tmp_path / "d", rate_limit_per_token="1/minute", max_body_bytes=1000), clock=clock)
    try:
        with TestClient(create_app(p)) as c:
            h = {"Authorization": "Bearer whatever"}
            assert c.get("/v1/models", headers=h).status_code == 401
            r = c.get("/v1/models", headers=h)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
            assert r.json()["error"]["code"] == "rate_limit_exceeded" and r.json()["error"]["type"] == "requests"
            r = c.post("/v1/embeddings", content=b"x" * 2000, headers={"Authorization": "Bearer other"})
            assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
            assert r.json()["error"]["type"] == "invalid_request_error"
    finally:
        p.close()
