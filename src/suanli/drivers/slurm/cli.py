"""Slurm's command-line tools, wrapped: every call has a timeout and fails as :class:`EngineError`.

``sinfo``/``scontrol`` block for a long time when slurmctld is down, so nothing here runs
without a deadline. An error carries Slurm's own words (stderr) and says whether retrying may
help (controller unreachable, timed out) or not (Slurm refused).

Also the small parsers the driver needs: ``key=value`` records (``scontrol -o show …``), host
lists (``node[1-3,7]``), Slurm's local-time timestamps.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from suanli.drivers.base import engine_error
from suanli.drivers.unix_accounts import UnixAccount

_UNREACHABLE = (
    "unable to contact slurm controller", "socket timed out", "connection refused",
    "zero bytes were transmitted", "communication connection failure", "unable to establish",
    "slurm_persist_conn_open", "connection timed out", "slurmdbd", ") is down", " is down",
)


_TENANT_ENV = re.compile(r"PATH|LANG|LC_[A-Z]+|TZ|SLURM_(?!JWT$)[A-Z_]+")
"""What of the server's environment a Slurm tool run as a tenant gets (never a token or a secret)."""


def retryable_text(text: str) -> bool:
    low = text.lower()
    return any(s in low for s in _UNREACHABLE)


@dataclass(frozen=True)
class SlurmCli:
    """Runs Slurm tools as the current user (``env`` adds e.g. ``SLURM_CONF``), or as ``as_user``
    (a tenant's account: its uid, gid and groups; needs root), e.g. ``sbatch`` for a tenant."""

    timeout_s: float = 15.0
    env: Mapping[str, str] = field(default_factory=dict)
    bin_dir: str | None = None

    def run(self, tool: str, *args: str, lease_id: str | None = None, timeout_s: float | None = None,
            check: bool = True, input: str | None = None,
            as_user: UnixAccount | None = None) -> subprocess.CompletedProcess[str]:
        exe = os.path.join(self.bin_dir, tool) if self.bin_dir else tool
        argv = [exe, *args]
        env = {**os.environ, **self.env}
        limit = timeout_s or self.timeout_s
        if as_user is not None:  # the tenant may read its own processes' environment: none of the server's
            env = {**{k: v for k, v in os.environ.items() if _TENANT_ENV.fullmatch(k)}, **self.env,
                   "USER": as_user.name, "LOGNAME": as_user.name, "HOME": "/nonexistent"}
        try:  # as_user: the child drops to the tenant (groups, gid, uid) before exec, in a cwd it may enter
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=limit, env=env, check=False, input=input,
                user=as_user.uid if as_user else None, group=as_user.gid if as_user else None,
                extra_groups=os.getgrouplist(as_user.name, as_user.gid) if as_user else None,
                cwd="/" if as_user else None)
        except subprocess.TimeoutExpired as exc:
            raise engine_error(f"slurm did not answer `{tool} {args[0] if args else ''}` within {limit:g} s "
                               "(is slurmctld up?)", engine="slurm", lease_id=lease_id, retryable=True,
                               command=argv) from exc
        except FileNotFoundError as exc:
            raise engine_error(f"slurm tool {exe!r} is not installed on this host", engine="slurm",
                               lease_id=lease_id, retryable=False, command=argv) from exc
        except PermissionError as exc:  # not root: cannot become the tenant
            raise engine_error(f"cannot run `{tool}` as {as_user.name if as_user else 'this user'}: {exc}",
                               engine="slurm", lease_id=lease_id, retryable=False, command=argv) from exc
        if check and proc.returncode != 0:
            words = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}")
            raise engine_error(f"slurm refused `{tool} {' '.join(args[:2])}`", engine="slurm",
                               engine_message=words, lease_id=lease_id,
                               retryable=retryable_text(words), command=argv)
        return proc


# ---------------------------------------------------------------------------- parsers

_KV = re.compile(r"(\S+?)=(.*?)(?=\s+\S+?=|\s*$)")


def parse_kv(line: str) -> dict[str, str]:
    """One ``scontrol -o`` record: ``A=1 B=x y C=2`` -> dict (values may contain spaces)."""
    return {m.group(1): m.group(2).strip() for m in _KV.finditer(line.strip())}


def parse_records(text: str) -> list[dict[str, str]]:
    return [parse_kv(line) for line in text.splitlines() if line.strip() and "=" in line]


def expand_hostlist(expr: str) -> list[str]:
    """``node[1-3,7],gpu-a`` -> ``['node1', 'node2', 'node3', 'node7', 'gpu-a']`` (one bracket level)."""
    out: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", expr or ""):
        part = part.strip()
        if not part or part in ("(null)", "None assigned"):
            continue
        m = re.fullmatch(r"(.*?)\[([^\]]*)\](.*)", part)
        if not m:
            out.append(part)
            continue
        prefix, body, suffix = m.groups()
        for rng in body.split(","):
            if "-" in rng:
                lo, hi = rng.split("-", 1)
                width = len(lo) if lo.startswith("0") else 0
                out.extend(f"{prefix}{i:0{width}d}{suffix}" for i in range(int(lo), int(hi) + 1))
            else:
                out.append(f"{prefix}{rng}{suffix}")
    return out


def expand_indices(expr: str) -> tuple[int, ...]:
    """``0-1,3`` -> ``(0, 1, 3)``; empty / ``N/A`` -> ``()``."""
    out: list[int] = []
    for rng in (expr or "").split(","):
        rng = rng.strip()
        if not rng or not rng[0].isdigit():
            continue
        if "-" in rng:
            lo, hi = rng.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(rng))
    return tuple(out)


def gres_indices(detail: str) -> tuple[int, ...]:
    """``gpu:a100:2(IDX:0-1)`` -> ``(0, 1)``."""
    m = re.search(r"IDX:([^)]*)\)", detail or "")
    return expand_indices(m.group(1)) if m else ()


def gres_count(spec: str, name: str = "gpu") -> int:
    """Count of ``name`` in a GRES/TRES string: ``gres:gpu:a100:2``, ``gpu:a100:4(S:0)``,
    ``billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2`` -> 2 / 4 / 2."""
    if not spec:
        return 0
    m = re.search(rf"gres/{name}=(\d+)", spec)
    if m:
        return int(m.group(1))
    total = 0
    for item in re.split(r",(?![^(]*\))", spec):
        item = re.sub(r"\(.*?\)", "", item.strip())
        bits = item.split(":")
        if bits and bits[0] == "gres":
            bits = bits[1:]
        if bits and bits[0] == name and len(bits) >= 2 and bits[-1].isdigit():
            total += int(bits[-1])
    return total


def parse_slurm_time(text: str | None) -> datetime | None:
    """Slurm prints local time without zone (``2026-11-23T04:49:34``); ``Unknown``/``None`` -> ``None``."""
    if not text or text in ("Unknown", "None", "N/A", "(null)"):
        return None
    return datetime.fromisoformat(text).astimezone(UTC).replace(microsecond=0)


def slurm_time(dt: datetime) -> str:
    """Aware datetime -> Slurm's local-time format (the controller's zone is this host's)."""
    return dt.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def epoch_time(value: object) -> datetime | None:
    """slurmrestd v0.0.38 gives epoch seconds; 0 means unset."""
    if isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def first_word(state: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``IDLE+DRAIN`` stays."""
    return (state or "").split()[0] if state else ""


def join_argv(argv: Sequence[str]) -> str:
    return shlex.join(argv)
