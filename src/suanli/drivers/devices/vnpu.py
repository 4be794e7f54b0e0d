"""Huawei Ascend vNPUs through ``npu-smi`` (docs/slices.md "vNPU templates").

Commands (Huawei Ascend documentation, "创建vNPU" / "npu-smi set -t create-vnpu", hiascend.com; CCE
"NPU虚拟化概述", support.huaweicloud.com):

- ``npu-smi set -t create-vnpu -i <id> -c <chip_id> -f <template> -v <vnpu_id>``: a vNPU of the template
  on chip ``chip_id`` of NPU ``id``; ``vnpu_id`` in ``[phy_id × 16 + 100, phy_id × 16 + 107]``.
- ``npu-smi set -t destroy-vnpu -i <id> -c <chip_id> -v <vnpu_id>``.
- ``npu-smi info -t info-vnpu -i <id> -c <chip_id>``: the chip's vNPU information (the capability probe).

Huawei documents the vNPU for a **container** (the Ascend Docker Runtime mounts ``/dev/vdavinci<vnpu_id>``
for ``ASCEND_VISIBLE_DEVICES=<vnpu_id>``); it documents nothing for a bare process. The local driver
does what that runtime does: the job's sandbox gets ``/dev/vdavinci<vnpu_id>`` and
``ASCEND_VISIBLE_DEVICES=<vnpu_id>``. Device index ``i`` of the fleet is taken as NPU ``i``, chip 0
(one chip per 910B card). Not run on Ascend hardware by suanli's tests.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from suanli.drivers.base import atomic_write_json
from suanli.drivers.devices.mig import Exec, run
from suanli.errors import EngineError

VNPU_BASE, VNPU_PER_CHIP = 100, 8


class VnpuError(EngineError):
    """A vNPU could not be made or removed (the message names the NPU, template and npu-smi's message)."""


@dataclass(frozen=True)
class Vnpu:
    node: str
    npu: int
    template: str
    vnpu_id: int


class NpuSmiVnpu:
    def __init__(self, path: str | None = None, *, execute: Exec = run) -> None:
        self.path = path or shutil.which("npu-smi") or "npu-smi"
        self._exec = execute

    def available(self) -> bool:
        return Path(self.path).is_file() if os.sep in self.path else shutil.which(self.path) is not None

    def capable(self) -> tuple[bool, str]:
        if not self.available():
            return False, f"npu-smi not found ({self.path})"
        rc, out = self._exec([self.path, "info", "-t", "info-vnpu", "-i", "0", "-c", "0"])
        if rc != 0:
            return False, f"npu-smi info -t info-vnpu -i 0 -c 0 exited {rc}: {out[:200]}"
        return True, "npu-smi reports vNPU information for NPU 0"

    def set(self, what: str, *args: str) -> str:
        rc, out = self._exec([self.path, "set", *args])
        if rc != 0 or "fail" in out.lower() or "error" in out.lower():
            raise VnpuError(f"{what}: npu-smi set {' '.join(args)} exited {rc}: {out[:400] or '(no output)'}")
        return out


class VnpuInstances:
    """The vNPUs this node's driver made per lease (``state``: a JSON file, the driver's). All are suanli's."""

    def __init__(self, npu: NpuSmiVnpu, state: Path) -> None:
        self.npu, self.state = npu, state
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[Vnpu]]:
        try:
            raw = json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {k: [Vnpu(**x) for x in v] for k, v in raw.items()}

    def acquire(self, lease_id: str, node: str, npu: int, template: str) -> Vnpu:
        what = f"vNPU {template} on NPU {npu} of node {node}"
        with self._lock:
            data = self._load()
            for x in data.get(lease_id, []):
                if (x.node, x.npu, x.template) == (node, npu, template):
                    return x
            if not self.npu.available():
                raise VnpuError(f"{what}: npu-smi not found ({self.npu.path}); vNPU is declared for this node "
                                "but cannot be set up here")
            used = {x.vnpu_id for xs in data.values() for x in xs}
            base = VNPU_BASE + npu * 16
            free = [i for i in range(base, base + VNPU_PER_CHIP) if i not in used]
            if not free:
                raise VnpuError(f"{what}: this node already holds {VNPU_PER_CHIP} vNPUs on that NPU")
            vid = free[0]
            self.npu.set(what, "-t", "create-vnpu", "-i", str(npu), "-c", "0", "-f", template, "-v", str(vid))
            made = Vnpu(node, npu, template, vid)
            data.setdefault(lease_id, []).append(made)
            atomic_write_json(self.state, {k: [asdict(x) for x in v] for k, v in data.items() if v})
            return made

    def release(self, lease_id: str) -> list[str]:
        errors: list[str] = []
        with self._lock:
            data = self._load()
            kept = []
            for x in data.get(lease_id, []):
                try:
                    self.npu.set(f"vNPU {x.vnpu_id} ({x.template}) on NPU {x.npu} of node {x.node}",
                                 "-t", "destroy-vnpu", "-i", str(x.npu), "-c", "0", "-v", str(x.vnpu_id))
                except VnpuError as e:
                    errors.append(e.message)
                    kept.append(x)
            data[lease_id] = kept
            atomic_write_json(self.state, {k: [asdict(x) for x in v] for k, v in data.items() if v})
        return errors
