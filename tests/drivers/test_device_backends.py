"""Device backends of the node agent: the vendor tools' output parsed into samples, selection.

The sample outputs below are NOT captures from real machines: they were written by hand from the
layouts the vendors document (Ascend "npu-smi info", Cambricon CNMON user guide, Hygon hy-smi /
rocm-smi), to pin the parsers to those layouts. No such device was available to record real output.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.drivers.devices import BACKENDS, Device, DeviceBackend, select
from suanli.drivers.devices.cnmon import parse_summary
from suanli.drivers.devices.hy_smi import parse_meminfo, samples
from suanli.drivers.devices.none import NoDevices
from suanli.drivers.devices.npu_smi import parse_info
from suanli.errors import EngineError, ValidationError

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

NPU_SMI_910B = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 23.0.rc3                 Version: 23.0.rc3                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B3               | OK            | 93.4        40                0    / 0             |
| 0                         | 0000:C1:00.0  | 12          0    / 0          3161 / 65536         |
+===========================+===============+====================================================+
| 1     910B3               | OK            | 88.0        42                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          0    / 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 4242          | python                   | 3000                    |
+===========================+===============+====================================================+
| No running processes found in NPU 1                                                            |
+===========================+===============+====================================================+
"""

NPU_SMI_310P = """\
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)                       |
+===========================+===============+====================================================+
| 8     310P3               | Warning       | NA          51                0    / 0             |
| 0                         | 0000:01:00.0  | 0           1772 / 21527                           |
+===========================+===============+====================================================+
"""

CNMON = """\
+------------------------------------------------------------------------------+
| CNMON v4.20.4                                                                |
+-------------------------------+----------------------+-----------------------+
| Card  VF  Name       Firmware |               Bus-Id | Util        Ecc-Error |
| Fan   Temp      Pwr:Usage/Cap |         Memory-Usage | Mode     Compute-Mode |
|===============================+======================+=======================|
| 0     /   MLU370-X8    v1.1.4 |         0000:4F:00.0 | 35%                 0 |
| 0%    35C        60 W/ 250 W  |   812 MiB/ 23374 MiB | FULL          Default |
+-------------------------------+----------------------+-----------------------+
| 1     /   MLU370-X8    v1.1.4 |         0000:53:00.0 | 0%                N/A |
| 0%    33C        41 W/ 250 W  |     0 MiB/ 23374 MiB | FULL          Default |
+-------------------------------+----------------------+-----------------------+

+------------------------------------------------------------------------------+
| Processes:                                                                   |
|  Card  MI  PID     Command Line                             MLU Memory Usage |
|     0  /   4242    python train.py                                   800 MiB |
+------------------------------------------------------------------------------+
"""

HY_SMI = """\
============================ System Management Interface =============================
======================================================================================
DCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      DCU%      Mode
0       46.0C    131.0W     auto     300.0W     5%         87%       Normal
1       44.0C    29.0W      auto     300.0W     0%         0%        Normal
======================================================================================
=================================== End of SMI Log ===================================
"""

HY_SMI_VRAM = """\
============================ System Management Interface =============================
======================================================================================
DCU[0]          : vram Total Memory (MiB): 65520
DCU[0]          : vram Total Used Memory (MiB): 3276
DCU[1]          : vram Total Memory (MiB): 65520
DCU[1]          : vram Total Used Memory (MiB): 0
======================================================================================
"""


def test_npu_smi_910b_reads_hbm_and_stops_at_the_process_table() -> None:
    s0, s1 = parse_info(NPU_SMI_910B, node="nx-910b-03", at=AT)
    assert (s0.index, s0.name, s0.uuid) == (0, "Ascend 910B3", None)
    assert (s0.power_w, s0.temperature_c, s0.utilisation_pct) == (Decimal("93.4"), Decimal(40), 12)
    assert (s0.memory_used_mib, s0.memory_total_mib) == (3161, 65536)
    assert (s1.index, s1.memory_used_mib, s1.power_w) == (1, 0, Decimal("88.0"))
    assert s0.errors is None and s0.energy_kwh is None  # npu-smi info prints neither


def test_npu_smi_310p_reads_ddr_and_na_power() -> None:
    (s,) = parse_info(NPU_SMI_310P, node="e1", at=AT)
    assert (s.index, s.name, s.power_w, s.temperature_c) == (0, "Ascend 310P3", None, Decimal(51))
    assert (s.memory_used_mib, s.memory_total_mib) == (1772, 21527)


def test_cnmon_summary() -> None:
    s0, s1 = parse_summary(CNMON, node="mlu-1", at=AT)
    assert (s0.index, s0.name, s0.utilisation_pct, s0.errors) == (0, "Cambricon MLU370-X8", 35, 0)
    assert (s0.temperature_c, s0.power_w, s0.memory_used_mib, s0.memory_total_mib) == (
        Decimal(35), Decimal(60), 812, 23374)
    assert (s1.index, s1.errors, s1.power_w) == (1, None, Decimal(41))  # ECC N/A: unknown, not 0


def test_hy_smi_table_and_meminfo() -> None:
    s0, s1 = samples(HY_SMI, HY_SMI_VRAM, node="dcu-1", at=AT)
    assert (s0.index, s0.temperature_c, s0.power_w, s0.utilisation_pct) == (0, Decimal("46.0"), Decimal("131.0"), 87)
    assert (s0.memory_used_mib, s0.memory_total_mib) == (3276, 65520)
    assert (s1.utilisation_pct, s1.memory_used_mib) == (0, 0)
    assert parse_meminfo("") == {}
    (only,) = samples(HY_SMI.replace("1       44.0C", "x"), "", node="dcu-1", at=AT)
    assert only.memory_total_mib is None  # no meminfo: unknown, not 0


def _runner(outputs: dict[tuple[str, ...], str]):  # type: ignore[no-untyped-def]
    def run(argv: Sequence[str]) -> str:
        if tuple(argv) not in outputs:
            raise EngineError(f"{argv[0]} not here")
        return outputs[tuple(argv)]
    return run


def test_select_by_name_and_auto() -> None:
    b = select("npu-smi", node="n", runner=_runner({("npu-smi", "info"): NPU_SMI_910B}))
    assert isinstance(b, DeviceBackend) and b.name == "npu-smi"
    assert b.devices() == [Device(0, "Ascend 910B3", None, 65536), Device(1, "Ascend 910B3", None, 65536)]
    auto = select("auto", node="n", runner=_runner({("cnmon",): CNMON}), nvml_module="no_such_nvml")
    assert auto.name == "cnmon" and len(auto.devices()) == 2
    fallback = select("auto", node="n", runner=_runner({}), nvml_module="no_such_nvml", devices=3)
    assert fallback.name == "none" and [d.index for d in fallback.devices()] == [0, 1, 2]
    assert fallback.read() == []
    assert set(BACKENDS) == {"nvml", "npu-smi", "cnmon", "hy-smi", "none"}


def test_select_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValidationError, match="allowed: auto, nvml, npu-smi, cnmon, hy-smi, none"):
        select("rocm", node="n")
    with pytest.raises(ValidationError, match="found 2 device"):
        select("cnmon", node="n", devices=4, runner=_runner({("cnmon",): CNMON}))
    with pytest.raises(EngineError, match="backend nvml"):
        select("nvml", node="n", nvml_module="no_such_nvml")
    with pytest.raises(ValidationError, match=r"0\.\.1024"):
        NoDevices(-1)
