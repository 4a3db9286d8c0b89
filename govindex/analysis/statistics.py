"""The statistics declared in the rules (``statistic``, docs §14c), counted from the results.

A statistic is a condition on one unit (checked and lowered to a JSON tree by
:mod:`govindex.check.statistics`, carried in ``scores.json`` "statistics"). Definitions:

- **units**: those with a total (the analysis leaves the others out of every statistic);
- **figures**: a node's unrounded score (``scores_long.parquet``), its ``rate`` = score ÷ the
  node's maximum (``scores.json``), ``rank(total)`` = the published rank, ``units`` = the number of
  units; ``previous(n)`` / ``previous_rate(n)`` = the same unit's (same code) figure in
  ``--previous``, ``change(n)`` = score − previous score;
- **null**: a figure the results do not have (a null score, a unit absent last year) is null; an
  arithmetic with null is null, a comparison with null is null, ``and``/``or``/``not`` follow
  three-valued logic (``false and null`` is false, ``true or null`` is true); a unit is counted when
  the condition is **true**;
- **equality**: ``a == b`` holds when ``|a − b| ≤ 1e-9 · max(1, |a|, |b|)`` (scores are sums of
  doubles: 0.1 + 0.2 equals 0.3); ``!=`` is its negation; ``<=``/``>=`` include it;
- **count** = the units counted; **base** = all units, or with ``among: s`` the units ``s``
  counts (the statistic then counts the units meeting both); **share** = count ÷ base (null when
  the base is 0); with ``by: attr`` the same per value of the unit's ``attr`` (a unit without a
  value is in no group); groups in order of first appearance by unit code;
- **change** (with ``--previous``, for a statistic that does not itself read last year): the same
  definition counted on the previous results; ``change`` = count − previous count,
  ``change_relative`` = change ÷ previous count (null when 0), likewise ``share_change`` (a
  difference of fractions) and ``share_change_relative``. A statistic that reads ``previous(…)``
  or ``change(…)`` is counted only with ``--previous`` (else its status is ``needs --previous``)
  and has no change (that would need the year before last).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from govindex.analysis.load import TOTAL, Results

EPS = 1e-9
NEEDS_PREVIOUS = "needs --previous"
Value = float | str | bool | None


class _Side:
    """The figures of one result, by unit code, for evaluating conditions."""

    def __init__(self, res: Results):
        self.res = res
        self.scored = [i for i, t in enumerate(res.scores[TOTAL]) if not np.isnan(t)]
        self.index = {res.units[i]["code"]: i for i in self.scored}
        self.maxima = {x["id"]: x.get("max") for x in [*res.indicators, *res.points]}

    def has(self, node: str) -> bool:
        return node in self.res.scores or node in self.res.point_scores

    def score(self, node: str, code: str) -> float | None:
        i = self.index.get(code)
        arr = self.res.scores.get(node)
        if arr is None:
            arr = self.res.point_scores.get(node)
        if i is None or arr is None or np.isnan(arr[i]):
            return None
        return float(arr[i])

    def rate(self, node: str, code: str) -> float | None:
        s, m = self.score(node, code), self.maxima.get(node)
        return None if s is None or not m else s / float(m)

    def rank(self, code: str) -> float | None:
        i = self.index.get(code)
        r = self.res.units[i].get("rank") if i is not None else None
        return None if r is None else float(r)


def compute(res: Results, previous: Results | None = None) -> list[dict]:
    """Every statistic of ``res`` (scores.json "statistics"), counted; JSON-ready."""
    defs = {d["id"]: d for d in res.statistics}
    now = _Side(res)
    then = _Side(previous) if previous is not None else None
    before = {d["id"]: d for d in previous.statistics} if previous is not None else {}
    return [_statistic(d, defs, now, then, before) for d in res.statistics]


def _statistic(d: dict, defs: dict[str, dict], now: _Side, then: _Side | None, before: dict[str, dict]) -> dict:
    out: dict[str, Any] = {k: d.get(k) for k in ("id", "label", "text", "by", "among", "needs_previous")}
    chain = _chain(d, defs)
    if any(x["needs_previous"] for x in chain) and then is None:
        return {**out, "status": NEEDS_PREVIOUS, "count": None, "base": None, "share": None, "groups": [],
                "previous": None}
    counted = _counted(chain, now, then)
    out.update(status="ok", **_figures(counted, d.get("by")))
    out["previous"] = None
    if then is not None and not any(x["needs_previous"] for x in chain):
        # Last year counted by its own rules when they declare the statistic, else by this year's.
        old = _chain(before[d["id"]], before) if d["id"] in before else chain
        missing = sorted({n for x in old for n in x["nodes"] if not then.has(n)})
        if missing or any(x["needs_previous"] for x in old):
            out["previous_missing"] = missing  # the previous results have no such node: no change
        else:
            out["previous"] = _change(_figures(_counted(old, then, None), d.get("by")), out)
            out["previous"]["text"] = old[0]["text"]
    return out


def _chain(d: dict, defs: dict[str, dict]) -> list[dict]:
    """The statistic and those it is ``among`` (its base), innermost last (check rejects cycles)."""
    chain = [d]
    while chain[-1].get("among") in defs and len(chain) <= len(defs):
        chain.append(defs[chain[-1]["among"]])
    return chain


def _counted(chain: list[dict], side: _Side, then: _Side | None) -> list[tuple[dict, bool, bool]]:
    """Per scored unit of ``side`` in code order: (the unit, counted by the statistic, in its base)."""
    out = []
    for i in sorted(side.scored, key=lambda i: side.res.units[i]["code"]):
        unit = side.res.units[i]
        base = all(_holds(x["where"], side, then, unit["code"]) for x in chain[1:])
        out.append((unit, base and _holds(chain[0]["where"], side, then, unit["code"]), base))
    return out


def _figures(counted: list[tuple[dict, bool, bool]], by: str | None) -> dict:
    hit, base = sum(h for _, h, _ in counted), sum(b for _, _, b in counted)
    groups: dict[str, list[int]] = {}
    if by is not None:
        for unit, h, b in counted:
            g = unit.get(by)
            if g not in (None, ""):
                acc = groups.setdefault(str(g), [0, 0])
                acc[0] += h
                acc[1] += b
    return {"count": hit, "base": base, "share": _ratio(hit, base),
            "groups": [{"group": g, "count": c, "base": n, "share": _ratio(c, n)} for g, (c, n) in groups.items()]}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _change(prev: dict, cur: dict) -> dict:
    change = cur["count"] - prev["count"]
    sc = None if cur["share"] is None or prev["share"] is None else cur["share"] - prev["share"]
    return {"count": prev["count"], "base": prev["base"], "share": prev["share"], "change": change,
            "change_relative": _ratio(change, prev["count"]), "share_change": sc,
            "share_change_relative": None if sc is None else _ratio(sc, prev["share"])}


# --- evaluating a condition --------------------------------------------------------------------


def _holds(tree: dict, now: _Side, then: _Side | None, code: str) -> bool:
    return _eval(tree, now, then, code) is True


def _eval(t: dict, now: _Side, then: _Side | None, code: str) -> Value:
    if "num" in t:
        return float(t["num"])
    if "str" in t:
        return str(t["str"])
    if "bool" in t:
        return bool(t["bool"])
    if "units" in t:
        return float(len(now.scored))
    if "attr" in t:
        i = now.index.get(code)
        v = now.res.units[i].get(t["attr"]) if i is not None else None
        return None if v in (None, "") else str(v)
    if "fn" in t:
        return _figure(t["fn"], t["node"], now, then, code)
    args = [_eval(a, now, then, code) for a in t["args"]]
    return _OPS[t["op"]](args)


def _figure(fn: str, node: str, now: _Side, then: _Side | None, code: str) -> float | None:
    if fn == "score":
        return now.score(node, code)
    if fn == "rate":
        return now.rate(node, code)
    if fn == "max":
        m = now.maxima.get(node)
        return None if m is None else float(m)
    if fn == "rank":
        return now.rank(code)
    if then is None:
        return None
    if fn == "previous":
        return then.score(node, code)
    if fn == "previous_rate":
        return then.rate(node, code)
    if fn == "change":
        a, b = now.score(node, code), then.score(node, code)
        return None if a is None or b is None else a - b
    raise ValueError(f"unknown statistic figure {fn!r}")  # a bug: check lowers only the names above


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= EPS * max(1.0, abs(a), abs(b))
    return bool(a == b)


def _cmp(test: Callable[[Any, Any], bool]) -> Callable[[list[Value]], Value]:
    return lambda xs: None if xs[0] is None or xs[1] is None else test(xs[0], xs[1])


def _arith(f: Callable[[float, float], float]) -> Callable[[list[Value]], Value]:
    def op(xs: list[Value]) -> Value:
        a, b = xs
        if not isinstance(a, float) or not isinstance(b, float):
            return None
        try:
            r = f(a, b)
        except ZeroDivisionError:
            return None
        return r if math.isfinite(r) else None
    return op


def _and(xs: list[Value]) -> Value:
    return False if any(x is False for x in xs) else None if any(x is None for x in xs) else True


def _or(xs: list[Value]) -> Value:
    return True if any(x is True for x in xs) else None if any(x is None for x in xs) else False


_OPS: dict[str, Callable[[list[Value]], Value]] = {
    "and": _and, "all": _and, "or": _or, "any": _or,
    "not": lambda xs: None if xs[0] is None else not xs[0],
    "neg": lambda xs: None if xs[0] is None else -float(xs[0]),
    "==": _cmp(_eq), "!=": _cmp(lambda a, b: not _eq(a, b)),
    "<": _cmp(lambda a, b: a < b and not _eq(a, b)), ">": _cmp(lambda a, b: a > b and not _eq(a, b)),
    "<=": _cmp(lambda a, b: a < b or _eq(a, b)), ">=": _cmp(lambda a, b: a > b or _eq(a, b)),
    "+": _arith(lambda a, b: a + b), "-": _arith(lambda a, b: a - b),
    "*": _arith(lambda a, b: a * b), "/": _arith(lambda a, b: a / b),
}

