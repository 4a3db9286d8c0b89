"""The impact of a rule change: facts scored under two rule sets, side by side.

Each side scores its own facts through its own table declarations: the same facts under both
(a methodology change alone), or last year's facts under last year's rules and this year's under
this year's (``--facts OLD NEW``). Per unit: total, rank and (when the rule set grades) grade under
each, and the change; a unit scored on one side only is kept and marked (``present``), never
dropped. Per node present in both (matched as :func:`govindex.versions.diff.match` matches them,
so a renamed node is compared with its old self): the mean **score rate** (mean score / max, the
share of the node's maximum reached) under each and its change — the order of the list, so that a
reweighted node whose units did not do better or worse does not look like a performance change —
and beside it the mean on the node's own scale (rate × ``scale:``, the figure outputs publish).

Figures are rounded like ``govindex score`` rounds them: each side by its own rule set's
``rounding``, the changes by the new one's, computed from the unrounded values; rates at two more
decimals (a percentage at the rule set's precision).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
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
    present: str = "both"  # both | old | new: scored under one side only


@dataclass(frozen=True, slots=True)
class NodeChange:
    old_id: str
    id: str
    label: str
    kind: str
    level: int
    max_old: float
    max_new: float
    scale_old: float
    scale_new: float
    mean_old: float | None  # the mean on the node's scale: rate × scale
    mean_new: float | None
    mean_change: float | None
    rate_old: float | None  # mean score / max
    rate_new: float | None
    rate_change: float | None


@dataclass(frozen=True, slots=True)
class Impact:
    units: list[UnitChange]  # by new rank, then code; units of one side only last
    nodes: list[NodeChange]  # by |rate change|, largest first, then in rule order
    grades_old: dict[str, int] | None
    grades_new: dict[str, int] | None
    seconds_old: float
    seconds_new: float
    facts_old: str = ""
    facts_new: str = ""
    digits_old: int = 2
    digits_new: int = 2

    def movers(self, top: int | None, by: str = "rank") -> list[UnitChange]:
        """The ``top`` units (None: all) whose rank (``by="rank"``) or total (``by="total"``) moved
        most; units that did not move that way are left out."""
        def size(u: UnitChange, what: str) -> float:
            v = u.rank_change if what == "rank" else u.total_change
            return abs(v) if v is not None else 0.0
        other = "total" if by == "rank" else "rank"
        moved = [u for u in self.units if size(u, by) > 0]
        return sorted(moved, key=lambda u: (-size(u, by), -size(u, other), u.code))[:top]

    def transitions(self) -> dict | None:
        """Units graded on both sides, counted by old grade (rows) × new grade (columns), the
        classes in each grading's order; None when a side does not grade."""
        if self.grades_old is None or self.grades_new is None:
            return None
        rows, cols = list(self.grades_old), list(self.grades_new)
        counts = [[0] * len(cols) for _ in rows]
        for u in self.units:
            if u.grade_old in self.grades_old and u.grade_new in self.grades_new:
                counts[rows.index(u.grade_old)][cols.index(u.grade_new)] += 1
        return {"old": rows, "new": cols, "counts": counts}

    def to_json(self, top: int | None) -> dict:
        """JSON-ready: every unit and node, the grade transitions, the units of one side only, and
        the ``top`` movers by rank and by total."""
        return {"facts": {"old": self.facts_old, "new": self.facts_new, "same": self.facts_old == self.facts_new},
                "digits": {"old": self.digits_old, "new": self.digits_new},
                "units_scored": sum(u.present == "both" for u in self.units),
                "only_old": [u.code for u in self.units if u.present == "old"],
                "only_new": [u.code for u in self.units if u.present == "new"],
                "seconds": {"old": round(self.seconds_old, 2), "new": round(self.seconds_new, 2)},
                "grades": None if self.grades_old is None and self.grades_new is None
                else {"old": self.grades_old, "new": self.grades_new},
                "transitions": self.transitions(),
                "movers": {"rank": [u.code for u in self.movers(top, "rank")],
                           "total": [u.code for u in self.movers(top, "total")]},
                "nodes": [asdict(x) for x in self.nodes], "units": [asdict(u) for u in self.units]}


def score_both(old: RuleSet, new: RuleSet, facts: Path,
               new_facts: Path | None = None) -> tuple[Scores, Scores, float, float]:
    """``old`` scored on ``facts`` and ``new`` on ``new_facts`` (default: the same ``facts``), each
    through its own table declarations."""
    out = []
    for side, rs, where in (("old", old, facts), ("new", new, new_facts or facts)):
        t0 = time.perf_counter()
        try:
            sc = evaluate(rs, load_sources(rs, where))
        except FactsError as exc:
            raise FactsError(f"{side} rule set ({rs.name}) on {where}: {exc}") from None
        out.append((sc, time.perf_counter() - t0))
    (a, ta), (b, tb) = out
    return a, b, ta, tb


def impact(old: RuleSet, new: RuleSet, facts: Path, new_facts: Path | None = None) -> Impact:
    """Score ``facts`` under ``old`` and ``new_facts`` (default: the same) under ``new``; compare
    unit by unit and node by node."""
    a, b, ta, tb = score_both(old, new, facts, new_facts)
    im = compare(a, b, ta, tb)
    return replace(im, facts_old=str(facts), facts_new=str(new_facts or facts))


def compare(a: Scores, b: Scores, seconds_old: float = 0.0, seconds_new: float = 0.0) -> Impact:
    """The comparison of two evaluations (of the same units, or of two years' units)."""
    return Impact(_units(a, b), _nodes(a, b), _grades(a), _grades(b), seconds_old, seconds_new,
                  digits_old=a.rs.rounding.digits, digits_new=b.rs.rounding.digits)


def _frame(sc: Scores, side: str) -> pl.DataFrame:
    cols = [pl.col("code"), pl.col("name").alias(f"name_{side}"), pl.col("total").alias(f"raw_{side}"),
            rounded(sc.rs, pl.col("total")).alias(f"total_{side}"), pl.col("rank").alias(f"rank_{side}"),
            (pl.col("grade") if "grade" in sc.units.columns else pl.lit(None, pl.String)).alias(f"grade_{side}"),
            pl.lit(True).alias(f"in_{side}")]
    return sc.units.select(cols)


def _units(a: Scores, b: Scores) -> list[UnitChange]:
    df = _frame(b, "new").join(_frame(a, "old"), on="code", how="full", coalesce=True)
    df = df.with_columns(rounded(b.rs, pl.col("raw_new") - pl.col("raw_old")).alias("total_change"),
                         (pl.col("rank_old") - pl.col("rank_new")).alias("rank_change"))
    df = df.sort(["rank_new", "rank_old", "code"], nulls_last=True)
    do, dn = a.rs.rounding.digits, b.rs.rounding.digits
    return [UnitChange(r["code"], r["name_new"] or r["name_old"] or "", _r(r["total_old"], do),
                       _r(r["total_new"], dn), _r(r["total_change"], dn), r["rank_old"], r["rank_new"],
                       r["rank_change"], r["grade_old"], r["grade_new"],
                       "both" if r["in_old"] and r["in_new"] else "old" if r["in_old"] else "new")
            for r in df.iter_rows(named=True)]


def _nodes(a: Scores, b: Scores) -> list[NodeChange]:
    pairs = list(match(a.rs, b.rs).items())
    raw_a = a.units.select([pl.col(score_col(o)).mean().alias(o) for o, _ in pairs]).row(0, named=True)
    raw_b = b.units.select([pl.col(score_col(w)).mean().alias(w) for _, w in pairs]).row(0, named=True)
    da, db = a.rs.rounding.digits, b.rs.rounding.digits
    rates = [(_rate(raw_a[o], a.rs.nodes[o].max), _rate(raw_b[w], b.rs.nodes[w].max)) for o, w in pairs]
    # the means on each node's scale, rounded in one pass per side as `score` rounds them
    scaled = pl.DataFrame({"old": [None if ro is None else ro * a.rs.nodes[o].scale for (o, _), (ro, _) in zip(pairs, rates)],
                           "new": [None if rw is None else rw * b.rs.nodes[w].scale for (_, w), (_, rw) in zip(pairs, rates)]},
                          schema={"old": pl.Float64, "new": pl.Float64})
    shown = scaled.select(rounded(a.rs, pl.col("old")).alias("old"), rounded(b.rs, pl.col("new")).alias("new"),
                          rounded(b.rs, pl.col("new") - pl.col("old")).alias("change"))
    out = []
    for (o, w), (ro, rw), (mo, mw, ch) in zip(pairs, rates, shown.iter_rows()):
        xo, xw = a.rs.nodes[o], b.rs.nodes[w]
        out.append(NodeChange(o, w, xw.label, xw.kind, xw.level, xo.max, xw.max, xo.scale, xw.scale,
                              _r(mo, da), _r(mw, db), _r(ch, db), _r(ro, da + 2), _r(rw, db + 2),
                              _r(None if ro is None or rw is None else rw - ro, db + 2)))
    order = {w: k for k, w in enumerate(b.rs.nodes)}

    # by |rate change|, then in rule order: not by the mean, so that among nodes whose rate held a
    # reweighted one (its mean moved with its max) does not come first; None (no rate) last
    return sorted(out, key=lambda x: (-abs(x.rate_change) if x.rate_change is not None else 1.0, order[x.id]))


def _rate(mean: float | None, top: float) -> float | None:
    return None if mean is None or not top else mean / top


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

