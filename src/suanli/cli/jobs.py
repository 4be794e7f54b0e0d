"""``suanli job submit|list|show|logs|cancel|usage``: work on a lease's devices."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.api.schemas.jobs import JobResponse
from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import num, print_json, show, table, when

job_app = typer.Typer(help="Run work on a lease's devices, follow it, read its logs.", no_args_is_help=True)


def _devices(j: JobResponse) -> str:
    """The device indices the job got, or how many it asked for while they are unknown."""
    return ",".join(map(str, j.device_indices)) if j.device_indices else str(j.devices)


def _exit(j: JobResponse) -> str:
    return "-" if j.exit_code is None else str(j.exit_code)


@job_app.command("submit", context_settings={"allow_interspersed_args": False})
def job_submit(ctx: typer.Context,
               lease: Annotated[str, typer.Option("--lease", help="The lease whose devices run the job.")],
               command: Annotated[list[str], typer.Argument(help="The command, after `--`: suanli job submit "
                                                                 "--lease L -- python train.py")],
               devices: Annotated[int | None, typer.Option("--devices", help="Devices to use on the node "
                                                            "(default: all the lease holds there).")] = None,
               node: Annotated[str | None, typer.Option("--node", help="Which of the lease's nodes "
                                                          "(default: the first).")] = None,
               name: Annotated[str | None, typer.Option("--name", help="A name for the job.")] = None,
               env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE, repeatable.")] = None,
               time_limit: Annotated[int | None, typer.Option("--time-limit", help="Seconds (default: until "
                                                                "the lease ends).")] = None,
               as_json: JsonOpt = False) -> None:
    """Submit a job into a lease; the engine pins it to the lease's devices."""
    pairs = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--env")
        pairs[key] = value
    with client(ctx) as api:
        job = api.submit_job(lease, command, devices=devices, node=node, env=pairs, name=name,
                             time_limit_s=time_limit)
    if as_json:
        print_json(job)
        return
    show(table(f"job {job.id}", ["lease", "state", "node", ("devices", "right"), "engine id", "submitted"],
               [[job.lease_id, job.state, job.node or "-", job.devices, f"{job.driver}:{job.driver_job_id}",
                 when(job.submitted_at)]]))


@job_app.command("list")
def job_list(ctx: typer.Context,
             lease: Annotated[str | None, typer.Option("--lease", help="Only this lease's jobs.")] = None,
             as_json: JsonOpt = False) -> None:
    """List your jobs (newest first), with their state as the engine reports it."""
    with client(ctx) as api:
        page = api.jobs(lease_id=lease, limit=500)
    if as_json:
        print_json(page.items)
        return
    show(table("jobs", ["id", "lease", "state", "node", "devices", ("exit", "right"), ("device-s", "right"),
                        "command"],
               [[j.id, j.lease_id, j.state, j.node or "-", _devices(j), _exit(j),
                 "-" if j.device_seconds is None else num(j.device_seconds),
                 " ".join(j.command)[:60]] for j in page.items],
               caption=f"{len(page.items)} jobs"))


@job_app.command("show")
def job_show(ctx: typer.Context, job_id: str, as_json: JsonOpt = False) -> None:
    """One job: where it ran, on which devices, how it ended."""
    with client(ctx) as api:
        j = api.job(job_id)
    if as_json:
        print_json(j)
        return
    show(table(f"job {j.id}", ["lease", "state", "node", "devices", "started", "finished", ("exit", "right")],
               [[j.lease_id, j.state, j.node or "-", _devices(j),
                 when(j.started_at) if j.started_at else "-", when(j.finished_at) if j.finished_at else "-",
                 _exit(j)]], caption=j.reason or None))


@job_app.command("logs")
def job_logs(ctx: typer.Context, job_id: str) -> None:
    """Print the job's output (the last part of a long log)."""
    with client(ctx) as api:
        typer.echo(api.job_logs(job_id).logs, nl=False)


@job_app.command("cancel")
def job_cancel(ctx: typer.Context, job_id: str, as_json: JsonOpt = False) -> None:
    """Stop a job (its lease keeps running)."""
    with client(ctx) as api:
        j = api.cancel_job(job_id)
    if as_json:
        print_json(j)
        return
    typer.echo(f"job {j.id}: {j.state}")


@job_app.command("usage")
def job_usage(ctx: typer.Context,
              lease: Annotated[str, typer.Option("--lease", help="The lease.")], as_json: JsonOpt = False) -> None:
    """Allocated device-seconds (what is billed) next to what jobs used, and SLA credits."""
    with client(ctx) as api:
        u = api.lease_usage(lease)
    if as_json:
        print_json(u)
        return
    show(table(f"usage of {u.lease_id}", [("allocated device-s", "right"), ("used device-s", "right"),
                                           ("used", "right"), ("jobs", "right")],
               [[num(u.allocated_device_seconds), num(u.used_device_seconds), f"{u.used_share * 100:.1f}%",
                 f"{u.finished_jobs}/{u.jobs}"]]))
    if u.sla_credits:
        show(table("SLA credits", ["from", "to", ("seconds", "right"), ("amount", "right"), "reason"],
                   [[when(c.start), when(c.end) if c.end else "open", c.seconds, f"{c.amount} {c.currency}", c.reason]
                    for c in u.sla_credits]))
