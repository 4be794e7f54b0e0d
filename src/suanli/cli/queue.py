"""``suanli queue list|weight|weights`` (docs/queue.md); ``suanli order when`` renders with :func:`show_when`."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError as PydanticValidationError

from suanli.api.schemas.queue import WhenResponse
from suanli.cli.context import client, invalid
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table, when
from suanli.client.queue import QueueClient

queue_app = typer.Typer(help="The order queue: waiting orders with position and estimated start; fair-share weights "
                             "and who may order priority high (operator).", no_args_is_help=True)


@queue_app.command("list")
def queue_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Waiting orders in their order of service (priority class, weighted fair share, arrival), each with its
    position and estimated start from the reservation calendar (a tenant: its own; the operator: all)."""
    with client(ctx) as api:
        entries = QueueClient(api).entries()
    if as_json:
        print_json(entries)
        return
    show(table("queue", [("#", "right"), "order", "tenant", "form", "priority", "queued", "wait until",
                         "estimated start", "preempting"],
               [[str(e.position), e.order_id, e.tenant, e.form, e.priority, when(e.queued_at), when(e.wait_until),
                 when(e.estimated_start) if e.estimated_start else "not within the horizon",
                 ", ".join(e.preempting)] for e in entries], caption=f"{len(entries)} waiting"))


@queue_app.command("weight")
def queue_weight(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant account's name.")],
    weight: Annotated[str, typer.Option("--weight", help="Fair-share weight, 0.01 to 1000 (a tenant without one: 1). "
                                                         "Capacity is shared in proportion to weights.")],
    allow_high: Annotated[bool | None, typer.Option("--allow-high/--no-high",
                                                    help="May the tenant order priority high (unchanged if not "
                                                         "given).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a tenant's fair-share weight and whether it may order priority high (operator)."""
    with client(ctx) as api:
        try:
            w = QueueClient(api).set_weight(tenant, weight, allow_high)
        except PydanticValidationError as e:
            invalid(e)
    if as_json:
        print_json(w)
        return
    show(f"tenant {w.tenant}: weight {w.weight}, priority high {'allowed' if w.allow_high else 'not allowed'}")


@queue_app.command("weights")
def queue_weights(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The fair-share weights the operator set (operator)."""
    with client(ctx) as api:
        ws = QueueClient(api).weights()
    if as_json:
        print_json(ws)
        return
    show(table("queue weights", ["tenant", ("weight", "right"), "priority high", "set at"],
               [[w.tenant, w.weight, "allowed" if w.allow_high else "no", when(w.set_at) if w.set_at else ""]
                for w in ws]))


def show_when(w: WhenResponse, as_json: bool) -> None:
    if as_json:
        print_json(w)
        return
    if w.now:
        show("earliest start: now")
    elif w.start is None:
        show(f"earliest start: {w.answer}")
    else:
        show(f"earliest start: {when(w.start)} ({w.ahead} queued orders ahead counted)")
