"""``suanli agent run``: the node agent process (docs/agents.md, "The agent on a node")."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from suanli import __version__
from suanli.cli.context import state
from suanli.cli.render import fail

BACKEND_HELP = "Device backend: auto (NVML, then npu-smi, cnmon, hy-smi on PATH, else none), nvml, npu-smi, cnmon, " \
               "hy-smi, none (no accelerator: declare the count with --devices)."


def run_command(
    ctx: typer.Context,
    node: Annotated[str, typer.Option("--node", help="This node's name in the fleet (e.g. nx-910b-03).")],
    state_dir: Annotated[Path, typer.Option("--state-dir", help="The agent's state directory (credential, outbox, "
                                            "job logs); one per node, kept across restarts.")],
    join_token: Annotated[str | None, typer.Option("--join-token", envvar="SUANLI_JOIN_TOKEN",
                                                   help="One-time join token (slj_...): needed only for the first "
                                                   "start; later starts use the saved node credential.")] = None,
    backend: Annotated[str, typer.Option("--backend", help=BACKEND_HELP)] = "auto",
    devices: Annotated[int | None, typer.Option("--devices", min=0, max=1024,
                                                help="With --backend none: how many devices this node declares. "
                                                "With another backend: the count it must find.")] = None,
    sandbox: Annotated[str, typer.Option("--sandbox", envvar="SUANLI_SANDBOX",
                                         help="Job sandbox: on (required) or off (single-user development only).")] = "on",
    sandbox_network: Annotated[str, typer.Option("--sandbox-network", envvar="SUANLI_SANDBOX_NETWORK",
                                                 help="none (jobs have their own loopback) or host.")] = "none",
    kill_grace: Annotated[float, typer.Option("--kill-grace", min=0.1, max=60.0, metavar="SECONDS",
                                              help="SIGTERM to SIGKILL when a job is stopped; keep it equal to the "
                                              "server's SUANLI_AGENT_KILL_GRACE_S.")] = 5.0,
    slice_mechanisms: Annotated[str, typer.Option(
        "--slice-mechanisms", envvar="SUANLI_SLICE_MECHANISMS",
        help="auto (probe this node: MIG mode in nvidia-smi, an MPS daemon, npu-smi vNPU, HAMi-core) or a comma "
        "list of mig, mps, vnpu, hami (the operator's declaration); reported to the server (docs/slices.md).")] = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every beat's problems and actions.")] = False,
) -> None:
    """Run this node's agent: join (first start), heartbeat, run the leases' jobs in the sandbox, report.

    The server is the global --server (or $SUANLI_SERVER): `suanli agent run --server https://suanli.example
    --node nx-910b-03 --join-token slj_... --state-dir /var/lib/suanli-agent`.
    """
    from suanli.agent.loop import AgentConfig, run
    from suanli.errors import SuanliError

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = state(ctx).config().server
    if slice_mechanisms.strip().lower() != "auto":
        from suanli.domain.slicing import parse_mechanisms

        try:
            parse_mechanisms(slice_mechanisms)
        except ValueError as e:
            fail(f"--slice-mechanisms: {e}")
    cfg = AgentConfig(server=server, node=node, state_dir=state_dir, join_token=join_token, backend=backend,
                      devices=devices, sandbox=sandbox, sandbox_network=sandbox_network, kill_grace_s=kill_grace,
                      version=__version__, slice_mechanisms=slice_mechanisms,
                      nvidia_smi=os.environ.get("SUANLI_NVIDIA_SMI") or None, npu_smi=os.environ.get("SUANLI_NPU_SMI") or None)
    try:
        run(cfg)
    except SuanliError as exc:
        fail(f"agent {node}: {exc.message}")
