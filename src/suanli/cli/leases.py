"""``suanli lease list|show|end|extend|cost``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from suanli.api.schemas.orders import LeaseResponse, QuoteResponse
from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import dec, num, print_json, show, table, when
from suanli.client.money import MoneyClient

lease_app = typer.Typer(help="Your leases: the devices you hold and for how long.", no_args_is_help=True)


def share(milli: int) -> str:
    return "1" if milli == 1000 else num(Decimal(milli) / 1000)


def lease_renderables(lease: LeaseResponse) -> list[Any]:
    """Summary, devices table and (when present) the events table of one lease."""
    head = table(f"lease {lease.id}", ["state", "form", ("devices", "right"), "start", "end", "order"],
                 [[lease.state, lease.form, num(lease.devices), when(lease.activated_at or lease.start),
                   when(lease.ended_at or lease.end) if (lease.ended_at or lease.end) else "open-ended",
                   lease.order_id]],
                 caption=(lease.reason or lease.placement) or None)
    devices = table("devices", ["node", ("device", "right"), "model", "site", "fabric", ("share", "right"),
                                ("memory MiB", "right"), "held from", "held until"],
                    [[a.node, a.device, a.model, a.site, a.fabric,
                      share(a.milli) if a.sold_milli is None else f"{share(a.sold_milli)} burstable",  # OVERSUB
                      a.memory_mib or "-",
                      when(a.start), when(a.end) if a.end else "open"]
                     for a in lease.allocations if a.held])
    out: list[Any] = [head, devices]
    history = [a for a in lease.allocations if not a.held]
    if history:
        out.append(table("history: devices given up before a re-placement or a resume",
                         ["node", ("device", "right"), "model", ("share", "right"), "held from", "given up"],
                         [[a.node, a.device, a.model, share(a.milli), when(a.start), when(a.end)] for a in history]))
    if lease.quote is not None:
        out.append(quote_table(lease.quote))
    if lease.events:
        out.append(table("events", ["at", "from", "to", "by", "reason"],
                         [[when(e.at), e.from_state, e.to_state, e.actor, e.reason] for e in lease.events]))
    return out


def quote_table(q: QuoteResponse) -> Any:
    """A price quote: the rate per device-hour and per P-year of each (model, site), the hourly cost
    and, for a fixed term, its total; the caption says whether the lease is billed at it."""
    why = {"quoted": "pricing: quoted (billed at this quote whatever prices do later)",
           "list": "pricing: list (follows the list price and plan in force at each second)"}[q.pricing]
    total = f"; term total {dec(q.term_total)} {q.currency}" if q.term_total is not None else ""
    return table("price quote", ["model", "site", "from", ("devices", "right"), ("per device-hour", "right"),
                                 ("per P-year", "right"), ("list / device-hour", "right"), "basis", ("per hour", "right"),
                                 ("term hours", "right"), ("term total", "right")],
                 [[x.model, x.site, when(x.valid_from), num(x.devices), dec(x.device_hour, 6),
                   dec(x.p_year) if x.p_year is not None else "-",
                   dec(x.list_device_hour, 6) if x.list_device_hour is not None else "-",
                   x.basis + (f" ({x.plan})" if x.plan else ""), dec(x.hourly, 6),
                   num(x.term_hours) if x.term_hours is not None else "open",
                   dec(x.term_total) if x.term_total is not None else "-"] for x in q.lines],
                 caption=f"{why}; {dec(q.hourly, 6)} {q.currency}/hour{total}" + (f". {q.note}" if q.note else "")
                 + (f"; slice enforced by {q.enforcement}" if q.enforcement else ""))


def device_names(lease: LeaseResponse) -> str:
    """The devices the lease holds now (or held last), not its history."""
    return ", ".join(f"{a.node}/{a.device}" + ("" if a.milli == 1000 else f" ({share(a.milli)})")
                     for a in lease.allocations if a.held)


@lease_app.command("list")
def lease_list(ctx: typer.Context,
               state: Annotated[str | None, typer.Option(
                   "--state", help="Only leases in this state: scheduled, active, ended, cancelled, rejected, "
                                   "interrupted.")] = None,
               as_json: JsonOpt = False) -> None:
    """List leases you can see (a tenant: its own), every page. "devices" counts what each lease holds
    now (once over: what it held last); `suanli lease show` lists devices given up before a
    re-placement or a resume separately, as history."""
    with client(ctx) as api:
        leases = list(api.iter_leases(state=state))
    if as_json:
        print_json(leases)
        return
    show(table("leases", ["id", "state", "form", ("devices", "right"), "where", "start", "end"],
               [[x.id, x.state, x.form, num(x.devices), device_names(x) or "-", when(x.activated_at or x.start),
                 when(x.ended_at or x.end) if (x.ended_at or x.end) else "open-ended"] for x in leases],
               caption=f"{len(leases)} leases"))


@lease_app.command("show")
def lease_show(ctx: typer.Context, lease_id: Annotated[str, typer.Argument(metavar="ID", help="Lease id (ls_…).")],
               as_json: JsonOpt = False) -> None:
    """One lease: its state and window, the devices it holds (node, device index, share) and its events."""
    with client(ctx) as api:
        lease = api.lease(lease_id)
    if as_json:
        print_json(lease)
    else:
        show(*lease_renderables(lease))


@lease_app.command("end")
def lease_end(ctx: typer.Context, lease_id: Annotated[str, typer.Argument(metavar="ID", help="Lease id (ls_…).")],
              reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the lease's events).")] = "",
              as_json: JsonOpt = False) -> None:
    """End an active lease now: the devices are released and metering stops at this second."""
    with client(ctx) as api:
        lease = api.end_lease(lease_id, reason)
    if as_json:
        print_json(lease)
    else:
        show(f"lease {lease.id} {lease.state} at {when(lease.ended_at)}")


@lease_app.command("extend")
def lease_extend(ctx: typer.Context,
                 lease_id: Annotated[str, typer.Argument(metavar="ID", help="Lease id (ls_…).")],
                 hours: Annotated[str | None, typer.Option("--hours", metavar="N",
                                                           help="Add N hours to the current end.")] = None,
                 end: Annotated[str | None, typer.Option("--end", metavar="ISO", help="The new end (UTC unless an "
                                                         "offset is given).")] = None,
                 as_json: JsonOpt = False) -> None:
    """Move a fixed-term lease's end later (give --hours or --end), if its devices are free for the added time."""
    if (hours is None) == (end is None):
        raise typer.BadParameter("give exactly one of --hours or --end", param_hint="--hours/--end")
    h = amount(hours, "--hours") if hours is not None else None
    new_end = instant(end, "--end")
    with client(ctx) as api:
        lease = api.extend_lease(lease_id, hours=h, end=new_end)
    if as_json:
        print_json(lease)
    else:
        show(f"lease {lease.id} now ends at {when(lease.end)}")


@lease_app.command("cost")
def lease_cost(ctx: typer.Context,
               lease_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="One lease (default: all).")] = None,
               tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant (operator).")] = None,
               as_json: JsonOpt = False) -> None:
    """Cost to date per lease: the invoice lines naming the lease, summed over every month it ran (an
    issued month's invoice, else the month's draft to now); before tax, vouchers, credits and wallet."""
    with client(ctx) as api:
        costs = MoneyClient(api).lease_costs(tenant=tenant, lease=lease_id)
    if as_json:
        print_json(costs)
        return
    show(table("cost to date", ["lease", "state", ("this month", "right"), ("to date", "right"), "months"],
               [[x.lease, x.state, dec(x.this_month), dec(x.cost_to_date),
                 ", ".join(f"{m.period} {dec(m.amount)} ({m.source})" for m in x.months) or "-"] for x in costs.items],
               caption=f"{costs.tenant}, {costs.currency}, as of {when(costs.as_of)}"))
