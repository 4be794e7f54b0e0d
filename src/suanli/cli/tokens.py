"""``suanli token list|create|revoke``: your API tokens (the operator: anyone's), through
:class:`suanli.client.tokens.TokenClient`. A token's secret is printed once, when it is made."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, instant
from suanli.cli.render import print_json, show, table, when
from suanli.client.tokens import TokenClient

token_app = typer.Typer(help="Your API tokens: list, create (scoped: full, read-only, one lease, inference key; "
                             "with an expiry), revoke.", no_args_is_help=True)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"^(\d{1,9})([smhd])$")


def lifetime(value: str | None) -> int | None:
    """``90m``, ``12h``, ``30d``, ``3600s`` -> seconds (a usage error otherwise)."""
    if value is None:
        return None
    m = _DURATION.match(value.strip())
    if not m:
        raise typer.BadParameter(f"{value!r} is not a duration; use a number and s, m, h or d (e.g. 12h, 30d)",
                                 param_hint="--expires-in")
    return int(m.group(1)) * _UNITS[m.group(2)]


@token_app.command("list")
def token_list(ctx: typer.Context,
               account: Annotated[str | None, typer.Option("--account", help="Another account's tokens "
                                                           "(operator).")] = None,
               every: Annotated[bool, typer.Option("--all", help="Every account's tokens (operator).")] = False,
               as_json: JsonOpt = False) -> None:
    """Your API tokens (never their secrets): prefix, label, scope, lease, state, created, expires, last used,
    an inference key's requests/minute and monthly token quota."""
    with client(ctx) as api:
        rows = TokenClient(api).tokens(account=account, every_account=every)
    if as_json:
        print_json(rows)
        return
    show(table("API tokens", [("id", "right"), "account", "prefix", "label", "scope", "lease", ("req/min", "right"),
                              ("tokens/month", "right"), "state", "created", "expires", "last used", "revoked"],
               [[str(t.id), t.account, t.prefix + "…", t.label or "-", t.scope, t.lease or "-",
                 f"{t.rate_limit_per_minute:,}" if t.rate_limit_per_minute else "-",
                 f"{t.token_quota:,}" if t.token_quota else "-", t.state,
                 when(t.created_at), when(t.expires_at) if t.expires_at else "never",
                 when(t.last_used_at) if t.last_used_at else "never", when(t.revoked_at) if t.revoked_at else "-"]
                for t in rows]))


@token_app.command("create")
def token_create(ctx: typer.Context,
                 label: Annotated[str, typer.Option("--label", help="What it is for (at most 80 characters).")] = "",
                 scope: Annotated[str, typer.Option("--scope", help="full (default) | read (changes nothing) | "
                                                    "lease (one lease of yours: read it, run jobs on it) | "
                                                    "inference (an API key that only calls models)")] = "full",
                 lease: Annotated[str | None, typer.Option("--lease", help="The lease of a --scope lease token.")]
                 = None,
                 expires_in: Annotated[str | None, typer.Option("--expires-in", help="Lifetime: 90m, 12h, 30d "
                                                                "(at least 60 s, at most ~10 years).")] = None,
                 expires_at: Annotated[str | None, typer.Option("--expires-at", help="Expiry, ISO-8601 "
                                                                "(naive means UTC).")] = None,
                 account: Annotated[str | None, typer.Option("--for", help="Make it for another account "
                                                             "(operator).")] = None,
                 rate_limit: Annotated[int | None, typer.Option("--rate-limit", help="An inference key's own "
                                                                "requests per minute (1 to 100,000).")] = None,
                 token_quota: Annotated[int | None, typer.Option("--token-quota", help="An inference key's prompt + "
                                                                 "completion tokens per UTC month (1 to 10^15).")]
                 = None,
                 as_json: JsonOpt = False) -> None:
    """Make an API token (for yourself; the operator --for any account) and print its secret: shown once, never again. A token never makes a token wider than itself."""
    at = instant(expires_at, "--expires-at")
    seconds = lifetime(expires_in)
    with client(ctx) as api:
        tokens = TokenClient(api)
        t = (tokens.issue_for(account, label=label, scope=scope, lease=lease, expires_at=at, expires_in_s=seconds,
                              rate_limit_per_minute=rate_limit, token_quota=token_quota)
             if account else tokens.create(label=label, scope=scope, lease=lease, expires_at=at, expires_in_s=seconds,
                                           rate_limit_per_minute=rate_limit, token_quota=token_quota))
    if as_json:
        print_json(t)
        return
    what = t.scope + (f" on lease {t.lease}" if t.lease else "")
    if t.rate_limit_per_minute:
        what += f", {t.rate_limit_per_minute:,} requests/minute"
    if t.token_quota:
        what += f", {t.token_quota:,} tokens/month"
    show(f"token {t.id} ({what}) for {t.account}, expires {when(t.expires_at) if t.expires_at else 'never'}; "
         "the secret (shown once):")
    typer.echo(t.token)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id (`suanli token "
                                                                             "list`).", min=1, max=2**31 - 1)],
                 as_json: JsonOpt = False) -> None:
    """Revoke an API token (yours; the operator: anyone's). It stops working at once."""
    with client(ctx) as api:
        t = TokenClient(api).revoke(token_id)
    if as_json:
        print_json(t)
        return
    show(f"token {t.id} ({t.prefix}…, {t.account}) revoked at {when(t.revoked_at)}")
