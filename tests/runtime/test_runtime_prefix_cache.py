"""Prompt prefix reuse (cached_tokens): exact, per scope, and reported in usage."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from starlette.testclient import TestClient

from suanli.runtime.loading import load
from suanli.runtime.server import CACHE_SCOPE_HEADER, create_app
from suanli.runtime.tinygpt import PrefixCache, TinyGPT, generate
from suanli.runtime.tokenizer import shared_tokenizer


def test_reused_prefix_gives_the_same_logits_and_tokens() -> None:
    m = TinyGPT()
    tk = shared_tokenizer()
    first = tk.encode("A deployment names a model, a runtime and the shapes")
    pc = PrefixCache(m, 4)
    cache, n = pc.take("t1", first)
    assert n == 0
    out = list(generate(m, first, 10, cache=cache))
    pc.put("t1", first + out, cache)
    second = first + tk.encode(" its replicas may take.")
    reused, n = pc.take("t1", second)
    common = next((i for i, (a, b) in enumerate(zip(first + out, second, strict=False)) if a != b), len(second))
    assert n == min(common, len(first) + len(out) - 1, len(second) - 1) and n >= len(first) - 1
    full = m.logits_full(second)[-1]
    assert np.allclose(m.forward(second[n:], reused)[-1], full, atol=1e-4)
    again, n2 = pc.take("t1", second)
    assert list(generate(m, second, 20, cache=again)) == list(generate(m, second, 20))
    assert n2 == n


def test_scopes_do_not_share_and_empty_pc_reuses_nothing() -> None:
    m = TinyGPT()
    p = shared_tokenizer().encode("The gateway sends each request to the ready replica")
    pc = PrefixCache(m, 2)
    c, _ = pc.take("a", p)
    list(generate(m, p, 3, cache=c))
    pc.put("a", p, c)
    assert pc.take("b", p)[1] == 0
    assert pc.take("a", p)[1] == len(p) - 1  # the last prompt token is always forwarded
    off = PrefixCache(m, 0)
    off.put("a", p, c)
    assert off.take("a", p)[1] == 0


@pytest.fixture(scope="module")
def gen() -> Iterator[TestClient]:
    with TestClient(create_app(load("tiny-gpt", "tiny", 256, 64))) as c:
        yield c


def test_usage_reports_cached_tokens_only_within_a_scope(gen: TestClient) -> None:
    msgs = [{"role": "system", "content": "Be short."}, {"role": "user", "content": "Lease me a GPU near Shanghai."}]
    body = {"model": "tiny", "messages": msgs, "max_tokens": 8, "temperature": 0}
    first = gen.post("/v1/chat/completions", json=body, headers={CACHE_SCOPE_HEADER: "acct_1"}).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    follow = {**body, "messages": [*msgs, {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                                   {"role": "user", "content": "And a second one?"}]}
    same = gen.post("/v1/chat/completions", json=follow, headers={CACHE_SCOPE_HEADER: "acct_1"}).json()
    other = gen.post("/v1/chat/completions", json=follow, headers={CACHE_SCOPE_HEADER: "acct_2"}).json()
    none = gen.post("/v1/chat/completions", json=follow).json()
    assert same["usage"]["prompt_tokens_details"]["cached_tokens"] >= len(first["prompt_token_ids"])
    assert other["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert none["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert same["choices"][0]["token_ids"] == other["choices"][0]["token_ids"] == none["choices"][0]["token_ids"]
    with gen.stream("POST", "/v1/chat/completions", json={**follow, "stream": True,
                                                          "stream_options": {"include_usage": True}},
                    headers={CACHE_SCOPE_HEADER: "acct_1"}) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: {")]
    usage = json.loads(lines[-1][6:])["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == len(same["prompt_token_ids"]) - 1
