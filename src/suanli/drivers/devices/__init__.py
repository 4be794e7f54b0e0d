"""Device backends of a node agent: which accelerators this node has, and what they measure now.

One module per vendor, and nothing vendor-specific outside them:

- ``nvml`` (:mod:`.nvml`): NVIDIA through NVML (``nvidia-ml-py``, imported lazily).
- ``npu-smi`` (:mod:`.npu_smi`): Huawei Ascend, parsing ``npu-smi info``.
- ``cnmon`` (:mod:`.cnmon`): Cambricon MLU, parsing ``cnmon``.
- ``hy-smi`` (:mod:`.hy_smi`): Hygon DCU, parsing ``hy-smi`` and ``hy-smi --showmeminfo vram``.
- ``none`` (:mod:`.none`): no accelerator (test hosts): devices declared by count, telemetry empty.

A backend never invents a figure: what the tool does not print is ``None``. :func:`select` picks one
by name, or with ``auto`` the first that finds devices (NVML, then the tools found on ``PATH``), else
``none``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from suanli.drivers.telemetry import DeviceSample
from suanli.errors import EngineError, ValidationError

BACKENDS = ("nvml", "npu-smi", "cnmon", "hy-smi", "none")
"""The backend names ``suanli agent run --backend`` takes (besides ``auto``)."""

TOOL_TIMEOUT_S = 10.0

Runner = Callable[[Sequence[str]], str]
"""Runs a vendor tool's argv and returns its standard output (raises :class:`EngineError`)."""


@dataclass(frozen=True)
class Device:
    """One accelerator as the node agent declares it at join."""

    index: int
    name: str | None = None
    uuid: str | None = None
    memory_total_mib: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name or "", "uuid": self.uuid or "",
                "memory_total_mib": self.memory_total_mib}


@runtime_checkable
class DeviceBackend(Protocol):
    name: str

    def devices(self) -> list[Device]:
        """The devices of this node, by index."""
        ...

    def read(self) -> list[DeviceSample]:
        """One sample per device now (``None`` for what the hardware does not report)."""
        ...


def run_tool(argv: Sequence[str]) -> str:
    """Run a vendor tool; its stdout, or :class:`EngineError` saying why not."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{argv[0]} could not run: {exc}", tool=argv[0]) from exc
    if done.returncode != 0:
        raise EngineError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[:300]}", tool=argv[0])
    return done.stdout


def devices_of(samples: Sequence[DeviceSample]) -> list[Device]:
    return [Device(s.index, s.name, s.uuid, s.memory_total_mib) for s in samples]


def select(backend: str = "auto", *, node: str, devices: int | None = None, runner: Runner | None = None,
           nvml_module: str = "pynvml") -> DeviceBackend:
    """The backend named ``backend`` (one of :data:`BACKENDS` or ``auto``).

    ``devices``: for ``none``, how many devices this node declares (default 0); for the others, the
    count the backend must find (a mismatch is refused: a node is not run with devices it lacks).
    """
    from suanli.drivers.devices import cnmon, hy_smi, none, npu_smi, nvml

    run = runner or run_tool
    if backend not in (*BACKENDS, "auto"):
        raise ValidationError(f"device backend {backend!r} is not known; allowed: auto, {', '.join(BACKENDS)}",
                              field="backend")
    chosen: DeviceBackend
    if backend == "auto":
        chosen = none.NoDevices(devices or 0)
        found = nvml.open_nvml(node=node, module=nvml_module)
        if found is not None:
            chosen = found
        else:
            for name, make in (("npu-smi", npu_smi.NpuSmi), ("cnmon", cnmon.Cnmon), ("hy-smi", hy_smi.HySmi)):
                if runner is None and shutil.which(name) is None:
                    continue
                candidate = make(node=node, runner=run)
                try:
                    if candidate.devices():
                        chosen = candidate
                        break
                except EngineError:
                    continue
    elif backend == "none":
        chosen = none.NoDevices(devices or 0)
    elif backend == "nvml":
        found = nvml.open_nvml(node=node, module=nvml_module)
        if found is None:
            raise EngineError(f"backend nvml: {nvml.why_not(module=nvml_module)}", backend="nvml")
        chosen = found
    elif backend == "npu-smi":
        chosen = npu_smi.NpuSmi(node=node, runner=run)
    elif backend == "cnmon":
        chosen = cnmon.Cnmon(node=node, runner=run)
    else:
        chosen = hy_smi.HySmi(node=node, runner=run)
    if devices is not None and chosen.name != "none":
        found_n = len(chosen.devices())
        if found_n != devices:
            raise ValidationError(f"backend {chosen.name} found {found_n} device(s) on this node, but --devices "
                                  f"says {devices}", field="devices")
    return chosen
