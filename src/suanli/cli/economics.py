"""``suanli economics …``: the operator's investment inputs (capex per node, opex per site, life,
financing, discount rate, expected price decline), shown, set, or imported from a CSV/JSON file."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount
from suanli.cli.render import dec, fail, print_json, show, table
from suanli.client.economics import EconomicsClient

economics_app = typer.Typer(
    help="Investment inputs (operator): capex per node, opex per site, life, financing; show, set, import a "
         "CSV/JSON file.", epilog="The figures they give: `suanli report economics`.", no_args_is_help=True)

CAPEX_COLUMNS = ("node", "capex", "residual", "purchased_on")


def _dec(value: str | None, name: str) -> str | None:
    return None if value is None else str(amount(value, name))


@economics_app.command("show")
def show_inputs(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The settings, each site's fixed opex per year and each node's capex."""
    with client(ctx) as api:
        r = EconomicsClient(api).inputs()
    if as_json:
        print_json(r)
        return
    s = r.settings
    show(table("settings", ["life (years)", "debt share", "interest / year", "loan (years)", "discount rate",
                            "price decline / year"],
               [[str(s.life_years), f"{s.debt_share * 100:f} %", f"{s.interest_rate * 100:f} %", str(s.loan_years),
                 f"{s.discount_rate * 100:f} %", f"{s.price_decline * 100:f} %"]]),
         table(f"fixed opex per year ({r.currency})", ["site", ("staff", "right"), ("racks", "right"),
                                                       ("bandwidth", "right"), ("other", "right"), ("total", "right")],
               [[x.site, dec(x.staff), dec(x.racks), dec(x.bandwidth), dec(x.other), dec(x.total)] for x in r.sites]),
         table(f"capex per node ({r.currency})", ["node", "site", "model", ("capex", "right"), ("residual", "right"),
                                                  "purchased on"],
               [[n.node, n.site, n.model, dec(n.capex), dec(n.residual), n.purchased_on or "-"] for n in r.nodes]))


@economics_app.command("set")
def set_settings(
    ctx: typer.Context,
    life_years: Annotated[int | None, typer.Option("--life-years", help="Years of service, 1 to 30.")] = None,
    debt_share: Annotated[str | None, typer.Option("--debt-share", help="Share of capex borrowed, 0 to 1.")] = None,
    interest_rate: Annotated[str | None, typer.Option("--interest-rate",
                                                      help="Loan interest per year, 0 to 1 (0.045 = 4.5 %).")] = None,
    loan_years: Annotated[int | None, typer.Option("--loan-years", help="Years to repay the loan, 0 to life.")] = None,
    discount_rate: Annotated[str | None, typer.Option("--discount-rate", help="NPV's rate per year, 0 to 1.")] = None,
    price_decline: Annotated[str | None, typer.Option("--price-decline",
                                                      help="Expected yearly fall of prices, 0 to 1.")] = None,
) -> None:
    """Change the global settings (the options given)."""
    body = {k: v for k, v in {"life_years": life_years, "debt_share": _dec(debt_share, "--debt-share"),
                              "interest_rate": _dec(interest_rate, "--interest-rate"), "loan_years": loan_years,
                              "discount_rate": _dec(discount_rate, "--discount-rate"),
                              "price_decline": _dec(price_decline, "--price-decline")}.items() if v is not None}
    if not body:
        fail("nothing to change: give at least one option (see --help)", code=2)
    with client(ctx) as api:
        EconomicsClient(api).set_inputs({"settings": body})
    typer.echo(f"settings changed: {', '.join(sorted(body))}")


@economics_app.command("opex")
def set_opex(
    ctx: typer.Context,
    site: Annotated[str, typer.Argument(help="Site name.")],
    staff: Annotated[str, typer.Option("--staff", help="Staff per year.")] = "0",
    racks: Annotated[str, typer.Option("--racks", help="Racks / colocation per year.")] = "0",
    bandwidth: Annotated[str, typer.Option("--bandwidth", help="Bandwidth per year.")] = "0",
    other: Annotated[str, typer.Option("--other", help="Other fixed cost per year.")] = "0",
) -> None:
    """Set a site's fixed opex per year (every kind; the ones not given are 0)."""
    row = {"site": site, "staff": _dec(staff, "--staff"), "racks": _dec(racks, "--racks"),
           "bandwidth": _dec(bandwidth, "--bandwidth"), "other": _dec(other, "--other")}
    with client(ctx) as api:
        EconomicsClient(api).set_inputs({"sites": [row]})
    typer.echo(f"opex of {site} set")


@economics_app.command("capex")
def set_capex(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Node name.")],
    capex: Annotated[str, typer.Option("--capex", help="Purchase price in the operator's currency.")],
    purchased_on: Annotated[str, typer.Option("--purchased-on", help="Purchase date, YYYY-MM-DD.")],
    residual: Annotated[str, typer.Option("--residual", help="Value at the end of the life.")] = "0",
) -> None:
    """Set one node's capex."""
    row = {"node": node, "capex": _dec(capex, "--capex"), "residual": _dec(residual, "--residual"),
           "purchased_on": purchased_on}
    with client(ctx) as api:
        EconomicsClient(api).set_inputs({"nodes": [row]})
    typer.echo(f"capex of {node} set")


def read_inputs(path: Path) -> dict[str, Any]:
    """A CSV of node capex (columns node, capex, residual, purchased_on) or a JSON document with any of
    ``settings``, ``sites``, ``nodes`` (as ``suanli economics show --json`` prints; numbers read exactly)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and not set(CAPEX_COLUMNS[:2]) <= set(rows[0]):
            fail(f"{path}: the CSV needs the columns {', '.join(CAPEX_COLUMNS)} (residual optional)")
        return {"nodes": [{k: v.strip() for k, v in r.items() if k in CAPEX_COLUMNS and v is not None and v.strip()}
                          for r in rows]}
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError as e:
        fail(f"{path} is not valid JSON: {e}")
    if not isinstance(doc, dict):
        fail(f"{path}: expected a JSON object with settings, sites and/or nodes")
    out: dict[str, Any] = {}
    if isinstance(doc.get("settings"), dict):
        out["settings"] = {k: str(v) if isinstance(v, Decimal) else v for k, v in doc["settings"].items()}
    for key, keep in (("sites", ("site", "staff", "racks", "bandwidth", "other")), ("nodes", CAPEX_COLUMNS)):
        if isinstance(doc.get(key), list):
            out[key] = [{k: str(v) if isinstance(v, Decimal | int) and k != "node" else v
                         for k, v in x.items() if k in keep and v is not None} for x in doc[key] if isinstance(x, dict)]
    return out


@economics_app.command("import")
def import_inputs(ctx: typer.Context,
                  file: Annotated[Path, typer.Argument(help="CSV (node,capex,residual,purchased_on) or JSON "
                                                            "(settings, sites, nodes).")]) -> None:
    """Import investment inputs from a file (operator). All or nothing: a bad row changes nothing."""
    body = read_inputs(file)
    with client(ctx) as api:
        r = EconomicsClient(api).set_inputs(body)
    typer.echo(f"imported {file}: settings {'changed' if r.settings else 'unchanged'}, {r.sites} sites, "
               f"{r.nodes} nodes")
