"""Scores → the published shapes: JSON document, tidy tables, files written atomically.

The results contract:

- ``scores.parquet`` / ``scores.csv`` (:func:`wide_table`): one row per unit — registry columns,
  ``total`` and ``rank``, every indicator and point on its scale and rounded for output,
  ``status:<point>``, and, when the rule set produces them (:mod:`govindex.eval.carried`),
  ``rank:<node>``, ``rank_label:<node>``, ``grade:<node>``, ``imputed:<point>``,
  ``treated:<point>``, ``why:<node>``; then ``grade:<node>:<id>`` for each named grading
  (``grading groups "…"``, §14a);
- ``scores_long.parquet`` (:func:`long_table`): one row per unit × node with the method's
  intermediate values — ``score`` (unrounded, on the node's scale), ``max`` (the scale),
  ``rate`` (:func:`rate_read`: the node's exact rate ``r:<node>`` in [0, 1] as its parent reads
  it — never recomputed as score over maximum), ``reported`` (the value as
  published: on the scale, rounded by ``rounding:``), ``status``; for points ``value`` (the
  probe's value in the latest round that has one) and ``formula_rate`` (the formula's rate,
  rounds combined, before any rounding or missing-data policy); and the carried fields as columns ``rank``,
  ``rank_label``, ``grade``, ``imputed``, ``treated``, ``why`` when produced; ``grade:<id>``
  per named grading (on its node's rows); ``overridden`` (a point corrected by
  ``FACTS/overrides.csv``, :mod:`govindex.eval.overrides`; null on indicators);
- ``scores.json`` (:func:`to_json`): per unit the rounded figures, statuses that are not ok, and
  the carried fields as maps node → value (``ranks``, ``rank_labels``, ``grades``, ``imputed``,
  ``treated``, ``why``) when produced; ``gradings`` (id → class) for the named
  gradings, summarised at the top level under ``gradings``; ``corrections``: the overrides
  applied (:class:`govindex.eval.overrides.AppliedOverride`), ``[]`` when none;
- ``scores.xlsx`` (:func:`write_excel`, :mod:`govindex.results_book`): the wide figures per
  first-level indicator, with rank labels and grades of the nodes that have them; a point's cells
  filled and commented by status (no data, error, not applicable, overridden), number formats at
  the rule set's digits, an autofilter and frozen headers, a 来源 Provenance sheet when given;
- the CSV files start with a UTF-8 byte-order mark (``score --no-csv-bom`` to leave it out).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl

from govindex.diagnostics import ResultsError
from govindex.eval import stats
from govindex.eval.carried import JSON_KEYS, carried
from govindex.eval.compile import ROUND, value_col
from govindex.eval.evaluate import Scores, rate_col, round_half, score_col, status_col
from govindex.eval.node_grades import grade_col, named_gradings, node_values
from govindex.eval.node_rates import child_rate
from govindex.eval.node_values import val_col
from govindex.fsio import MANIFEST, replace_dir
from govindex.ir import ROOT, Grading, Node, RuleSet, keeps_value


def rounded(rs: RuleSet, e: pl.Expr) -> pl.Expr:
    return round_half(e, rs.rounding.digits, rs.rounding.mode)


def on_scale(x: Node) -> pl.Expr:
    """Node ``x``'s value as every output shows it: ``val:<x>``, computed once by the evaluator
    (:mod:`govindex.eval.node_values`)."""
    return pl.col(val_col(x.id))


def rate_read(rs: RuleSet, x: Node) -> pl.Expr:
    """Node ``x``'s rate as every output shows it (``scores_long``'s ``rate``, the workbook's
    ``得分率%``): the exact rate the evaluator carries (docs §5 "Means on rates"), as ``x``'s parent
    reads it (:func:`govindex.eval.node_rates.child_rate`) — an indicator's or ref's ``r:<node>``;
    a point's formula rate, 0 where its missing-data policy scores it 0; a node rounded by
    ``round:`` its rounded value over its scale; null where the node is null. The root: ``r:<root>``."""
    return pl.col(rate_col(x.id)) if x.id == ROOT else child_rate(rs, x)


def _maxima(x: Node) -> dict:
    """``max``: the top of the scale the node's values are shown on; with a declared scale, also
    ``max_in_parent``: the effective maximum, what the node contributes to its parent at rate 1."""
    if keeps_value(x):  # a value kept between stages (a z-score): no scale, no maximum (§9b)
        return {"max": None}
    return {"max": x.scale} if x.own_scale is None else {"max": x.scale, "max_in_parent": x.max}


def indicator_list(rs: RuleSet) -> list[dict]:
    return [{"id": x.id, "name": x.label, "level": x.level, "parent": None if x.parent == ROOT else x.parent,
             **_maxima(x), "aggregate": x.aggregate, **({"refers_to": x.ref} if x.is_ref else {})}
            for x in rs.indicators]


def point_list(rs: RuleSet) -> list[dict]:
    return [{"id": p.id, "name": p.label, "kind": p.kind, "parent": p.parent, **_maxima(p),
             "missing": p.missing, "rounds": p.rounds} for p in rs.points]


def wide_table(sc: Scores) -> pl.DataFrame:
    """One row per unit: registry columns, total, rank, the total's grade, every indicator and point
    (rounded), statuses, then ``grade:<node>`` for each graded node."""
    rs = sc.rs
    cols = [pl.col("code"), pl.col("name"), *[pl.col(a) for a in rs.unit_attrs]]
    if rs.has_total:  # `total: none`: no total, no rank
        cols += [rounded(rs, pl.col("total")).alias("total"), pl.col("rank")]
    if sc.graded is not None:
        cols += [pl.col("grade"), pl.col("sublevel")]
    cols += [rounded(rs, on_scale(x)).alias(x.id) for x in rs.indicators]
    cols += [rounded(rs, on_scale(p)).alias(p.id) for p in rs.points]
    cols += [pl.col(status_col(p.id)).alias(f"status:{p.id}") for p in rs.points]
    cols += [pl.col(prefix + x).alias(f"{name}:{x}") for prefix, name, ids in _carried(sc) for x in ids]
    cols += [pl.col(grade_col(g.node, g.id)).alias(f"grade:{g.node}:{g.id}") for g in _named(sc)]
    return sc.units.select(cols)


def _named(sc: Scores) -> list[Grading]:
    """The named gradings the units frame holds (``g:<node>:<id>``)."""
    return [g for g in named_gradings(sc.rs) if grade_col(g.node, g.id) in sc.units.columns]


def _carried(sc: Scores) -> list[tuple[str, str, list[str]]]:
    """The carried fields (:mod:`govindex.eval.carried`) of the nodes that have a value for some
    unit: a column that is null for every unit (no node left anything out, say) is not written,
    so a rule set's outputs show what it produces and nothing else."""
    fields = carried(sc.units.columns, sc.rs.nodes)
    cols = [prefix + x for prefix, _, ids in fields for x in ids]
    if not cols:
        return fields
    nulls = sc.units.select(pl.col(cols).null_count()).row(0, named=True)
    kept = [(prefix, name, [x for x in ids if nulls[prefix + x] < sc.units.height]) for prefix, name, ids in fields]
    return [(prefix, name, ids) for prefix, name, ids in kept if ids]


def long_table(sc: Scores) -> pl.DataFrame:
    """Tidy: one row per unit × node with the method's intermediate values (see the module
    docstring); a ref has kind ``ref`` (id ``target@parent``) and the node it refers to in
    ``refers_to``. Without a total (``total: none``) no root rows."""
    rs = sc.rs
    units = sc.units.join(_latest_values(sc), on="code", how="left")
    extra = _carried(sc)
    frames = []
    for x in [*([rs.nodes[ROOT]] if rs.has_total else []), *rs.indicators, *rs.points]:
        point = x.is_point
        frames.append(units.select(
            pl.col("code"), pl.lit(x.id).alias("node"), pl.lit(x.level).alias("level"),
            pl.lit("ref" if x.is_ref else x.kind).alias("kind"), on_scale(x).alias("score"),
            pl.lit(None if keeps_value(x) else x.scale, pl.Float64).alias("max"),
            (pl.lit(None, pl.Float64) if keeps_value(x) else rate_read(rs, x)).alias("rate"),
            rounded(rs, on_scale(x)).alias("reported"),
            (pl.col(status_col(x.id)) if point else pl.lit(None, pl.String)).alias("status"),
            (pl.col(value_col(x.id)) if point else pl.lit(None, pl.Float64)).alias("value"),
            (pl.col(rate_col(x.id)) if point else pl.lit(None, pl.Float64)).alias("formula_rate"),
            pl.lit(x.ref, pl.String).alias("refers_to"),
            _overridden(units, x).alias("overridden"),
            *[(pl.col(prefix + x.id) if x.id in ids else pl.lit(None)).alias(name) for prefix, name, ids in extra],
            *[(pl.col(grade_col(g.node, g.id)) if g.node == x.id else pl.lit(None, pl.String)).alias(f"grade:{g.id}")
              for g in _named(sc)]))
    return pl.concat(frames, how="vertical_relaxed").sort(["code", "level", "node"])


def _overridden(units: pl.DataFrame, x: Node) -> pl.Expr:
    """A point's ``ov:<point>`` (an override was applied to it for the unit), false without one; null
    for an indicator (:mod:`govindex.eval.overrides`)."""
    if not x.is_point or x.is_ref:
        return pl.lit(None, pl.Boolean)
    return pl.col("ov:" + x.id) if "ov:" + x.id in units.columns else pl.lit(False)


def _latest_values(sc: Scores) -> pl.DataFrame:
    """Per unit, each point's probe value in the latest round that has one (``v:<point>``)."""
    cols = [value_col(p.id) for p in sc.rs.points if value_col(p.id) in sc.rounds.columns]
    return (sc.rounds.sort(ROUND).group_by("code")
            .agg([pl.col(c).cast(pl.Float64).drop_nulls().last() for c in cols]))


def to_json(sc: Scores, provenance: dict | None = None) -> dict:
    """The ``score --format json`` document (a stable contract; see README); ``provenance``
    (:func:`govindex.provenance.build`), when given, is its top-level ``"provenance"``."""
    rs = sc.rs
    assert_finite(sc)
    wide = wide_table(sc)
    # What every unit's entry reads, worked out once (not once per unit: many units, many nodes).
    indicators, points = [x.id for x in rs.indicators], [p.id for p in rs.points]
    named = [(g.id, f"grade:{g.node}:{g.id}") for g in _named(sc)]
    # Nulls left out: a node without a rank, grade or reason has no entry. A point's reason is its
    # status and its policy: `why` lists the indicators'.
    extra = [(JSON_KEYS[name], [(x, f"{name}:{x}") for x in ids if not (name == "why" and rs.nodes[x].is_point)])
             for _, name, ids in _carried(sc)]
    units = []
    for row in wide.iter_rows(named=True):
        u = {"code": row["code"], "name": row["name"], **{a: row[a] for a in rs.unit_attrs},
             **({"total": row["total"], "rank": row["rank"]} if rs.has_total else {}),
             **({"grade": row["grade"], "sublevel": row["sublevel"]} if sc.graded is not None else {}),
             "scores": {x: row[x] for x in indicators},
             "points": {p: row[p] for p in points}}
        if sc.node_graded:  # grades of other nodes than the total
            u["grades"] = {x: row[f"grade:{x}"] for x in sc.node_graded}
        if sc.named_graded:  # further, named gradings: by id
            u["gradings"] = {g: row[col] for g, col in named}
        u["status"] = {p: st for p in points if (st := row[f"status:{p}"]) != "ok"}
        for key, cols in extra:
            shown = {x: v for x, col in cols if (v := row[col]) is not None}
            if shown:
                u[key] = shown
        units.append(u)
    root = rs.nodes[ROOT]  # `max_total`: the top of the scale the total is shown on (its `scale:` if declared)
    doc = {"ruleset": rs.name, "rounds": sc.round_ids, "max_total": root.scale,
           **({"max_total_in_method": root.max} if root.own_scale is not None else {}), "total_label": root.label,
           "indicators": indicator_list(rs), "points": point_list(rs),
           "language": getattr(rs.settings.get("language"), "value", "zh")}  # the report's first language
    if not rs.has_total:  # the categories are the results: no total, no rank
        doc.update({"max_total": None, "total_label": None, "has_total": False})
    if sc.graded is not None:
        doc["grading"] = grading_summary(sc)
    if sc.node_graded:
        doc["node_gradings"] = [grading_summary(sc, x) for x in sc.node_graded]
    if sc.named_graded:
        doc["gradings"] = [{"id": g.id, **({"within": g.within} if g.within else {}), **grading_summary(sc, g.node, g)}
                           for g in _named(sc)]
    if sc.summaries is not None:
        doc["summaries"] = summaries_json(sc)
    if rs.statistics:  # `statistic` declarations, counted by `analyze` (docs §14c)
        doc["statistics"] = [st.to_json() for st in rs.statistics]
    doc["units"] = units
    doc["corrections"] = [a.to_json() for a in getattr(sc, "overrides_applied", ())]  # FACTS/overrides.csv
    if provenance is not None:
        doc["provenance"] = provenance
    return doc


def summaries_table(sc: Scores) -> pl.DataFrame:
    """The summaries across units (see :mod:`govindex.eval.summaries`), values rounded for output."""
    assert sc.summaries is not None
    value = pl.col("value")
    return sc.summaries.with_columns(pl.when(pl.col("aggregate") == "count").then(value)
                                     .otherwise(rounded(sc.rs, value)).alias("value"))


def summaries_json(sc: Scores) -> list[dict]:
    """Each summary with its rows (node, group, value, units with a score, units without)."""
    table = summaries_table(sc)
    out = []
    for s in sc.rs.summaries:
        rows = table.filter(pl.col("summary") == s.id).select("node", "label", "group", "value", "units", "missing")
        out.append({"id": s.id, "label": s.label, "aggregate": s.aggregate, "by": s.by, "rows": rows.to_dicts()})
    return out


def assert_finite(sc: Scores) -> None:
    """Raise :class:`ResultsError` naming the first unit and node whose score is NaN or infinite.

    ``check`` bounds every maximum and weight so that this cannot happen; this is the last line:
    a result that cannot be written as it is must not be written at all.
    """
    nodes = [ROOT, *(x.id for x in sc.rs.indicators), *(p.id for p in sc.rs.points)]
    cols = [score_col(x) for x in nodes]
    finite = [pl.col(c).cast(pl.Float64).is_finite() for c in cols]
    flags = sc.units.select([(~f).fill_null(False).any().alias(c) for f, c in zip(finite, cols)]).row(0)
    for node, col, bad in zip(nodes, cols, flags):
        if bad:
            row = sc.units.filter(~pl.col(col).cast(pl.Float64).is_finite()).row(0, named=True)
            raise ResultsError(f"the score of unit {row['code']} at `{node}` is {row[col]}, not a number a "
                               "result can hold; this is a bug in govindex (check bounds every maximum) — "
                               "please report it with the rule set")


def strict_json(doc: object, indent: int | None = None) -> str:
    """``doc`` as JSON that a strict parser accepts. NaN and infinity have no JSON form: one
    anywhere is a :class:`ResultsError` naming where (``units[100100].points.portal``)."""
    try:
        return json.dumps(doc, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError:  # the walk that names the place runs only when there is one to name
        where = _non_finite(doc, "")
        if where is None:
            raise
        raise ResultsError(f"{where[0] or 'the document'} is {where[1]}, which JSON cannot hold") from None


def _non_finite(x: object, path: str) -> tuple[str, float] | None:
    """The path to the first NaN or infinity in ``x`` and its value, or None."""
    if isinstance(x, float):
        return None if math.isfinite(x) else (path, x)
    if isinstance(x, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in x.items())
    elif isinstance(x, (list, tuple)):
        # Name a node or unit by its id or code rather than by its index.
        items = ((f"{path}[{_key(v, i)}]", v) for i, v in enumerate(x))
    else:
        return None
    for p, v in items:
        found = _non_finite(v, p)
        if found is not None:
            return found
    return None


def _key(v: object, i: int) -> object:
    if isinstance(v, dict):
        for k in ("id", "code", "round"):
            if isinstance(v.get(k), (str, int)):
                return v[k]
    return i


def grading_summary(sc: Scores, node: str = ROOT, named: Grading | None = None) -> dict:
    """Classes with labels, counts, score ranges and means; the breaks with the unit at each —
    of the total's grading, of ``node``'s first, or of the further grading ``named``."""
    rs = sc.rs
    gi: Grading | None
    if named is not None:
        gi, g = named, sc.named_graded.get(named.id or "")
    elif node == ROOT:
        gi, g = rs.grading, sc.graded
    else:
        gi, g = next((x for x in rs.node_gradings if x.node == node), None), sc.node_graded.get(node)
    assert gi is not None and g is not None
    names = dict(zip(sc.units["code"].to_list(), sc.units["name"].to_list()))
    totals = dict(zip(sc.units["code"].to_list(), node_values(rs, sc.units, node, gi.value)))
    digits, mode = rs.rounding.digits, rs.rounding.mode

    def r(v: float | None) -> float | None:
        return None if v is None else pl.select(round_half(pl.lit(v), digits, mode)).item()

    classes = []
    for cid, label in gi.classes:
        members = [t for c, t in totals.items() if g.grade.get(c) == cid]
        lo, hi = g.ranges.get(cid, (None, None))
        classes.append({"id": cid, "label": label, "count": g.counts.get(cid, 0), "lowest": r(lo), "highest": r(hi),
                        "mean": r(stats.mean(np.asarray(members, dtype=np.float64))) if members else None,
                        "cut": gi.cuts.get(cid)})
    breaks = [{"after_rank": b.after, "code": b.code, "name": names.get(b.code), "score": r(b.score),
               "gap": r(b.gap), "significance": round(b.significance, 3)} for b in g.breaks]
    out = {"label": gi.label, "method": gi.method, "classes": classes, "breaks": breaks}
    return out if node == ROOT and named is None else {"node": node, "value": gi.value, **out}


def write_excel(sc: Scores, path: Path, provenance: dict | None = None) -> None:
    """A workbook (:mod:`govindex.results_book` for how it looks): 总表 (every unit: total, rank,
    grade, each indicator's score and rate), then one sheet per first-level indicator with its whole
    subtree down to the points, then 汇总 (summaries), 说明 (notes and the status legend), and
    来源 Provenance when ``provenance`` is given.

    A score cell holds the figure as published — rounded by the rule set's ``rounding:`` (its mode:
    Excel's display rounding is half away from zero on the binary double, which is not every mode),
    so the sheet equals scores.csv and scores.json — shown with exactly ``digits`` decimals; a rate
    cell holds the rate (:func:`rate_read`, to the 16 significant digits xlsxwriter writes), shown
    as a percentage with ``digits`` decimals."""
    from govindex import results_book as book

    rs = sc.rs
    assert_finite(sc)  # xlsxwriter cannot store NaN or inf
    units = sc.units
    chinese = book.is_chinese([x.label for x in rs.nodes.values()])
    w = _words(rs)
    head = [book.Column(w["代码"], units["code"].to_list(), "text"), book.Column(w["名称"], units["name"].to_list(), "text"),
            *[book.Column(book.attr_header(a, chinese), units[a].to_list(), "text") for a in rs.unit_attrs]]
    if rs.has_total:
        head += [book.Column(rs.nodes[ROOT].label, units.select(rounded(rs, pl.col("total")))[:, 0].to_list(), "score"),
                 book.Column(w["排名"], units["rank"].to_list(), "int")]
    if sc.graded is not None:
        head += [book.Column(w["等级"], units["grade"].to_list()), book.Column(w["级别"], units["sublevel"].to_list())]
    head += [book.Column(f"{g.label} ({g.id})", units[grade_col(g.node, g.id)].to_list()) for g in _named(sc)]
    l1s = [x for x in rs.indicators if x.level == 1]
    reserved = (w["总表"], w["说明"], book.PROVENANCE_SHEET, *((w["汇总"],) if sc.summaries is not None else ()))
    sheets = [book.Sheet(w["总表"], head + _book_columns(sc, rs.indicators))]
    for l1, name in zip(l1s, sheet_names([x.label for x in l1s], reserved=reserved)):
        sheets.append(book.Sheet(name, head[:2] + _book_columns(sc, [x for x in rs.nodes.values() if _under(rs, x.id, l1.id)])))
    if sc.summaries is not None:
        table = summaries_table(sc)
        kinds = {"value": "score", "units": "int", "missing": "int"}
        sheets.append(book.Sheet(w["汇总"], [book.Column(c, table[c].to_list(), kinds.get(c, "any"))  # type: ignore[arg-type]
                                          for c in table.columns], frozen=1))
    digits = rs.rounding.digits
    notes = [("规则集", rs.name), ("轮次", ", ".join(map(str, sc.round_ids))),
             ("满分", f"{rs.nodes[ROOT].scale:g}" if rs.has_total else "无总分 (total: none)"),
             ("舍入", f"{rs.rounding.mode}, {rs.rounding.digits} 位"),
             ("数字格式", f"得分 {book.score_format(digits)}：公布值 (按舍入规则舍入)；"
                       f"得分率 {book.rate_format(digits)}：精确值，显示时舍入")]
    if w is not _ZH:
        notes = [("Rule set", rs.name), ("Rounds", ", ".join(map(str, sc.round_ids))),
                 ("Maximum", f"{rs.nodes[ROOT].scale:g}" if rs.has_total else "no total (total: none)"),
                 ("Rounding", f"{rs.rounding.mode}, {rs.rounding.digits} digits"),
                 ("Number formats", f"scores {book.score_format(digits)}: as published (rounded by the rule "
                                    f"set's rounding); rates {book.rate_format(digits)}: exact, rounded for display")]
    book.write_book(path, sheets, digits, notes, provenance, english=w is not _ZH)


# The workbook's fixed words: Chinese, or English for a rule set whose `language:` is "en".
_ZH = {k: k for k in ("代码", "名称", "排名", "等级", "级别", "总表", "说明", "汇总", "得分率")}
_EN = {"代码": "Code", "名称": "Name", "排名": "Rank", "等级": "Grade", "级别": "Sub-level", "总表": "Overview",
       "说明": "Notes", "汇总": "Summaries", "得分率": "rate"}


def _words(rs: RuleSet) -> dict[str, str]:
    return _EN if getattr(rs.settings.get("language"), "value", "zh") == "en" else _ZH


def _book_columns(sc: Scores, nodes) -> list:
    """Each node's columns in the workbook: its score (published, rounded), its rate (exact), its
    rank label and grade when it has them; a point's score and rate carry its status marks."""
    from govindex import results_book as book

    rs, units = sc.rs, sc.units
    w = _words(rs)
    have = set(units.columns)
    applied = {(o.get("unit"), o.get("point")): o.get("reason")
               for o in (a.to_json() for a in getattr(sc, "overrides_applied", ()))}
    codes = units["code"].to_list()
    values = units.select([rounded(rs, on_scale(x)).alias("s" + x.id) for x in nodes]
                          + [rate_read(rs, x).alias("r" + x.id) for x in nodes])
    out = []
    for x in nodes:
        marks = None
        if x.is_point:
            n = units.height
            marks = book.marks(units[status_col(x.id)].to_list(),
                               units["why:" + x.id].to_list() if "why:" + x.id in have else [None] * n,
                               units["ov:" + x.id].fill_null(False).to_list() if "ov:" + x.id in have else [False] * n,
                               [applied.get((c, x.id)) for c in codes])
        out += [book.Column(f"{x.label} ({x.id}, /{x.scale:g})", values["s" + x.id].to_list(), "score", marks),
                book.Column(f"{x.label} ({x.id}) {w['得分率']}" if x.is_ref else f"{x.label} {w['得分率']}",
                            values["r" + x.id].to_list(), "rate", marks)]
        out += [book.Column(f"{x.label} {h}", units[c + x.id].to_list()) for c, h in (("kl:", w["排名"]), ("g:", w["等级"]))
                if c + x.id in have]
    return out


_SHEET_FORBIDDEN = re.compile(r"[/\\:?*\[\]]")
_SHEET_MAX = 31


def sheet_names(labels: list[str], reserved: tuple[str, ...] = ()) -> list[str]:
    """Excel sheet names for ``labels``, in order: each of ``/ \\ : ? * [ ]`` becomes ``_``, a
    leading or trailing ``'`` is dropped, at most 31 characters, and every name distinct from the
    others and from ``reserved`` as Excel compares them (case-insensitively) — a repeat gets
    `` (2)``, `` (3)``… within the 31. An empty label becomes ``sheet``."""
    taken = {r.casefold() for r in reserved} | {"history"}  # Excel reserves "History"
    out = []
    for label in labels:
        base = _SHEET_FORBIDDEN.sub("_", label).strip("'")[:_SHEET_MAX].strip("'") or "sheet"
        name, k = base, 1
        while name.casefold() in taken:
            k += 1
            suffix = f" ({k})"
            name = base[:_SHEET_MAX - len(suffix)] + suffix
        taken.add(name.casefold())
        out.append(name)
    return out


def _under(rs: RuleSet, node: str, ancestor: str) -> bool:
    at: str | None = node
    while at is not None:
        if at == ancestor:
            return True
        at = rs.nodes[at].parent
    return False


# What a results directory holds: the files ``score --out`` writes, its manifest, and what other
# commands write into it from them (``report``, ``analyze --out``). Anything else is the user's.
RESULT_FILES = ("scores.parquet", "scores.csv", "scores_long.parquet", "scores.json", "scores.xlsx", "integrity.json",
                "summaries.csv", "provenance.json")
PROVENANCE_KEY = "govindex.provenance"  # the parquet files' key-value metadata (govindex.provenance.KEY)
DERIVED_FILES = ("report.html", "analysis.json", "analysis.md", MANIFEST)


def owned(entry: Path) -> bool:
    """Whether an entry of an existing results directory is govindex's, so ``score --out`` may replace
    it: a results file, or a directory of them (``analyze --out RESULTS/analysis``)."""
    known = set(RESULT_FILES) | set(DERIVED_FILES)
    if entry.is_dir() and not entry.is_symlink():
        try:
            return all(e.name in known for e in entry.iterdir())
        except OSError:
            return False
    return entry.name in known


def derived_in(out: Path) -> list[str]:
    """What an existing results directory holds beyond ``score``'s own files (a report, an analysis):
    made from the previous scores, it goes with them when ``score --out`` replaces the directory."""
    own = set(RESULT_FILES) | {MANIFEST}
    try:
        return sorted(e.name for e in out.iterdir() if e.name not in own and not e.name.startswith("."))
    except OSError:
        return []


def write_outputs(sc: Scores, out: Path, provenance: dict | None = None, *, csv_bom: bool = True) -> list[Path]:
    """Write scores.parquet, scores.csv, scores_long.parquet, scores.json, scores.xlsx and
    integrity.json into ``out``, with ``generation.json`` (the manifest: a generation id, each file's size and sha256).

    ``provenance`` (:func:`govindex.provenance.build`), when given, is recorded by every file that
    can hold it: scores.json's ``"provenance"``, the parquet files' key-value metadata
    ``govindex.provenance`` (JSON text), the workbook (its provenance sheet), and ``provenance.json``
    beside them for the CSV files, which cannot (the manifest lists it with the others).

    The directory is one generation (:func:`govindex.fsio.replace_dir`): everything is written into
    a temporary sibling directory and fsynced, then swapped in whole — a reader, or a kill -9, never
    sees files of two scoring runs together. An existing ``out`` must be a results directory (only
    :func:`owned` entries); a report or analysis written there from the previous results goes with them.

    The CSV files start with a UTF-8 byte-order mark unless ``csv_bom`` is false: Excel on a Chinese
    Windows reads a CSV without one in the ANSI code page (GBK) and shows the Chinese as mojibake.
    ``provenance`` (the inputs and the run, :mod:`govindex.provenance`) becomes the workbook's
    来源 Provenance sheet.
    """
    meta = {PROVENANCE_KEY: json.dumps(provenance, ensure_ascii=False)} if provenance is not None else None

    def fill(stage: Path) -> None:
        wide = wide_table(sc)
        wide.write_parquet(stage / "scores.parquet", metadata=meta)
        wide.write_csv(stage / "scores.csv", include_bom=csv_bom)
        long_table(sc).write_parquet(stage / "scores_long.parquet", metadata=meta)
        (stage / "scores.json").write_text(strict_json(to_json(sc, provenance), indent=1), encoding="utf-8")
        write_excel(sc, stage / "scores.xlsx", provenance=provenance)
        if provenance is not None:
            (stage / "provenance.json").write_text(strict_json(provenance, indent=1), encoding="utf-8")
        if sc.summaries is not None:  # `summary` declarations: one row per summary × node × group
            summaries_table(sc).write_csv(stage / "summaries.csv", include_bom=csv_bom)
        if sc.integrity is not None:  # what the facts held that scoring could not use
            (stage / "integrity.json").write_text(strict_json(sc.integrity.to_json(), indent=1), encoding="utf-8")

    out = replace_dir(out, fill, owned=owned, manifest=True)
    return sorted(p for p in out.iterdir() if p.is_file())
