"""`suanli bench reads` as a user runs it: a real server, a tenant's leases, the list timed as the
tenant and the operator (a tiny run: the figures are not asserted, only their presence and sense)."""

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
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", "bench", "reads", *args], capture_output=True,
                          text=True, env=clean_env(COLUMNS="200", **env), timeout=300)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_bench_reads_prints_percentiles_cpu_and_memory(database: str) -> None:
    if database == "postgres" and not PG_URL:
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    where = [] if database == "sqlite" else ["--database-url", str(PG_URL)]
    r = bench(*where, "--leases", "12", "--limit", "10", "--requests", "20", "--warmup", "2", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["database"] == ("sqlite" if database == "sqlite" else "postgresql")
    assert (doc["leases"], doc["page"]) == (12, 10)
    for who in ("tenant", "operator"):
        got = doc[who]
        assert got["items"] == 10 and got["requests"] == 20
        assert 0 < got["p50"] <= got["p90"] <= got["p99"] <= got["max"]
        assert got["per_s"] > 0 and got["server_cpu_ms"] is not None
    assert doc["rss_mib"]["idle"] > 0 and doc["rss_mib"]["after"] > 0


def test_bench_reads_shows_a_table(tmp_path: Path) -> None:
    r = bench("--leases", "3", "--requests", "10", "--warmup", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "GET /v1/leases (ms)" in r.stdout and "p50" in r.stdout and "RSS idle" in r.stdout


def test_bench_reads_against_a_server_needs_its_operator_token(tmp_path: Path) -> None:
    r = bench("--server", "http://127.0.0.1:9", "--json", SUANLI_CONFIG=str(tmp_path / "none.json"))
    assert r.returncode != 0
    assert "--server needs --token" in r.stderr + r.stdout
