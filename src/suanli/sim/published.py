"""The FGD authors' published per-seed curves (``fgd-expected-results/*.csv``).

Columns: ``workload,sc_policy,tune,seed[,total_gpus],0..130``; ``sc_policy`` names like
``06-FGD`` are mapped onto our registry names. Bad files raise NotFoundError/ValidationError
naming the file, row and field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suanli.errors import NotFoundError, ValidationError
from suanli.scheduler import ARTIFACT_NAMES
from suanli.sim.traces import workload_name


@dataclass(frozen=True)
class Published:
    path: str
    #: (workload, policy) -> (seeds, 131) array
    curves: dict[tuple[str, str], np.ndarray]

    def mean(self, workload: str, policy: str) -> np.ndarray | None:
        c = self.curves.get((workload, policy))
        return None if c is None else np.nanmean(c, axis=0)

    def at(self, workload: str, policy: str, pct: int) -> float | None:
        m = self.mean(workload, policy)
        return None if m is None else float(m[pct])

    def workloads(self) -> list[str]:
        return sorted({w for w, _ in self.curves})


def load_published(path: str | Path) -> Published:
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"published results file not found: {p}", path=str(p))
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValidationError(f"{p}: empty file", path=str(p))
    header = rows[0]
    for col in ("workload", "sc_policy", "seed"):
        if col not in header:
            raise ValidationError(f"{p}, row 1: missing column {col}", path=str(p), row=1, field=col)
    bins = [str(k) for k in range(131)]
    missing = [b for b in bins if b not in header]
    if missing:
        raise ValidationError(f"{p}, row 1: missing arrival columns {missing[0]}..", path=str(p), row=1, field=missing[0])
    iw, ip = header.index("workload"), header.index("sc_policy")
    ib = [header.index(b) for b in bins]
    acc: dict[tuple[str, str], list[list[float]]] = {}
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValidationError(f"{p}, row {r}: {len(row)} fields, header has {len(header)}", path=str(p), row=r)
        pol = ARTIFACT_NAMES.get(row[ip], row[ip].split("-", 1)[-1].lower())
        vals = []
        for j, b in zip(ib, bins, strict=True):
            try:
                vals.append(float(row[j]) if row[j] else float("nan"))
            except ValueError:
                raise ValidationError(f"{p}, row {r}, field {b}: {row[j]!r} is not a number", path=str(p), row=r, field=b) from None
        acc.setdefault((workload_name(row[iw]), pol), []).append(vals)
    return Published(str(p), {k: np.array(v) for k, v in acc.items()})
