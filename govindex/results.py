"""Scores → the published shapes: JSON document, tidy tables, files written atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from govindex.eval.evaluate import Scores, round_half, score_col, status_col
from govindex.ir import ROOT, RuleSet


def rounded(rs: RuleSet, e: pl.Expr) -> pl.Expr:
    return round_half(e, rs.rounding.digits, rs.rounding.mode)


def indicator_list(rs: RuleSet) -> list[dict]:
    return [{"id": x.id, "name": x.label, "level": x.level, "parent": None if x.parent == ROOT else x.parent,
             "max": x.max, "aggregate": x.aggregate} for x in rs.indicators]


def point_list(rs: RuleSet) -> list[dict]:
    return [{"id": p.id, "name": p.label, "kind": p.kind, "parent": p.parent, "max": p.max,
             "missing": p.missing, "rounds": p.rounds} for p in rs.points]


def wide_table(sc: Scores) -> pl.DataFrame:
    """One row per unit: registry columns, total, rank, every indicator and point (rounded), statuses."""
    rs = sc.rs
    cols = [pl.col("code"), pl.col("name"), *[pl.col(a) for a in rs.unit_attrs],
            rounded(rs, pl.col("total")).alias("total"), pl.col("rank")]
    if sc.graded is not None:
        cols += [pl.col("grade"), pl.col("sublevel")]
    cols += [rounded(rs, pl.col(score_col(x.id))).alias(x.id) for x in rs.indicators]
    cols += [rounded(rs, pl.col(score_col(p.id))).alias(p.id) for p in rs.points]
    cols += [pl.col(status_col(p.id)).alias(f"status:{p.id}") for p in rs.points]
    return sc.units.select(cols)


def long_table(sc: Scores) -> pl.DataFrame:
    """Tidy: one row per unit × node with score, max, rate and (for points) status."""
    rs = sc.rs
    frames = []
    for x in [rs.nodes[ROOT], *rs.indicators, *rs.points]:
        frames.append(sc.units.select(
            pl.col("code"), pl.lit(x.id).alias("node"), pl.lit(x.level).alias("level"),
            pl.lit(x.kind).alias("kind"), pl.col(score_col(x.id)).alias("score"), pl.lit(x.max).alias("max"),
            (pl.col(score_col(x.id)) / x.max).alias("rate"),
            (pl.col(status_col(x.id)) if x.is_point else pl.lit(None, pl.String)).alias("status")))
    return pl.concat(frames).sort(["code", "level", "node"])


def to_json(sc: Scores) -> dict:
    """The ``score --format json`` document (a stable contract; see README)."""
    rs = sc.rs
    wide = wide_table(sc)
    units = []
    for row in wide.iter_rows(named=True):
        u = {"code": row["code"], "name": row["name"], **{a: row[a] for a in rs.unit_attrs},
             "total": row["total"], "rank": row["rank"],
             **({"grade": row["grade"], "sublevel": row["sublevel"]} if sc.graded is not None else {}),
             "scores": {x.id: row[x.id] for x in rs.indicators},
             "points": {p.id: row[p.id] for p in rs.points}}
        bad = {p.id: row[f"status:{p.id}"] for p in rs.points if row[f"status:{p.id}"] != "ok"}
        u["status"] = bad
        units.append(u)
    doc = {"ruleset": rs.name, "rounds": sc.round_ids, "max_total": rs.nodes[ROOT].max,
           "total_label": rs.nodes[ROOT].label,
           "indicators": indicator_list(rs), "points": point_list(rs)}
    if sc.graded is not None:
        doc["grading"] = grading_summary(sc)
    doc["units"] = units
    return doc


def grading_summary(sc: Scores) -> dict:
    """Classes with labels, counts, score ranges and means; the breaks with the unit at each."""
    rs, g = sc.rs, sc.graded
    assert rs.grading is not None and g is not None
    names = dict(zip(sc.units["code"].to_list(), sc.units["name"].to_list()))
    totals = dict(zip(sc.units["code"].to_list(), sc.units["total"].to_list()))
    digits, mode = rs.rounding.digits, rs.rounding.mode

    def r(v: float | None) -> float | None:
        return None if v is None else pl.select(round_half(pl.lit(v), digits, mode)).item()

    classes = []
    for cid, label in rs.grading.classes:
        members = [t for c, t in totals.items() if g.grade.get(c) == cid]
        lo, hi = g.ranges.get(cid, (None, None))
        classes.append({"id": cid, "label": label, "count": g.counts.get(cid, 0), "lowest": r(lo), "highest": r(hi),
                        "mean": r(sum(members) / len(members)) if members else None,
                        "cut": rs.grading.cuts.get(cid)})
    breaks = [{"after_rank": b.after, "code": b.code, "name": names.get(b.code), "score": r(b.score),
               "gap": r(b.gap), "significance": round(b.significance, 3)} for b in g.breaks]
    return {"label": rs.grading.label, "method": rs.grading.method, "classes": classes, "breaks": breaks}


def write_excel(sc: Scores, path: Path) -> None:
    """A workbook: 总表 (every unit: total, rank, grade, each indicator's score and rate), then one
    sheet per first-level indicator with its whole subtree down to the points, then 说明."""
    from xlsxwriter import Workbook

    rs = sc.rs
    head = [pl.col("code").alias("代码"), pl.col("name").alias("名称"), *[pl.col(a) for a in rs.unit_attrs],
            rounded(rs, pl.col("total")).alias("总分"), pl.col("rank").alias("排名")]
    if sc.graded is not None:
        head += [pl.col("grade").alias("等级"), pl.col("sublevel").alias("级别")]

    def cols(nodes) -> list[pl.Expr]:
        out = []
        for x in nodes:
            s = pl.col(score_col(x.id))
            out += [rounded(rs, s).alias(f"{x.label} ({x.id}, /{x.max:g})"),
                    rounded(rs, s / x.max * 100).alias(f"{x.label} 得分率%")]
        return out

    with Workbook(str(path)) as wb:
        sc.units.select(head + cols(rs.indicators)).write_excel(wb, worksheet="总表", autofit=True, freeze_panes=(1, 2))
        for l1 in [x for x in rs.indicators if x.level == 1]:
            subtree = [x for x in rs.nodes.values() if _under(rs, x.id, l1.id)]
            name = l1.label[:31]
            sc.units.select(head[:2] + cols(subtree)).write_excel(wb, worksheet=name, autofit=True, freeze_panes=(1, 2))
        notes = pl.DataFrame({"项目": ["规则集", "轮次", "满分", "舍入"],
                              "内容": [rs.name, ", ".join(map(str, sc.round_ids)), f"{rs.nodes[ROOT].max:g}",
                                     f"{rs.rounding.mode}, {rs.rounding.digits} 位"]})
        notes.write_excel(wb, worksheet="说明", autofit=True)


def _under(rs: RuleSet, node: str, ancestor: str) -> bool:
    while node is not None:
        if node == ancestor:
            return True
        node = rs.nodes[node].parent  # type: ignore[assignment]
    return False


def write_outputs(sc: Scores, out: Path) -> list[Path]:
    """Write scores.parquet, scores.csv, scores_long.parquet, scores.json and scores.xlsx into ``out``.

    Everything is written into a temporary sibling directory first; files are then moved in one
    by one with ``os.replace``, so a reader never sees a half-written file.
    """
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".govindex-", dir=out))
    try:
        wide = wide_table(sc)
        wide.write_parquet(tmp / "scores.parquet")
        wide.write_csv(tmp / "scores.csv")
        long_table(sc).write_parquet(tmp / "scores_long.parquet")
        (tmp / "scores.json").write_text(json.dumps(to_json(sc), ensure_ascii=False, indent=1), encoding="utf-8")
        write_excel(sc, tmp / "scores.xlsx")
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
