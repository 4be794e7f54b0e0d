"""Hygon DCUs through ``hy-smi`` (the Hygon DTK's System Management Interface, rocm-smi's layout).

``hy-smi`` prints one row per DCU under a header naming the columns::

    DCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      DCU%      Mode
    0       46.0C    31.0W      auto     300.0W     0%         0%        Normal

(columns are read by the header's names, so a release that adds or reorders columns still parses);
``hy-smi --showmeminfo vram`` prints ``DCU[0] : vram Total Memory (MiB): 65520`` and
``DCU[0] : vram Total Used Memory (MiB): 0`` per DCU, which give memory in MiB (the table only has a
percentage). No UUID, energy counter or ECC count: ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from suanli.domain.clock import Clock, SystemClock
from suanli.drivers.devices import Device, Runner, devices_of, run_tool
from suanli.drivers.telemetry import DeviceSample
from suanli.errors import EngineError

_MEMLINE = re.compile(r"DCU\[(\d+)\]\s*:\s*vram\s+Total\s+(Used\s+)?Memory\s*\(([KMG]i?B|B)\)\s*:\s*(\d+)", re.I)
_UNIT_MIB = {"B": 1 / (1 << 20), "KB": 1 / 1024, "KIB": 1 / 1024, "MB": 1, "MIB": 1, "GB": 1024, "GIB": 1024}


def _number(text: str | None, unit: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.strip().removesuffix(unit))
    except InvalidOperation:
        return None  # N/A


def parse_table(text: str) -> dict[int, dict[str, str]]:
    """Rows of the ``hy-smi`` table by DCU index, each as {column name: text}."""
    header: list[str] | None = None
    rows: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "DCU" and len(words) > 1:
            header = words
        elif header is not None and words[0].isdigit():
            rows[int(words[0])] = dict(zip(header, words, strict=False))
    return rows


def parse_meminfo(text: str) -> dict[int, dict[str, int]]:
    """``{index: {"total": MiB, "used": MiB}}`` from ``hy-smi --showmeminfo vram``."""
    out: dict[int, dict[str, int]] = {}
    for m in _MEMLINE.finditer(text):
        mib = int(int(m.group(4)) * _UNIT_MIB[m.group(3).upper()])
        out.setdefault(int(m.group(1)), {})["used" if m.group(2) else "total"] = mib
    return out


def samples(table: str, meminfo: str, *, node: str, at: datetime) -> list[DeviceSample]:
    rows, mem = parse_table(table), parse_meminfo(meminfo)
    out = []
    for index, row in sorted(rows.items()):
        util = _number(row.get("DCU%"), "%")
        m = mem.get(index, {})
        out.append(DeviceSample(
            node=node, index=index, at=at, name="Hygon DCU",
            utilisation_pct=None if util is None else int(util),
            memory_used_mib=m.get("used"), memory_total_mib=m.get("total"),
            power_w=_number(row.get("AvgPwr"), "W"), temperature_c=_number(row.get("Temp"), "C")))
    return out


class HySmi:
    name = "hy-smi"

    def __init__(self, *, node: str, runner: Runner = run_tool, clock: Clock | None = None) -> None:
        self.node, self._run, self._clock = node, runner, clock or SystemClock()

    def read(self) -> list[DeviceSample]:
        table = self._run(["hy-smi"])
        try:
            meminfo = self._run(["hy-smi", "--showmeminfo", "vram"])
        except EngineError:
            meminfo = ""  # memory stays None; the rest is still measured
        return samples(table, meminfo, node=self.node, at=self._clock.now())

    def devices(self) -> list[Device]:
        return devices_of(self.read())
