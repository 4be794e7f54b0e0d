"""NVIDIA MIG instances on this node through NVIDIA's own tool, ``nvidia-smi`` (docs/slices.md).

A MIG slice is decided and recorded by the server (GPU, profile, placement start: ``mig_instances``);
this adapter makes it real on the node before the slice's job starts: it finds the GPU instance of that
profile at that start (the operator may have pre-partitioned the GPU) or creates it with its default
compute instance, and resolves the MIG device's UUID for ``CUDA_VISIBLE_DEVICES=MIG-<uuid>``.
:class:`MigInstances` records per lease which instances it holds and whether suanli created them
(``<data_dir>/mig.json``); on the lease's release it destroys only the ones it created.

Commands and the output formats parsed (NVIDIA Multi-Instance GPU User Guide, "Getting Started with
MIG" / "GPU Instances" / "Device Enumeration" and "Device Nodes and Capabilities",
https://docs.nvidia.com/datacenter/tesla/mig-user-guide/; ``nvidia-smi mig -h``):

- ``nvidia-smi --query-gpu=index,mig.mode.current --format=csv,noheader``: ``0, Enabled`` per GPU
  (``Disabled``, or ``[N/A]`` on a GPU without MIG).
- ``nvidia-smi mig -i <gpu> -lgip``: the GPU-instance profiles, one table row per profile (and a
  second row of engine counts)::

    |   0  MIG 1g.10gb       19     7/7        9.50       No     14     0     0   |

  (GPU, name, profile ID, instances free/total, memory GiB, P2P, SM, DEC, ENC).
- ``nvidia-smi mig -i <gpu> -lgi``: the GPU instances::

    |   0  MIG 1g.10gb         19        13          6:1    |

  (GPU, name, profile ID, instance ID, placement start:size); with none, ``No GPU instances found``.
- ``nvidia-smi mig -i <gpu> -lci``: the compute instances::

    |   0      13       MIG 1g.10gb          0         0          0:1     |

  (GPU, GPU instance ID, name, profile ID, instance ID, placement).
- ``nvidia-smi mig -i <gpu> -cgi <profile id>:<start> -C``: a GPU instance at that placement with its
  default compute instance; prints ``Successfully created GPU instance ID  13 on GPU  0 using profile MIG
  1g.10gb (ID 19)`` and ``Successfully created compute instance ID  0 on GPU  0 GPU instance ID  13 …``.
- ``nvidia-smi mig -i <gpu> -gi <gi> -dci -ci <ci>`` then ``nvidia-smi mig -i <gpu> -dgi -gi <gi>``.
- ``nvidia-smi`` (its "MIG devices:" table: ``|  0   13   0   0  | …`` = GPU, GI ID, CI ID, MIG Dev)
  and ``nvidia-smi -L`` (``GPU 0: … (UUID: GPU-…)`` then ``  MIG 1g.10gb Device  0: (UUID: MIG-…)``):
  the MIG device of a (GI, CI) and its UUID.
- The capability device nodes a process needs to open the instance: ``DeviceFileMinor: <n>`` in
  ``/proc/driver/nvidia/capabilities/gpu<g>/mig/gi<gi>/access`` (and ``…/ci<ci>/access``), i.e.
  ``/dev/nvidia-caps/nvidia-cap<n>``.

Every failure raises :class:`MigError` naming the GPU, the profile, the start and nvidia-smi's own
message: a MIG slice's job never starts unenforced.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from suanli.drivers.base import atomic_write_json
from suanli.errors import EngineError

TIMEOUT_S = 30.0
"""Creating an instance can take seconds on a busy GPU."""

Exec = Callable[[Sequence[str]], tuple[int, str]]
"""Runs argv; returns (exit status, stdout and stderr together)."""


class MigError(EngineError):
    """A MIG instance could not be found, made or removed (the message says which and why)."""


def run(argv: Sequence[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, f"{argv[0]} could not run: {exc}"
    return done.returncode, (done.stdout + done.stderr).strip()


@dataclass(frozen=True)
class GpuInstance:
    gpu: int
    profile: str
    """``1g.10gb`` (without NVIDIA's ``MIG`` prefix)"""
    profile_id: int
    gi: int
    start: int
    size: int


@dataclass(frozen=True)
class MigInstance:
    """A GPU instance with its compute instance, held for one lease on one node."""

    node: str
    gpu: int
    profile: str
    start: int
    gi: int
    ci: int
    uuid: str
    created: bool
    """suanli created it (and destroys it at the lease's end); else the operator's, left alone."""
    caps: tuple[str, ...] = ()
    """Capability device nodes under /dev (``nvidia-caps/nvidia-cap<n>``) the job needs."""


_ROW = re.compile(r"^\|\s*(.*?)\s*\|$")
_LGIP = re.compile(r"^(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+\d+/\d+")
_LGI = re.compile(r"^(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)$")
_LCI = re.compile(r"^(\d+)\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)$")
_MIGDEV = re.compile(r"^\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\|")
_L_GPU = re.compile(r"^GPU\s+(\d+):")
_L_MIG = re.compile(r"^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s+\(UUID:\s+(MIG-[^)\s]+)\)")
_CREATED_GI = re.compile(r"created GPU instance ID\s+(\d+)")
_CREATED_CI = re.compile(r"created compute instance ID\s+(\d+)")
_MINOR = re.compile(r"DeviceFileMinor:\s*(\d+)")


def _rows(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := _ROW.match(line.strip()))]


def parse_modes(text: str) -> dict[int, bool]:
    """``index, mig.mode.current`` CSV lines -> GPU index: MIG mode enabled."""
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            out[int(parts[0])] = parts[1].lower() == "enabled"
    return out


def parse_profiles(text: str) -> dict[str, int]:
    """``-lgip`` -> profile name (``1g.10gb``) -> profile ID."""
    return {m.group(2): int(m.group(3)) for r in _rows(text) if (m := _LGIP.match(r))}


def parse_gpu_instances(text: str) -> list[GpuInstance]:
    return [GpuInstance(gpu=int(m.group(1)), profile=m.group(2), profile_id=int(m.group(3)), gi=int(m.group(4)),
                        start=int(m.group(5)), size=int(m.group(6)))
            for r in _rows(text) if (m := _LGI.match(r))]


def parse_compute_instances(text: str) -> list[tuple[int, int, int]]:
    """``-lci`` -> (GPU, GPU instance ID, compute instance ID)."""
    return [(int(m.group(1)), int(m.group(2)), int(m.group(5))) for r in _rows(text) if (m := _LCI.match(r))]


def parse_mig_devices(text: str) -> dict[tuple[int, int, int], int]:
    """The "MIG devices:" table of plain ``nvidia-smi`` -> (GPU, GI, CI) -> MIG device index."""
    out: dict[tuple[int, int, int], int] = {}
    inside = False
    for line in text.splitlines():
        if "MIG devices:" in line:
            inside = True
        elif "Processes:" in line:
            inside = False
        elif inside and (m := _MIGDEV.match(line.strip())):
            out[(int(m.group(1)), int(m.group(2)), int(m.group(3)))] = int(m.group(4))
    return out


def parse_list(text: str) -> dict[tuple[int, int], str]:
    """``nvidia-smi -L`` -> (GPU, MIG device index) -> ``MIG-<uuid>``."""
    out: dict[tuple[int, int], str] = {}
    gpu = None
    for line in text.splitlines():
        if m := _L_GPU.match(line):
            gpu = int(m.group(1))
        elif gpu is not None and (m := _L_MIG.match(line)):
            out[(gpu, int(m.group(2)))] = m.group(3)
    return out


class NvidiaSmi:
    """The ``nvidia-smi`` commands above. ``path``: the executable (default: found on ``PATH``)."""

    def __init__(self, path: str | None = None, *, execute: Exec = run) -> None:
        self.path = path or shutil.which("nvidia-smi") or "nvidia-smi"
        self._exec = execute

    def available(self) -> bool:
        return Path(self.path).is_file() if os.sep in self.path else shutil.which(self.path) is not None

    def call(self, *args: str) -> tuple[int, str]:
        return self._exec([self.path, *args])

    def _ok(self, what: str, *args: str) -> str:
        rc, out = self.call(*args)
        if rc != 0:
            raise MigError(f"{what}: nvidia-smi {' '.join(args)} exited {rc}: {out[:400] or '(no output)'}")
        return out

    def mig_modes(self) -> dict[int, bool]:
        rc, out = self.call("--query-gpu=index,mig.mode.current", "--format=csv,noheader")
        return parse_modes(out) if rc == 0 else {}

    def profiles(self, gpu: int, what: str) -> dict[str, int]:
        return parse_profiles(self._ok(what, "mig", "-i", str(gpu), "-lgip"))

    def gpu_instances(self, gpu: int, what: str) -> list[GpuInstance]:
        rc, out = self.call("mig", "-i", str(gpu), "-lgi")
        if rc != 0 and "No GPU instances found" not in out:
            raise MigError(f"{what}: nvidia-smi mig -i {gpu} -lgi exited {rc}: {out[:400] or '(no output)'}")
        return [g for g in parse_gpu_instances(out) if g.gpu == gpu]

    def compute_instances(self, gpu: int, gi: int, what: str) -> list[int]:
        rc, out = self.call("mig", "-i", str(gpu), "-lci")
        if rc != 0 and "No compute instances found" not in out:
            raise MigError(f"{what}: nvidia-smi mig -i {gpu} -lci exited {rc}: {out[:400] or '(no output)'}")
        return sorted(ci for g, i, ci in parse_compute_instances(out) if g == gpu and i == gi)

    def create(self, gpu: int, profile_id: int, start: int, what: str) -> tuple[int, int]:
        out = self._ok(what, "mig", "-i", str(gpu), "-cgi", f"{profile_id}:{start}", "-C")
        gi, ci = _CREATED_GI.search(out), _CREATED_CI.search(out)
        if gi is None or ci is None:
            raise MigError(f"{what}: nvidia-smi did not report the instances it created: {out[:400]}")
        return int(gi.group(1)), int(ci.group(1))

    def uuid(self, gpu: int, gi: int, ci: int, what: str) -> str:
        dev = parse_mig_devices(self._ok(what, )).get((gpu, gi, ci))
        uuid = None if dev is None else parse_list(self._ok(what, "-L")).get((gpu, dev))
        if uuid is None:
            raise MigError(f"{what}: nvidia-smi lists no MIG device for GPU instance {gi}, compute instance {ci}")
        return uuid

    def destroy(self, gpu: int, gi: int, ci: int, what: str) -> None:
        self._ok(what, "mig", "-i", str(gpu), "-gi", str(gi), "-dci", "-ci", str(ci))
        self._ok(what, "mig", "-i", str(gpu), "-dgi", "-gi", str(gi))


def capability_nodes(gpu: int, gi: int, ci: int, proc: Path = Path("/proc/driver/nvidia/capabilities")) -> tuple[str, ...]:
    """``nvidia-caps/nvidia-cap<n>`` for the instance's GI and CI access files (empty where the driver has none)."""
    out = []
    for rel in (f"gpu{gpu}/mig/gi{gi}/access", f"gpu{gpu}/mig/gi{gi}/ci{ci}/access"):
        try:
            m = _MINOR.search((proc / rel).read_text())
        except OSError:
            continue
        if m:
            out.append(f"nvidia-caps/nvidia-cap{m.group(1)}")
    return tuple(out)


class MigInstances:
    """The MIG instances this node's driver holds per lease (``state``: a JSON file, the driver's)."""

    def __init__(self, smi: NvidiaSmi, state: Path, *, proc: Path = Path("/proc/driver/nvidia/capabilities")) -> None:
        self.smi, self.state, self.proc = smi, state, proc
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[MigInstance]]:
        try:
            raw = json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {lease: [MigInstance(**{**x, "caps": tuple(x.get("caps", ()))}) for x in xs] for lease, xs in raw.items()}

    def _save(self, data: dict[str, list[MigInstance]]) -> None:
        atomic_write_json(self.state, {k: [asdict(x) for x in v] for k, v in data.items() if v})

    def held(self, lease_id: str) -> list[MigInstance]:
        with self._lock:
            return list(self._load().get(lease_id, []))

    def acquire(self, lease_id: str, node: str, gpu: int, profile: str, start: int) -> MigInstance:
        """The instance of ``profile`` at ``start`` on ``gpu`` for the lease: the one it already holds,
        else the operator's existing one, else a new one (GPU instance + default compute instance)."""
        what = f"MIG instance {profile} at start {start} on GPU {gpu} of node {node}"
        with self._lock:
            data = self._load()
            for x in data.get(lease_id, []):
                if (x.node, x.gpu, x.profile, x.start) == (node, gpu, profile, start):
                    return x
            other = next((lid for lid, xs in data.items() for x in xs
                          if lid != lease_id and (x.gpu, x.start) == (gpu, start)), None)
            if other is not None:
                raise MigError(f"{what}: this node already holds that placement for lease {other}")
            if not self.smi.available():
                raise MigError(f"{what}: nvidia-smi not found ({self.smi.path}); MIG is declared for this node "
                               "but cannot be set up here")
            existing = next((g for g in self.smi.gpu_instances(gpu, what) if g.start == start), None)
            created = existing is None
            if existing is not None:
                if existing.profile != profile:
                    raise MigError(f"{what}: the GPU already has GPU instance {existing.gi} of profile "
                                   f"{existing.profile} at that start")
                cis = self.smi.compute_instances(gpu, existing.gi, what)
                if not cis:
                    raise MigError(f"{what}: GPU instance {existing.gi} has no compute instance")
                gi, ci = existing.gi, cis[0]
            else:
                ids = self.smi.profiles(gpu, what)
                if profile not in ids:
                    raise MigError(f"{what}: the GPU offers no such profile; it offers {', '.join(sorted(ids)) or 'none'}")
                gi, ci = self.smi.create(gpu, ids[profile], start, what)
            try:
                uuid = self.smi.uuid(gpu, gi, ci, what)
            except MigError:
                if created:
                    self._quiet_destroy(gpu, gi, ci, what)
                raise
            inst = MigInstance(node=node, gpu=gpu, profile=profile, start=start, gi=gi, ci=ci, uuid=uuid,
                               created=created, caps=capability_nodes(gpu, gi, ci, self.proc))
            data.setdefault(lease_id, []).append(inst)
            self._save(data)
            return inst

    def _quiet_destroy(self, gpu: int, gi: int, ci: int, what: str) -> None:
        with contextlib.suppress(MigError):
            self.smi.destroy(gpu, gi, ci, what)

    def release(self, lease_id: str) -> list[str]:
        """Destroy the lease's instances suanli created (the operator's stay); forget them all.
        Returns the errors (an instance that could not be destroyed stays recorded, to retry)."""
        errors: list[str] = []
        with self._lock:
            data = self._load()
            kept = []
            for x in data.get(lease_id, []):
                if x.created:
                    try:
                        self.smi.destroy(x.gpu, x.gi, x.ci,
                                         f"MIG instance {x.profile} at start {x.start} on GPU {x.gpu} of node {x.node}")
                    except MigError as e:
                        errors.append(e.message)
                        kept.append(x)
            data[lease_id] = kept
            self._save(data)
        return errors
