"""`suanli bench orders --replicas N`: N `suanli serve --reuse-port` processes on one port and one
PostgreSQL database, all of them serving the load (a tiny run: figures are not asserted, only that
every order was granted, the replicas are reported with a CPU figure each, and nothing was granted
beyond capacity); and the usage errors where replicas cannot be started (SQLite, --server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from suanli.cli.bench_orders import _replicas, profile_paths
from suanli.testing.serve import clean_env

pytestmark = pytest.mark.slow


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", "bench", "orders", *args], capture_output=True,
                          text=True, env=clean_env(COLUMNS="200"), timeout=300)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_bench_orders_with_two_replicas_grants_every_order_and_reports_them(db_url: str) -> None:
    r = bench("--database-url", db_url, "--replicas", "2", "--clients", "8", "--rounds", "2", "--rate", "8",
              "--duration", "1", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["database"] == "postgresql" and doc["replicas"] == 2 and doc["server"] == "started here"
    closed, opened = doc["closed"], doc["open"]
    assert closed["orders"] == 16 and opened["orders"] > 0
    for loop in (closed, opened):
        assert loop["outcomes"] == {"201 granted": loop["orders"]}, loop["outcomes"]
        assert loop["ends_failed"] == 0
        by_replica = loop["server_cpu_pct_by_replica"]
        assert len(by_replica) == 2 and all(v >= 0 for v in by_replica)
        assert loop["server_cpu_pct"] == pytest.approx(sum(by_replica), abs=0.2)
        assert loop["server_cpu_ms_per_grant"] > 0
    rec = doc["recorded"]
    assert rec["leases"] == closed["granted"] + opened["granted"]
    assert rec["max_overlap_milli"] <= 1000 and rec["devices_over_capacity"] == 0
    assert rec["starts_before_arrival"] == 0 and rec["granted_without_record"] == 0
    text = bench("--database-url", db_url, "--replicas", "2", "--clients", "2", "--rounds", "1", "--rate", "0")
    assert text.returncode == 0, text.stderr[-3000:]
    assert "replicas" in text.stdout and "server CPU % by replica" in text.stdout


def test_bench_orders_refuses_replicas_on_sqlite_and_against_a_given_server() -> None:
    r = bench("--sqlite", "--replicas", "2")
    assert r.returncode == 2
    assert "--replicas" in r.stderr and "one PostgreSQL database" in r.stderr and "SQLite" in r.stderr
    r = bench("--server", "http://127.0.0.1:9", "--token", "x", "--replicas", "3")
    assert r.returncode == 2 and "with --server" in r.stderr


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_replicas_all_listen_before_the_load_starts(db_url: str, tmp_path: Path) -> None:
    """The first version yielded as soon as /health answered on the shared port, which the first replica
    did for the second while the second was still starting: the closed loop's connections all went to
    the first. Now every replica is listening when the load starts: fresh connections reach each (a
    replica that listens misses 40 fresh connections with probability 2^-40)."""
    with _replicas(tmp_path, db_url, 2) as started:
        assert len({srv.url for srv in started}) == 1
        seen = {httpx.get(f"{started[0].url}/health", timeout=10).json()["background"]["replica"] for _ in range(40)}
        assert len(seen) == 2
        assert all(srv.proc.poll() is None for srv in started)
    assert all(srv.proc.poll() is not None for srv in started)  # stopped on the way out


def test_profile_paths_one_file_per_replica(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert profile_paths(None, 3) == []
    assert profile_paths(out, 1) == [out]
    assert profile_paths(out, 3) == [tmp_path / "out-r0.json", tmp_path / "out-r1.json", tmp_path / "out-r2.json"]
