"""Read the openb trace CSVs (Alibaba GPU trace v2023, as used by FGD) into arrays.

Contract: :func:`load_nodes` and :func:`load_pods` read one CSV each and return plain
column arrays; a missing file raises :class:`suanli.errors.NotFoundError`, a missing column,
an unknown column or a bad value raises :class:`suanli.errors.ValidationError` naming the file,
the row (1-based, header = row 1) and the field. Nothing else in the project reads trace files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suanli.errors import NotFoundError, ValidationError

NODE_REQUIRED = ("sn", "cpu_milli", "gpu", "model")
NODE_OPTIONAL = ("memory_mib",)
POD_REQUIRED = ("name", "cpu_milli", "num_gpu", "gpu_milli")
POD_OPTIONAL = (
    "memory_mib",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)


@dataclass(frozen=True)
class NodeTable:
    path: str
    names: list[str]
    cpu_milli: np.ndarray
    memory_mib: np.ndarray
    gpus: np.ndarray
    model: list[str]


@dataclass(frozen=True)
class PodTable:
    path: str
    names: list[str]
    cpu_milli: np.ndarray
    memory_mib: np.ndarray
    num_gpu: np.ndarray
    gpu_milli: np.ndarray
    gpu_spec: list[str]
    creation_time: np.ndarray | None
    deletion_time: np.ndarray | None
    scheduled_time: np.ndarray | None

    def __len__(self) -> int:
        return len(self.names)

    @property
    def workload(self) -> str:
        return workload_name(self.path)


def workload_name(path: str | Path) -> str:
    """``openb_pod_list_gpushare40.csv`` → ``gpushare40``."""
    stem = Path(path).stem
    for prefix in ("openb_pod_list_", "pod_list_"):
        if stem.startswith(prefix):
            return stem[len(prefix) :]
    return stem


def _read(path: str | Path, required: tuple[str, ...], optional: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"trace file not found: {p}", path=str(p))
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError(f"{p}: cannot read as CSV: {exc}", path=str(p)) from exc
    if not rows:
        raise ValidationError(f"{p}: empty file, expected a header with {', '.join(required)}", path=str(p))
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValidationError(
            f"{p}, row 1: missing column(s) {', '.join(missing)}; required: {', '.join(required)}",
            path=str(p),
            row=1,
            field=missing[0],
        )
    unknown = [c for c in header if c not in required and c not in optional]
    if unknown:
        raise ValidationError(
            f"{p}, row 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(required + optional)}",
            path=str(p),
            row=1,
            field=unknown[0],
        )
    body = [r for r in rows[1:] if any(x.strip() for x in r)]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise ValidationError(
                f"{p}, row {i + 2}: {len(r)} fields, header has {len(header)}", path=str(p), row=i + 2
            )
    return header, body


def _int_col(path: str | Path, header: list[str], body: list[list[str]], name: str, lo: int = 0) -> np.ndarray:
    j = header.index(name)
    out = np.empty(len(body), np.int64)
    for i, r in enumerate(body):
        v = r[j].strip()
        try:
            x = int(float(v)) if v else 0
        except ValueError:
            raise ValidationError(
                f"{path}, row {i + 2}, field {name}: {v!r} is not a number", path=str(path), row=i + 2, field=name
            ) from None
        if x < lo:
            raise ValidationError(
                f"{path}, row {i + 2}, field {name}: {x} is below {lo}", path=str(path), row=i + 2, field=name
            )
        out[i] = x
    return out


def load_nodes(path: str | Path) -> NodeTable:
    header, body = _read(path, NODE_REQUIRED, NODE_OPTIONAL)
    if not body:
        raise ValidationError(f"{path}: no nodes", path=str(path))
    names = [r[header.index("sn")].strip() for r in body]
    gpus = _int_col(path, header, body, "gpu")
    model = [r[header.index("model")].strip() for r in body]
    for i, (g, m) in enumerate(zip(gpus, model, strict=True)):
        if g > 0 and not m:
            raise ValidationError(
                f"{path}, row {i + 2}, field model: a node with {g} GPUs needs a model", path=str(path), row=i + 2, field="model"
            )
    mem = (
        _int_col(path, header, body, "memory_mib") if "memory_mib" in header else np.full(len(body), 1 << 40, np.int64)
    )
    return NodeTable(str(path), names, _int_col(path, header, body, "cpu_milli"), mem, gpus, model)


def load_pods(path: str | Path) -> PodTable:
    header, body = _read(path, POD_REQUIRED, POD_OPTIONAL)
    if not body:
        raise ValidationError(f"{path}: no pods", path=str(path))
    names = [r[header.index("name")].strip() for r in body]
    num = _int_col(path, header, body, "num_gpu")
    milli = _int_col(path, header, body, "gpu_milli")
    for i, (n, m) in enumerate(zip(num, milli, strict=True)):
        if m > 1000:
            raise ValidationError(
                f"{path}, row {i + 2}, field gpu_milli: {m} exceeds 1000 (it is per GPU)", path=str(path), row=i + 2, field="gpu_milli"
            )
        if n > 1 and m != 1000:
            raise ValidationError(
                f"{path}, row {i + 2}, field gpu_milli: {n} GPUs need 1000 milli each, got {m}",
                path=str(path),
                row=i + 2,
                field="gpu_milli",
            )
        if (n == 0) != (m == 0):
            raise ValidationError(
                f"{path}, row {i + 2}: num_gpu={n} and gpu_milli={m} disagree", path=str(path), row=i + 2, field="num_gpu"
            )
    spec = [r[header.index("gpu_spec")].strip() for r in body] if "gpu_spec" in header else [""] * len(body)
    mem = _int_col(path, header, body, "memory_mib") if "memory_mib" in header else np.zeros(len(body), np.int64)

    def opt(name: str) -> np.ndarray | None:
        return _int_col(path, header, body, name) if name in header else None

    return PodTable(
        str(path),
        names,
        _int_col(path, header, body, "cpu_milli"),
        mem,
        num,
        milli,
        spec,
        opt("creation_time"),
        opt("deletion_time"),
        opt("scheduled_time"),
    )


@dataclass(frozen=True)
class PhillyTable:
    path: str
    arrival_s: np.ndarray
    duration_s: np.ndarray
    num_gpus: np.ndarray


def load_philly(path: str | Path, limit: int | None = None) -> PhillyTable:
    """``timestamp,duration,num_gpus,gpu_time,cluster`` (Sia's Philly-derived jobs)."""
    from datetime import datetime

    header, body = _read(path, ("timestamp", "duration", "num_gpus"), ("gpu_time", "cluster"))
    if limit is not None:
        body = body[:limit]
    it, idur = header.index("timestamp"), header.index("duration")
    ts = np.empty(len(body))
    dur = np.empty(len(body))
    for i, r in enumerate(body):
        try:
            ts[i] = datetime.fromisoformat(r[it].strip()).timestamp()
        except ValueError:
            raise ValidationError(f"{path}, row {i + 2}, field timestamp: {r[it]!r} is not a date-time", path=str(path), row=i + 2, field="timestamp") from None
        try:
            dur[i] = float(r[idur])
        except ValueError:
            raise ValidationError(f"{path}, row {i + 2}, field duration: {r[idur]!r} is not a number", path=str(path), row=i + 2, field="duration") from None
    return PhillyTable(str(path), ts - ts.min(initial=0), dur, _int_col(path, header, body, "num_gpus", lo=1))


@dataclass(frozen=True)
class GavelJobs:
    """Jobs of Gavel's Philly-derived traces (``msr-seed0/*.trace``)."""

    kind: list[str]  # Gavel job type, e.g. "ResNet-18 (batch size 16)"
    steps: np.ndarray  # total training steps
    arrival_s: np.ndarray
    gpus: np.ndarray  # scale factor


def load_gavel_throughputs(path: str | Path) -> dict[str, dict[tuple[str, int], float]]:
    """Isolated throughput (steps/s) per GPU type and (job type, scale factor) from Gavel's
    ``simulation_throughputs.json``; the co-location entries and ``*_unconsolidated`` types are
    left out."""
    import ast
    import json

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"throughputs file not found: {p}", path=str(p))
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"{p}: cannot read as JSON: {exc}", path=str(p)) from exc
    if not isinstance(raw, dict):
        raise ValidationError(f"{p}: expected an object keyed by GPU type", path=str(p))
    out: dict[str, dict[tuple[str, int], float]] = {}
    for gpu, table in raw.items():
        if gpu.endswith("_unconsolidated") or not isinstance(table, dict):
            continue
        per: dict[tuple[str, int], float] = {}
        for key, entry in table.items():
            try:
                kind, sf = ast.literal_eval(key)
                tput = float(entry["null"])
            except (ValueError, SyntaxError, TypeError, KeyError):
                raise ValidationError(
                    f"{p}, {gpu} / {key!r}: expected \"('job type', scale)\" with an isolated 'null' throughput",
                    path=str(p), field=gpu,
                ) from None
            per[(str(kind), int(sf))] = tput
        out[gpu] = per
    if not out:
        raise ValidationError(f"{p}: no GPU types", path=str(p))
    return out


def load_gavel_trace(paths: list[str | Path]) -> GavelJobs:
    """Tab-separated Gavel trace lines: ``job_type, command, num_steps_arg, needs_data_dir,
    total_steps, arrival_time, scale_factor``."""
    kind: list[str] = []
    steps: list[int] = []
    arr: list[float] = []
    gpus: list[int] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"trace file not found: {p}", path=str(p))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            f = line.split("\t")
            if len(f) != 7:
                raise ValidationError(f"{p}, line {i + 1}: {len(f)} tab-separated fields, expected 7", path=str(p), row=i + 1)
            try:
                s, a, g = int(f[4]), float(f[5]), int(f[6])
            except ValueError:
                raise ValidationError(
                    f"{p}, line {i + 1}: total_steps, arrival_time and scale_factor must be numbers", path=str(p), row=i + 1
                ) from None
            if s <= 0 or g <= 0 or a < 0:
                raise ValidationError(f"{p}, line {i + 1}: steps and scale factor must be > 0, arrival ≥ 0", path=str(p), row=i + 1)
            kind.append(f[0])
            steps.append(s)
            arr.append(a)
            gpus.append(g)
    if not kind:
        raise ValidationError("no Gavel jobs in the given trace files")
    return GavelJobs(kind, np.array(steps, np.int64), np.array(arr), np.array(gpus, np.int64))
