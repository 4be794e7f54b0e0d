"""Cambricon MLUs through ``cnmon`` (the Cambricon driver's monitoring tool).

The summary table of ``cnmon`` (Cambricon CNMON user guide): two rows per card between ``|``
separators::

    | Card  VF  Name       Firmware |               Bus-Id | Util        Ecc-Error |
    | Fan   Temp      Pwr:Usage/Cap |         Memory-Usage | Mode     Compute-Mode |
    |===============================+======================+=======================|
    | 0     /   MLU370-X8    v1.1.4 |         0000:4F:00.0 | 0%                  0 |
    | 0%    35C        60 W/ 250 W  |   0 MiB/ 23374 MiB   | FULL          Default |

followed by a process table (``Processes:``), which is not read. ``Ecc-Error`` is the error count
(``N/A`` where ECC is off: ``None``). No UUID and no energy counter: ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from suanli.domain.clock import Clock, SystemClock
from suanli.drivers.devices import Device, Runner, devices_of, run_tool
from suanli.drivers.telemetry import DeviceSample

_TEMP = re.compile(r"(-?\d+(?:\.\d+)?)\s*C\b")
_POWER = re.compile(r"(\d+(?:\.\d+)?)\s*W\s*/")
_MEM = re.compile(r"(\d+)\s*MiB\s*/\s*(\d+)\s*MiB")
_UTIL = re.compile(r"(\d+)\s*%")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_summary(text: str, *, node: str, at: datetime) -> list[DeviceSample]:
    rows: list[list[str]] = []
    for line in text.splitlines():
        if "Processes" in line:
            break
        if line.startswith("|") and "===" not in line:
            rows.append(_cells(line))
    out: list[DeviceSample] = []
    i = 0
    while i + 1 < len(rows):
        top, bottom = rows[i], rows[i + 1]
        words = top[0].split()
        if len(top) >= 3 and len(bottom) >= 3 and words and words[0].isdigit() and _MEM.search(bottom[1]):
            name = words[2] if len(words) >= 3 else None
            util = _UTIL.search(top[2])
            ecc = top[2].split()[-1] if top[2].split() else ""
            temp, power, mem = _TEMP.search(bottom[0]), _POWER.search(bottom[0]), _MEM.search(bottom[1])
            out.append(DeviceSample(
                node=node, index=int(words[0]), at=at, name=None if name is None else f"Cambricon {name}",
                utilisation_pct=int(util.group(1)) if util else None,
                memory_used_mib=int(mem.group(1)) if mem else None, memory_total_mib=int(mem.group(2)) if mem else None,
                power_w=Decimal(power.group(1)) if power else None,
                temperature_c=Decimal(temp.group(1)) if temp else None,
                errors=int(ecc) if ecc.isdigit() else None))
            i += 2
            continue
        i += 1
    return out


class Cnmon:
    name = "cnmon"

    def __init__(self, *, node: str, runner: Runner = run_tool, clock: Clock | None = None) -> None:
        self.node, self._run, self._clock = node, runner, clock or SystemClock()

    def read(self) -> list[DeviceSample]:
        return parse_summary(self._run(["cnmon"]), node=self.node, at=self._clock.now())

    def devices(self) -> list[Device]:
        return devices_of(self.read())
