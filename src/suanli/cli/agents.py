"""``suanli agent token create|list|show|approve|revoke|run``: node agents (docs/agents.md).

The operator (or a supplier, for its own nodes) makes a one-time join token for a node and hands it to
whoever installs the agent there (``suanli agent run``, :mod:`suanli.cli.agent_run`); the operator
approves the joined agent; ``list``/``show`` print each agent's health (up, suspect, down, with why),
last heartbeat, round-trip time and devices.
"""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.api.schemas.agents import AgentResponse
from suanli.cli.agent_run import run_command
from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table, when
from suanli.cli.tokens import lifetime
from suanli.client.agents import AgentClient

agent_app = typer.Typer(help="Node agents: join tokens, list with health, approve, revoke; run the agent on a node "
                             "(joins, heartbeats, runs its leases' jobs).", no_args_is_help=True)
token_app = typer.Typer(help="One-time join tokens for node agents.", no_args_is_help=True)
agent_app.add_typer(token_app, name="token")
agent_app.command("run")(run_command)

NodeArg = Annotated[str, typer.Argument(help="The node's name in the fleet (e.g. nx-910b-03).")]


@token_app.command("create")
def token_create(ctx: typer.Context, node: NodeArg,
                 ttl: Annotated[str, typer.Option("--ttl", help="How long it may be used: 90s, 30m, 1h, 7d "
                                                  "(60 s to 7 days).")] = "1h",
                 approve: Annotated[bool, typer.Option("--approve", help="The agent joining with it is approved at "
                                                       "once (operator only).")] = False,
                 as_json: JsonOpt = False) -> None:
    """Make a one-time join token for NODE (the operator: any node; a supplier: its own) and print it:
    shown once, never again. Give it to `suanli agent run --join-token` on that node."""
    try:
        seconds = lifetime(ttl)
    except typer.BadParameter as e:
        raise typer.BadParameter(str(e.message), param_hint="--ttl") from None
    assert seconds is not None
    with client(ctx) as api:
        t = AgentClient(api).create_join_token(node, ttl_s=seconds, approve=approve)
    if as_json:
        print_json(t)
        return
    show(f"join token {t.id} for node {t.node}, expires {when(t.expires_at)}"
         + (", pre-approved" if t.approve else "") + "; the token (shown once):")
    typer.echo(t.token)


def _rtt(a: AgentResponse) -> str:
    return "-" if a.rtt_ms is None else f"{a.rtt_ms} ms"


def _health(a: AgentResponse) -> str:
    return a.health + (f" ({a.health_reason})" if a.health_reason else "")


@agent_app.command("list")
def agent_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every node agent (a supplier: of its own nodes) with its state, health now, last heartbeat, RTT, devices."""
    with client(ctx) as api:
        rows = AgentClient(api).agents()
    if as_json:
        print_json(rows)
        return
    show(table("Node agents", ["node", "site", "supplier", "state", "health", "last seen", ("rtt", "right"),
                               ("devices", "right"), "backend", "version", "address"],
               [[a.node, a.site, a.supplier, a.state, _health(a), when(a.last_seen_at), _rtt(a),
                 f"{len(a.devices)}/{a.device_count}", a.backend or "-", a.version or "-", a.address or "-"]
                for a in rows]))


@agent_app.command("show")
def agent_show(ctx: typer.Context, node: NodeArg, as_json: JsonOpt = False) -> None:
    """One node agent: identity, health, and each device's latest telemetry."""
    with client(ctx) as api:
        a = AgentClient(api).agent(node)
    if as_json:
        print_json(a)
        return
    _show(a)


def _show(a: AgentResponse) -> None:
    show(f"node {a.node} (site {a.site}, {a.region}; supplier {a.supplier}): agent {a.state}, {_health(a)}",
         f"last seen {when(a.last_seen_at)}, rtt {_rtt(a)}, address {a.address or '-'}, boot {a.boot_id or '-'}",
         f"joined {when(a.joined_at)}, approved {when(a.approved_at)}"
         + (f" by {a.approved_by}" if a.approved_by else "")
         + f"; credential {a.credential_prefix + '…' if a.credential_prefix else '-'}; backend {a.backend or '-'} "
           f"{a.version or ''}".rstrip())
    if a.telemetry:
        show(table("Devices (latest sample)", [("#", "right"), "name", ("util %", "right"), ("mem used MiB", "right"),
                                               ("mem total MiB", "right"), ("power W", "right"), ("temp °C", "right"),
                                               ("errors", "right"), ("energy kWh", "right"), "at"],
                   [[t.index, t.name or "-", t.utilisation_pct, t.memory_used_mib, t.memory_total_mib, t.power_w,
                     t.temperature_c, t.errors, t.energy_kwh, when(t.at)] for t in a.telemetry]))
    elif a.devices:
        show(table("Devices (at join)", [("#", "right"), "name", "uuid", ("mem total MiB", "right")],
                   [[d.index, d.name or "-", d.uuid or "-", d.memory_total_mib] for d in a.devices]))


@agent_app.command("approve")
def agent_approve(ctx: typer.Context, node: NodeArg, as_json: JsonOpt = False) -> None:
    """Approve NODE's joined agent (operator): it gets work from now on."""
    with client(ctx) as api:
        a = AgentClient(api).approve(node)
    if as_json:
        print_json(a)
        return
    show(f"agent of {a.node} approved ({_health(a)})")


@agent_app.command("revoke")
def agent_revoke(ctx: typer.Context, node: NodeArg, as_json: JsonOpt = False) -> None:
    """Revoke NODE's agent (operator): its credential is refused from now on and the node counts as down;
    a new join token and `suanli agent run` bring it back (pending)."""
    with client(ctx) as api:
        a = AgentClient(api).revoke(node)
    if as_json:
        print_json(a)
        return
    show(f"agent of {a.node} revoked")
