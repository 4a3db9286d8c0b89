"""Totals → classes (A 创新领先, B 积极追赶, …) and sub-levels (A+, A, A-).

``difference_trend``: sort the totals from high to low and take first differences (the gap below
each unit). A gap is significant by how far it stands above the local trend — the mean gap of
``window`` neighbours on each side — plus twice the mean gap overall, so that neither a run of
ties nor the dense middle makes a small step look large. The ``k − 1`` most significant gaps (k classes) are
the breaks, subject to every class keeping at least ``min_class`` units (relaxed step by step when
the units cannot fill the classes). Equal totals — the same double — are never split: only a gap
greater than 0 can break. The unit just above a break is the last member of the upper class.

``thresholds``: a class holds the totals at or above its cut (``total >= cut``, exactly, no
tolerance) and below the cut of the class above; the last class takes the rest.

``conditions``: each class has a condition over several measures (see
:mod:`govindex.eval.node_grades`, which decides the classes); a unit takes the first class whose
condition holds, the last class without a condition takes the rest. :func:`summarise` adds the
ranges, sub-levels and counts as for the other methods.

Sub-levels divide a class's score range evenly into three: with ``t = (hi − lo) / 3``, ``+`` at or
above ``hi − t``, plain at or above ``lo + t``, ``-`` below (exact comparisons; one value: plain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from govindex.ir import Grading

# A gap's local trend is floored at this many mean gaps: significance weighs how large a gap is
# overall as well as against its neighbours, so a small step in a dense middle does not win.
# The default of a grading's `floor:`.
FLOOR = 2.0


@dataclass(frozen=True)
class Break:
    after: int  # units above the break (the upper class ends at index after-1 of the sorted list)
    code: str  # the last unit of the upper class
    score: float
    gap: float
    significance: float


@dataclass(frozen=True)
class Graded:
    grade: dict[str, str] = field(default_factory=dict)  # code → class id
    sublevel: dict[str, str] = field(default_factory=dict)  # code → e.g. "A+"
    breaks: tuple[Break, ...] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # class → (lowest, highest) total
    counts: dict[str, int] = field(default_factory=dict)


def grade(g: Grading, totals: dict[str, float | None]) -> Graded:
    """Grade every unit with a value (units with a null value get no grade) by thresholds or
    difference trend (``conditions`` are decided by :mod:`govindex.eval.node_grades`)."""
    ranked = sorted(((t, c) for c, t in totals.items() if t is not None), key=lambda tc: (-tc[0], tc[1]))
    ids = [c for c, _ in g.classes]
    if g.method == "conditions":
        raise ValueError("conditions are decided by govindex.eval.node_grades, then summarised")
    if g.method == "thresholds":
        assign = {c: _threshold_class(g, ids, t) for t, c in ranked}
        breaks: tuple[Break, ...] = ()
    else:
        cuts = difference_trend_breaks([t for t, _ in ranked], len(ids), g.window, g.min_class, g.floor)
        breaks = tuple(Break(b.after, ranked[b.after - 1][1], ranked[b.after - 1][0], b.gap, b.significance)
                       for b in cuts)
        assign, cls, bounds = {}, 0, {b.after for b in cuts}
        for i, (_, code) in enumerate(ranked):
            if i in bounds:
                cls += 1
            assign[code] = ids[cls]
    return summarise(g, totals, assign, breaks)


def summarise(g: Grading, values: dict[str, float | None], assign: dict[str, str],
              breaks: tuple[Break, ...] = ()) -> Graded:
    """The classes ``assign`` gives (code → class) with each class's range of ``values``, the
    sub-levels and the counts."""
    ids = [c for c, _ in g.classes]
    ranked = sorted(((t, c) for c, t in values.items() if t is not None and c in assign),
                    key=lambda tc: (-tc[0], tc[1]))
    ranges: dict[str, tuple[float, float]] = {}
    for t, code in ranked:
        lo, hi = ranges.get(assign[code], (t, t))
        ranges[assign[code]] = (min(lo, t), max(hi, t))
    sub = {code: _sublevel(assign[code], t, ranges[assign[code]], g) for t, code in ranked}
    assign = {code: assign[code] for _, code in ranked}
    counts = {c: sum(1 for v in assign.values() if v == c) for c in ids}
    return Graded(assign, sub, breaks, ranges, counts)


def _threshold_class(g: Grading, ids: list[str], total: float) -> str:
    for c in ids[:-1]:
        if total >= g.cuts[c]:  # exact: a value just under a cut does not reach it
            return c
    return ids[-1]


def _sublevel(cls: str, t: float, rng: tuple[float, float], g: Grading) -> str:
    if cls not in g.sublevels:
        return cls
    lo, hi = rng
    third = (hi - lo) / 3
    if third == 0:  # one value: no thirds
        return cls
    if t >= hi - third:
        return cls + "+"
    if t >= lo + third:
        return cls
    return cls + "-"


@dataclass(frozen=True)
class Cut:
    after: int
    gap: float
    significance: float


def difference_trend_breaks(desc: list[float], k: int, window: int, min_class: int,
                            floor_gaps: float = FLOOR) -> list[Cut]:
    """Break positions in totals sorted high → low, as counts of units above each break; a gap's
    local trend is floored at ``floor_gaps`` mean gaps."""
    n = len(desc)
    gaps = [desc[i] - desc[i + 1] for i in range(n - 1)]
    candidates = [i for i, gp in enumerate(gaps) if gp > 0]  # equal (the same double): never split
    if k <= 1 or not candidates:
        return []
    floor = floor_gaps * math.fsum(gaps) / len(gaps)  # exact sums: the mean gap as defined
    sig = {}
    for i in candidates:
        near = gaps[max(0, i - window): i] + gaps[i + 1: i + 1 + window]
        trend = math.fsum(near) / len(near) if near else 0.0
        sig[i] = gaps[i] / (trend + floor)
    order = sorted(candidates, key=lambda i: (-sig[i], i))
    want = min(k - 1, len(candidates))
    for size in range(max(1, min_class), 0, -1):
        chosen = _pick(order, want, n, size)
        if len(chosen) == want:
            break
    return [Cut(i + 1, gaps[i], sig[i]) for i in sorted(chosen)]


def _pick(order: list[int], want: int, n: int, size: int) -> list[int]:
    chosen: list[int] = []
    for i in order:
        trial = sorted([*chosen, i])
        bounds = [-1, *trial, n - 1]
        if all(b - a >= size for a, b in zip(bounds, bounds[1:])):
            chosen = trial
            if len(chosen) == want:
                break
    return chosen
