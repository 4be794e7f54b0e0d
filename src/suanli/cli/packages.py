"""``suanli package``: products the operator sells, packages tenants buy at the listed price, and
the operator's sales at a price of its choosing (with a reason)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import fail, print_json, show, table, when
from suanli.client.money import MoneyClient

package_app = typer.Typer(
    help="Prepaid packages: products (operator), buy at the listed price (tenant), sell (operator).",
    no_args_is_help=True)
product_app = typer.Typer(help="Package products the operator sells (operator: create, price, retire).",
                          no_args_is_help=True)
package_app.add_typer(product_app, name="product")

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant sees its own).")]
TierOpt = Annotated[list[str] | None, typer.Option(
    "--tier", metavar="MIN_COUNT=PRICE", help="Volume tier: buying at least MIN_COUNT at once costs PRICE each "
    "(repeatable).")]


def _tiers(values: list[str] | None) -> list[tuple[int, Any]] | None:
    if values is None:
        return None
    out = []
    for v in values:
        n, sep, price = v.partition("=")
        if not sep or not n.strip().isdigit():
            raise typer.BadParameter(f"{v!r}: give MIN_COUNT=PRICE, e.g. 10=90", param_hint="--tier")
        out.append((int(n), amount(price.strip(), "--tier")))
    return out


def _product_row(x: Any) -> list[Any]:
    validity = f"{x.valid_days} days" if x.valid_days else f"{when(x.valid_from)} – {when(x.valid_to)}"
    tiers = ", ".join(f">={t['min_count']}: {t['price']}" for t in x.tiers)
    return [x.id, x.name, x.meter, x.model or "any", x.site or "any", f"{x.quantity:f} {x.unit}", f"{x.price:f}",
            tiers, validity, x.state]


@product_app.command("create")
def product_create(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The product's name (unique).")],
                   meter: Annotated[str, typer.Option("--meter", help="e.g. device_seconds, inference_input_tokens")],
                   quantity: Annotated[str, typer.Option("--quantity", help="Per package, in --unit.")],
                   price: Annotated[str, typer.Option("--price", help="Per package.")],
                   valid_days: Annotated[int | None, typer.Option("--valid-days", help="Valid this many days from "
                                                                  "the purchase.")] = None,
                   valid_from: Annotated[str | None, typer.Option("--valid-from", help="Fixed dates: from (ISO).")
                                         ] = None,
                   valid_to: Annotated[str | None, typer.Option("--valid-to", help="Fixed dates: to (ISO).")] = None,
                   model: Annotated[str, typer.Option(help="Only this model's usage draws it (default: any).")] = "",
                   site: Annotated[str, typer.Option(help="Only usage at this site draws it (default: any).")] = "",
                   unit: Annotated[str, typer.Option(help="units (the meter's price unit) or p_hours.")] = "units",
                   tier: TierOpt = None, as_json: JsonOpt = False) -> None:
    """Define a package product tenants can buy (operator)."""
    with client(ctx) as api:
        x = MoneyClient(api).create_package_product(
            name=name, meter=meter, quantity=amount(quantity, "--quantity"), price=amount(price, "--price"),
            valid_days=valid_days, valid_from=instant(valid_from, "--valid-from"),
            valid_to=instant(valid_to, "--valid-to"), model=model, site=site, unit=unit, tiers=_tiers(tier) or [])
    print_json(x) if as_json else typer.echo(f"product {x.id} {x.name!r}: {x.quantity:f} {x.unit} of {x.meter} "
                                             f"for {x.price:f}")


@product_app.command("list")
def product_list(ctx: typer.Context, include_retired: Annotated[bool, typer.Option("--all", help="Retired ones too.")
                                                                ] = False, as_json: JsonOpt = False) -> None:
    """The products on sale, with prices and volume tiers."""
    with client(ctx) as api:
        rows = MoneyClient(api).package_products(include_retired=include_retired)
    if as_json:
        print_json(rows)
        return
    show(table("package products", ["id", "name", "meter", "model", "site", "quantity", ("price", "right"), "tiers",
                                    "validity", "state"], [_product_row(x) for x in rows]))


@product_app.command("price")
def product_price(ctx: typer.Context, product: Annotated[str, typer.Argument(help="Product id or name.")],
                  price: Annotated[str, typer.Argument(help="New price per package.")],
                  tier: TierOpt = None, as_json: JsonOpt = False) -> None:
    """Change a product's price for purchases from now on (operator); packages bought keep their price.
    Without --tier the tiers stay; with --tier they are replaced."""
    with client(ctx) as api:
        x = MoneyClient(api).set_package_product_price(product, amount(price, "PRICE"), _tiers(tier))
    print_json(x) if as_json else typer.echo(f"product {x.name!r}: {x.price:f} per package from now on")


@product_app.command("retire")
def product_retire(ctx: typer.Context, product: Annotated[str, typer.Argument(help="Product id or name.")],
                   as_json: JsonOpt = False) -> None:
    """Stop selling a product (operator); packages bought keep working."""
    with client(ctx) as api:
        x = MoneyClient(api).retire_package_product(product)
    print_json(x) if as_json else typer.echo(f"product {x.name!r} retired")


def _bought(pk: Any, as_json: bool) -> None:
    if as_json:
        print_json(pk)
        return
    what = f"{pk.count} x {pk.product_name}" if pk.product else "custom package"
    typer.echo(f"package {pk.id}: {what}: {pk.quantity:f} {pk.unit} of {pk.meter} for {pk.price:f}, valid "
               f"{when(pk.starts_at)} – {when(pk.expires_at)}")


@package_app.command("buy")
def package_buy(ctx: typer.Context, product: Annotated[str, typer.Argument(help="Product id or name "
                                                                           "(`suanli package product list`).")],
                count: Annotated[int, typer.Option("--count", min=1, help="How many packages.")] = 1,
                as_json: JsonOpt = False) -> None:
    """Buy packages of a product at its listed price, volume tier applied (billed on this month's invoice)."""
    with client(ctx) as api:
        pk = MoneyClient(api).buy_package(product, count)
    _bought(pk, as_json)


@package_app.command("sell")
def package_sell(ctx: typer.Context, tenant: Annotated[str, typer.Option("--tenant")],
                 reason: Annotated[str, typer.Option("--reason", help="Why this price (required; recorded).")],
                 product: Annotated[str | None, typer.Option("--product", help="Product id or name; leave out "
                                                             "for a custom package.")] = None,
                 price: Annotated[str | None, typer.Option("--price", help="Price per package (default: the "
                                                           "list price).")] = None,
                 count: Annotated[int, typer.Option("--count", min=1)] = 1,
                 meter: Annotated[str | None, typer.Option(help="Custom package: the meter.")] = None,
                 quantity: Annotated[str | None, typer.Option(help="Custom package: quantity per package.")] = None,
                 expires: Annotated[str | None, typer.Option("--expires", help="Custom package: ISO expiry.")
                                    ] = None,
                 model: Annotated[str, typer.Option(help="Custom package: only this model's usage draws it.")] = "",
                 site: Annotated[str, typer.Option(help="Custom package: only usage at this site draws it.")] = "",
                 unit: Annotated[str, typer.Option(help="Custom package: units or p_hours.")] = "units",
                 as_json: JsonOpt = False) -> None:
    """Sell a tenant a package at a price of the operator's choosing (a discount or a custom package),
    with a reason (operator)."""
    if not product and not (meter and quantity and expires and price):
        fail("name a --product, or give --meter, --quantity, --expires and --price for a custom package")
    with client(ctx) as api:
        pk = MoneyClient(api).sell_package(
            tenant=tenant, reason=reason, product=product, count=count,
            price=amount(price, "--price") if price is not None else None, meter=meter,
            quantity=amount(quantity, "--quantity") if quantity is not None else None,
            expires_at=instant(expires, "--expires"), model=model, site=site, unit=unit)
    _bought(pk, as_json)


@package_app.command("list")
def package_list(ctx: typer.Context, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Packages held, with what issued invoices drew."""
    with client(ctx) as api:
        rows = MoneyClient(api).packages(tenant=tenant)
    if as_json:
        print_json(rows)
        return
    show(table("packages", ["id", "tenant", "product", "meter", "model", "site", ("quantity", "right"),
                            ("left", "right"), ("price", "right"), "sold by", "expires"],
               [[x.id, x.tenant, x.product_name or "custom", x.meter, x.model, x.site, f"{x.quantity:f}",
                 f"{x.left:f}", f"{x.price:f}", f"{x.sold_by} ({x.reason})" if x.sold_by else "", when(x.expires_at)]
                for x in rows]))
