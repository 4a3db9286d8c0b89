"""Year over year: the change of every figure of two analyses, matched by indicator id, and the
units that rose or fell most (matched by unit code).

A figure's change is ``{"previous", "current", "change"}`` with ``change = current − previous``
(rates and shares are fractions, so their change is in fractions too: 0.0123 = 1.23 points).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from govindex.analysis.load import TOTAL, Results
from govindex.analysis.stats import TOLERANCE

MOVERS = 10
_FIGURES = ("max", "mean", "rate", "sd", "zero")


def delta(previous: float | None, current: float | None) -> dict:
    """``{"previous", "current", "change"}``; the change is None when either side is."""
    change = None if previous is None or current is None else current - previous
    return {"previous": previous, "current": current, "change": change}


def compare(cur: dict, prev: dict, res: Results, prev_res: Results) -> dict:
    """The ``previous`` section of the analysis: ``cur`` and ``prev`` are both ``_analyze`` dicts."""
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
        "indicators": [_indicator(x, p_ind[x["id"]]) for x in cur["indicators"] if x["id"] in p_ind],
        "l3": [_figures(x, p_l3[x["id"]]) for x in cur["l3"] if x["id"] in p_l3],
        "grading": _grading(cur.get("grading"), prev.get("grading")),
        "movers": movers(res, prev_res, MOVERS),
    }


def _figures(x: dict, p: dict) -> dict:
    return {"id": x["id"], "name": x["name"], "level": x["level"],
            **({"previous_name": p["name"]} if p["name"] != x["name"] else {}),
            **{f: delta(p[f], x[f]) for f in _FIGURES}}


def _indicator(x: dict, p: dict) -> dict:
    doc = _figures(x, p)
    for f in ("above_mean", "rate_above_60"):
        doc[f] = {"count": delta(p[f]["count"], x[f]["count"]), "share": delta(p[f]["share"], x[f]["share"])}
    doc["regions"] = _regions(x.get("regions"), p.get("regions"))
    doc["provinces"] = _provinces(x.get("provinces"), p.get("provinces"))
    return doc


def _regions(cur: list[dict] | None, prev: list[dict] | None) -> list[dict] | None:
    if cur is None or prev is None:
        return None
    by = {r["name"]: r for r in prev}
    return [{"name": r["name"], "mean": delta(by[r["name"]]["mean"], r["mean"]),
             "share_of_reference": delta(by[r["name"]]["share_of_reference"], r["share_of_reference"])}
            for r in cur if r["name"] in by]


def _provinces(cur: dict | None, prev: dict | None) -> dict | None:
    if cur is None or prev is None:
        return None
    by = {g["name"]: g for g in prev["groups"]}
    return {"sd": delta(prev["sd"], cur["sd"]), "ratio": delta(prev["ratio"], cur["ratio"]),
            "unit_sd_excess_pct": delta(prev["unit_sd_excess_pct"], cur["unit_sd_excess_pct"]),
            "means": [{"name": g["name"], "mean": delta(by[g["name"]]["mean"], g["mean"])}
                      for g in cur["groups"] if g["name"] in by]}


def _grading(cur: dict | None, prev: dict | None) -> list[dict] | None:
    if cur is None or prev is None:
        return None
    by = {c["id"]: c for c in prev["classes"]}
    return [{"id": c["id"], "label": c["label"], "count": delta(by[c["id"]]["count"], c["count"]),
             "share": delta(by[c["id"]]["share"], c["share"]), "mean": delta(by[c["id"]]["mean"], c["mean"])}
            for c in cur["classes"] if c["id"] in by]


def movers(res: Results, prev_res: Results, k: int = MOVERS) -> dict:
    """The ``k`` units that rose and fell most, by rank (places) and by unrounded total.

    Only units scored in both years count; a list holds only real moves (no zero changes).
    """
    before = _by_code(prev_res)
    rows = []
    for code, (name, rank, total) in _by_code(res).items():
        if code in before:
            _, p_rank, p_total = before[code]
            rows.append((code, name, p_rank, rank, p_total, total))
    rank_moves = [(c, n, pr, r, pr - r) for c, n, pr, r, _, _ in rows if pr is not None and r is not None]
    total_moves = [(c, n, pt, t, t - pt) for c, n, _, _, pt, t in rows]

    def pick(items: Sequence[tuple[str, str, float, float, float]], sign: int) -> list[dict]:
        chosen = sorted((i for i in items if i[4] * sign > TOLERANCE), key=lambda i: (-i[4] * sign, i[0]))[:k]
        return [{"code": c, "name": n, "previous": p, "current": v, "change": d} for c, n, p, v, d in chosen]

    return {"rank_up": pick(rank_moves, 1), "rank_down": pick(rank_moves, -1),
            "total_up": pick(total_moves, 1), "total_down": pick(total_moves, -1)}


def _by_code(res: Results) -> dict[str, tuple[str, int | None, float]]:
    totals = res.scores[TOTAL]
    return {u["code"]: (u["name"], u.get("rank"), float(t))
            for u, t in zip(res.units, totals) if not np.isnan(t)}
