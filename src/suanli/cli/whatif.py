"""``suanli whatif run|show|list|cancel|bench``: what-if simulations of the live fleet (operator), through
:class:`suanli.client.whatif.WhatIfClient`. ``run`` shows a progress bar while the server simulates;
Ctrl-C cancels the run on the server. ``bench`` times the simulator here (no server) and prints the
seconds per event that the server's estimate uses (docs/whatif.md)."""

from __future__ import annotations

import re
import time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suanli.api.schemas.whatif import WhatIfAddNodes, WhatIfRequest, WhatIfRunResponse
from suanli.cli.context import api_errors, client, invalid
from suanli.cli.options import JsonOpt
from suanli.cli.render import err, fail, info, print_json, show, table, when
from suanli.client.whatif import WhatIfClient

app = typer.Typer(help="What-if on the live fleet (operator): replay recent orders with another policy, a price "
                       "change, nodes added or removed, demand growth; the result next to today.",
                  no_args_is_help=True)

_NODES = re.compile(r"^(?P<model>[A-Za-z0-9_.-]+):(?P<count>\d{1,4})@(?P<site>[A-Za-z0-9_.-]+)"
                    r"(?::(?P<devices>\d{1,2}))?$")
FIGURES = (("allocation_pct", "allocation %"), ("lease_rate_pct", "lease rate %"), ("device_hours", "device-hours"),
           ("revenue", "revenue"), ("supplier_share", "supplier share"), ("commission", "commission"),
           ("energy_cost", "energy cost"), ("margin", "margin"), ("orders", "orders"), ("rejected", "rejected"),
           ("payback_years", "payback (years)"))
ACTUAL = {"revenue": "revenue_at_list"}


def percent(value: str) -> Decimal:
    """``-10%``, ``-10`` or ``+5.5%`` -> Decimal percent (a usage error otherwise)."""
    try:
        return Decimal(value.strip().removesuffix("%"))
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a percentage; use e.g. -10% or 5", param_hint="--price-change") \
            from None


def added(value: str) -> WhatIfAddNodes:
    """``MODEL:COUNT@SITE[:DEVICES]`` (e.g. ``H800:2@sh-east-1``) -> nodes to add."""
    m = _NODES.match(value.strip())
    if not m:
        raise typer.BadParameter(f"{value!r}: use MODEL:COUNT@SITE or MODEL:COUNT@SITE:DEVICES, e.g. H800:2@sh-east-1",
                                 param_hint="--add-nodes")
    return WhatIfAddNodes(model=m["model"], count=int(m["count"]), site=m["site"],
                          devices=int(m["devices"]) if m["devices"] else 8)


def figures_table(run: WhatIfRunResponse) -> Any:
    res = run.result or {}
    base, changed, actual = res.get("baseline", {}), res.get("changed", {}), res.get("actual", {})
    rows = []
    for key, label in FIGURES:
        b, c = base.get(key), changed.get(key)
        delta = "-"
        if b is not None and c is not None:
            try:
                delta = f"{Decimal(str(c)) - Decimal(str(b)):+}"
            except InvalidOperation:
                delta = "-"
        rows.append([label, actual.get(ACTUAL.get(key, key), "-"), b if b is not None else "-",
                     c if c is not None else "-", delta])
    cur = res.get("currency", "")
    return table(f"what-if {run.id} · {res.get('horizon_days', '?')} days · {cur}",
                 ["figure", ("today (records)", "right"), ("baseline (sim)", "right"), ("changed (sim)", "right"),
                  ("change", "right")], rows,
                 caption=f"baseline policy {base.get('policy', '?')}, changed policy {changed.get('policy', '?')}; "
                         f"revenue rated through the ledger ({res.get('price_list', '')}); today's revenue at list "
                         "prices; payback needs the investment inputs (- when none)")


def render(run: WhatIfRunResponse, as_json: bool) -> None:
    if as_json:
        print_json(run)
        return
    if run.state != "done":
        show(f"what-if {run.id}: {run.state}, progress {Decimal(run.progress) * 100:.0f} %"
             + (f" — {run.error}" if run.error else ""))
        return
    show(figures_table(run))


@app.command("run")
def whatif_run(
    ctx: typer.Context,
    policy: Annotated[str | None, typer.Option(help="Placement policy of the changed run (default: today's).")] = None,
    price_change: Annotated[str | None, typer.Option("--price-change", help="List price change, e.g. -10% "
                                                     "(every model, or those of --price-model).")] = None,
    price_model: Annotated[list[str] | None, typer.Option("--price-model", help="A model whose price changes "
                                                          "(repeat; default: all).")] = None,
    elasticity: Annotated[str, typer.Option(help="Demand response: % change of arrivals per % change of price "
                                            "(0 = none).")] = "0",
    add_nodes: Annotated[list[str] | None, typer.Option("--add-nodes", help="MODEL:COUNT@SITE[:DEVICES], "
                                                        "e.g. H800:2@sh-east-1 (repeat).")] = None,
    remove_node: Annotated[list[str] | None, typer.Option("--remove-node", help="A node taken out (repeat).")] = None,
    growth: Annotated[str, typer.Option(help="Factor on the arrival rate (1 = today's demand).")] = "1",
    days: Annotated[int, typer.Option(help="History window replayed, and the horizon (1..90 days).")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of both runs.")] = 42,
    trace: Annotated[str | None, typer.Option(help="openb: replay the Alibaba openb trace's last DAYS days "
                                              "instead of the fleet's own orders (the server's SUANLI_TRACE_DIR).")]
    = None,
    poll: Annotated[float, typer.Option(help="Seconds between progress reads.")] = 0.5,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Start it and print its id; do not follow it.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Simulate the last DAYS days of orders on today's fleet and with the change; print both next to today's
    figures. Ctrl-C cancels the run on the server."""
    try:
        body = WhatIfRequest(days=days, seed=seed, policy=policy,
                             price_change_pct=percent(price_change) if price_change else Decimal(0),
                             price_models=price_model or [], elasticity=Decimal(elasticity), growth=Decimal(growth),
                             add_nodes=[added(x) for x in add_nodes or []], remove_nodes=remove_node or [],
                             trace=trace)
    except InvalidOperation:
        fail("--growth and --elasticity must be numbers, e.g. 1.2 or -0.5")
    except Exception as e:  # pydantic's ValidationError: the server's own rules, before sending
        from pydantic import ValidationError as PydanticValidationError

        if isinstance(e, PydanticValidationError):
            invalid(e)
        raise
    with client(ctx) as api:
        wi = WhatIfClient(api)
        run = wi.start(body)
        if no_wait:
            render(run, as_json) if as_json else show(f"started what-if {run.id}; follow it with "
                                                      f"`suanli whatif show {run.id}`")
            return
        try:
            run = follow(wi, run, poll, quiet=as_json)
        except KeyboardInterrupt:
            with api_errors(api.server):
                run = wi.cancel(run.id)
            info(f"cancelled what-if {run.id} on the server")
            raise typer.Exit(130) from None
    render(run, as_json)
    if run.state != "done":
        raise typer.Exit(1)


def follow(wi: WhatIfClient, run: WhatIfRunResponse, poll: float, *, quiet: bool) -> WhatIfRunResponse:
    """Read the run until it ends, with a progress bar on a terminal."""
    bar = Progress(TextColumn("what-if {task.fields[state]}"), BarColumn(), TextColumn("{task.percentage:>3.0f} %"),
                   TimeElapsedColumn(), console=err(), transient=True, disable=quiet)
    with bar:
        task = bar.add_task("whatif", total=100, state=run.state)
        while run.state in ("queued", "running"):
            time.sleep(poll)
            run = wi.get(run.id)
            bar.update(task, completed=float(Decimal(run.progress) * 100), state=run.state)
    return run


@app.command("show")
def whatif_show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="The run's id.")],
                as_json: JsonOpt = False) -> None:
    """A run: state, progress, and its figures next to today's when done."""
    with client(ctx) as api:
        render(WhatIfClient(api).get(run_id), as_json)


@app.command("cancel")
def whatif_cancel(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="The run's id.")],
                  as_json: JsonOpt = False) -> None:
    """Cancel a queued or running run."""
    with client(ctx) as api:
        render(WhatIfClient(api).cancel(run_id), as_json)


@app.command("list")
def whatif_list(ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
                as_json: JsonOpt = False) -> None:
    """What-if runs, newest first: state, progress, parameters."""
    with client(ctx) as api:
        rows = WhatIfClient(api).runs(limit)
    if as_json:
        print_json(rows)
        return
    show(table("what-if runs", ["id", "state", ("progress", "right"), "created", "parameters", "error"],
               [[r.id, r.state, f"{Decimal(r.progress) * 100:.0f} %", when(r.created_at),
                 ", ".join(f"{k}={v}" for k, v in r.params.items() if v not in (None, [], "0", 0) and k != "seed"),
                 r.error or "-"] for r in rows]))


@app.command("bench")
def whatif_bench(
    orders: Annotated[int, typer.Option(help="Past orders in the synthetic history.")] = 2000,
    days: Annotated[int, typer.Option(help="History window and horizon.")] = 7,
    growth: Annotated[str, typer.Option(help="Demand growth of the changed run.")] = "2",
    as_json: JsonOpt = False,
) -> None:
    """Time the simulator on the demo fleet with a synthetic history (here, no server): events, seconds,
    seconds per event (the figure behind the server's estimate, sim.whatif.SECONDS_PER_EVENT)."""
    from suanli.sim.whatif import SECONDS_PER_EVENT, Change, estimate_events, run
    from suanli.sim.whatif_bench import demo_snapshot

    snap = demo_snapshot(orders, days)
    change = Change(growth=Decimal(growth))
    events = estimate_events(snap, change)
    t0, c0 = time.perf_counter(), time.process_time()
    res = run(snap, change)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"orders": orders, "days": days, "growth": growth, "events": events, "seconds": round(took, 3),
           "cpu_seconds": round(cpu, 3), "seconds_per_event": round(took / events, 7) if events else None,
           "cpu_seconds_per_event": round(cpu / events, 7) if events else None,
           "estimate_constant": SECONDS_PER_EVENT, "baseline_lease_rate_pct": str(res.baseline.lease_rate_pct),
           "changed_lease_rate_pct": str(res.changed.lease_rate_pct)}
    if as_json:
        print_json(out)
        return
    show(table("what-if bench", ["figure", ("value", "right")], [[k, str(v)] for k, v in out.items()]))
