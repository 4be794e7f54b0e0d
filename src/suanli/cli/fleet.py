"""``suanli fleet …``, ``suanli node …``, ``suanli floor …`` and ``suanli catalog``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount
from suanli.cli.render import dec, fail, info, print_json, show, table

fleet_app = typer.Typer(help="Import, export and list the fleet (sites, suppliers, nodes, prices, floors).",
                        no_args_is_help=True)
node_app = typer.Typer(help="Change a node's state or owner; show who owned it when.", no_args_is_help=True)
floor_app = typer.Typer(help="Suppliers' floor prices.", no_args_is_help=True)

def read_document(path: Path) -> Any:
    """A fleet file: JSON if it ends in .json, else YAML (which also reads JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        fail(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {e}")


@fleet_app.command("import")
def fleet_import(ctx: typer.Context,
                 file: Annotated[Path, typer.Argument(help="Fleet file, YAML or JSON (keys: models, sites, "
                                                           "suppliers, nodes, prices, floors).")],
                 as_json: JsonOpt = False) -> None:
    """Import a fleet file (operator). All or nothing: a bad row changes nothing. Re-importing is safe."""
    doc = read_document(file)
    with client(ctx) as api:
        res = api.import_fleet(doc)
    if as_json:
        print_json(res)
        return
    show(table(f"imported {file}", ["models", "sites", "suppliers", "nodes", "new nodes", "prices", "floors"],
               [[res.models, res.sites, res.suppliers, res.nodes, res.new_nodes, res.prices, res.floors]]))


@fleet_app.command("import-engine")
def fleet_import_engine(ctx: typer.Context,
                        site: Annotated[str, typer.Option("--site", help="Site the engine's nodes belong to "
                                                          "(must exist: import it in a fleet file first).")],
                        supplier: Annotated[str, typer.Option("--supplier", help="Supplier that owns them (must exist).")],
                        fabric: Annotated[str | None, typer.Option("--fabric", help="Fabric domain for all of them "
                                                                   "(default: <cluster>/<site>).")] = None,
                        as_json: JsonOpt = False) -> None:
    """Import the nodes of the server's running engine (Slurm: nodes, CPUs, memory, GPU GRES types mapped to
    catalog models) into a site (operator)."""
    with client(ctx) as api:
        res = api.import_engine_fleet(site, supplier, fabric)
    if as_json:
        print_json(res)
        return
    show(table("imported from the engine", ["nodes", "new nodes"], [[res.nodes, res.new_nodes]]))


@fleet_app.command("export")
def fleet_export(ctx: typer.Context,
                 out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="JSON instead of YAML.")] = False) -> None:
    """Export the whole fleet (operator) as YAML that `suanli fleet import` reads back."""
    with client(ctx) as api:
        doc = api.export_fleet()
    text = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if as_json
            else yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        info(f"wrote {out} ({len(doc.get('nodes', []))} nodes)")


@fleet_app.command("list")
def fleet_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List nodes you can see (a supplier sees its own): site, supplier, devices, fabric, state."""
    with client(ctx) as api:
        nodes = api.nodes()
    if as_json:
        print_json(nodes)
        return
    show(table("nodes", ["name", "site", "supplier", "model", ("devices", "right"), ("cpu", "right"),
                         ("mem GiB", "right"), "fabric", "state"],
               [[n.name, n.site, n.supplier, n.model, n.devices, n.cpu_cores, n.memory_gib, n.fabric,
                 n.state + (f" ({n.state_reason})" if n.state_reason else "")] for n in nodes],
               caption=f"{len(nodes)} nodes, {sum(n.devices for n in nodes)} devices"))


@node_app.command("state")
def node_state(ctx: typer.Context,
               name: Annotated[str, typer.Argument(help="Node name.")],
               state: Annotated[str, typer.Argument(help="available | maintenance | down")],
               reason: Annotated[str, typer.Option("--reason", help="Why (kept with the node).")] = "",
               as_json: JsonOpt = False) -> None:
    """Set a node available, in maintenance or down (operator, or the node's supplier)."""
    with client(ctx) as api:
        res = api.set_node_state(name, state, reason)
    if as_json:
        print_json(res)
    else:
        show(f"node {res.name}: {res.state}" + (f" ({res.reason})" if res.reason else ""))


@node_app.command("transfer")
def node_transfer(ctx: typer.Context,
                  name: Annotated[str, typer.Argument(help="Node name.")],
                  supplier: Annotated[str, typer.Argument(help="The supplier that owns it from then on.")],
                  reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ownership history).")],
                  effective_from: Annotated[str | None, typer.Option(
                      "--effective-from", help="ISO-8601 instant with a time zone, now or later "
                                               "(default: now); never earlier.")] = None,
                  as_json: JsonOpt = False) -> None:
    """Transfer a node to another supplier (operator). Usage on the node is attributed to whoever owned it
    at its instant, so a transfer mid-month splits the node's revenue there; it is never back-dated."""
    at = None
    if effective_from is not None:
        try:
            at = datetime.fromisoformat(effective_from.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--effective-from {effective_from!r} is not an ISO-8601 instant, e.g. 2026-12-01T00:00:00+08:00")
        if at.tzinfo is None:
            fail(f"--effective-from {effective_from!r} has no time zone; add Z or +08:00")
    with client(ctx) as api:
        res = api.transfer_node(name, supplier, reason, at)
    _owners_out(res, as_json)


@node_app.command("owners")
def node_owners(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Node name.")],
                as_json: JsonOpt = False) -> None:
    """Who owns a node now and who owned it when (operator; a supplier for a node it owns or owned)."""
    with client(ctx) as api:
        res = api.node_owners(name)
    _owners_out(res, as_json)


def _owners_out(res: Any, as_json: bool) -> None:
    if as_json:
        print_json(res)
        return
    show(table(f"node {res.node}: owned by {res.supplier}", ["supplier", "from", "to", "reason"],
               [[x.supplier, f"{x.start:%Y-%m-%d %H:%M:%S} UTC", f"{x.end:%Y-%m-%d %H:%M:%S} UTC" if x.end else "-",
                 x.reason] for x in res.history]))


@floor_app.command("set")
def floor_set(ctx: typer.Context,
              supplier: Annotated[str, typer.Argument(help="Supplier name.")],
              model: Annotated[str, typer.Argument(help="Accelerator model, e.g. H800.")],
              amount_: Annotated[str, typer.Argument(metavar="AMOUNT", help="Floor in 元 per device-hour, e.g. 7.00.")],
              as_json: JsonOpt = False) -> None:
    """Set a supplier's floor price per device-hour for a model (operator, or that supplier)."""
    value = amount(amount_, "AMOUNT")
    with client(ctx) as api:
        res = api.set_floor(supplier, model, value)
    if as_json:
        print_json(res)
    else:
        show(f"floor for {res.supplier} on {res.model}: {dec(res.device_hour)} 元/device-hour")


@floor_app.command("list")
def floor_list(ctx: typer.Context,
               supplier: Annotated[str | None, typer.Option("--supplier", help="Supplier name (a supplier's "
                                                            "account: its own, the default).")] = None,
               as_json: JsonOpt = False) -> None:
    """The floor prices in force for a supplier, per device-hour by model (a floor holds on every site)."""
    with client(ctx) as api:
        if supplier is None:
            supplier = api.me().supplier
            if supplier is None:
                fail("name the supplier with --supplier", hint="e.g. suanli floor list --supplier huadong-idc")
        res = api.floors(supplier)
    if as_json:
        print_json(res)
        return
    show(table(f"floors of {supplier}", ["model", ("元/device-hour", "right")],
               [[f.model, dec(f.device_hour)] for f in res]))


def catalog(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The accelerator catalog: vendor, memory, P (dense FP16/BF16 PFLOPS), TDP and the datasheet source."""
    with client(ctx) as api:
        models = api.catalog()
    if as_json:
        print_json(models)
        return
    show(table("accelerator catalog", ["model", "vendor", "kind", ("memory GiB", "right"), ("P", "right"),
                                       ("FP32 TFLOPS", "right"), ("TDP W", "right"), ("link GB/s", "right"), "source"],
               [[m.name, m.vendor, m.kind, m.memory_gib, f"{m.p:f}", f"{m.fp32_tflops:f}", m.tdp_watts,
                 m.interconnect_gbps, m.source] for m in models]))
