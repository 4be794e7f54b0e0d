"""`suanli bench orders` as a user runs it: a real server, a closed loop and a Poisson open loop, then
the recorded allocations read back (a tiny run: the figures are not asserted, only their presence and
the recorded-overlap check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suanli.testing.serve import clean_env

pytestmark = pytest.mark.slow
PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")


def bench(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", "bench", "orders", *args], capture_output=True,
                          text=True, env=clean_env(COLUMNS="200", **env), timeout=300)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_bench_orders_prints_both_loops_and_nothing_over_capacity(database: str) -> None:
    if database == "postgres" and not PG_URL:
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    where = ["--sqlite"] if database == "sqlite" else ["--database-url", str(PG_URL)]
    r = bench(*where, "--clients", "3", "--rounds", "2", "--rate", "8", "--duration", "1", "--seed", "7", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["database"] == ("sqlite" if database == "sqlite" else "postgresql")
    assert doc["tenants"] == 3 and doc["fleet"]["nodes"] > 0
    assert doc["fleet"]["devices"] == sum(doc["fleet"]["by_model"].values())
    assert doc["mix"] == {"slice 10 % 1024 MiB": 1.0}
    closed, opened = doc["closed"], doc["open"]
    assert (closed["clients"], closed["rounds"], closed["orders"]) == (3, 2, 6)
    assert opened["rate_per_s"] == 8 and opened["seed"] == 7 and opened["orders"] > 0
    for loop in (closed, opened):
        assert sum(loop["outcomes"].values()) == loop["orders"]
        assert loop["granted"] == loop["outcomes"].get("201 granted", 0)
        assert set(loop["latency_ms"]) == {"p50", "p90", "p99", "max"}
        assert loop["generator_cpu_pct"] >= 0 and loop["server_cpu_pct"] is not None
        if loop["granted"]:
            assert loop["latency_ms"]["p50"] <= loop["latency_ms"]["max"]
        assert loop["ends_failed"] == 0 and loop["end_failures"] == {}
    assert {"late_sends", "max_send_lag_ms", "connections_opened"} <= set(opened)
    rec = doc["recorded"]
    assert rec["leases"] == closed["granted"] + opened["granted"]
    assert rec["max_overlap_milli"] <= 1000 and rec["devices_over_capacity"] == 0
    assert rec["starts_before_arrival"] == 0 and rec["granted_without_record"] == 0


def test_bench_orders_against_a_server_needs_its_operator_token(tmp_path: Path) -> None:
    r = bench("--server", "http://127.0.0.1:9", "--json", SUANLI_CONFIG=str(tmp_path / "none.json"))
    assert r.returncode != 0
    assert "--server needs --token" in r.stderr + r.stdout


def test_the_summary_names_why_ends_failed() -> None:
    from suanli.cli.bench_orders import _summary

    out = _summary([(201, "granted", 0.01)], [(200, "ended", 0.02), (503, "busy", 0.5), (0, "timeout", 120.0)], 1.0)
    assert out["ends_failed"] == 2
    assert out["end_failures"] == {"503 busy": 1, "0 timeout": 1}
    assert out["end_latency_ms"]["max"] == 20.0
