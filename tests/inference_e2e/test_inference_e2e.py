"""The inference service end to end, as issue 16's "What I will check" says: the operator deploys an
embedding and a generation model on a real ``suanli serve`` (local engine, real sandbox); a tenant
calls them with the official ``openai`` client, streaming and not; the token counts in the responses
equal the invoice draft's token lines exactly; a replica's runtime SIGKILLed mid-stream gives the
client an error, bills what it received, and a replacement becomes ready; a load step up then down
moves the replicas; bad input is answered in the OpenAI error format with a 4xx saying what is allowed.

Waits are bounded polls of the real server (suanli.testing.inference.wait_until); no wall sleeps.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from suanli.testing.inference import InferenceLab, runtime_pids, wait_until

MILLION = Decimal(1_000_000)
TOKEN_METERS = ("inference_input_tokens", "inference_output_tokens", "inference_cached_input_tokens")


def period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def client(lab: InferenceLab, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=lab.base_url, api_key=key, max_retries=0, timeout=120)


def token_lines(lab: InferenceLab, model: str | None = None) -> dict[str, Decimal]:
    """Tokens per meter on the demo tenant's invoice draft of this month (quantities are in millions)."""
    doc = lab.ok("tenant", "GET", f"/v1/billing/preview/{period()}")
    out = dict.fromkeys(TOKEN_METERS, Decimal(0))
    for line in doc["lines"]:
        if line["meter"] in TOKEN_METERS and (model is None or line["model"] == model):
            out[line["meter"]] += Decimal(str(line["quantity"])) * MILLION
    return out


def key_usage(lab: InferenceLab, key_prefix: str) -> dict[str, int]:
    """The usage rows of one key (``GET /v1/inference/usage``), summed over models."""
    rows = lab.ok("tenant", "GET", "/v1/inference/usage", params={"period": period()})["rows"]
    mine = [r for r in rows if r["token_id"] is not None and r["prefix"] and key_prefix.startswith(r["prefix"])]
    return {k: sum(int(r[k]) for r in mine) for k in ("requests", "prompt_tokens", "cached_tokens", "completion_tokens")}


def cached_of(usage: Any) -> int:
    """Prompt tokens the runtime served from its prefix cache (``usage.prompt_tokens_details``)."""
    details = getattr(usage, "prompt_tokens_details", None)
    return int(details.cached_tokens or 0) if details is not None else 0


def chunk_token_ids(chunk: Any) -> int:
    """Completion token ids a stream chunk carries (the runtime's ``token_ids`` extension, per choice)."""
    n = 0
    for choice in chunk.choices:
        ids = (choice.model_extra or {}).get("token_ids") or []
        n += len(ids)
    return n


def test_openai_client_calls_and_the_invoice_bills_exactly_the_tokens_of_the_responses(
        lab: InferenceLab, deployments: dict[str, Any]) -> None:
    before = token_lines(lab)
    key = lab.key(label="e2e-exact")
    c = client(lab, key)
    ids = {m.id for m in c.models.list().data}
    assert {"tiny-gpt", "all-minilm-l6-v2"} <= ids, ids

    prompt = cached = completion = 0
    emb = c.embeddings.create(model="all-minilm-l6-v2", input=["the cat sat on the mat", "a dog ran in the park"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 384
    norm = sum(x * x for x in emb.data[0].embedding) ** 0.5
    assert abs(norm - 1) < 1e-4  # mean pooled and L2-normalised
    prompt += emb.usage.prompt_tokens

    chat = c.chat.completions.create(model="tiny-gpt", messages=[{"role": "user", "content": "Tell me about leases."}],
                                     max_tokens=16, temperature=0)
    assert chat.usage is not None and chat.usage.completion_tokens == len(chat.choices[0].model_extra["token_ids"])
    assert 0 < chat.usage.completion_tokens <= 16
    prompt += chat.usage.prompt_tokens
    completion += chat.usage.completion_tokens
    cached += cached_of(chat.usage)

    comp = c.completions.create(model="tiny-gpt", prompt="Compute is leased by the hour", max_tokens=12, temperature=0)
    assert comp.usage is not None and 0 < comp.usage.completion_tokens <= 12
    prompt += comp.usage.prompt_tokens
    completion += comp.usage.completion_tokens
    cached += cached_of(comp.usage)

    streamed = 0
    usage = None
    for chunk in c.chat.completions.create(model="tiny-gpt", messages=[{"role": "user", "content": "Once upon a time"}],
                                           max_tokens=24, stream=True, stream_options={"include_usage": True}):
        streamed += chunk_token_ids(chunk)
        if chunk.usage is not None:
            usage = chunk.usage
    assert usage is not None, "the last chunk carries the usage (stream_options.include_usage)"
    assert usage.completion_tokens == streamed > 0
    prompt += usage.prompt_tokens
    completion += usage.completion_tokens
    cached += cached_of(usage)

    # metering runs after the response is sent: wait (bounded) until the key's usage shows all 4 calls
    wait_until(lambda: key_usage(lab, key)["requests"] == 4 or None, 60, "the 4 calls metered")
    assert key_usage(lab, key) == {"requests": 4, "prompt_tokens": prompt, "cached_tokens": cached,
                                   "completion_tokens": completion}
    # money too: the usage API's cost total equals the draft's token lines (their amounts, as billed)
    usage = lab.ok("tenant", "GET", "/v1/inference/usage", params={"period": period()})
    draft = lab.ok("tenant", "GET", f"/v1/billing/preview/{period()}")
    billed = sum((Decimal(str(x["amount"])) for x in draft["lines"] if x["meter"] in TOKEN_METERS), Decimal(0))
    assert Decimal(str(usage["totals"]["cost"])) == billed > 0, (usage["totals"], billed)
    after = token_lines(lab)
    delta = {m: after[m] - before[m] for m in TOKEN_METERS}
    assert delta == {"inference_input_tokens": Decimal(prompt - cached), "inference_output_tokens": Decimal(completion),
                     "inference_cached_input_tokens": Decimal(cached)}, (delta, prompt, cached, completion)


def kill_mid_stream(c: openai.OpenAI, model: str) -> tuple[int, bool]:
    """Stream from tiny-gpt and SIGKILL its runtime as soon as the first tokens arrive: (tokens received,
    whether the client saw an error). 128 tokens take ~100 ms to generate, the kill lands within a few
    ms of the first chunk; a generation that outran it anyway completes normally (then: False)."""
    pids = runtime_pids(model)  # the deployment's name is unique on this machine: its one runtime
    assert len(pids) == 1, pids
    received = 0
    killed = False
    try:
        for chunk in c.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Write a long story about a data centre."}],
                max_tokens=128, stream=True, stream_options={"include_usage": True}, temperature=0):
            received += chunk_token_ids(chunk)
            if received and not killed:
                os.kill(pids[0], signal.SIGKILL)  # the runtime dies with the first tokens delivered
                killed = True
    except (openai.APIError, httpx.HTTPError):
        return received, True
    return received, False


def test_a_replica_killed_mid_stream_errors_bills_what_was_received_and_is_replaced(
        lab: InferenceLab, deployments: dict[str, Any]) -> None:
    name = f"tiny-gpt-kill-{uuid.uuid4().hex[:8]}"
    gen = lab.deploy(name=name, kind="generate", model="tiny-gpt", min_replicas=1, max_replicas=1)
    for _attempt in range(3):
        old = lab.wait_ready(gen["id"], deadline_s=240)
        key = lab.key(label="e2e-kill")
        c = client(lab, key)
        received, errored = kill_mid_stream(c, name)
        assert received > 0
        # a replacement becomes ready (and the killed one is failed)
        gone = {r["id"] for r in old}
        wait_until(lambda gone=gone: [r for r in lab.ready(gen["id"]) if r["id"] not in gone] or None, 240,
                   "a replacement replica ready")
        states = {r["id"]: r["state"] for r in lab.replicas(gen["id"])}
        assert states[old[0]["id"]] in ("failed", "stopped"), states
        if errored:
            break
    assert errored, "three streams of 128 tokens outran a SIGKILL sent at their first token"
    assert received < 128
    wait_until(lambda: key_usage(lab, key)["requests"] == 1 or None, 60, "the failed stream metered")
    assert key_usage(lab, key)["completion_tokens"] == received  # billed exactly what the client received
    # and the replacement serves
    after = c.completions.create(model=name, prompt="Hello", max_tokens=4, temperature=0)
    assert after.usage is not None and after.usage.completion_tokens > 0


def test_a_load_step_up_then_down_moves_the_replicas(lab: InferenceLab) -> None:
    name = f"tiny-gpt-step-{uuid.uuid4().hex[:8]}"
    dep = lab.deploy(name=name, kind="generate", model="tiny-gpt", min_replicas=1, max_replicas=2,
                     target_inflight=1)
    lab.wait_ready(dep["id"])
    key = lab.key(label="e2e-step")
    stop = threading.Event()
    errors: list[BaseException] = []

    def load() -> None:
        c = client(lab, key)
        while not stop.is_set():
            try:
                for _ in c.chat.completions.create(model=name, messages=[{"role": "user", "content": "Go on"}],
                                                   max_tokens=128, stream=True, temperature=1.0):
                    if stop.is_set():
                        break
            except openai.APIError as e:  # a 503 while a replica starts is allowed; anything else is not
                if getattr(e, "status_code", None) != 503:
                    errors.append(e)

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: lab.deployment(dep["id"])["desired_replicas"] >= 2 or None, 60, "desired rises under load")
        lab.wait_ready(dep["id"], 2, deadline_s=240)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=150)
    assert not errors, errors
    wait_until(lambda: lab.deployment(dep["id"])["desired_replicas"] == 1 or None, 60, "desired falls without load")
    wait_until(lambda: len([r for r in lab.replicas(dep["id"]) if r["state"] in ("ready", "draining", "starting",
                                                                                  "pending")]) == 1 or None,
               90, "one replica left after the scale-down")
    r = lab.api("operator", "DELETE", f"/v1/deployments/{dep['id']}")
    assert r.status_code in (200, 204), r.text
    wait_until(lambda: all(x["state"] in ("stopped", "failed") for x in lab.replicas(dep["id"])) or None, 90,
               "every replica stopped after the delete")


def error_of(e: openai.APIStatusError) -> dict[str, Any]:
    body = e.body if isinstance(e.body, dict) else {}
    err: dict[str, Any] = body.get("error", body) if isinstance(body, dict) else {}
    return err


def test_bad_input_is_answered_in_the_openai_format_with_what_is_allowed(
        lab: InferenceLab, deployments: dict[str, Any]) -> None:
    c = client(lab, lab.key(label="e2e-bad"))
    with pytest.raises(openai.BadRequestError) as too_long:
        c.completions.create(model="tiny-gpt", prompt="lease " * 2000, max_tokens=8)
    err = error_of(too_long.value)
    assert err["code"] == "context_length_exceeded" and err["type"] == "invalid_request_error", err
    assert "256" in err["message"], err  # says the model's context

    with pytest.raises(openai.BadRequestError) as absurd:
        c.completions.create(model="tiny-gpt", prompt="hi", max_tokens=10**9)
    err = error_of(absurd.value)
    assert err["param"] == "max_tokens" and "128" in err["message"], err  # says the allowed maximum

    with pytest.raises(openai.NotFoundError) as unknown:
        c.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])
    err = error_of(unknown.value)
    assert err["code"] == "model_not_found" and "tiny-gpt" in err["message"], err  # lists what the key may call

    poor = client(lab, lab.key(label="e2e-quota", token_quota=20))
    with pytest.raises(openai.RateLimitError) as quota:
        poor.completions.create(model="tiny-gpt", prompt="hello there", max_tokens=64)
    err = error_of(quota.value)
    assert err["code"] == "insufficient_quota", err

    slow = client(lab, lab.key(label="e2e-rate", rate_limit_per_minute=2))
    for _ in range(2):
        slow.embeddings.create(model="all-minilm-l6-v2", input="one")
    with pytest.raises(openai.RateLimitError) as rate:
        slow.embeddings.create(model="all-minilm-l6-v2", input="one")
    err = error_of(rate.value)
    assert err["code"] == "rate_limit_exceeded", err
    assert rate.value.response.headers.get("retry-after"), rate.value.response.headers

    with pytest.raises(openai.AuthenticationError):
        client(lab, "sla_not-a-key").models.list()
