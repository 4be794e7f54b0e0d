"""No accelerator (test hosts, CPU-only nodes): devices declared by count, no telemetry at all."""

from __future__ import annotations

from suanli.drivers.devices import Device
from suanli.drivers.telemetry import DeviceSample
from suanli.errors import ValidationError


class NoDevices:
    name = "none"

    def __init__(self, count: int = 0) -> None:
        if not 0 <= count <= 1024:
            raise ValidationError(f"declared device count must be 0..1024, got {count}", field="devices")
        self.count = count

    def devices(self) -> list[Device]:
        return [Device(i) for i in range(self.count)]

    def read(self) -> list[DeviceSample]:
        return []  # nothing is measured here: never made-up numbers
