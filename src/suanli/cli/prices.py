"""``suanli offers`` and ``suanli price set|list|correct|corrections|tokens|resource``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import dec, print_json, show, table, when
from suanli.client.resource_prices import ResourcePricesClient
from suanli.client.token_prices import TokenPricesClient

price_app = typer.Typer(help="List prices: set them (operator, now or later), list them in both units, and correct "
                             "the past (operator: credit/debit notes).", no_args_is_help=True)


def offers(ctx: typer.Context,
           model: Annotated[str | None, typer.Option("--model", help="Only this accelerator model, e.g. H800.")] = None,
           site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
           min_memory: Annotated[int | None, typer.Option("--min-memory", metavar="GIB",
                                                          help="Only models with at least this much memory per device (GiB).")] = None,
           as_json: JsonOpt = False) -> None:
    """What can be rented now, per model and site: free/total devices, list price in 元/device-hour and 元/P/年, and the energy cost per P-hour. Table figures are rounded for display; --json is exact."""
    with client(ctx) as api:
        rows = api.offers(model=model, site=site, min_memory_gib=min_memory)
    if as_json:
        print_json(rows)
        return
    show(table("offers (free now)",
               ["model", "vendor", "site", "region", ("free/total", "right"), ("元/device-h", "right"),
                ("元/P/年", "right"), ("energy 元/P-h", "right"), ("RTT ms", "right")],
               [[o.model, o.vendor, o.site, o.region, f"{o.free_devices}/{o.devices}", dec(o.price_device_hour, 2),
                 dec(o.price_p_year, 0), dec(o.energy_cost_per_p_hour, 2), dec(o.rtt_ms, 1)] for o in rows],
               caption=f"{len(rows)} offers; prices in {rows[0].currency if rows else 'CNY'}, rounded for display "
                       "(--json gives exact figures); '-' = no list price yet; RTT: the site's measured round-trip "
                       "time (median of its agents; '-' = not measured), what --max-rtt-ms compares"))


@price_app.command("set")
def price_set(ctx: typer.Context,
              model: Annotated[str, typer.Argument(help="Accelerator model, e.g. H800.")],
              amount_: Annotated[str, typer.Argument(metavar="AMOUNT", help="The price, e.g. 180000 or 20.33.")],
              unit: Annotated[str, typer.Option("--unit", help="device_hour (元/device-hour) or p_year (元/P/年).")]
              = "device_hour",
              site: Annotated[str | None, typer.Option("--site", help="Only at this site (default: every site).")] = None,
              effective_from: Annotated[str | None, typer.Option(
                  "--effective-from", metavar="ISO",
                  help="When it takes effect: now (the default) or later, never earlier; UTC unless an offset "
                       "is given. Leases spanning the change are billed by the second: the old price up to it, the "
                       "new one from it. To change what the past cost, use `suanli price correct`.")] = None,
              as_json: JsonOpt = False) -> None:
    """Set a list price (operator), in either unit, effective now or later; prints it in both units. The amount
    is a decimal > 0 and <= 1,000,000,000 with at most 6 decimal places."""
    value = amount(amount_, "AMOUNT")
    eff = instant(effective_from, "--effective-from")
    with client(ctx) as api:
        p = api.set_price(model, value, unit, site=site, effective_from=eff)
    if as_json:
        print_json(p)
        return
    show(table("price set", ["model", "site", ("元/device-h", "right"), ("元/P/年", "right"), "set in", "effective from"],
               [[p.model, p.site or "(all)", dec(p.device_hour, 2), dec(p.p_year, 0), p.unit, when(p.effective_from)]]))


@price_app.command("list")
def price_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every list price entry (effective-dated), in both units: 元/device-hour and 元/P/年."""
    with client(ctx) as api:
        rows = api.prices()
    if as_json:
        print_json(rows)
        return
    show(table("list prices", ["model", "site", ("元/device-h", "right"), ("元/P/年", "right"), "set in",
                               "effective from"],
               [[p.model, p.site or "(all)", dec(p.device_hour, 2), dec(p.p_year, 0), p.unit, when(p.effective_from)]
                for p in rows],
               caption="rounded for display; --json gives exact figures"))


@price_app.command("correct")
def price_correct(ctx: typer.Context,
                  model: Annotated[str, typer.Argument(help="Accelerator model, e.g. A800.")],
                  amount_: Annotated[str, typer.Argument(metavar="AMOUNT",
                                                         help="What the price was over the window, e.g. 6.50.")],
                  start: Annotated[str, typer.Option("--from", metavar="ISO",
                                                     help="Start of the window (inclusive), UTC unless an offset is given.")],
                  end: Annotated[str, typer.Option("--to", metavar="ISO",
                                                   help="End of the window (exclusive), now or earlier.")],
                  reason: Annotated[str, typer.Option("--reason", help="Why (printed on every note issued).")],
                  unit: Annotated[str, typer.Option("--unit", help="device_hour (元/device-hour) or p_year (元/P/年).")]
                  = "device_hour",
                  site: Annotated[str | None, typer.Option("--site", help="Only at this site (default: every site).")]
                  = None,
                  as_json: JsonOpt = False) -> None:
    """Correct what a price WAS over a past window (operator). Every issued invoice it touches gets a credit note
    (price lower; to the tenant's wallet) or a debit note (higher; owed), with the reason: the difference per line,
    split between supplier and commission like the line. Issued invoices are not changed; months not issued yet
    are rated with the corrected price. Listed by `suanli price corrections`."""
    value = amount(amount_, "AMOUNT")
    a, b = instant(start, "--from"), instant(end, "--to")
    assert a is not None and b is not None
    with client(ctx) as api:
        c = api.correct_price(model, value, a, b, reason, unit=unit, site=site)
    if as_json:
        print_json(c)
        return
    _show_corrections([c])


@price_app.command("corrections")
def price_corrections(ctx: typer.Context,
                      model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
                      as_json: JsonOpt = False) -> None:
    """Price corrections: who, when, why, the window, the old and new price, and the notes issued (operator: every
    correction; a tenant: those with notes on its own invoices)."""
    with client(ctx) as api:
        rows = api.price_corrections(model)
    if as_json:
        print_json(rows)
        return
    _show_corrections(rows)


def _show_corrections(rows: list[Any]) -> None:
    show(table("price corrections", ["id", "model", "site", "from", "to", ("元/device-h", "right"), "by", "at",
                                     "reason"],
               [[c.id, c.model, c.site or "(all)", when(c.start), when(c.end), dec(c.device_hour, 2), c.by, when(c.at),
                 c.reason] for c in rows]))
    notes = [(c.id, n) for c in rows for n in c.notes]
    show(table("notes issued", ["correction", "note", "kind", "tenant", "invoice", ("amount", "right"),
                                ("total", "right"), ("supplier share", "right"), ("commission", "right")],
               [[cid, n.id, n.kind, n.tenant, n.invoice, dec(n.amount, 2), dec(n.total, 2), dec(n.supplier_share, 2),
                 dec(n.commission, 2)] for cid, n in notes],
               caption=f"{len(notes)} notes; credit notes go to the tenant's wallet, debit notes are owed"))


def token_rate(value: str | None, name: str) -> dict[str, Any] | None:
    """``2`` (a flat price per million tokens) or ``8@1,6`` (8 up to 1 million tokens of the month, then 6;
    any number of ``PRICE@UP_TO`` tiers, the last one open)."""
    if value is None:
        return None
    parts = [x.strip() for x in value.split(",")]
    if len(parts) == 1 and "@" not in parts[0]:
        return {"price": str(amount(parts[0], name))}
    tiers: list[dict[str, str | None]] = []
    for i, part in enumerate(parts):
        price, at, up_to = part.partition("@")
        if bool(at) == (i == len(parts) - 1):
            raise typer.BadParameter(f"{value!r}: write tiers as PRICE@UP_TO,…,PRICE (e.g. 8@1,6: 8 up to 1 million "
                                     "tokens of the month, then 6); the last tier has no @", param_hint=name)
        tiers.append({"price": str(amount(price, name)), "up_to": str(amount(up_to, name)) if at else None})
    return {"tiers": tiers}


@price_app.command("tokens")
def price_tokens(ctx: typer.Context,
                 model: Annotated[str, typer.Option("--model", help="The deployment's name (the OpenAI model "
                                                    "callers give), e.g. tiny-gpt.")],
                 input_: Annotated[str | None, typer.Option("--input", help="Prompt tokens not served from cache, "
                                                            "元 per million: 2, or tiers 2@10,1.5.")] = None,
                 output: Annotated[str | None, typer.Option("--output", help="Completion tokens, 元 per million: "
                                                            "8, or tiers 8@1,6 (8 up to 1 M tokens of the month, "
                                                            "then 6).")] = None,
                 cached: Annotated[str | None, typer.Option("--cached", help="Prompt tokens served from the "
                                                            "runtime's cache, 元 per million.")] = None,
                 as_json: JsonOpt = False) -> None:
    """Set a model's per-token list prices (operator), effective now: the default plan (tenant *) in force
    ends now and a new one starts with the same rates and these for the model. A tenant's plan may
    override them (`suanli plan create`)."""
    rates = {k: token_rate(v, f"--{k}") for k, v in (("input", input_), ("output", output), ("cached", cached))}
    if not any(rates.values()):
        raise typer.BadParameter("give at least one of --input, --output, --cached", param_hint="--input")
    with client(ctx) as api:
        plan = TokenPricesClient(api).set(model, **rates)
    if as_json:
        print_json(plan)
        return
    mine = [r for r in plan.rates if r.get("model") == model]
    show(table(f"token prices of {model} (default plan {plan.id}, from {when(plan.effective_from)})",
               ["meter", "price per million tokens"],
               [[r["meter"], ", ".join(f"{t['price']} up to {t['up_to']} M" if t["up_to"] else f"{t['price']}"
                                       for t in r["tiers"]) if r.get("tiers") else r["price"]] for r in mine]))


RESOURCES = "cpu_core_hour (元 per core-hour), ram_gib_hour (per GiB-hour), nic_gbps_hour (per Gbps-hour) or " \
            "disk_gib_month (per GiB-month of 730 hours)"


@price_app.command("resource")
def price_resource(ctx: typer.Context,
                   resource: Annotated[str | None, typer.Argument(help=f"To set a price: {RESOURCES}. Omitted: "
                                                                        "list every resource price.")] = None,
                   amount_: Annotated[str | None, typer.Argument(metavar="AMOUNT",
                                                                 help="The price, e.g. 0.12.")] = None,
                   site: Annotated[str | None, typer.Option("--site", help="Only at this site (default: every "
                                                            "site; a site's own price wins).")] = None,
                   effective_from: Annotated[str | None, typer.Option(
                       "--effective-from", metavar="ISO", help="When it takes effect: now (the default) or later, "
                       "never earlier; UTC unless an offset is given.")] = None,
                   as_json: JsonOpt = False) -> None:
    """Resource list prices of custom shapes: host CPU, RAM, NIC and local disk that a lease holds beyond its
    devices' share (all of a cpu instance), billed per second (docs/billing.md "Resource prices"). With
    RESOURCE and AMOUNT: set one (operator), effective now or later; without: list them."""
    with client(ctx) as api:
        prices = ResourcePricesClient(api)
        if resource is None:
            rows = prices.list()
        else:
            if amount_ is None:
                raise typer.BadParameter("give the AMOUNT to set, e.g. 0.12", param_hint="AMOUNT")
            rows = [prices.set(resource, amount(amount_, "AMOUNT"), site=site,
                               effective_from=instant(effective_from, "--effective-from"))]
    if as_json:
        print_json(rows)
        return
    show(table("resource prices", ["resource", "site", ("price", "right"), "per", "effective from"],
               [[r.resource, r.site or "(all)", str(r.amount), r.unit, when(r.effective_from)] for r in rows],
               caption=f"in {rows[0].currency if rows else 'CNY'}; billed per second beyond the devices' share"))
