"""``suanli sim anatomy``: where one seed of a policy loses allocation on an openb pod list — the
refused pods by shape, the idle devices and share gaps left at 130 % arrived, and the bound a
perfect repacking of the same shares would reach (:mod:`suanli.sim.anatomy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.render import fail, print_json, show, table
from suanli.errors import SuanliError
from suanli.scheduler import policy_names


def anatomy(
    workload: Annotated[str, typer.Option(help="openb pod list CSV or workload name (default, cpu300, ...).")] = "default",
    policy: Annotated[str, typer.Option(help=f"Placement policy: {', '.join(policy_names())}.")] = "fgd+",
    seed: Annotated[int, typer.Option(help="Seed of the arrival order (and of the tie-break).")] = 42,
    top: Annotated[int, typer.Option(help="Rows per table (refused shapes, share combinations, idle nodes).")] = 15,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (every row).")] = False,
) -> None:
    """Replay one seed of the FGD protocol to 130 % arrived and show where allocation is lost: pods
    refused by shape, free capacity at the end (idle devices by node shape; gaps of partly used
    devices by the shares they hold) and the repack bound (100 − idle − the gap of a fractional
    optimal packing of the same shares; docs/placement.md)."""
    from suanli.sim.anatomy import anatomy as run_anatomy
    from suanli.sim.jobs import NODE_FILE, default_trace_dir, resolve_pods
    from suanli.sim.traces import load_nodes, load_pods

    pol = policy.strip().lower()
    if pol not in policy_names():
        fail(f"--policy {policy!r}: allowed: {', '.join(policy_names())}")
    if top < 1:
        fail("--top must be >= 1")
    tdir = trace_dir or default_trace_dir()
    try:
        path = resolve_pods(workload, tdir)
        if not path.is_file():
            fail(f"--workload {workload!r}: no file {path}")
        a = run_anatomy(load_nodes(tdir / "csv" / NODE_FILE), load_pods(path), pol, seed)
    except SuanliError as e:
        fail(e.message)
    summary = {
        "workload": a.workload, "policy": a.policy, "seed": a.seed, "capacity_milli": a.capacity_milli,
        "first_gpu_refusal_arrived_pct": None if a.first_refusal_pct is None else round(a.first_refusal_pct, 3),
        "used_100_pct": round(a.used_100_pct, 3), "used_130_pct": round(a.used_final_pct, 3),
        "idle_pct": round(a.idle_pct, 3), "gap_pct": round(a.gap_pct, 3), "share_devices": a.share_devices,
        "lp_share_devices": round(a.lp_share_devices, 2), "lp_gap_pct": round(a.lp_gap_pct, 3),
        "repack_bound_pct": round(a.repack_bound_pct, 3),
    }
    if as_json:
        print_json({
            **summary,
            "refused": [{"num_devices": r.num_devices, "device_milli": r.device_milli, "cpu_milli": r.cpu_milli,
                         "models": list(r.models) if r.models is not None else None, "pods": r.pods,
                         "gpu_milli": r.gpu_milli} for r in a.refused],
            "gaps": [{"shares": list(g.shares), "devices": g.devices, "free_milli": g.free_milli,
                      "pct": round(a.pct(g.free_milli), 4)} for g in a.combos],
            "idle": [{"model": s.model, "devices": s.devices, "idle": s.idle, "cpu_free_cores": s.cpu_free_cores,
                      "nodes": s.nodes} for s in a.idle],
        })
        return
    show(table(f"refused pods · {a.workload} · {a.policy} · seed {a.seed} (top {top})",
               [("GPUs", "right"), ("milli/GPU", "right"), ("cores", "right"), "models", ("pods", "right"),
                ("GPU pp", "right")],
               [(r.num_devices, r.device_milli, f"{r.cpu_milli / 1000:g}", ",".join(r.models) if r.models else "any",
                 r.pods, f"{a.pct(r.gpu_milli):.3f}") for r in a.refused[:top]]))
    show(table(f"gaps of partly used devices at the end (top {top})",
               ["shares (milli)", ("devices", "right"), ("free milli", "right"), ("pp", "right")],
               [("+".join(str(s) for s in g.shares), g.devices, g.free_milli, f"{a.pct(g.free_milli):.3f}")
                for g in a.combos[:top]]))
    if a.idle:
        show(table(f"nodes with idle devices at the end (top {top})",
                   ["model", ("devices", "right"), ("idle", "right"), ("free cores", "right"), ("nodes", "right")],
                   [(s.model, s.devices, s.idle, s.cpu_free_cores, s.nodes) for s in a.idle[:top]]))
    first = "-" if a.first_refusal_pct is None else f"{a.first_refusal_pct:.2f} %"
    show(f"first GPU pod refused at {first} arrived; used {a.used_100_pct:.2f} % at 100 %, {a.used_final_pct:.2f} % at the end")
    show(f"unallocated: idle devices {a.idle_pct:.3f} pp, gaps {a.gap_pct:.3f} pp on {a.share_devices} shared devices; "
         f"the LP packs the same shares into {a.lp_share_devices:.1f} (gaps {a.lp_gap_pct:.3f} pp): "
         f"repack bound {a.repack_bound_pct:.2f} %")
