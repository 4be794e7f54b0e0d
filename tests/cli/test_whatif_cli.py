"""``suanli whatif`` as the operator types it: a run on the live fleet followed to the end (figures next
to today's), show, list; bad parameters are refused with the field named; a tenant is refused."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_whatif_through_the_cli(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    for _ in range(4):
        r = cli("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", "--hours", "3", token=acme)
        assert r.exit_code == 0, r.output
        clock.advance(hours=2)
    run = cli.json("whatif", "run", "--days", "1", "--price-change", "10%", "--add-nodes", "H800:1@sh-east-1",
                   "--growth", "1.5", "--poll", "0.01", token=op)
    assert run["state"] == "done", run
    res = run["result"]
    assert Decimal(res["changed"]["revenue"]) > Decimal(res["baseline"]["revenue"]) > 0
    assert res["changed"]["available_devices"] == res["baseline"]["available_devices"] + 8
    assert run["params"]["price_change_pct"] == "10" and run["params"]["growth"] == "1.5"

    shown = cli("whatif", "show", run["id"], token=op)
    assert shown.exit_code == 0, shown.output
    assert "lease rate %" in shown.stdout and res["baseline"]["revenue"] in shown.stdout
    assert res["changed"]["revenue"] in shown.stdout and res["actual"]["revenue_at_list"] in shown.stdout
    assert [x["id"] for x in cli.json("whatif", "list", token=op)] == [run["id"]]
    assert run["id"] in cli("whatif", "list", token=op).stdout

    r = cli("whatif", "run", "--add-nodes", "H800:1@mars-1", token=op)
    assert r.exit_code == 1 and "add_nodes[0].site" in r.output and "sh-east-1" in r.output
    r = cli("whatif", "run", "--policy", "magic", token=op)
    assert r.exit_code == 1 and "allowed" in r.output
    r = cli("whatif", "run", "--add-nodes", "lots", token=op)
    assert r.exit_code == 2 and "MODEL:COUNT@SITE" in r.output
    r = cli("whatif", "run", "--growth", "0", token=op)
    assert r.exit_code == 1 and "growth" in r.output
    r = cli("whatif", "list", token=acme)
    assert r.exit_code == 1 and "operator" in r.output
    assert len(cli.json("whatif", "list", token=op)) == 1  # nothing written by the refused runs


def test_ctrl_c_cancels_the_run_on_the_server(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                              platform: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from dataclasses import replace

    import httpx

    from suanli.service import whatif
    from suanli.sim import whatif as sim_whatif

    op, acme = tokens["operator"], tokens["acme"]
    for _ in range(12):
        r = cli("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", "--hours", "3", token=acme)
        assert r.exit_code == 0, r.output
        clock.advance(hours=2)
    platform.settings = replace(platform.settings, whatif_max_seconds=3600.0)
    # the real simulator, held at its first step until the CLI's cancel has been answered: however
    # fast the machine, the run is still running when the user presses Ctrl-C
    release = threading.Event()
    simulate = sim_whatif.run

    def held(snap: Any, change: Any, seed: int, progress: Callable[[float], None], cancelled: Callable[[], bool]) -> Any:
        def step(x: float) -> None:
            progress(x)
            release.wait(120)
        return simulate(snap, change, seed, step, cancelled)

    monkeypatch.setattr(whatif, "run", held)
    seen: list[str] = []

    def ctrl_c(request: httpx.Request) -> None:
        """The user presses Ctrl-C while the CLI follows the run (its first progress read)."""
        if request.method == "GET" and request.url.path.startswith("/v1/whatif/") and not seen:
            seen.append(request.url.path.rsplit("/", 1)[-1])
            raise KeyboardInterrupt

    def answered(response: httpx.Response) -> None:
        if response.request.method == "POST" and response.request.url.path.endswith("/cancel"):
            release.set()

    cli.http.event_hooks["request"].append(ctrl_c)
    cli.http.event_hooks["response"].append(answered)
    try:
        r = cli("whatif", "run", "--days", "1", "--growth", "100", "--poll", "0.01", token=op)
    finally:
        cli.http.event_hooks["request"].remove(ctrl_c)
        cli.http.event_hooks["response"].remove(answered)
        release.set()
    assert r.exit_code == 130, r.output
    assert f"cancelled what-if {seen[0]}" in r.output
    whatif.runner(platform).join(seen[0], 120)
    run = cli.json("whatif", "show", seen[0], token=op)
    assert run["state"] == "cancelled" and run["result"] is None, run
