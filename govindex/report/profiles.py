"""One profile per unit: the report's 单位档案 section (``#unit-<code>``, linked from the ranking).

A profile holds the unit's grade, sub-level and rank; a compact table of its score, score rate
and rank on the total, every L1 and every L2 beside the national and its province's mean rate
(and, with ``--previous``, the change of its score); and its strengths and weaknesses.

**Strengths and weaknesses** (after COINr's ``get_str_weak``): over the leaves of the indicator
tree the results carry (an L2 without L3 children is a leaf), the unit's rank in each leaf is
``1 + the number of units with a strictly higher score rate`` (competition ranking, ties share
the best rank; units without a score are not ranked). Its strengths are the ``TOP`` leaves with
the best (smallest) rank, its weaknesses the ``TOP`` with the worst (largest); ties are broken by
tree order. A leaf in the better half (rank ≤ n / 2) is never a weakness and one in the worse
half never a strength, so a unit ranked low everywhere shows weaknesses and no strengths.

Every figure comes from the unrounded scores and is rounded once, when printed
(:func:`govindex.analysis.render.num`). Means are over the units with a score (NaN left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govindex.analysis.analyze import TOTAL, Results
from govindex.analysis.render import DASH, num, pct, signed

TOP = 3


@dataclass
class Row:
    """One line of a profile's table: an indicator and the unit's figures on it (printed)."""

    name: str
    level: int
    cells: list[str]


@dataclass
class Profile:
    code: str
    name: str
    summary: str  # one line: rank, total, grade, sub-level, province (the <summary> of the section)
    rows: list[Row]
    strengths: list[str]
    weaknesses: list[str]
    change: str  # year over year in words, or ""


def ranks_desc(values: np.ndarray) -> np.ndarray:
    """Competition ranks, best = 1, of ``values`` (higher is better); NaN gets rank 0 (not ranked)."""
    ok = ~np.isnan(values)
    ordered = np.sort(values[ok])
    out = np.zeros(len(values), dtype=int)
    # 1 + how many are strictly greater: len - (index of the first element > v in the ascending order)
    out[ok] = 1 + len(ordered) - np.searchsorted(ordered, values[ok], side="right")
    return out


def strengths_weaknesses(ranks: list[tuple[str, int, int]], top: int = TOP) -> tuple[list[str], list[str]]:
    """(strengths, weaknesses) from (name, rank, units ranked) per leaf in tree order (definition above)."""
    ranked = [(r, i, name, n) for i, (name, r, n) in enumerate(ranks) if r > 0]
    best = [t for t in sorted(ranked) if t[0] <= t[3] / 2][:top]
    worst = [t for t in sorted(ranked, key=lambda t: (-t[0], t[1])) if t[0] > t[3] / 2][:top]
    return [f"{name}（{r}/{n}）" for r, _, name, n in best], [f"{name}（{r}/{n}）" for r, _, name, n in worst]


def profiles(res: Results, province_attr: str | None, previous: Results | None = None) -> list[Profile]:
    """The profile of every unit, in ranking order (as the results list them)."""
    shown = [x for x in res.indicators if x["level"] <= 2]
    parents = {x["parent"] for x in res.indicators}
    leaves = [x for x in res.indicators if x["level"] > 0 and x["id"] not in parents]
    rate = {x["id"]: res.scores[x["id"]] / x["max"] if x["max"] else np.full(len(res.units), np.nan)
            for x in res.indicators}
    national = {k: _mean(v) for k, v in rate.items()}
    prov = [str(u.get(province_attr) or "") if province_attr else "" for u in res.units]
    by_prov = {p: np.array([q == p for q in prov]) for p in set(prov) if p}
    prov_mean = {(k, p): _mean(v[m]) for k, v in rate.items() for p, m in by_prov.items()}
    rank = {x["id"]: ranks_desc(rate[x["id"]]) for x in res.indicators}
    ranked_n = {k: int((r > 0).sum()) for k, r in rank.items()}
    before: dict[str, dict[str, float]] = {}
    if previous is not None:
        for i, u in enumerate(previous.units):
            before[u["code"]] = {k: float(v[i]) for k, v in previous.scores.items()}
            before[u["code"]]["rank"] = u.get("rank") or np.nan
    out = []
    for i, u in enumerate(res.units):
        prev = before.get(u["code"])
        rows = []
        for x in shown:
            k = x["id"]
            s = float(res.scores[k][i])
            cells = [_num(s), _pct(rate[k][i]), f"{rank[k][i]}/{ranked_n[k]}" if rank[k][i] else DASH,
                     _pct(national[k]), _pct(prov_mean.get((k, prov[i]), np.nan))]
            if previous is not None:
                p = prev.get(k, np.nan) if prev else np.nan
                cells.append(DASH if np.isnan(p) or np.isnan(s) else signed(s - p))
            rows.append(Row(x["name"], x["level"], cells))
        sw = strengths_weaknesses([(x["name"], int(rank[x["id"]][i]), ranked_n[x["id"]]) for x in leaves])
        out.append(Profile(u["code"], u["name"], _summary(u, float(res.scores[TOTAL][i]), province_attr),
                           rows, *sw, _change(u, float(res.scores[TOTAL][i]), prev)))
    return out


def _summary(u: dict, total: float, province_attr: str | None) -> str:
    parts = [f"#{u['rank']}" if u.get("rank") else DASH, u["name"], f"({u['code']})"]
    if province_attr and u.get(province_attr):
        parts.append(str(u[province_attr]))
    parts.append(_num(total))
    if u.get("grade"):
        parts.append(f"{u['grade']} / {u.get('sublevel') or DASH}")
    return " · ".join(parts[:1] + [" ".join(parts[1:3])] + parts[3:])


def _change(u: dict, total: float, prev: dict[str, float] | None) -> str:
    if prev is None:
        return ""
    p_total, p_rank = prev.get(TOTAL, np.nan), prev.get("rank", np.nan)
    moved = "" if np.isnan(p_rank) or not u.get("rank") else f"{int(p_rank)} → {u['rank']}"
    if np.isnan(p_total) or np.isnan(total):
        return moved
    return f"{_num(p_total)} → {_num(total)}（{signed(total - p_total)}）" + (f"；{moved}" if moved else "")


def _mean(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def _num(v: float) -> str:
    return DASH if np.isnan(v) else num(v)


def _pct(v: float) -> str:
    return DASH if np.isnan(v) else pct(float(v))
