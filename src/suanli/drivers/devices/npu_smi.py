"""Huawei Ascend NPUs through ``npu-smi info`` (the Ascend driver's tool).

The table of ``npu-smi info`` (Ascend documentation, "npu-smi info"): after a header, two rows per
chip between ``|`` separators::

    | NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
    | Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
    +===========================+===============+====================================================+
    | 0     910B3               | OK            | 93.4        40                0    / 0             |
    | 0                         | 0000:C1:00.0  | 0           0    / 0          3161 / 65536         |

then a process table (``| NPU  Chip | Process id | ...``), which is not read. Device memory is the
HBM column where the chip has HBM (910 series), else Memory-Usage (310 series). Devices are numbered
in the order printed (the logical ids ``ASCEND_RT_VISIBLE_DEVICES`` takes). ``npu-smi info`` prints
no UUID, no energy counter and no ECC count: those stay ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from suanli.domain.clock import Clock, SystemClock
from suanli.drivers.devices import Device, Runner, devices_of, run_tool
from suanli.drivers.telemetry import DeviceSample

_PAIR = re.compile(r"(\d+)\s*/\s*(\d+)")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _dec(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None  # "NA", "-"


def parse_info(text: str, *, node: str, at: datetime) -> list[DeviceSample]:
    """The chips of an ``npu-smi info`` table (see the module docstring)."""
    rows = [_cells(line) for line in text.splitlines() if line.startswith("|")]
    out: list[DeviceSample] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        if len(row) >= 2 and "process" in row[1].lower():
            break  # the process table follows the chips
        first = row[0].split()
        if len(row) >= 3 and len(first) >= 2 and first[0].isdigit() and i + 1 < len(rows):
            nxt = rows[i + 1]
            if len(nxt) >= 3 and nxt[0].split()[:1] and nxt[0].split()[0].isdigit() and ":" in nxt[1]:
                top = row[2].split()
                power = _dec(top[0]) if top else None
                temp = _dec(top[1]) if len(top) > 1 else None
                bottom = nxt[2].split()
                aicore = int(bottom[0]) if bottom and bottom[0].isdigit() else None
                pairs = [(int(a), int(b)) for a, b in _PAIR.findall(nxt[2])]
                mem = next((p for p in reversed(pairs) if p[1] > 0), None)  # HBM if present, else DDR
                out.append(DeviceSample(
                    node=node, index=len(out), at=at, name=f"Ascend {' '.join(first[1:])}", uuid=None,
                    utilisation_pct=aicore, memory_used_mib=None if mem is None else mem[0],
                    memory_total_mib=None if mem is None else mem[1], power_w=power, temperature_c=temp))
                i += 2
                continue
        i += 1
    return out


class NpuSmi:
    name = "npu-smi"

    def __init__(self, *, node: str, runner: Runner = run_tool, clock: Clock | None = None) -> None:
        self.node, self._run, self._clock = node, runner, clock or SystemClock()

    def read(self) -> list[DeviceSample]:
        return parse_info(self._run(["npu-smi", "info"]), node=self.node, at=self._clock.now())

    def devices(self) -> list[Device]:
        return devices_of(self.read())
