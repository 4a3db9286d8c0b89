"""Year over year: the change of every figure of two analyses, matched by indicator id, and the
units that rose or fell most (matched by unit code).

A figure's change is ``{"previous", "current", "change", "change_rel"}`` with ``change = current −
previous`` (rates and shares are fractions, so their change is in fractions too: 0.0123 = 1.23
points) and ``change_rel = change / |previous|`` (a fraction: 0.3118 = +31.18 %; None when the
previous value is 0). ``previous`` and ``current`` are exact; with ``--from-published D`` the change
and the relative change are computed from both values rounded as published (:class:`Published`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from govindex.analysis.load import TOTAL, Results
from govindex.analysis.stats import TOLERANCE, Published, ratio

MOVERS = 10
Num = float | int | None


def _same(v: Num) -> Num:
    return v


def delta(previous: Num, current: Num, pub: Callable[[Num], Num] = _same) -> dict:
    """``{"previous", "current", "change", "change_rel"}`` (module docstring); ``pub`` gives the value
    a change is computed from (the exact one by default). A change is None when either side is."""
    p, c = pub(previous), pub(current)
    change = None if p is None or c is None else c - p
    rel = None if change is None or p is None else ratio(change, abs(p))
    return {"previous": previous, "current": current, "change": change, "change_rel": rel}


def compare(cur: dict, prev: dict, res: Results, prev_res: Results, pub: Published | None = None) -> dict:
    """The ``previous`` section of the analysis: ``cur`` and ``prev`` are both ``_analyze`` dicts;
    ``pub`` says whether changes are computed from exact or published values."""
    d = _Deltas(pub or Published())
    p_ind = {x["id"]: x for x in prev["indicators"]}
    p_l3 = {x["id"]: x for x in prev["l3"]}
    cur_ids = [x["id"] for x in cur["indicators"] + cur["l3"]]
    prev_ids = [x["id"] for x in prev["indicators"] + prev["l3"]]
    cur_codes = {u["code"] for u in res.units}
    prev_codes = {u["code"] for u in prev_res.units}
    return {
        "ruleset": prev["ruleset"],
        "units_scored": prev["units_scored"],
        "reference_region": prev["reference_region"],
        "unmatched": {
            "indicators_current": [i for i in cur_ids if i not in set(prev_ids)],
            "indicators_previous": [i for i in prev_ids if i not in set(cur_ids)],
            "units_current": sorted(cur_codes - prev_codes),
            "units_previous": sorted(prev_codes - cur_codes),
        },
        "indicators": [_indicator(d, x, p_ind[x["id"]]) for x in cur["indicators"] if x["id"] in p_ind],
        "l3": [_figures(d, x, p_l3[x["id"]]) for x in cur["l3"] if x["id"] in p_l3],
        "grading": _grading(d, cur.get("grading"), prev.get("grading")),
        "movers": movers(res, prev_res, MOVERS, d.pub),
    }


class _Deltas:
    """Change records by kind of figure: a score, mean or SD (``value``), a rate or share
    (``fraction``), a count, or a figure that is itself derived and printed as is (``derived``)."""

    def __init__(self, pub: Published):
        self.pub = pub

    def value(self, p: Num, c: Num) -> dict:
        return delta(p, c, self.pub.value)

    def fraction(self, p: Num, c: Num) -> dict:
        return delta(p, c, self.pub.fraction)

    def count(self, p: Num, c: Num) -> dict:
        return delta(p, c)


def _figures(d: _Deltas, x: dict, p: dict) -> dict:
    return {"id": x["id"], "name": x["name"], "level": x["level"],
            **({"previous_name": p["name"]} if p["name"] != x["name"] else {}),
            **{f: d.value(p[f], x[f]) for f in ("max", "mean", "sd")},
            "rate": d.fraction(p["rate"], x["rate"]), "zero": d.count(p["zero"], x["zero"]),
            "zero_share": d.fraction(p["zero_share"], x["zero_share"])}


def _indicator(d: _Deltas, x: dict, p: dict) -> dict:
    doc = _figures(d, x, p)
    for f in ("above_mean", "rate_above_60"):
        doc[f] = {"count": d.count(p[f]["count"], x[f]["count"]), "share": d.fraction(p[f]["share"], x[f]["share"])}
    doc["regions"] = _regions(d, x.get("regions"), p.get("regions"))
    doc["provinces"] = _provinces(d, x.get("provinces"), p.get("provinces"))
    return doc


def _regions(d: _Deltas, cur: list[dict] | None, prev: list[dict] | None) -> list[dict] | None:
    if cur is None or prev is None:
        return None
    by = {r["name"]: r for r in prev}
    return [{"name": r["name"], "mean": d.value(by[r["name"]]["mean"], r["mean"]),
             "share_of_reference": d.fraction(by[r["name"]]["share_of_reference"], r["share_of_reference"])}
            for r in cur if r["name"] in by]


def _provinces(d: _Deltas, cur: dict | None, prev: dict | None) -> dict | None:
    if cur is None or prev is None:
        return None
    by = {g["name"]: g for g in prev["groups"]}
    rng = [None if r is None else r["value"] for r in (prev["range"], cur["range"])]
    return {"sd": d.value(prev["sd"], cur["sd"]), "ratio": d.value(prev["ratio"], cur["ratio"]),
            "range": d.value(*rng),
            "unit_sd_excess_pct": d.value(prev["unit_sd_excess_pct"], cur["unit_sd_excess_pct"]),
            "means": [{"name": g["name"], "mean": d.value(by[g["name"]]["mean"], g["mean"])}
                      for g in cur["groups"] if g["name"] in by]}


def _grading(d: _Deltas, cur: dict | None, prev: dict | None) -> list[dict] | None:
    if cur is None or prev is None:
        return None
    by = {c["id"]: c for c in prev["classes"]}
    return [{"id": c["id"], "label": c["label"], "count": d.count(by[c["id"]]["count"], c["count"]),
             "share": d.fraction(by[c["id"]]["share"], c["share"]), "mean": d.value(by[c["id"]]["mean"], c["mean"])}
            for c in cur["classes"] if c["id"] in by]


def movers(res: Results, prev_res: Results, k: int = MOVERS, pub: Published | None = None) -> dict:
    """The ``k`` units that rose and fell most, by rank (places) and by total (exact, or as
    published with ``pub``); a total's move also has its ``change_rel`` (change / |previous|).

    Only units scored in both years count; a list holds only real moves (no zero changes).
    """
    at = (pub or Published()).value
    before = _by_code(prev_res)
    rows = []
    for code, (name, rank, total) in _by_code(res).items():
        if code in before:
            _, p_rank, p_total = before[code]
            rows.append((code, name, p_rank, rank, p_total, total))
    rank_moves = [(c, n, pr, r, pr - r) for c, n, pr, r, _, _ in rows if pr is not None and r is not None]
    total_moves = [(c, n, pt, t, float(at(t) - at(pt))) for c, n, _, _, pt, t in rows]  # type: ignore[operator]

    def pick(items: Sequence[tuple[str, str, float, float, float]], sign: int, rel: bool) -> list[dict]:
        chosen = sorted((i for i in items if i[4] * sign > TOLERANCE), key=lambda i: (-i[4] * sign, i[0]))[:k]
        return [{"code": c, "name": n, "previous": p, "current": v, "change": d,
                 **({"change_rel": ratio(d, abs(at(p) or 0.0))} if rel else {})} for c, n, p, v, d in chosen]

    return {"rank_up": pick(rank_moves, 1, False), "rank_down": pick(rank_moves, -1, False),
            "total_up": pick(total_moves, 1, True), "total_down": pick(total_moves, -1, True)}


def _by_code(res: Results) -> dict[str, tuple[str, int | None, float]]:
    totals = res.scores[TOTAL]
    return {u["code"]: (u["name"], u.get("rank"), float(t))
            for u, t in zip(res.units, totals) if not np.isnan(t)}
