"""End to end, as a new user: `suanli serve --demo` as a real process on a free port, then the
printed tenant token used by `suanli offers` and `suanli order create`, each a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from suanli.testing.serve import clean_env, free_port, serving

pytestmark = pytest.mark.slow
STARTUP_DEADLINE_S = 60.0


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    return clean_env(SUANLI_CONFIG=str(tmp / "config.json"), COLUMNS="200", **extra)


@contextmanager
def server(data_dir: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    """Start `suanli serve --demo` (bounded wait for /health), stop it by its PID afterwards."""
    with serving(data_dir, env=env_for(tmp), deadline_s=STARTUP_DEADLINE_S) as srv:
        yield srv.url, srv.log


def suanli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", *args], capture_output=True, text=True,
                          env=env_for(tmp, **env), timeout=60)


def as_json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_serve_demo_then_offers_and_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server(data, tmp_path) as (url, log):
        tokens = json.loads((data / "demo-tokens.json").read_text())
        assert tokens["server"] == url and {"operator", "tenant", "supplier"} <= set(tokens)
        printed = log.read_text()
        assert "first start: operator token" in printed
        assert f"export SUANLI_SERVER={url} SUANLI_TOKEN={tokens['tenant']}" in printed

        offers = as_json(suanli(tmp_path, "--server", url, "--token", tokens["tenant"], "offers", "--json"))
        assert len({o["site"] for o in offers}) >= 3 and len({o["model"] for o in offers}) >= 5
        assert all(o["price_p_year"] for o in offers if o["price_device_hour"])
        assert "demo package products: L20 100 h, H800 100 h sh-east-1" in printed
        assert "demo token prices (default plan): tiny-gpt, all-minilm-l6-v2" in printed
        assert "demo legal profiles (seller, demo tenant) and tax rates" in printed
        seller = as_json(suanli(tmp_path, "--server", url, "--token", tokens["tenant"], "legal", "seller", "show",
                                "--json"))
        assert seller["tax_id"] == "91350100M000100Y43"
        bought = as_json(suanli(tmp_path, "--server", url, "--token", tokens["tenant"], "package", "buy", "L20 100 h",
                                "--count", "10", "--json"))
        assert bought["price"] == "2250" and bought["quantity"] == "1000"  # the >= 10 tier: 225 each

        env = {"SUANLI_SERVER": url, "SUANLI_TOKEN": tokens["tenant"]}  # the pasted export line
        out = as_json(suanli(tmp_path, "order", "create", "--form", "gpu", "--quantity", "2", "--model", "H800",
                             "--json", **env))
        lease = out["lease"]
        assert lease["state"] == "active" and len(lease["allocations"]) == 2
        table = suanli(tmp_path, "lease", "show", lease["id"], **env)
        assert table.returncode == 0 and lease["allocations"][0]["node"] in table.stdout

        other = suanli(tmp_path, "lease", "show", lease["id"], "--token", tokens["supplier"], **env)
        assert other.returncode == 0, other.stderr  # the supplier owning the node sees the lease (--token after)
        bad = suanli(tmp_path, "order", "create", "--form", "gpu", "--quantity", "9", "--model", "H800", **env)
        assert bad.returncode == 1 and "no node can hold 9 devices" in bad.stderr

    def live_tokens(url: str, token: str) -> int:
        listed = as_json(suanli(tmp_path, "--server", url, "--token", token, "token", "list", "--all", "--json"))
        return sum(1 for t in listed if t["state"] == "active")

    # a second start on the same data: no new fleet, no first-start token, the same demo tokens (no new ones)
    with server(data, tmp_path) as (url2, log2):
        printed = log2.read_text()
        assert "first start" not in printed and "demo fleet loaded" not in printed
        assert "demo package products" not in printed and "demo legal profiles" not in printed
        assert "demo token prices" not in printed
        tokens2 = json.loads((data / "demo-tokens.json").read_text())
        assert {k: tokens2[k] for k in ("operator", "tenant", "supplier")} == {
            k: tokens[k] for k in ("operator", "tenant", "supplier")}
        assert (data / "demo-tokens.json").stat().st_mode & 0o777 == 0o600
        leases = as_json(suanli(tmp_path, "--server", url2, "--token", tokens2["tenant"], "lease", "list", "--json"))
        assert [x["id"] for x in leases] == [lease["id"]]
        live = live_tokens(url2, tokens2["operator"])
        assert live == 3  # operator, tenant, supplier
        # the tenant's token revoked: the next start makes it a new one, and only that one
        (mine,) = as_json(suanli(tmp_path, "--server", url2, "--token", tokens2["tenant"], "token", "list", "--json"))
        assert suanli(tmp_path, "--server", url2, "--token", tokens2["operator"], "token", "revoke",
                      str(mine["id"])).returncode == 0

    with server(data, tmp_path) as (url3, _):
        tokens3 = json.loads((data / "demo-tokens.json").read_text())
        assert tokens3["operator"] == tokens["operator"] and tokens3["tenant"] != tokens["tenant"]
        assert live_tokens(url3, tokens3["operator"]) == live


def test_unreachable_server_from_a_real_process(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = suanli(tmp_path, "--server", url, "--token", "t", "offers")
    assert r.returncode == 1 and f"cannot reach suanli server at {url}" in r.stderr
