"""The ``suanli`` command: Typer app, global options, and every sub-command, loaded lazily.

Server and token come from ``--server``/``--token`` (before or after the sub-command), else env
``SUANLI_SERVER``/``SUANLI_TOKEN``, else the config file written by ``suanli login``
(see :mod:`suanli.cli.config`). Errors print the server's message on stderr and exit 1;
usage errors exit 2. Every command that prints data takes ``--json``.

Sub-commands live in their own modules, listed in :data:`COMMANDS` with the one-line help that
``suanli --help`` shows; a module is imported only when its command runs (or its own ``--help`` is
asked for), so ``suanli --help`` and the HTTP-only commands never load numpy, SQLAlchemy, FastAPI or a
database driver. This is click's "lazily loading subcommands" pattern on Typer's group.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from suanli import __version__

Command = TyperCommand | TyperGroup
"""What Typer builds: a group (from a :class:`typer.Typer`) or one command (from a function). (No ``import
click``: recent Typer ships its own copy of click.)"""


class Lazy(NamedTuple):
    target: str
    """``module:attribute``: a :class:`typer.Typer` (a command group) or a function (one command)."""
    help: str
    """What ``suanli --help`` lists: the first paragraph of the command's help, whitespace collapsed
    (``tests/cli/test_lazy_cli.py`` checks that the two agree)."""


COMMANDS: dict[str, Lazy] = {
    "serve": Lazy("suanli.cli.serve:serve",
                  "Run the suanli server (API, web console at /console, background reconcilers: lease time, runway, "
                  "engine, usage, node health). With the local engine it also listens on the Unix socket "
                  "<data-dir>/run/api.sock, which every job reaches at /run/suanli/api.sock with its own token "
                  "(docs/sandbox.md). Migrates the database first; on first start prints an operator "
                  "token. With --demo also writes <data-dir>/demo-tokens.json and prints `export SUANLI_SERVER=… "
                  "SUANLI_TOKEN=…` for the demo tenant."),
    "login": Lazy("suanli.cli.accounts:login",
                  "Check a server and token (GET /v1/me) and save them to the config file ($SUANLI_CONFIG or "
                  "~/.config/suanli/config.json) for later commands."),
    "whoami": Lazy("suanli.cli.accounts:whoami",
                   "Show the server and account in effect (and where each setting came from)."),
    "offers": Lazy("suanli.cli.prices:offers",
                   "What can be rented now, per model and site: free/total devices, list price in 元/device-hour and "
                   "元/P/年, and the energy cost per P-hour. Table figures are rounded for display; --json is exact."),
    "catalog": Lazy("suanli.cli.fleet:catalog",
                    "The accelerator catalog: vendor, memory, P (dense FP16/BF16 PFLOPS), TDP and the datasheet "
                    "source."),
    "revenue": Lazy("suanli.cli.billing:revenue",
                    "A supplier's statement for a month: its share and the operator's commission on the month's "
                    "issued invoices, per node (with model and site) (same as ``suanli statement supplier "
                    "--period``)."),
    "fleet": Lazy("suanli.cli.fleet:fleet_app",
                  "Import, export and list the fleet (sites, suppliers, nodes, prices, floors)."),
    "node": Lazy("suanli.cli.fleet:node_app", "Change a node's state or owner; show who owned it when."),
    "floor": Lazy("suanli.cli.fleet:floor_app", "Suppliers' floor prices."),
    "oversub": Lazy("suanli.cli.oversub:oversub_app",
                    "Oversubscription: set and list per-site, per-model factors and burstable discounts (operator), "
                    "the burstable pool and its measured contention; where burstable slices are sold."),
    "defrag": Lazy("suanli.cli.defrag:defrag_app",
                   "Defragmentation (operator): plan moves of migratable leases that free whole GPUs and whole nodes "
                   "for waiting orders, approve them, or let them run automatically."),
    "price": Lazy("suanli.cli.prices:price_app", "List prices: set them (operator, now or later), list them in both units, "
                  "and correct the past (operator: credit/debit notes)."),
    "slice": Lazy("suanli.cli.slices:slice_app",
                  "Enforced slices: the sizes each accelerator model can be sold in (MIG profiles, vNPU templates, "
                  "MPS or HAMi limits) and what enforces them on this server."),
    "order": Lazy("suanli.cli.orders:order_app",
                  "Order compute (server, gpu, slice, cluster, flops); price, list and cancel orders."),
    "queue": Lazy("suanli.cli.queue:queue_app",
                  "The order queue: waiting orders with position and estimated start; fair-share weights and who "
                  "may order priority high (operator)."),
    "lease": Lazy("suanli.cli.leases:lease_app", "Your leases: the devices you hold and for how long."),
    "job": Lazy("suanli.cli.jobs:job_app", "Run work on a lease's devices, follow it, read its logs."),
    "invoice": Lazy("suanli.cli.billing:invoice_app",
                    "Tenants' monthly invoices: the draft to date, and issued invoices."),
    "account": Lazy("suanli.cli.accounts:account_app", "Accounts and API tokens (operator)."),
    "member": Lazy("suanli.cli.members:member_app", "Your organisation's members (admin, developer, finance, viewer) "
                   "and their monthly spend limits."),
    "audit": Lazy("suanli.cli.audit:audit_app", "The audit trail: who changed what, when, from where (before -> after); "
                  "list and export as CSV or JSON."),
    "token": Lazy("suanli.cli.tokens:token_app", "Your API tokens: list, create (scoped: full, read-only, one lease, "
                  "inference key; with an expiry), revoke."),
    "sim": Lazy("suanli.cli.sim:app", "Trace-driven simulation of the placement engine."),
    "whatif": Lazy("suanli.cli.whatif:app", "What-if on the live fleet (operator): replay recent orders with another "
                   "policy, a price change, nodes added or removed, demand growth; the result next to today."),
    "bench": Lazy("suanli.cli.bench:app",
                  "Benchmarks that print figures: placement (FGD protocol, scale), concurrent orders, usage "
                  "ingestion, billing, inference."),
    "usage": Lazy("suanli.cli.money:usage_app", "Usage events: ingest and totals."),
    "wallet": Lazy("suanli.cli.money:wallet_app", "Prepaid wallets, credits and the low-balance rule."),
    "voucher": Lazy("suanli.cli.vouchers:voucher_app",
                    "Compute vouchers (算力券): schemes (beijing, shanghai, shenzhen), claim, redeem, audit."),
    "package": Lazy("suanli.cli.packages:package_app",
                     "Prepaid packages: products (operator), buy at the listed price (tenant), sell (operator)."),
    "plan": Lazy("suanli.cli.money:plan_app", "Price plans: payg, spot, term (包月/包年, holds its devices), "
                 "commit (包销 take-or-pay, holds its devices), spend_commitment (holds nothing)."),
    "report": Lazy("suanli.cli.report:app", "Business reports (operator): utilisation, idle and fragmented capacity, "
                   "energy, revenue, margin, payback."),
    "statement": Lazy("suanli.cli.money:statement_app", "Supplier statements and the operator's revenue report."),
    "payout": Lazy("suanli.cli.legal:payout_app", "Supplier payouts: record one (operator), list them (a supplier its "
                   "own)."),
    "legal": Lazy("suanli.cli.legal:legal_app", "Legal profiles printed on invoices: the seller (the operator) and each "
                  "buyer (a tenant): legal name, tax id (统一社会信用代码), address, phone, bank, invoice type."),
    "tax-rate": Lazy("suanli.cli.legal:tax_app", "Tax rates per product type (compute, package, storage, traffic, "
                     "tokens), from an instant."),
    "economics": Lazy("suanli.cli.economics:economics_app", "Investment inputs (operator): capex per node, opex per "
                      "site, life, financing; show, set, import a CSV/JSON file."),
    "agent": Lazy("suanli.cli.agents:agent_app", "Node agents: join tokens, list with health, approve, revoke; run "
                  "the agent on a node (joins, heartbeats, runs its leases' jobs)."),
    "deployment": Lazy("suanli.cli.deployments:deployment_app", "Model deployments: deploy a built-in model with "
                       "replica shapes and bounds; list, show replicas and their health, scale, delete."),
    "inference": Lazy("suanli.cli.inference_usage:inference_app", "The model inference service: usage and cost per "
                      "inference key and model."),
    "runtime": Lazy("suanli.cli.runtime:runtime_app", "The built-in CPU runtime: serve a built-in model (tiny-gpt, "
                    "all-minilm-l6-v2) over an OpenAI-compatible API on a Unix socket or 127.0.0.1; list the built-in "
                    "models."),
}


def load(name: str, lazy: Lazy) -> Command:
    """Import ``lazy.target`` and build its click command, as ``app.add_typer``/``app.command`` would."""
    module, _, attr = lazy.target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    cmd: Command
    if isinstance(obj, typer.Typer):
        cmd = typer.main.get_group(obj)  # a group even with one sub-command, as add_typer makes it
    else:
        one = typer.Typer(add_completion=False)
        one.command(name)(obj)
        single = typer.main.get_command(one)
        assert isinstance(single, TyperCommand)
        cmd = single
    cmd.name = name
    return cmd


class LazyCommands(MutableMapping[str, Any]):
    """The group's ``commands``: names in :data:`COMMANDS` order; a command is built on first access."""

    def __init__(self, eager: Mapping[str, Any]) -> None:
        self._items: dict[str, Command | Lazy] = {**COMMANDS, **eager}

    def stub(self, name: str) -> Command:
        """A stand-in with the name and one-line help, for the listing of ``suanli --help``."""
        item = self._items[name]
        return TyperCommand(name, help=item.help) if isinstance(item, Lazy) else item

    def __contains__(self, name: object) -> bool:
        return name in self._items  # without building it (Mapping's would)

    def __getitem__(self, name: str) -> Command:
        item = self._items[name]
        if isinstance(item, Lazy):
            item = self._items[name] = load(name, item)
        return item

    def __setitem__(self, name: str, cmd: Command) -> None:
        self._items[name] = cmd

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


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
    """The root group: global options hoisted, sub-commands loaded lazily (:class:`LazyCommands`)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = self.lazy = LazyCommands(self.commands)
        self._listing = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, hoist_globals(list(args)))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.lazy)  # names only (TyperGroup's reads .items(), which would build every command)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing and cmd_name in self.lazy:
            return self.lazy.stub(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the command list needs names and one-line help only: import nothing
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


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
         server: Annotated[str | None, typer.Option("--server", metavar="URL", help="Server URL or unix:SOCKET_PATH (else $SUANLI_SERVER, "
                                                    "the config file, or http://127.0.0.1:8000).")] = None,
         token: Annotated[str | None, typer.Option("--token", help="API token (else $SUANLI_TOKEN or the config "
                                                   "file).")] = None,
         timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer.")] = 30.0,
         version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    from suanli.cli.context import state

    st = state(ctx)
    st.server = server or st.server
    st.token = token or st.token
    st.timeout = timeout


if __name__ == "__main__":
    app()
