"""``suanli account create|list|token``, ``suanli login`` and ``suanli whoami``."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli import config as cfg
from suanli.cli.context import client, state
from suanli.cli.options import JsonOpt
from suanli.cli.render import info, print_json, show, table

account_app = typer.Typer(help="Accounts and API tokens (operator).", no_args_is_help=True)


@account_app.command("create")
def account_create(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Account name.")],
                   role: Annotated[str, typer.Option("--role", help="tenant | supplier | operator")],
                   supplier: Annotated[str | None, typer.Option("--supplier", help="supplier accounts: the supplier "
                                                                "it speaks for.")] = None,
                   as_json: JsonOpt = False) -> None:
    """Create an account (operator) and print its first API token (shown once; stored hashed)."""
    with client(ctx) as api:
        acc = api.create_account(name, role, supplier)
    if as_json:
        print_json(acc)
        return
    show(f"account {acc.name} ({acc.role}{', ' + acc.supplier if acc.supplier else ''}) created; token:")
    typer.echo(acc.token)


@account_app.command("list")
def account_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List accounts (operator)."""
    with client(ctx) as api:
        accounts = api.accounts()
    if as_json:
        print_json(accounts)
        return
    show(table("accounts", ["name", "role", "supplier", "id"],
               [[a.name, a.role, a.supplier or "-", a.id] for a in accounts]))


@account_app.command("token")
def account_token(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Account name.")],
                  as_json: JsonOpt = False) -> None:
    """Issue a new API token for an account (operator); earlier tokens stay valid."""
    with client(ctx) as api:
        tok = api.issue_token(name)
    if as_json:
        print_json(tok)
    else:
        typer.echo(tok.token)


def login(ctx: typer.Context,
          server: Annotated[str | None, typer.Option("--server", help="Server URL (default: the one in effect).")]
          = None,
          token: Annotated[str | None, typer.Option("--token", help="API token (default: the one in effect).")]
          = None) -> None:
    """Check a server and token (GET /v1/me) and save them to the config file ($SUANLI_CONFIG or ~/.config/suanli/config.json) for later commands."""
    st = state(ctx)
    st.server = server or st.server
    st.token = token or st.token
    conf = st.config()
    if not conf.token:
        raise typer.BadParameter("no token: give --token (or set SUANLI_TOKEN)", param_hint="--token")
    with client(ctx) as api:
        me = api.me()
    path = cfg.config_path()
    cfg.write_file(path, conf.server, conf.token)
    info(f"saved server and token to {path}")
    show(f"logged in to {conf.server} as {me.name} ({me.role})")


def whoami(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the server and account in effect (and where each setting came from)."""
    conf = state(ctx).config()
    with client(ctx) as api:
        me = api.me()
    if as_json:
        print_json({"server": conf.server, "account": me})
        return
    member = f", {me.member_role} of organisation {me.organisation}" if me.organisation else ""
    show(f"{me.name} ({me.role}{', ' + me.supplier if me.supplier else ''}{member}) on {conf.server} "
         f"[server from {conf.server_from}, token from {conf.token_from}]")
