"""``suanli report capacity|energy``: capacity (allocation, lease rate, utilisation, idle split, down) and
energy (IT, facility, power cost) per group over a period, as a table or --json (the API's exact strings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, instant
from suanli.cli.render import print_json, show, table, when
from suanli.client.capacity import CapacityClient

ByOpt = Annotated[str, typer.Option("--by", help="none, site, model, supplier or node.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="From this instant, ISO-8601 (a date is midnight UTC; "
                                              "naive means UTC). Default: --period before --end.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Up to this instant (exclusive), ISO-8601. Default: now.")]
PeriodOpt = Annotated[str | None, typer.Option("--period", help="The period before --end when --start is not given: "
                                               "a number of hours or days such as 24h, 7d, 90d (default 24h).")]
StepOpt = Annotated[str | None, typer.Option("--step", help="Series points: raw (each sample; periods up to 12 h), hour "
                                             "or day. Default: raw up to 3 h, hour within 90 days, else day.")]


def _period(start: str | None, end: str | None, period: str | None) -> tuple[str | None, str | None]:
    """The (start, end) to send: --start/--end as given (checked here for a clear usage error), or
    --period before --end (or now)."""
    s, e = instant(start, "--start"), instant(end, "--end")
    if start is not None and period is not None:
        raise typer.BadParameter("give --start or --period, not both", param_hint="--period")
    if period is not None:
        m = re.fullmatch(r"\s*(\d{1,5})\s*([hd])\s*", period)
        if not m:
            raise typer.BadParameter(f"{period!r} is not a period; allowed: a number of hours or days such as "
                                     "24h, 7d, 90d", param_hint="--period")
        length = timedelta(hours=int(m[1])) if m[2] == "h" else timedelta(days=int(m[1]))
        e = e or datetime.now(UTC)
        s = e - length
    return (None if s is None else s.isoformat(), None if e is None else e.isoformat())


def _pct(x: Decimal | None) -> str:
    return "-" if x is None else f"{x * 100:.2f} %"


def _d(x: Decimal) -> str:
    return f"{x:f}"


def capacity(ctx: typer.Context, by: ByOpt = "none", start: StartOpt = None, end: EndOpt = None,
             period: PeriodOpt = None, step: StepOpt = None,
             series: Annotated[bool, typer.Option("--series", help="Also print the series, one row per point.")] = False,
             as_json: JsonOpt = False) -> None:
    """Per group over the period: allocation rate (分配率), lease rate (出租率: rented ÷ available
    device-hours), measured utilisation (- without telemetry), idle capacity split into fragmented
    and unrented whole, devices down or in maintenance (mean device-equivalents), IT and facility
    energy and the power cost. Operator: every node; a supplier: its own nodes. docs/capacity.md."""
    s, e = _period(start, end, period)
    with client(ctx) as api:
        r = CapacityClient(api).report(by=by, start=s, end=e, step=step)
    if as_json:
        print_json(r)
        return
    rows = [[g.group, _pct(g.figures.allocation_rate), _pct(g.figures.lease_rate), _pct(g.figures.utilisation),
             _d(g.figures.available), _d(g.figures.fragmented), _d(g.figures.unrented), _d(g.figures.down),
             _d(g.figures.it_kwh), _d(g.figures.facility_kwh), _d(g.figures.power_cost)]
            for g in r.groups]
    t = r.total
    if r.by != "none":
        rows.append(["total", _pct(t.allocation_rate), _pct(t.lease_rate), _pct(t.utilisation), _d(t.available),
                     _d(t.fragmented), _d(t.unrented), _d(t.down), _d(t.it_kwh), _d(t.facility_kwh), _d(t.power_cost)])
    cols: list[str | tuple[str, str]] = [r.by if r.by != "none" else "fleet", ("allocation", "right"), ("lease rate", "right"),
            ("utilisation", "right"), ("available", "right"), ("fragmented", "right"), ("unrented", "right"),
            ("down", "right"), ("IT kWh", "right"), ("facility kWh", "right"), (f"power {r.currency}", "right")]
    parts = [table(f"capacity {when(r.start)} – {when(r.end)} UTC (devices: mean device-equivalents; "
                   f"observed {t.observed_seconds:f} s)", cols, rows)]
    if series:
        parts.append(table(f"series (step {r.step})", ["at", r.by if r.by != "none" else "group",
                                                      ("allocation", "right"), ("lease rate", "right"),
                                                      ("fragmented", "right"), ("down", "right"),
                                                      ("IT kWh", "right")],
                           [[when(x.at), x.group, _pct(x.figures.allocation_rate), _pct(x.figures.lease_rate),
                             _d(x.figures.fragmented), _d(x.figures.down), _d(x.figures.it_kwh)] for x in r.points]))
    show(*parts)


def energy(ctx: typer.Context, by: ByOpt = "site", start: StartOpt = None, end: EndOpt = None,
           period: PeriodOpt = None, as_json: JsonOpt = False) -> None:
    """IT energy (measured where telemetry reports it, else modelled from TDP and utilisation), facility
    energy (× the site's PUE) and power cost (× the site's price per kWh) per group over the period."""
    s, e = _period(start, end, period)
    with client(ctx) as api:
        r = CapacityClient(api).energy(by=by, start=s, end=e)
    if as_json:
        print_json(r)
        return
    rows = [[g.group, _d(g.it_kwh), _d(g.measured_kwh), _d(g.facility_kwh), _d(g.power_cost)]
            for g in [*r.groups, r.total]]
    show(table(f"energy {when(r.start)} – {when(r.end)} UTC", [r.by, ("IT kWh", "right"), ("measured kWh", "right"),
                                                                ("facility kWh", "right"),
                                                                (f"power cost {r.currency}", "right")], rows))
