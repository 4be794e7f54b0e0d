"""The cheapest mix of whole devices that covers an amount of compute (the ``flops`` form).

Formulation
-----------
A *kind* ``k`` is a set of interchangeable free devices (one model at one site, inside one placement
domain): ``n_k`` of them, each ``P_k`` > 0 PFLOPS, costing ``c_k`` per device-hour (the tenant's
price in force) and ``e_k`` per device-hour of facility energy (TDP × PUE × power price). An order
for ``p`` P chooses integers ``0 ≤ x_k ≤ n_k`` with ``Σ x_k P_k ≥ p`` (never less than ``p``),
minimising, in this order:

1. ``Σ x_k c_k``: the price of an hour of the mix (the cheapest mix; per P ordered it is this ÷ p);
2. ``Σ x_k e_k``: the energy it burns (the operator's cost);
3. ``Σ x_k P_k``: the overshoot ``Σ x_k P_k − p``;
4. ``Σ x_k``: fewer devices;
5. the order of the kinds as given (deterministic).

All four terms are linear in ``x``, so the lexicographic objective is one integer weight per device,
``w_k = ((c_k·E + e_k)·Q + P_k)·D + 1``, where prices and energy are integers of 10⁻¹² (the
quote's precision), P an integer in the smallest common decimal scale, and ``E``, ``Q``, ``D`` one
more than the largest possible total of the term below them (so no lower term can carry into a
higher one). The problem is a bounded *covering* knapsack: minimise ``Σ x_k w_k`` subject to
``Σ x_k P_k ≥ p``. It is NP-hard in general; fleets have few kinds (models × sites), so it is solved
exactly by branch and bound:

- kinds in ascending ``w_k ÷ P_k`` (price per P first); depth first, ``x_k`` from the most useful
  (``min(n_k, ⌈r ÷ P_k⌉)`` for the remaining need ``r``) down to 0;
- bound: the linear relaxation of the remaining kinds, solved by Dantzig's greedy (fill the need
  with whole kinds in ratio order, the last one fractionally) — its optimum is a lower bound of any
  integer completion. A branch whose bound reaches the incumbent is cut;
- since every later kind costs at least ``w_k ÷ P_k`` per unit of P, lowering ``x_k`` by one
  lowers the cost so far by ``w_k`` and raises the relaxation by at least ``w_k``: the bound never
  falls as ``x_k`` falls, so the loop over ``x_k`` stops at the first cut. The same holds for
  infeasibility (less of ``k`` leaves more to cover).

Proof sketch of exactness: every integer solution is a leaf of the tree; a branch is cut only when
a lower bound of all its leaves is at least the incumbent's objective; hence when the search
completes the incumbent is optimal. The incumbents are seeded with the greedy cover (whole kinds in
ratio order, the last rounded up) and, for each model, its exact single-model optimum (all its
devices have the same P, so it needs ``⌈p ÷ P⌉`` devices: the cheapest ones). So the mix returned is
never dearer than any single-model solution that fits, even when a huge search stops at its node
budget (:data:`MAX_NODES`; :attr:`Mix.exact` says whether the search completed).

Pure: stdlib only (``Decimal`` and ints, no floats).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

MAX_NODES = 20_000
"""Branch-and-bound nodes explored at most per solve (a fleet of a few dozen kinds needs far fewer)."""
_MONEY_PLACES = Decimal("1e-12")
_MAX_P_DIGITS = 12


@dataclass(frozen=True)
class Kind:
    """Interchangeable free devices: ``count`` of ``model`` at ``site``."""

    model: str
    site: str
    p: Decimal
    """Compute of one device, P (> 0)."""
    price: Decimal
    """Price per device-hour (≥ 0)."""
    energy: Decimal
    """Facility energy cost per device-hour (≥ 0)."""
    count: int

    @property
    def price_per_p(self) -> Decimal:
        return self.price / self.p

    @property
    def energy_per_p(self) -> Decimal:
        return self.energy / self.p


@dataclass(frozen=True)
class Mix:
    """A chosen mix: how many devices of each kind (only kinds with a count > 0, in the kinds' order)."""

    take: tuple[tuple[Kind, int], ...]
    exact: bool = True
    """False when the search stopped at its node budget (the mix is the best found, never dearer
    than the greedy cover nor any single-model cover)."""

    @property
    def p(self) -> Decimal:
        return sum((k.p * x for k, x in self.take), Decimal(0))

    @property
    def price(self) -> Decimal:
        """Price of one hour of the mix."""
        return sum((k.price * x for k, x in self.take), Decimal(0))

    @property
    def energy(self) -> Decimal:
        return sum((k.energy * x for k, x in self.take), Decimal(0))

    @property
    def devices(self) -> int:
        return sum(x for _, x in self.take)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k.model for k, _ in self.take))

    def key(self) -> tuple[Decimal, Decimal, Decimal, int]:
        """The objective, lexicographic: price, energy, P (overshoot), devices."""
        return (self.price, self.energy, self.p, self.devices)


def _money(d: Decimal) -> int:
    return int(d.quantize(_MONEY_PLACES, ROUND_HALF_UP).scaleb(12))


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def solve(kinds: Sequence[Kind], need: Decimal, *, max_nodes: int = MAX_NODES) -> Mix | None:
    """The cheapest mix of whole devices of ``kinds`` with at least ``need`` P (see the module's
    formulation), or None when all of them together have less than ``need``.

    Kinds equal in (model, P, price, energy) are interchangeable: they are searched as one (their
    counts summed) and the devices taken are given back to them in the order of ``kinds``, so a
    fleet of many sites at the same price costs no more to search than one site."""
    if need <= 0:
        raise ValueError("need must be > 0")
    for k in kinds:
        if k.p <= 0 or k.price < 0 or k.energy < 0:
            raise ValueError(f"kind {k.model}@{k.site}: P must be > 0 and prices >= 0")
    members: dict[tuple[str, Decimal, Decimal, Decimal], list[int]] = {}
    for i, k in enumerate(kinds):
        if k.count > 0:
            members.setdefault((k.model, k.p, k.price, k.energy), []).append(i)
    merged = [Kind(kinds[g[0]].model, kinds[g[0]].site, kinds[g[0]].p, kinds[g[0]].price, kinds[g[0]].energy,
                   sum(kinds[i].count for i in g)) for g in members.values()]
    got = _solve(merged, need, max_nodes)
    if got is None:
        return None
    take = [0] * len(kinds)
    for m, x in got.take:
        for i in members[(m.model, m.p, m.price, m.energy)]:
            if x <= 0:
                break
            take[i] = min(kinds[i].count, x)
            x -= take[i]
    return Mix(tuple((k, take[i]) for i, k in enumerate(kinds) if take[i]), exact=got.exact)


def _solve(ks: list[Kind], need: Decimal, max_nodes: int) -> Mix | None:
    if sum((k.p * k.count for k in ks), Decimal(0)) < need:
        return None
    digits = min(_MAX_P_DIGITS, max([_decimals(need), *(_decimals(k.p) for k in ks)]))
    # P rounded down and the need up: a cover in integers is a cover in decimals
    sizes = [int(k.p.scaleb(digits).to_integral_value(ROUND_FLOOR)) for k in ks]
    target = int(need.scaleb(digits).to_integral_value(ROUND_CEILING))
    if any(s <= 0 for s in sizes):
        raise ValueError(f"device P below 1e-{digits}")
    if sum(s * k.count for s, k in zip(sizes, ks, strict=True)) < target:
        return None
    dd = sum(k.count for k in ks) + 1
    qq = sum(s * k.count for s, k in zip(sizes, ks, strict=True)) + 1
    ee = sum(_money(k.energy) * k.count for k in ks) + 1
    weights = [((_money(k.price) * ee + _money(k.energy)) * qq + s) * dd + 1 for k, s in zip(ks, sizes, strict=True)]
    order = sorted(range(len(ks)), key=lambda i: (Fraction(weights[i], sizes[i]), i))
    x = _Search([ks[i].count for i in order], [sizes[i] for i in order], [weights[i] for i in order],
                [ks[i].model for i in order], target, max_nodes).run()
    got = {order[j]: n for j, n in enumerate(x[0]) if n > 0}
    return Mix(tuple((ks[i], got[i]) for i in range(len(ks)) if i in got), exact=x[1])


class _Search:
    """Branch and bound over kinds sorted by weight per unit of P (see the module's docstring)."""

    def __init__(self, counts: list[int], sizes: list[int], weights: list[int], models: list[str], target: int,
                 max_nodes: int) -> None:
        self.n, self.s, self.w, self.target = counts, sizes, weights, target
        self.k = len(counts)
        self.cap = [0]  # prefix sums of capacity and cost in ratio order
        self.cost = [0]
        for i in range(self.k):
            self.cap.append(self.cap[-1] + counts[i] * sizes[i])
            self.cost.append(self.cost[-1] + counts[i] * weights[i])
        self.best_w: int | None = None
        self.best: list[int] = [0] * self.k
        self.nodes_left = max_nodes
        self.exact = True
        self.x = [0] * self.k
        self._seed(models)

    def _offer(self, x: list[int]) -> None:
        w = sum(a * b for a, b in zip(x, self.w, strict=True))
        if self.best_w is None or w < self.best_w:
            self.best_w, self.best = w, list(x)

    def _seed(self, models: list[str]) -> None:
        left, x = self.target, [0] * self.k
        for i in range(self.k):  # greedy: whole kinds in ratio order, the last one rounded up
            if left <= 0:
                break
            x[i] = min(self.n[i], -(-left // self.s[i]))
            left -= x[i] * self.s[i]
        self._offer(x)
        for m in dict.fromkeys(models):  # each model alone: its ⌈p ÷ P⌉ cheapest devices
            idx = [i for i in range(self.k) if models[i] == m]
            size = self.s[idx[0]]
            need = -(-self.target // size)
            if sum(self.n[i] for i in idx) * size < self.target:
                continue
            x = [0] * self.k
            for i in sorted(idx, key=lambda i: (self.w[i], i)):
                x[i] = min(self.n[i], need)
                need -= x[i]
            self._offer(x)

    def relaxation(self, i: int, r: int) -> int | None:
        """Lower bound (rounded up) of covering ``r`` more with kinds i.., or None if they cannot."""
        goal = self.cap[i] + r
        if goal > self.cap[self.k]:
            return None
        j = bisect_left(self.cap, goal, lo=i + 1) - 1  # kinds i..j-1 whole, j partly
        part = goal - self.cap[j]
        return self.cost[j] - self.cost[i] + -(-part * self.w[j] // self.s[j])

    def run(self) -> tuple[list[int], bool]:
        try:
            self._dfs(0, self.target, 0)
        except _Budget:
            self.exact = False
        return self.best, self.exact

    def _dfs(self, i: int, r: int, cost: int) -> None:
        if self.nodes_left <= 0:
            raise _Budget
        self.nodes_left -= 1
        if i >= self.k:
            return
        size, w = self.s[i], self.w[i]
        for xi in range(min(self.n[i], -(-r // size)), -1, -1):
            c = cost + xi * w
            assert self.best_w is not None
            if c >= self.best_w:
                continue
            rest = r - xi * size
            self.x[i] = xi
            if rest <= 0:
                self.best_w, self.best = c, list(self.x)
                continue
            bound = self.relaxation(i + 1, rest)
            if bound is None or c + bound >= self.best_w:
                break  # fewer of kind i only raises the bound (see the module's docstring)
            self._dfs(i + 1, rest, c)
        self.x[i] = 0


class _Budget(Exception):
    pass


def best_single_model(kinds: Sequence[Kind], need: Decimal) -> Mix | None:
    """The cheapest cover of ``need`` with one model only (its ⌈need ÷ P⌉ cheapest devices, by the
    same objective as :func:`solve`), or None when no model alone has ``need``."""
    best: Mix | None = None
    for model in dict.fromkeys(k.model for k in kinds if k.count > 0):
        got = solve([k for k in kinds if k.model == model], need)
        if got is not None and (best is None or got.key() < best.key()):
            best = got
    return best


__all__ = ["MAX_NODES", "Kind", "Mix", "best_single_model", "solve"]
