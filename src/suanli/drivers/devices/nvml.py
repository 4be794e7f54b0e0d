"""NVIDIA through NVML: the reader of :mod:`suanli.drivers.telemetry` (utilisation, memory, power,
temperature, uncorrected ECC errors, energy counter), as a device backend."""

from __future__ import annotations

from suanli.drivers.devices import Device, devices_of
from suanli.drivers.telemetry import DeviceSample, NvmlTelemetry, select_telemetry


class Nvml:
    name = "nvml"

    def __init__(self, reader: NvmlTelemetry) -> None:
        self.reader = reader

    def devices(self) -> list[Device]:
        return devices_of(self.reader.read())

    def read(self) -> list[DeviceSample]:
        return self.reader.read()


def open_nvml(*, node: str, module: str = "pynvml") -> Nvml | None:
    """NVML when it loads and sees at least one GPU, else ``None`` (:func:`why_not` says why)."""
    reader = select_telemetry(node=node, module=module)
    return Nvml(reader) if isinstance(reader, NvmlTelemetry) else None


def why_not(*, module: str = "pynvml") -> str:
    return select_telemetry(module=module).reason or "NVML unavailable"
