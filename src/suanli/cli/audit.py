"""``suanli audit list|export``: the audit trail (the operator: everything; a tenant: its own
organisation's), through :class:`suanli.client.audit.AuditClient`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, instant
from suanli.cli.render import info, print_json, show, table, when
from suanli.client.audit import AuditClient

audit_app = typer.Typer(help="The audit trail: who changed what, when, from where (before -> after); list and export "
                             "as CSV or JSON.", no_args_is_help=True)

ActorOpt = Annotated[str | None, typer.Option("--actor", help="Only changes by this account (name or id; 'system' for "
                                              "the platform's own).")]
ActionOpt = Annotated[str | None, typer.Option("--action", help="create | update | delete")]
TypeOpt = Annotated[str | None, typer.Option("--type", help="Only this kind of object: prices, leases, orders, "
                                             "invoices, accounts, api_tokens, nodes ... (the table name).")]
IdOpt = Annotated[str | None, typer.Option("--id", help="Only this object (its id).")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant organisation's objects (operator).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this instant on, ISO-8601 (naive means UTC).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Before this instant, ISO-8601 (naive means UTC).")]


@audit_app.command("list")
def audit_list(ctx: typer.Context, actor: ActorOpt = None, action: ActionOpt = None, object_type: TypeOpt = None,
               object_id: IdOpt = None, tenant: TenantOpt = None, since: SinceOpt = None, until: UntilOpt = None,
               limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many (1-500), "
                                                  "newest first.")] = 50,
               offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many newest first.")] = 0,
               as_json: JsonOpt = False) -> None:
    """Recorded changes, newest first: when, who (account, role, token prefix, client address), what (action on an object) and before -> after."""
    with client(ctx) as api:
        page = AuditClient(api).list(actor=actor, action=action, object_type=object_type, object_id=object_id,
                                     tenant=tenant, since=instant(since, "--since"), until=instant(until, "--until"),
                                     offset=offset, limit=limit)
    if as_json:
        print_json(page)
        return
    more = f"; more with --offset {page.next_offset}" if page.next_offset is not None else ""
    show(table("audit trail", ["at", "actor", "token", "address", "action", "object", "id", "tenant", "change"],
               [[when(e.at), e.actor, (e.token_prefix + "…") if e.token_prefix else "-", e.address or "-", e.action,
                 e.object_type, e.object_id or "-", e.tenant_id or "-", e.summary] for e in page.items],
               caption=f"{len(page.items)} entries{more}"))


@audit_app.command("export")
def audit_export(ctx: typer.Context,
                 fmt: Annotated[str, typer.Option("--format", help="csv (default) or json")] = "csv",
                 output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: "
                                                             "standard output).")] = None,
                 actor: ActorOpt = None, action: ActionOpt = None, object_type: TypeOpt = None,
                 object_id: IdOpt = None, tenant: TenantOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None) -> None:
    """Export the filtered trail, oldest first, as CSV (one row per change; changes as JSON) or a JSON array; at most 100,000 rows (narrow with --since/--until for more)."""
    if fmt not in ("csv", "json"):
        raise typer.BadParameter(f"{fmt!r} is not a format; allowed: csv, json", param_hint="--format")
    with client(ctx) as api:
        text = AuditClient(api).export(fmt, actor=actor, action=action, object_type=object_type, object_id=object_id,
                                       tenant=tenant, since=instant(since, "--since"), until=instant(until, "--until"))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    info(f"wrote {output}")
