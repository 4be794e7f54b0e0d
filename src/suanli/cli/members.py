"""``suanli member list|add|set|remove``: a tenant organisation's members (子账号) and their monthly
spend limits, through :class:`suanli.client.members.MemberClient`. The organisation's admin runs
them for its own organisation; the operator names one with ``--tenant``."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount
from suanli.cli.render import print_json, show, table, when
from suanli.client.members import MemberClient

member_app = typer.Typer(help="Your organisation's members (admin, developer, finance, viewer) and their monthly "
                              "spend limits.", no_args_is_help=True)

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The organisation (operator).")]
ROLES = "admin (everything, members) | developer (orders, leases, jobs) | finance (bills, wallet, packages) | viewer"


@member_app.command("list")
def member_list(ctx: typer.Context, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """The organisation's members: role, monthly spend limit and what each committed this month (UTC)."""
    with client(ctx) as api:
        rows = MemberClient(api).members(tenant=tenant)
    if as_json:
        print_json(rows)
        return
    show(table("members", ["name", "role", ("limit / month", "right"), ("spent this month", "right"), "since"],
               [[m.name, m.role, f"{m.spend_limit} {m.currency}" if m.spend_limit is not None else "none",
                 f"{m.spent} {m.currency}", when(m.created_at)] for m in rows]))


@member_app.command("add")
def member_add(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The member's account name.")],
               role: Annotated[str, typer.Option("--role", help=ROLES)],
               limit: Annotated[str | None, typer.Option("--limit", help="Monthly spend limit in the operator's "
                                                         "currency (a decimal, e.g. 500).")] = None,
               tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Add a member to your organisation and print its first API token (shown once)."""
    spend = None if limit is None else amount(limit, "--limit")
    with client(ctx) as api:
        m = MemberClient(api).add(name, role, spend_limit=spend, tenant=tenant)
    if as_json:
        print_json(m)
        return
    show(f"member {m.name} ({m.role}) of {m.organisation} added; limit "
         f"{m.spend_limit + ' ' + m.currency if m.spend_limit is not None else 'none'}; token:")
    typer.echo(m.token)


@member_app.command("set")
def member_set(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The member.")],
               role: Annotated[str | None, typer.Option("--role", help=ROLES)] = None,
               limit: Annotated[str | None, typer.Option("--limit", help="New monthly spend limit.")] = None,
               no_limit: Annotated[bool, typer.Option("--no-limit", help="Remove the member's limit.")] = False,
               tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Change a member's role and/or monthly spend limit."""
    spend = None if limit is None else amount(limit, "--limit")
    with client(ctx) as api:
        m = MemberClient(api).change(name, role=role, spend_limit=spend, clear_limit=no_limit, tenant=tenant)
    if as_json:
        print_json(m)
        return
    show(f"member {m.name}: {m.role}, limit "
         f"{m.spend_limit + ' ' + m.currency if m.spend_limit is not None else 'none'}, spent {m.spent} {m.currency} "
         "this month")


@member_app.command("remove")
def member_remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The member.")],
                  tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a member: its API tokens are revoked and stop working at once."""
    with client(ctx) as api:
        m = MemberClient(api).remove(name, tenant=tenant)
    if as_json:
        print_json(m)
        return
    show(f"member {m.name} removed from {m.organisation}; its tokens no longer work")
