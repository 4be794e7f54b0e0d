"""`suanli bench inference` as a user runs it: a real server serving tiny-gpt, a small run (the figures
are not asserted against targets, only their presence and sense: a shared 2-core machine)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from suanli.testing.serve import clean_env

pytestmark = pytest.mark.slow


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", "bench", "inference", *args], capture_output=True,
                          text=True, env=clean_env(COLUMNS="200"), timeout=580)


def test_bench_inference_prints_overhead_ttft_tokens_per_s_cost_and_the_scaling_step() -> None:
    r = bench("--requests", "20", "--warmup", "2", "--streams", "3", "--max-tokens", "16", "--no-embeddings", "--json")
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    doc = json.loads(r.stdout)
    assert doc["database"] == "sqlite"
    gen = doc["models"]["tiny-gpt"]
    o = gen["overhead"]
    assert o["requests"] == 20 and o["direct_p50_ms"] > 0 and o["gateway_p50_ms"] > 0
    assert o["overhead_p50_ms"] == pytest.approx(o["gateway_p50_ms"] - o["direct_p50_ms"], abs=0.002)
    s = gen["streams"]
    assert s["streams"] == 3 and 0 < s["ttft_p50_ms"] <= s["ttft_p99_ms"] and s["tokens_per_s"] > 0
    assert gen["hardware"] and gen["cold_start_ms"] > 0
    costs = [c for c in doc["cost"] if c["model"] == "tiny-gpt"]
    assert costs and costs[0]["tokens"] > 0 and costs[0]["hardware"] == gen["hardware"]
    base = doc["baseline"]
    assert base["path"] == "GET /v1/me" and base["p50_ms"] > 0
    a = doc["autoscaling"]
    assert a["load_streams"] == 3
    assert a["up_desired_s"] is not None and a["up_ready_s"] is not None and a["up_desired_s"] <= a["up_ready_s"]
    assert a["down_desired_s"] is not None and a["down_stopped_s"] is not None
    assert a["down_desired_s"] >= a["scale_down_seconds_setting"] - 0.5
