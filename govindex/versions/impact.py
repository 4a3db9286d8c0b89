"""The impact of a rule change: the same facts scored under two rule sets, side by side.

Each rule set reads the facts through its own table declarations (its own scan), so a column
that only one of them declares must exist in the facts for that one only. Per unit: total, rank
and (when the rule set grades) grade under each, and the change; per node present in both
(matched as :func:`govindex.versions.diff.match` matches them, so a renamed node is compared with its old
self): the national mean and score rate under each.

Figures are rounded like ``govindex score`` rounds them: each side by its own rule set's
``rounding``, the changes by the new one's, computed from the unrounded totals.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from govindex.diagnostics import FactsError
from govindex.eval.evaluate import Scores, evaluate, score_col
from govindex.eval.explain import load_sources
from govindex.ir import RuleSet
from govindex.results import rounded
from govindex.versions.diff import match


@dataclass(frozen=True, slots=True)
class UnitChange:
    code: str
    name: str
    total_old: float | None
    total_new: float | None
    total_change: float | None
    rank_old: int | None
    rank_new: int | None
    rank_change: int | None  # positive: moved up (rank_old − rank_new)
    grade_old: str | None
    grade_new: str | None


@dataclass(frozen=True, slots=True)
class NodeChange:
    old_id: str
    id: str
    label: str
    kind: str
    level: int
    max_old: float
    max_new: float
    mean_old: float | None
    mean_new: float | None
    mean_change: float | None
    rate_old: float | None  # mean / max
    rate_new: float | None


@dataclass(frozen=True, slots=True)
class Impact:
    units: list[UnitChange]  # by new rank, then code
    nodes: list[NodeChange]  # by |mean change|, largest first
    grades_old: dict[str, int] | None
    grades_new: dict[str, int] | None
    seconds_old: float
    seconds_new: float

    def movers(self, top: int | None, by: str = "rank") -> list[UnitChange]:
        """The ``top`` units (None: all) whose rank (``by="rank"``) or total (``by="total"``) moved
        most; units that did not move that way are left out."""
        def size(u: UnitChange, what: str) -> float:
            v = u.rank_change if what == "rank" else u.total_change
            return abs(v) if v is not None else 0.0
        other = "total" if by == "rank" else "rank"
        moved = [u for u in self.units if size(u, by) > 0]
        return sorted(moved, key=lambda u: (-size(u, by), -size(u, other), u.code))[:top]

    def to_json(self, top: int | None) -> dict:
        """JSON-ready: every unit and node, plus the ``top`` movers by rank and by total."""
        return {"units_scored": len(self.units), "seconds": {"old": round(self.seconds_old, 2),
                                                              "new": round(self.seconds_new, 2)},
                "grades": None if self.grades_old is None and self.grades_new is None
                else {"old": self.grades_old, "new": self.grades_new},
                "movers": {"rank": [u.code for u in self.movers(top, "rank")],
                           "total": [u.code for u in self.movers(top, "total")]},
                "nodes": [asdict(x) for x in self.nodes], "units": [asdict(u) for u in self.units]}


def score_both(old: RuleSet, new: RuleSet, facts: Path) -> tuple[Scores, Scores, float, float]:
    """Both rule sets scored on ``facts``, each through its own table declarations."""
    out = []
    for side, rs in (("old", old), ("new", new)):
        t0 = time.perf_counter()
        try:
            sc = evaluate(rs, load_sources(rs, facts))
        except FactsError as exc:
            raise FactsError(f"{side} rule set ({rs.name}): {exc}") from None
        out.append((sc, time.perf_counter() - t0))
    (a, ta), (b, tb) = out
    return a, b, ta, tb


def impact(old: RuleSet, new: RuleSet, facts: Path) -> Impact:
    """Score ``facts`` under ``old`` and ``new`` and compare, unit by unit and node by node."""
    a, b, ta, tb = score_both(old, new, facts)
    return compare(a, b, ta, tb)


def compare(a: Scores, b: Scores, seconds_old: float = 0.0, seconds_new: float = 0.0) -> Impact:
    """The comparison of two evaluations of the same units."""
    return Impact(_units(a, b), _nodes(a, b), _grades(a), _grades(b), seconds_old, seconds_new)


def _frame(sc: Scores, side: str) -> pl.DataFrame:
    cols = [pl.col("code"), pl.col("name"), pl.col("total").alias(f"raw_{side}"),
            rounded(sc.rs, pl.col("total")).alias(f"total_{side}"), pl.col("rank").alias(f"rank_{side}"),
            (pl.col("grade") if "grade" in sc.units.columns else pl.lit(None, pl.String)).alias(f"grade_{side}")]
    return sc.units.select(cols)


def _units(a: Scores, b: Scores) -> list[UnitChange]:
    df = _frame(b, "new").join(_frame(a, "old").drop("name"), on="code", how="full", coalesce=True)
    df = df.with_columns(rounded(b.rs, pl.col("raw_new") - pl.col("raw_old")).alias("total_change"),
                         (pl.col("rank_old") - pl.col("rank_new")).alias("rank_change"))
    df = df.sort(["rank_new", "code"], nulls_last=True)
    do, dn = a.rs.rounding.digits, b.rs.rounding.digits
    return [UnitChange(r["code"], r["name"] or "", _r(r["total_old"], do), _r(r["total_new"], dn),
                       _r(r["total_change"], dn), r["rank_old"], r["rank_new"], r["rank_change"], r["grade_old"],
                       r["grade_new"]) for r in df.iter_rows(named=True)]


def _nodes(a: Scores, b: Scores) -> list[NodeChange]:
    pairs = list(match(a.rs, b.rs).items())
    raw_a = a.units.select([pl.col(score_col(o)).mean().alias(o) for o, _ in pairs]).row(0, named=True)
    raw_b = b.units.select([pl.col(score_col(w)).mean().alias(w) for _, w in pairs]).row(0, named=True)
    da, db = a.rs.rounding.digits, b.rs.rounding.digits
    shown = pl.DataFrame({"old": [raw_a[o] for o, _ in pairs], "new": [raw_b[w] for _, w in pairs]},
                         schema={"old": pl.Float64, "new": pl.Float64})
    shown = shown.select(rounded(a.rs, pl.col("old")).alias("old"), rounded(b.rs, pl.col("new")).alias("new"),
                         rounded(b.rs, pl.col("new") - pl.col("old")).alias("change"))
    out = []
    for (o, w), (mo, mw, ch) in zip(pairs, shown.iter_rows()):
        xo, xw = a.rs.nodes[o], b.rs.nodes[w]
        ro, rw = raw_a[o], raw_b[w]
        out.append(NodeChange(o, w, xw.label, xw.kind, xw.level, xo.max, xw.max, _r(mo, da), _r(mw, db), _r(ch, db),
                              None if ro is None else _r(ro / xo.max, 4), None if rw is None else _r(rw / xw.max, 4)))
    order = {w: k for k, w in enumerate(b.rs.nodes)}
    return sorted(out, key=lambda x: (-(abs(x.mean_change) if x.mean_change is not None else -1.0), order[x.id]))


def _r(v: float | None, digits: int) -> float | None:
    """``v`` at ``digits`` decimals without float noise (values already rounded keep their value)."""
    return None if v is None else round(v, digits) + 0.0


def _grades(sc: Scores) -> dict[str, int] | None:
    if "grade" not in sc.units.columns:
        return None
    counts = sc.units.group_by("grade").len().drop_nulls("grade")
    got = dict(zip(counts["grade"].to_list(), counts["len"].to_list()))
    grading = getattr(sc.rs, "grading", None)
    ids = [c for c, _ in grading.classes] if grading is not None else sorted(got)
    return {c: int(got.get(c, 0)) for c in ids}

