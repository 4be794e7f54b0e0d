"""Which slice mechanisms this node really has: probed, not assumed (docs/slices.md "What each backend enforces").

With ``SUANLI_SLICE_MECHANISMS`` unset or ``auto`` the local engine (and each node agent, which runs it)
probes its node at start:

- ``mig``: ``nvidia-smi`` is found and reports MIG mode enabled on at least one GPU
  (``nvidia-smi --query-gpu=index,mig.mode.current --format=csv,noheader``);
- ``mps``: the MPS control daemon runs for this user: its pipe directory (``CUDA_MPS_PIPE_DIRECTORY``,
  default ``/tmp/nvidia-mps``, NVIDIA MPS documentation) has its ``control`` pipe;
- ``vnpu``: ``npu-smi`` is found and answers ``npu-smi info -t info-vnpu`` for the first NPU;
- ``hami``: HAMi-core's ``libvgpu.so`` exists where ``SUANLI_HAMI_LIBRARY`` says.

An explicit list is the operator's declaration and is taken as given (``mig`` then means the driver
creates/finds MIG instances, and a job fails clearly where it cannot).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from suanli.domain.slicing import Mechanism, parse_mechanisms
from suanli.drivers.devices.mig import Exec, NvidiaSmi, run
from suanli.drivers.devices.vnpu import NpuSmiVnpu

AUTO = "auto"
MPS_PIPE_DEFAULT = "/tmp/nvidia-mps"


@dataclass(frozen=True)
class Probe:
    mechanisms: frozenset[Mechanism]
    reasons: dict[str, str] = field(default_factory=dict)
    """mechanism -> why it is or is not there (``suanli doctor``)."""
    probed: bool = True
    """False: the operator's declaration, not a probe."""


def probe(*, nvidia_smi: str | None = None, npu_smi: str | None = None, hami_library: Path | None = None,
          environ: Mapping[str, str] | None = None, execute: Exec = run) -> Probe:
    env = os.environ if environ is None else environ
    found: set[Mechanism] = set()
    why: dict[str, str] = {}
    smi = NvidiaSmi(nvidia_smi, execute=execute)
    if not smi.available():
        why["mig"] = f"nvidia-smi not found ({smi.path})"
    else:
        modes = smi.mig_modes()
        on = sorted(i for i, enabled in modes.items() if enabled)
        if on:
            found.add(Mechanism.MIG)
            why["mig"] = f"MIG mode enabled on GPU {', '.join(map(str, on))}"
        else:
            why["mig"] = f"MIG mode enabled on no GPU ({len(modes)} GPU(s) seen)"
    pipe = Path(env.get("CUDA_MPS_PIPE_DIRECTORY") or MPS_PIPE_DEFAULT) / "control"
    try:
        is_pipe = stat.S_ISFIFO(pipe.stat().st_mode)
    except OSError:
        is_pipe = False
    if is_pipe:
        found.add(Mechanism.MPS)
        why["mps"] = f"MPS control daemon running ({pipe})"
    else:
        why["mps"] = f"no MPS control daemon ({pipe} is not a pipe)"
    npu = NpuSmiVnpu(npu_smi, execute=execute)
    ok, text = npu.capable()
    if ok:
        found.add(Mechanism.VNPU)
    why["vnpu"] = text
    if hami_library is not None and hami_library.is_file():
        found.add(Mechanism.HAMI)
        why["hami"] = f"HAMi-core at {hami_library}"
    else:
        why["hami"] = "no HAMi-core library" + (f" at {hami_library}" if hami_library else " (SUANLI_HAMI_LIBRARY unset)")
    return Probe(frozenset(found), why)


def resolve(setting: str, *, nvidia_smi: str | None = None, npu_smi: str | None = None,
            hami_library: Path | None = None, execute: Exec = run) -> Probe:
    """The mechanisms for a ``SUANLI_SLICE_MECHANISMS`` value: ``auto`` (or empty-by-absence) probes; a list is
    the operator's declaration (plus ``hami`` where the library exists, as before)."""
    if setting.strip().lower() == AUTO:
        return probe(nvidia_smi=nvidia_smi, npu_smi=npu_smi, hami_library=hami_library, execute=execute)
    declared = set(parse_mechanisms(setting))
    if hami_library is not None and hami_library.is_file():
        declared.add(Mechanism.HAMI)
    return Probe(frozenset(declared), {m.value: "declared by the operator (SUANLI_SLICE_MECHANISMS)"
                                       for m in declared}, probed=False)
