"""``suanli serve``: the server entry point (the one CLI command that builds a Platform in-process).

The server-side imports (``suanli.api.app``, ``suanli.service``, uvicorn) happen inside
:func:`serve`, so other commands stay light and keep to the client.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from suanli.cli.extras import install_hint
from suanli.cli.render import info

DEMO_TENANT = "demo-tenant"
DEMO_SUPPLIER_ACCOUNT = "demo-supplier"
DEMO_SUPPLIER = "huadong-idc"
TOKENS_FILE = "demo-tokens.json"


def client_url(host: str, port: int) -> str:
    """The URL a client on this machine uses (a wildcard bind is reached on loopback)."""
    h = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    return f"http://{h}:{port}"


def write_tokens(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def read_tokens(path: Path) -> dict[str, Any]:
    """The demo tokens saved by an earlier start (``{}`` if there are none or the file is unreadable)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def serve(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo fleet if the fleet is empty, create the "
                                       "accounts demo-tenant and demo-supplier and print their tokens (the ones "
                                       "in demo-tokens.json while they still work, else new ones).")] = False,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite database and demo-tokens.json "
                                                  "live (default: $SUANLI_DATA_DIR or ~/.local/share/suanli).")]
    = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy/PostgreSQL URL instead of "
                                                     "SQLite (default: $SUANLI_DATABASE_URL).")] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="Placement policy name (default: "
                                               "$SUANLI_PLACEMENT_POLICY or fgd+, which measures "
                                               "fragmentation against the mix of recent orders; "
                                               "docs/placement.md).")] = None,
    reuse_port: Annotated[bool, typer.Option("--reuse-port", help="Share HOST:PORT with other `suanli serve` "
                                             "processes on this machine (SO_REUSEPORT; the kernel spreads "
                                             "connections among them): replicas on one PostgreSQL database. "
                                             "Every replica serves the whole API; the background work runs on "
                                             "the one that leads (docs/platform.md, \"Replicas\"). Not with "
                                             "SQLite.")] = False,
) -> None:
    """Run the suanli server (API, web console at /console, background reconcilers: lease time, runway, engine, usage, node health). With the local engine it also listens on the Unix socket <data-dir>/run/api.sock, which every job reaches at /run/suanli/api.sock with its own token (docs/sandbox.md). Migrates the database first; on first start prints an operator token. With --demo also writes <data-dir>/demo-tokens.json and prints `export SUANLI_SERVER=… SUANLI_TOKEN=…` for the demo tenant.

    Replicas: start several on one PostgreSQL (same --database-url), each with --reuse-port on the same --host/--port or behind a load balancer. The background work runs on one replica at a time (a lease in the database, renewed every $SUANLI_BACKGROUND_INTERVAL_SECONDS, default 5; a leader that stops or is killed is replaced at another replica's next interval, one whose host is lost within $SUANLI_LEADER_TTL_SECONDS, default 10, plus that interval); GET /health shows this replica's id and who leads."""
    import uvicorn

    from suanli.api.app import create_app
    from suanli.api.middleware import EdgeLimits
    from suanli.domain.accounts import Role
    from suanli.domain.demo import (
        DEMO_BUYER,
        DEMO_SELLER,
        DEMO_TAX_RATES,
        demo_fleet,
        demo_investment,
        demo_package_products,
        demo_resource_prices,
        demo_token_prices,
    )
    from suanli.errors import SuanliError
    from suanli.scheduler.registry import get_policy
    from suanli.service import accounts, economics, fleet, legal, packages, plans, shapes
    from suanli.service.leadership import check_timing, replica
    from suanli.service.platform import JOB_API_SOCKET, Platform, api_socket_path
    from suanli.settings import Settings

    try:  # a limit that is not a number or a rate (docs/edge.md) stops here, before the database opens
        settings = Settings.from_env(data_dir=data_dir, database_url=database_url, placement_policy=policy)
        EdgeLimits.from_settings(settings)
        check_timing(settings.background_interval_seconds, settings.leader_ttl_seconds)
    except SuanliError as e:
        info(f"bad setting: {e.message}")
        raise typer.Exit(1) from None
    try:  # an unknown policy fails here, not at the first order
        get_policy(settings.placement_policy)
    except SuanliError as e:
        raise typer.BadParameter(e.message, param_hint="--policy / SUANLI_PLACEMENT_POLICY") from None
    if reuse_port and not settings.sqlalchemy_url.startswith("postgresql"):
        info("--reuse-port runs replicas that share one PostgreSQL database (--database-url or $SUANLI_DATABASE_URL); "
             "a SQLite file is served by one process")
        raise typer.Exit(1)
    sock = None
    if reuse_port:  # bound before the database opens: a port held by something else stops here
        try:
            sock = reuse_port_socket(host, port)
        except OSError as e:
            info(f"cannot listen on {host}:{port} with SO_REUSEPORT: {e}")
            raise typer.Exit(1) from None
    try:
        platform = Platform(settings)
    except Exception as e:  # a bad URL or an unreachable database: say which, don't dump a traceback
        where = settings.database_url or settings.sqlalchemy_url
        info(f"cannot open the database at {where}: {e}")
        if hint := install_hint(e):  # PostgreSQL without the postgres extra
            info(f"install it with: {hint}")
        raise typer.Exit(1) from e
    url = client_url(host, port)
    operator_token = accounts.bootstrap_operator(platform)
    typer.echo(f"suanli server: {url}  (web console: {url}/console; API description: {url}/openapi.json; database: {platform.dialect})")
    sandbox = platform.sandbox
    if sandbox is not None:  # the local engine: say how tenant jobs are confined, loudly when they are not
        warn = "WARNING: " if sandbox["isolation"] in ("off", "unavailable") else ""
        typer.echo(f"{warn}job sandbox ({sandbox['isolation']}): {sandbox['detail']}")
    if (probe := platform.slice_probe) is not None:  # MIG part: what holds a slice to its share here, and why
        how = "probed" if probe["probed"] else "declared (SUANLI_SLICE_MECHANISMS)"
        reasons = probe["reasons"]
        assert isinstance(reasons, dict)
        typer.echo(f"slice enforcement {how}: {', '.join(probe['mechanisms']) or 'none'}"  # type: ignore[arg-type]
                   + (f" ({'; '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})" if probe["probed"] else ""))
    if operator_token:
        typer.echo(f"first start: operator token (shown once): {operator_token}")
    if demo:
        tokens: dict[str, Any] = {"server": url}
        path = settings.data_dir / TOKENS_FILE
        saved = read_tokens(path)  # reused while they work: restarts do not pile up live operator tokens

        def kept(role: str) -> str | None:
            value = saved.get(role)
            return value if isinstance(value, str) else None

        try:
            op_token = operator_token or accounts.ensure_account(platform, "operator", Role.OPERATOR,
                                                                 reuse=kept("operator"))
            operator = accounts.authenticate(platform, op_token)
            if not fleet.list_nodes(platform, operator):
                res = fleet.import_fleet(platform, operator, demo_fleet())
                typer.echo(f"demo fleet loaded: {res['sites']} sites, {res['nodes']} nodes, {res['prices']} prices")
            if all(n["capex"] is None for n in economics.get_inputs(platform, operator)["nodes"]):
                res = economics.set_inputs(platform, operator, **demo_investment(demo_fleet()))
                typer.echo(f"demo investment inputs: capex of {res['nodes']} nodes, opex of {res['sites']} sites")
            if not packages.list_products(platform, operator, include_retired=True):
                for product in demo_package_products():
                    packages.create_product(platform, operator, **product)
                typer.echo(f"demo package products: {', '.join(x['name'] for x in demo_package_products())}")
            if not [x for x in plans.list_plans(platform, operator) if x["tenant"] == "*"]:
                plans.create_plan(platform, operator, demo_token_prices())
                typer.echo("demo token prices (default plan): tiny-gpt, all-minilm-l6-v2 (`suanli price tokens`)")
            if not shapes.list_resource_prices(platform, operator):  # custom shapes' extras (docs/billing.md)
                for x in demo_resource_prices():
                    shapes.set_resource_price(platform, operator, x["resource"], Decimal(x["amount"]))
                typer.echo("demo resource prices: core-hour, GiB-hour, Gbps-hour, GiB-month (`suanli price resource`)")
            tokens["operator"] = op_token
            tokens["tenant"] = accounts.ensure_account(platform, DEMO_TENANT, Role.TENANT, reuse=kept("tenant"))
            tokens["supplier"] = accounts.ensure_account(platform, DEMO_SUPPLIER_ACCOUNT, Role.SUPPLIER, DEMO_SUPPLIER,
                                                         reuse=kept("supplier"))
            if not legal.list_tax_rates(platform, operator)["rates"]:  # invoices ready for China (docs/billing.md)
                legal.set_seller_profile(platform, operator, DEMO_SELLER)
                legal.set_buyer_profile(platform, operator, DEMO_TENANT, DEMO_BUYER)
                for kind, rate in DEMO_TAX_RATES.items():
                    legal.set_tax_rate(platform, operator, kind, Decimal(rate), None, "demo")
                typer.echo("demo legal profiles (seller, demo tenant) and tax rates (6 % per product type)")
        except SuanliError as e:
            info(f"demo set-up incomplete: {e.message}")
        write_tokens(path, tokens)
        for role in ("operator", "tenant", "supplier"):
            if role in tokens:
                typer.echo(f"{role:9s} token: {tokens[role]}")
        typer.echo(f"tokens saved to {path}")
        if "tenant" in tokens:
            typer.echo("as the demo tenant, paste:")
            typer.echo(f"  export SUANLI_SERVER={url} SUANLI_TOKEN={tokens['tenant']}")
        if "operator" in tokens:
            typer.echo("as the operator:")
            typer.echo(f"  export SUANLI_SERVER={url} SUANLI_TOKEN={tokens['operator']}")
    elif not operator_token:
        typer.echo("operator token: shown on first start only; issue another with `suanli account token operator`")
    me = replica(platform)
    typer.echo(f"replica {me.id}: background work every {settings.background_interval_seconds:g} s while this "
               f"replica leads (leader lease {settings.leader_ttl_seconds:g} s; see GET /health)")
    app = create_app(platform, tick_seconds=settings.background_interval_seconds)
    config = uvicorn.Config(app, host=host, port=port, log_level="info")
    uds = None
    try:
        if sock is None:
            sock = config.bind_socket()
        if platform.sandbox is not None:  # the local engine's jobs reach the API here (docs/sandbox.md)
            try:
                uds = unix_socket(api_socket_path(settings))
            except OSError as e:
                info(f"cannot listen on the jobs' socket {api_socket_path(settings)}: {e}")
                raise typer.Exit(1) from None
            typer.echo(f"jobs reach the API at {api_socket_path(settings)} (in a job: {JOB_API_SOCKET})")
        freeze_startup_objects()
        uvicorn.Server(config).run(sockets=[sock] if uds is None else [sock, uds])
    finally:
        if uds is not None:
            uds.close()
        platform.close()


def freeze_startup_objects() -> None:
    """Move every object made so far (modules, the app, the ORM's and pydantic's schemas, the fleet) out of the
    garbage collector's view: they live as long as the server, and a full collection scanned them all, ~125 ms
    each, about 10 times a minute under load (docs/performance.md, BATCHWRITE: ~5 % of the server's CPU)."""
    gc.collect()
    gc.freeze()


def unix_socket(path: Path) -> socket.socket:
    """A Unix socket bound at ``path`` (a stale one from an earlier start is replaced), mode 0666 in a
    directory of its own (0711: a job's sandbox connects by name, lists nothing; the data directory
    above it stays 0700). A path longer than the kernel's 107 bytes is bound through its directory's fd."""
    path.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    path.parent.chmod(0o711)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    dirfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path) if len(str(path)) < 100 else f"/proc/self/fd/{dirfd}/{path.name}")
        os.chmod(path, 0o666)
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dirfd)
    sock.set_inheritable(True)
    return sock


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port with SO_REUSEPORT (and SO_REUSEADDR), so that other
    processes that do the same share the address and the kernel spreads new connections among them."""
    family, kind, proto, _, addr = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock
