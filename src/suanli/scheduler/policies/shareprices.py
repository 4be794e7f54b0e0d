"""Dual prices of device shares, from the fractional bin-packing LP of a share mix.

The typical shares of a workload (sizes ``s`` in milli of one device, with frequencies ``n_s``)
are packed into devices of 1000 milli. The configuration LP (Gilmore–Gomory) is

    min Σ_c x_c   s.t.  Σ_c a_{s,c} x_c ≥ n_s,  x ≥ 0,

with one column per multiset ``c`` of shares that fits on one device. Its dual,
``max Σ n_s y_s  s.t.  Σ_s a_{s,c} y_s ≤ 1 for every c``, prices each share size in devices:
``y_s`` is what a share of size ``s`` is worth to an optimal packing of the mix. A share that only
fills gaps nothing else can use (a 160 next to the many 810s) is worth little; one that completes
a common partner (a 320 next to a 650) is worth about its size.

The *potential* of a gap of ``f`` free milli is then ``P(f) = max Σ y_s`` over the multisets
that fit in ``f`` (an unbounded knapsack), and ``f − 1000·P(f)`` is the milli of that gap an
optimal packing of the mix would still leave unused. Placing a share of size ``s`` in a gap of
``f`` uses up ``1000·(P(f) − P(f − s))`` of potential; the policy prefers the gap where that is
least (where the share is part of the gap's best completion).

Solved by column generation: a revised simplex on the restricted master (one row per share
size, Bland's rule), new columns from an integer knapsack on the current duals. Pure numpy, a
few milliseconds for a typical mix of 10–30 sizes.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from suanli.scheduler.types import MILLI


def _knapsack(values: np.ndarray, weights: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Unbounded integer knapsack for every capacity 0..cap: best value (cap+1,) and the item
    added last for each capacity (-1: none), for reconstruction."""
    best = np.zeros(cap + 1)
    last = np.full(cap + 1, -1, np.int64)
    for c in range(1, cap + 1):
        best[c] = best[c - 1]
        last[c] = -2  # same as c - 1
        for i in range(values.size):
            w = int(weights[i])
            if w <= c and values[i] > 0:
                v = best[c - w] + values[i]
                if v > best[c] + 1e-12:
                    best[c] = v
                    last[c] = i
    return best, last


def _column(last: np.ndarray, weights: np.ndarray, cap: int, m: int) -> np.ndarray:
    col = np.zeros(m)
    c = cap
    while c > 0:
        i = int(last[c])
        if i == -2:
            c -= 1
        elif i < 0:
            break
        else:
            col[i] += 1
            c -= int(weights[i])
    return col


def share_prices(sizes: np.ndarray, counts: np.ndarray, max_iter: int = 2000) -> np.ndarray:
    """Dual prices ``y`` (devices per share) of the configuration LP of shares ``sizes`` (milli,
    each < 1000) with frequencies ``counts``."""
    sizes = np.asarray(sizes, np.int64)
    counts = np.asarray(counts, np.float64)
    m = sizes.size
    if m == 0:
        return np.zeros(0)
    g = MILLI
    for s in sizes.tolist():
        g = gcd(g, int(s))
    w = sizes // g
    cap = MILLI // g
    n = counts / counts.sum()
    # initial basis: each size alone, as many copies as fit
    basis_cols = [np.eye(m)[i] * (cap // int(w[i])) for i in range(m)]
    cost = [1.0] * m
    y = np.zeros(m)
    for _ in range(max_iter):
        b = np.column_stack(basis_cols)
        cb = np.array(cost)
        y = np.linalg.solve(b.T, cb)
        xb = np.linalg.solve(b, n)
        entering: np.ndarray | None = None
        enter_cost = 1.0
        neg = np.flatnonzero(y < -1e-9)
        if neg.size:  # a surplus column −e_i prices out
            entering = -np.eye(m)[int(neg[0])]
            enter_cost = 0.0
        else:
            best, last = _knapsack(np.maximum(y, 0.0), w, cap)
            if best[cap] <= 1.0 + 1e-9:
                break
            entering = _column(last, w, cap, m)
        d = np.linalg.solve(b, entering)
        pos = np.flatnonzero(d > 1e-12)
        if pos.size == 0:  # unbounded: cannot happen for a covering LP with these columns
            break
        ratios = xb[pos] / d[pos]
        r = ratios.min()
        leave = int(pos[np.flatnonzero(ratios <= r + 1e-12)[0]])
        basis_cols[leave] = entering
        cost[leave] = enter_cost
    out: np.ndarray = np.maximum(y, 0.0)
    return out


def gap_potential(sizes: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """``P[f]`` for ``f`` = 0..1000: the largest total price of shares that fit in ``f`` milli."""
    sizes = np.asarray(sizes, np.int64)
    out = np.zeros(MILLI + 1)
    if sizes.size == 0:
        return out
    for f in range(1, MILLI + 1):
        v = out[f - 1]
        for s, y in zip(sizes.tolist(), prices.tolist(), strict=True):
            if s <= f:
                v = max(v, out[f - s] + y)
        out[f] = v
    return out

