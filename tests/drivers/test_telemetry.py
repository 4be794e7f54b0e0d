"""Telemetry: NVML mapping (with a stand-in NVML module), the null reader, energy arithmetic."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from suanli.drivers.telemetry import (
    DeviceSample,
    NullTelemetry,
    NvmlTelemetry,
    TelemetryReader,
    energy_between,
    facility_kwh,
    select_telemetry,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return T0


def _fake_nvml(count: int = 2, *, init_error: str | None = None) -> types.ModuleType:
    """A stand-in with pynvml's names; device 1 does not support the energy counter."""
    m = types.ModuleType("fake_pynvml")

    class NVMLError(Exception):
        pass

    def init() -> None:
        if init_error:
            raise NVMLError(init_error)

    def energy(h: int) -> int:
        if h == 1:
            raise NVMLError("Not Supported")
        return 7_200_000_000  # mJ = 2 kWh

    def ecc(h: int, kind: int, counter: int) -> int:
        if h == 1:
            raise NVMLError("Not Supported")  # ECC off on this device
        assert (kind, counter) == (1, 0)  # uncorrected, volatile
        return 3

    ns: dict[str, Any] = {
        "NVMLError": NVMLError, "nvmlInit": init, "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: count, "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: b"NVIDIA H100 80GB HBM3", "nvmlDeviceGetUUID": lambda h: f"GPU-{h}",
        "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=37 + h, memory=5),
        "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(used=1024 << 20, total=81559 << 20, free=0),
        "nvmlDeviceGetPowerUsage": lambda h: 312_456, "nvmlDeviceGetTotalEnergyConsumption": energy,
        "NVML_TEMPERATURE_GPU": 0, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED": 1, "NVML_VOLATILE_ECC": 0,
        "nvmlDeviceGetTemperature": lambda h, sensor: 41 + h if sensor == 0 else 0,
        "nvmlDeviceGetTotalEccErrors": ecc,
    }
    for k, v in ns.items():
        setattr(m, k, v)
    return m


def test_nvml_reader_maps_every_figure_and_leaves_unsupported_ones_empty() -> None:
    r = NvmlTelemetry(_fake_nvml(), node="gpu-1", clock=_Clock())
    assert isinstance(r, TelemetryReader)
    s0, s1 = r.read()
    assert (s0.node, s0.index, s0.at, s0.name, s0.uuid) == ("gpu-1", 0, T0, "NVIDIA H100 80GB HBM3", "GPU-0")
    assert (s0.utilisation_pct, s0.memory_used_mib, s0.memory_total_mib) == (37, 1024, 81559)
    assert s0.power_w == Decimal("312.456") and s0.energy_kwh == Decimal(2)
    assert s1.energy_kwh is None and s1.utilisation_pct == 38
    assert (s0.temperature_c, s0.errors) == (Decimal(41), 3)
    assert (s1.temperature_c, s1.errors) == (Decimal(42), None)


def test_select_picks_nvml_only_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fake_pynvml", _fake_nvml())
    assert select_telemetry(module="fake_pynvml").backend == "nvml"
    monkeypatch.setitem(sys.modules, "fake_pynvml", _fake_nvml(init_error="NVML Shared Library Not Found"))
    r = select_telemetry(module="fake_pynvml")
    assert r.backend == "none" and r.read() == [] and "Shared Library Not Found" in (r.reason or "")
    monkeypatch.setitem(sys.modules, "fake_pynvml", _fake_nvml(count=0))
    assert select_telemetry(module="fake_pynvml").reason == "NVML found no GPU on this node"
    assert "not installed" in (select_telemetry(module="no_such_nvml_module").reason or "")


def test_this_machine_reports_real_numbers_or_nothing() -> None:
    r = select_telemetry()
    samples = r.read()
    if r.backend == "none":
        assert samples == [] and r.reason
    else:  # a real GPU: every sample is a real reading
        assert samples and all(s.name for s in samples)


def test_energy_between_and_facility_energy() -> None:
    a = [DeviceSample("n", 0, T0, uuid="G0", energy_kwh=Decimal("1.5")), DeviceSample("n", 1, T0, uuid="G1")]
    b = [DeviceSample("n", 0, T0, uuid="G0", energy_kwh=Decimal("2.0")), DeviceSample("n", 1, T0, uuid="G1")]
    assert energy_between(a, b) == Decimal("0.5")
    reset = [DeviceSample("n", 0, T0, uuid="G0", energy_kwh=Decimal("0.2"))]
    assert energy_between(a, reset) == Decimal("0.2")
    assert energy_between([], b) is None
    assert facility_kwh(Decimal("10"), Decimal("1.3")) == Decimal("13.0")
    with pytest.raises(ValueError, match="PUE must be >= 1"):
        facility_kwh(Decimal(1), Decimal("0.9"))
    assert NullTelemetry().read() == []
