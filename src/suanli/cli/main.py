"""The ``suanli`` command: Typer app, global options, and every sub-command mounted.

Server and token come from ``--server``/``--token`` (before or after the sub-command), else env
``SUANLI_SERVER``/``SUANLI_TOKEN``, else the config file written by ``suanli login``
(see :mod:`suanli.cli.config`). Errors print the server's message on stderr and exit 1;
usage errors exit 2. Every command that prints data takes ``--json``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Annotated

import typer
from typer.core import TyperGroup

from suanli import __version__
from suanli.cli import accounts, billing, fleet, jobs, leases, money, orders, prices, serve
from suanli.cli.context import state

GLOBAL_OPTIONS = ("--server", "--token", "--timeout")


def hoist_globals(args: list[str]) -> list[str]:
    """Move ``--server``/``--token``/``--timeout`` (with their values) to the front, so they work after a
    sub-command too (``suanli lease show ID --token T``). Nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        if a in GLOBAL_OPTIONS and i + 1 < len(args):
            front += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith(tuple(o + "=" for o in GLOBAL_OPTIONS)):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


class SuanliGroup(TyperGroup):
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, hoist_globals(list(args)))


app = typer.Typer(
    cls=SuanliGroup,
    name="suanli",
    help="suanli (算力): lease and serve AI compute. Run `suanli serve --demo` to start a platform, then "
         "`suanli offers` to see what can be rented.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"suanli {__version__}")
        raise typer.Exit()


@app.callback()
def root(ctx: typer.Context,
         server: Annotated[str | None, typer.Option("--server", metavar="URL", help="Server URL (else $SUANLI_SERVER, "
                                                    "the config file, or http://127.0.0.1:8000).")] = None,
         token: Annotated[str | None, typer.Option("--token", help="API token (else $SUANLI_TOKEN or the config "
                                                   "file).")] = None,
         timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer.")] = 30.0,
         version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    st = state(ctx)
    st.server = server or st.server
    st.token = token or st.token
    st.timeout = timeout


app.command("serve")(serve.serve)
app.command("login")(accounts.login)
app.command("whoami")(accounts.whoami)
app.command("offers")(prices.offers)
app.command("catalog")(fleet.catalog)
app.command("revenue")(billing.revenue)
app.add_typer(fleet.fleet_app, name="fleet")
app.add_typer(fleet.node_app, name="node")
app.add_typer(fleet.floor_app, name="floor")
app.add_typer(prices.price_app, name="price")
app.add_typer(orders.order_app, name="order")
app.add_typer(leases.lease_app, name="lease")
app.add_typer(jobs.job_app, name="job")
app.add_typer(billing.invoice_app, name="invoice")
app.add_typer(accounts.account_app, name="account")

# Sub-apps written elsewhere: mounted when their module exists. find_spec (not try/except
# ImportError) so that a real error inside the module still surfaces.
for _name in ("sim", "bench"):
    if importlib.util.find_spec(f"suanli.cli.{_name}") is not None:
        app.add_typer(importlib.import_module(f"suanli.cli.{_name}").app, name=_name)

money.mount(app, billing.invoice_app)  # usage wallet voucher package plan statement; invoice …; bench …


if __name__ == "__main__":
    app()
