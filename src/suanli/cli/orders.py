"""``suanli order create|list|cancel|quote|when``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError

from suanli.api.schemas.orders import OrderRequest
from suanli.cli.context import client, invalid
from suanli.cli.leases import lease_renderables, quote_table
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.queue import show_when
from suanli.cli.render import print_json, show, table, when
from suanli.client.queue import QueueClient

order_app = typer.Typer(help="Order compute (server, gpu, slice, cluster, flops); price, list and cancel orders.",
                        no_args_is_help=True)

ListOpt = list[str] | None
FormOpt = Annotated[str, typer.Option("--form", help="server | gpu | slice | cluster | flops | cpu (a CPU-only "
                                                     "instance: --cpu-cores and --ram-gib)")]
QuantityOpt = Annotated[int | None, typer.Option("--quantity", "-n", help="server/cluster: nodes; gpu: devices "
                                                 "on one node.")]
ModelOpt = Annotated[ListOpt, typer.Option("--model", metavar="MODEL",
                                           help="Allowed accelerator model(s); repeat or comma-separate.")]
SiteOpt = Annotated[ListOpt, typer.Option("--site", metavar="SITE", help="Allowed site(s).")]
RegionOpt = Annotated[ListOpt, typer.Option("--region", metavar="REGION", help="Allowed region(s).")]
NearOpt = Annotated[ListOpt, typer.Option("--near", metavar="REGION",
                                          help="Near this region (e.g. cn-south): the same as --region.")]
MaxRttOpt = Annotated[str | None, typer.Option("--max-rtt-ms", metavar="MS",
                                               help="Only sites whose measured round-trip time is at most MS "
                                                    "milliseconds (above 0 up to 10000; `suanli offers` shows "
                                                    "each site's).")]
VendorOpt = Annotated[ListOpt, typer.Option("--vendor", metavar="VENDOR",
                                            help="Allowed vendor(s): nvidia, huawei, cambricon, hygon…")]
SharePctOpt = Annotated[int | None, typer.Option("--share-pct", help="slice: compute share of one device, 1-100.")]
MemoryMibOpt = Annotated[int | None, typer.Option("--memory-mib", help="slice: device memory in MiB.")]
SliceClassOpt = Annotated[str | None, typer.Option(
    "--slice-class", help="slice: guaranteed (default) or burstable: compute may be oversold, so the slice may be "
                          "slowed when neighbours are busy; priced lower (see `suanli oversub offers`).")]
AllowUnenforcedOpt = Annotated[bool, typer.Option(
    "--allow-unenforced", help="slice: accept a slice that no mechanism (MIG, HAMi, MPS, vNPU) can hold to its share "
                               "on the allowed models; without it such an order is refused (`suanli slice profiles`).")]
MigratableOpt = Annotated[bool, typer.Option(
    "--migratable", help="gpu or slice: the lease accepts moves to other devices with notice (its job gets a notice "
                         "file and SIGTERM, and restarts there), for a discount (`suanli defrag set`; docs/defrag.md).")]
POpt = Annotated[str | None, typer.Option("--p", metavar="P", help="flops: compute in P (PFLOPS dense FP16), e.g. 2.5.")]
MinMemoryOpt = Annotated[int | None, typer.Option("--min-memory", metavar="GIB", help="Minimum memory per device (GiB).")]
TopologyOpt = Annotated[str | None, typer.Option("--topology", help=(
    "flops: where the devices may lie, and so what may be combined: node (one node) | fabric (one fabric "
    "domain; its models may mix) | any (any models and sites); default fabric. The cheapest mix covering --p "
    "is chosen."))]
StartOpt = Annotated[str | None, typer.Option("--start", metavar="ISO", help="Future start = a reservation (default now).")]
EndOpt = Annotated[str | None, typer.Option("--end", metavar="ISO", help="End of the term.")]
HoursOpt = Annotated[str | None, typer.Option("--hours", metavar="N",
                                              help="Term in hours (instead of --end). Neither: open-ended.")]
WaitUntilOpt = Annotated[str | None, typer.Option(
    "--wait-until", metavar="ISO", help="If it does not fit now, wait in the queue until then (at most 30 days; its "
                                        "term counts from the grant). Without it, such an order is refused.")]
PriorityOpt = Annotated[str | None, typer.Option(
    "--priority", help="Queue priority class: high | normal (default) | low; high only where the operator allows it.")]


_SHAPE = ("gpu, slice, flops (per node) and cpu: held on the node; beyond the devices' share it is billed per "
          "second at the resource price (`suanli price resource`)")
CpuCoresOpt = Annotated[int | None, typer.Option("--cpu-cores", metavar="N", help=f"Host CPU cores, {_SHAPE}.")]
RamGibOpt = Annotated[int | None, typer.Option("--ram-gib", metavar="GIB", help=f"Host RAM in GiB (not device "
                                               f"memory), {_SHAPE}.")]
NicGbpsOpt = Annotated[int | None, typer.Option("--nic-gbps", metavar="GBPS", help=f"NIC bandwidth, {_SHAPE}.")]
DiskGibOpt = Annotated[int | None, typer.Option("--disk-gib", metavar="GIB", help=f"Local disk in GiB, {_SHAPE}.")]


def names(values: ListOpt) -> list[str] | None:
    """Repeatable option values, each may also be comma-separated (``--model H800,A800``)."""
    if not values:
        return None
    out = [x.strip() for v in values for x in v.split(",") if x.strip()]
    return out or None


def _request(form: str, quantity: int | None, model: ListOpt, site: ListOpt, region: ListOpt, vendor: ListOpt,
             share_pct: int | None, memory_mib: int | None, p: str | None, min_memory: int | None,
             topology: str | None, start: str | None, end: str | None, hours: str | None,
             near: ListOpt = None, max_rtt_ms: str | None = None, slice_class: str | None = None,
             allow_unenforced: bool = False, wait_until: str | None = None,
             priority: str | None = None, shape: dict[str, int | None] | None = None,
             migratable: bool = False) -> OrderRequest:
    if end is not None and hours is not None:
        raise typer.BadParameter("give either --end or --hours, not both", param_hint="--end/--hours")
    regions = names([*(region or []), *(near or [])])
    fields: dict[str, Any] = {
        "form": form, "quantity": quantity, "models": names(model), "sites": names(site), "regions": regions,
        "vendors": names(vendor), "share_pct": share_pct, "memory_mib": memory_mib,
        "p": amount(p, "--p") if p is not None else None, "min_memory_gib": min_memory, "topology": topology,
        "start": instant(start, "--start"), "end": instant(end, "--end"),
        "hours": amount(hours, "--hours") if hours is not None else None,
        "max_rtt_ms": amount(max_rtt_ms, "--max-rtt-ms") if max_rtt_ms is not None else None,
        "slice_class": slice_class,
        "allow_unenforced": True if allow_unenforced else None,
        "migratable": True if migratable else None,
        "wait_until": instant(wait_until, "--wait-until"), "priority": priority,
        **(shape or {}),
    }
    try:
        return OrderRequest(**{k: v for k, v in fields.items() if v is not None})
    except PydanticValidationError as e:
        invalid(e)


@order_app.command("create")
def order_create(
    ctx: typer.Context,
    form: FormOpt,
    quantity: QuantityOpt = None,
    model: ModelOpt = None,
    site: SiteOpt = None,
    region: RegionOpt = None,
    vendor: VendorOpt = None,
    share_pct: SharePctOpt = None,
    memory_mib: MemoryMibOpt = None,
    p: POpt = None,
    min_memory: MinMemoryOpt = None,
    topology: TopologyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    hours: HoursOpt = None,
    near: NearOpt = None,
    max_rtt_ms: MaxRttOpt = None,
    slice_class: SliceClassOpt = None,
    allow_unenforced: AllowUnenforcedOpt = False,
    migratable: MigratableOpt = False,
    wait_until: WaitUntilOpt = None,
    priority: PriorityOpt = None,
    cpu_cores: CpuCoresOpt = None,
    ram_gib: RamGibOpt = None,
    nic_gbps: NicGbpsOpt = None,
    disk_gib: DiskGibOpt = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", metavar="K", help="Retrying with the "
                                                        "same key returns the first order instead of a second one.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Order compute and get a lease. Prints the order, its lease, the devices it holds and its price quote. A request nothing can hold is rejected with the reason (exit 1); with --wait-until one that does not fit now waits in the queue (its position and estimated start are printed)."""
    request = _request(form, quantity, model, site, region, vendor, share_pct, memory_mib, p, min_memory, topology,
                       start, end, hours, near, max_rtt_ms, slice_class=slice_class, allow_unenforced=allow_unenforced,
                       wait_until=wait_until, priority=priority,
                       shape={"cpu_cores": cpu_cores, "ram_gib": ram_gib, "nic_gbps": nic_gbps, "disk_gib": disk_gib},
                       migratable=migratable)
    with client(ctx) as api:
        order = api.create_order(request, idempotency_key=idempotency_key)
        lease = api.lease(order.lease_id) if order.lease_id else None
    if as_json:
        print_json({"order": order, "lease": lease})
        return
    note = " (replayed: same Idempotency-Key)" if order.replayed else ""
    if order.status == "queued":  # QUEUE: it waits (docs/queue.md)
        q = order.queue
        place = (f"; position {q.position}, estimated start "
                 f"{when(q.estimated_start) if q.estimated_start else 'not within the horizon'}, "
                 f"waits until {when(q.wait_until)}") if q else ""
        show(f"order {order.id} queued{note}{place}")
        return
    enforced = f"; enforced by {order.enforcement}" if order.enforcement else ""  # a slice (docs/slices.md)
    show(f"order {order.id} {order.status}{note}; lease {order.lease_id} {lease.state if lease else ''}{enforced}")
    if lease is not None:
        show(*lease_renderables(lease))


@order_app.command("quote")
def order_quote(
    ctx: typer.Context,
    form: FormOpt,
    quantity: QuantityOpt = None,
    model: ModelOpt = None,
    site: SiteOpt = None,
    region: RegionOpt = None,
    vendor: VendorOpt = None,
    share_pct: SharePctOpt = None,
    memory_mib: MemoryMibOpt = None,
    p: POpt = None,
    min_memory: MinMemoryOpt = None,
    topology: TopologyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    hours: HoursOpt = None,
    near: NearOpt = None,
    max_rtt_ms: MaxRttOpt = None,
    slice_class: SliceClassOpt = None,
    allow_unenforced: AllowUnenforcedOpt = False,
    migratable: MigratableOpt = False,
    cpu_cores: CpuCoresOpt = None,
    ram_gib: RamGibOpt = None,
    nic_gbps: NicGbpsOpt = None,
    disk_gib: DiskGibOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Price a would-be order without placing it: the rate per device-hour and per P-year of the devices it
    would get now, the cost per hour and, with --end/--hours, the total for the term. A fixed term or a
    reservation is billed at the quote its order gets when placed; an open-ended lease follows the list price."""
    request = _request(form, quantity, model, site, region, vendor, share_pct, memory_mib, p, min_memory, topology,
                       start, end, hours, near, max_rtt_ms, slice_class=slice_class, allow_unenforced=allow_unenforced,
                       shape={"cpu_cores": cpu_cores, "ram_gib": ram_gib, "nic_gbps": nic_gbps, "disk_gib": disk_gib},
                       migratable=migratable)
    with client(ctx) as api:
        quote = api.quote_order(request)
    if as_json:
        print_json(quote)
    else:
        show(quote_table(quote))


@order_app.command("list")
def order_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List orders you can see (a tenant: its own), every page."""
    with client(ctx) as api:
        orders = list(api.iter_orders())
    if as_json:
        print_json(orders)
        return
    show(table("orders", ["id", "form", "status", "lease", "start", "end", "reason"],
               [[o.id, o.form, o.status, o.lease_id, when(o.start), when(o.end) if o.end else "open-ended", o.reason]
                for o in orders], caption=f"{len(orders)} orders"))


@order_app.command("cancel")
def order_cancel(ctx: typer.Context, order_id: Annotated[str, typer.Argument(metavar="ID", help="Order id (ord_…).")],
                 as_json: JsonOpt = False) -> None:
    """Cancel an order whose lease has not started yet (a reservation); end an active lease with `lease end`."""
    with client(ctx) as api:
        order = api.cancel_order(order_id)
    if as_json:
        print_json(order)
    else:
        show(f"order {order.id} {order.status}" + (f" ({order.reason})" if order.reason else ""))



@order_app.command("when")
def order_when(
    ctx: typer.Context,
    form: FormOpt,
    quantity: QuantityOpt = None,
    model: ModelOpt = None,
    site: SiteOpt = None,
    region: RegionOpt = None,
    vendor: VendorOpt = None,
    share_pct: SharePctOpt = None,
    memory_mib: MemoryMibOpt = None,
    p: POpt = None,
    min_memory: MinMemoryOpt = None,
    topology: TopologyOpt = None,
    end: EndOpt = None,
    hours: HoursOpt = None,
    near: NearOpt = None,
    max_rtt_ms: MaxRttOpt = None,
    slice_class: SliceClassOpt = None,
    allow_unenforced: AllowUnenforcedOpt = False,
    priority: PriorityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """When could this order start? The earliest start for its shape and term from the reservation calendar (live
    leases' ends, reservations, spot notices, the queued orders ahead of it): "now", an instant, or "not within the
    horizon" (30 days). Nothing is written."""
    request = _request(form, quantity, model, site, region, vendor, share_pct, memory_mib, p, min_memory, topology,
                       None, end, hours, near, max_rtt_ms, slice_class=slice_class, allow_unenforced=allow_unenforced,
                       priority=priority)
    with client(ctx) as api:
        answer = QueueClient(api).when(request)
    show_when(answer, as_json)
