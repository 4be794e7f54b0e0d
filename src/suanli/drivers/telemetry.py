"""Node telemetry: what the accelerators of *this* node measure, or nothing at all.

Contract: a :class:`TelemetryReader` returns one :class:`DeviceSample` per device it can see,
with ``None`` for any figure the hardware does not report. It never invents numbers: on a
machine without GPUs or without NVML, :class:`NullTelemetry` returns an empty list and says why
in ``reason``. :func:`select_telemetry` picks NVML when it initialises, else the null reader.

NVML backend (``nvidia-ml-py``, imported lazily; optional extra ``nvml``): per device the name,
UUID, utilisation (%), memory used/total (MiB), power draw (W), GPU temperature (°C), uncorrected
ECC errors (volatile count; ``None`` where ECC is off or unsupported) and the energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded; Volta and newer)
converted to kWh. Facility energy is the caller's job: ``it_kwh × site PUE``
(:func:`facility_kwh`), and energy over a window is the difference of two counter readings
(:func:`energy_between`), which stays right across sampling gaps.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from suanli.domain.clock import Clock, SystemClock

MJ_PER_KWH = Decimal(3_600_000_000)
"""Millijoules in one kilowatt-hour."""


@dataclass(frozen=True)
class DeviceSample:
    node: str
    index: int
    at: datetime
    name: str | None = None
    uuid: str | None = None
    utilisation_pct: int | None = None
    memory_used_mib: int | None = None
    memory_total_mib: int | None = None
    power_w: Decimal | None = None
    energy_kwh: Decimal | None = None
    """Cumulative counter since the GPU driver loaded (not since the lease started)."""
    temperature_c: Decimal | None = None
    errors: int | None = None
    """Uncorrected memory (ECC) errors the device counts (NVML: volatile, since the driver loaded)."""


@runtime_checkable
class TelemetryReader(Protocol):
    backend: str
    reason: str | None
    """Why this reader reports nothing (null backend), else ``None``."""

    def read(self) -> list[DeviceSample]: ...


class NullTelemetry:
    """No GPU or no NVML here: reports nothing, never made-up numbers."""

    backend = "none"

    def __init__(self, reason: str = "no telemetry source on this node") -> None:
        self.reason: str | None = reason

    def read(self) -> list[DeviceSample]:
        return []


class NvmlTelemetry:
    """NVIDIA devices through NVML. Construct via :func:`select_telemetry` or with a loaded module."""

    backend = "nvml"
    reason: str | None = None

    def __init__(self, nvml: Any, *, node: str | None = None, clock: Clock | None = None) -> None:
        self._nvml = nvml
        self.node = node or socket.gethostname()
        self._clock: Clock = clock or SystemClock()
        nvml.nvmlInit()

    def close(self) -> None:
        self._nvml.nvmlShutdown()

    def _try(self, fn: str, *args: Any) -> Any:
        call = getattr(self._nvml, fn, None)
        if call is None:
            return None  # an older nvidia-ml-py without this call
        try:
            return call(*args)
        except self._nvml.NVMLError:
            return None  # not supported on this device / driver: report nothing for it

    def read(self) -> list[DeviceSample]:
        nv = self._nvml
        at = self._clock.now()
        out = []
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            name = self._try("nvmlDeviceGetName", h)
            uuid = self._try("nvmlDeviceGetUUID", h)
            util = self._try("nvmlDeviceGetUtilizationRates", h)
            mem = self._try("nvmlDeviceGetMemoryInfo", h)
            power_mw = self._try("nvmlDeviceGetPowerUsage", h)
            energy_mj = self._try("nvmlDeviceGetTotalEnergyConsumption", h)
            temp = self._try("nvmlDeviceGetTemperature", h, getattr(nv, "NVML_TEMPERATURE_GPU", 0))
            ecc = self._try("nvmlDeviceGetTotalEccErrors", h, getattr(nv, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1),
                            getattr(nv, "NVML_VOLATILE_ECC", 0))
            out.append(DeviceSample(
                node=self.node, index=i, at=at,
                name=name.decode() if isinstance(name, bytes) else name,
                uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,
                utilisation_pct=None if util is None else int(util.gpu),
                memory_used_mib=None if mem is None else int(mem.used) // (1 << 20),
                memory_total_mib=None if mem is None else int(mem.total) // (1 << 20),
                power_w=None if power_mw is None else Decimal(int(power_mw)) / 1000,
                energy_kwh=None if energy_mj is None else Decimal(int(energy_mj)) / MJ_PER_KWH,
                temperature_c=None if temp is None else Decimal(int(temp)),
                errors=None if ecc is None else int(ecc),
            ))
        return out


def select_telemetry(*, node: str | None = None, clock: Clock | None = None,
                     module: str = "pynvml") -> TelemetryReader:
    """NVML when the library imports and initialises with at least one device; otherwise null."""
    try:
        nvml = importlib.import_module(module)
    except ImportError:
        return NullTelemetry("nvidia-ml-py is not installed (pip install 'suanli[nvml]')")
    try:
        reader = NvmlTelemetry(nvml, node=node, clock=clock)
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        return NullTelemetry(f"NVML unavailable: {exc}")
    try:
        count = nvml.nvmlDeviceGetCount()
    except Exception as exc:
        return NullTelemetry(f"NVML unavailable: {exc}")
    if count == 0:
        reader.close()
        return NullTelemetry("NVML found no GPU on this node")
    return reader


def energy_between(first: Sequence[DeviceSample], second: Sequence[DeviceSample]) -> Decimal | None:
    """IT energy (kWh) used between two readings of the same devices; ``None`` if not measurable.

    A counter that went backwards (GPU driver reloaded) counts from zero.
    """
    before = {(s.node, s.uuid or s.index): s.energy_kwh for s in first}
    total = Decimal(0)
    seen = False
    for s in second:
        b = before.get((s.node, s.uuid or s.index))
        if s.energy_kwh is None or b is None:
            continue
        seen = True
        total += s.energy_kwh - b if s.energy_kwh >= b else s.energy_kwh
    return total if seen else None


def facility_kwh(it_kwh: Decimal, pue: Decimal) -> Decimal:
    """Facility energy = IT energy × PUE (PUE ≥ 1: 1.2–1.5 large centres, ~2.0 at the edge)."""
    if pue < 1:
        raise ValueError(f"PUE must be >= 1, got {pue}")
    return it_kwh * pue
