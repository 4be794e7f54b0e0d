"""`scripts/order-batch-cost` (docs/orders.md "Measured") runs as documented: a tiny run on SQLite and on
PostgreSQL prints each round's orders/s and statements per order, and the statements by kind. It stopped
running once slices had to be enforced, unnoticed until it was used again: this test notices."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from suanli.testing.serve import clean_env

pytestmark = pytest.mark.slow
PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "order-batch-cost"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_loop_cost_script_prints_rounds_and_statements(database: str) -> None:
    if database == "postgres" and not PG_URL:
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    where = [] if database == "sqlite" else [str(PG_URL)]
    r = subprocess.run([sys.executable, str(SCRIPT), *where, "20", "2"], capture_output=True, text=True,
                       env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rounds = re.findall(r"round \d+: [\d.]+ orders/s, [\d.]+ ms/order, ([\d.]+) statements/order", r.stdout)
    assert len(rounds) == 2, r.stdout
    assert all(0 < float(x) < 5 for x in rounds), r.stdout  # the batch's writes are shared (BATCHWRITE; 11.4 before)
    assert "INSERT leases" in r.stdout, r.stdout
