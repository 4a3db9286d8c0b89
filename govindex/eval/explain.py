"""The trace of one unit's score: node by node, formula, probe values per round, and the
evidence of each probe — the rows that determine its value (:mod:`govindex.eval.evidence`),
with the columns the probe reads, the source URL, the archive location of a page and the
provenance of a manual entry. Rows that fail a table's ``valid when`` rule are summarised once
per table. Rendering as text: :mod:`govindex.eval.explain_text`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from govindex.diagnostics import FactsError, UsageError, did_you_mean
from govindex.eval import overrides as ov
from govindex.eval.carried import carried
from govindex.eval.compile import ROUND, valid_condition, value_col
from govindex.eval.evaluate import Scores, rate_col, score_col, status_col
from govindex.eval.evidence import LIMIT, evidence, plain
from govindex.eval.explain_text import render_compact, render_text
from govindex.eval.facts import READ_ERRORS, Sources, load, with_extras
from govindex.eval.missing import counted
from govindex.eval.node_grades import grade_col, named_gradings
from govindex.eval.node_values import val_col
from govindex.eval.ranks import reported
from govindex.eval.stages import describe
from govindex.ir import ROOT, Expr, Node, RuleSet, Unit, aggregates, keeps_value, to_syntax
from govindex.lang.fmt import format_expr

__all__ = ["explain", "find_unit", "load_sources", "render_compact", "render_text"]
_ARCHIVE_KEY = ("unit", "round", "url")  # how a crawl index row names a page row


def find_unit(rs: RuleSet, key: str) -> Unit:
    u = rs.unit_by(key)
    if u is None:
        raise UsageError(f"no unit {key!r} in the registry; "
                         + (did_you_mean(key, [x.name for x in rs.units] + [x.code for x in rs.units])
                            or "give a code or a name from the units file"))
    return u


def explain(sc: Scores, unit: Unit, node: str | None, sources: dict[str, pl.LazyFrame], *,
            limit: int | None = LIMIT, facts_dir: Path | None = None,
            archive: pl.DataFrame | None = None, with_evidence: bool = True) -> dict[str, Any]:
    """The trace as a JSON-ready dict. ``limit``: evidence rows per aggregate (None: all);
    ``with_evidence`` False leaves the evidence out (the compact view prints none of it).
    ``facts_dir``: read the unit's rows again with the columns the files hold beyond the declared
    ones (collector, source cell, WARC location: display only, scoring never reads them).
    ``archive``: a crawl index (unit, round, url, warc_file, offset, length) locating pages."""
    rs = sc.rs
    start = node or ROOT
    if start not in rs.nodes:
        raise UsageError(f"no node {start!r}; " + (did_you_mean(start, rs.nodes) or "see `govindex check`"))
    mine = sc.units.filter(pl.col("code") == unit.code)
    row = mine.row(0, named=True)
    # The value each node is published with (on its scale, rounded by `rounding:`).
    row |= mine.select([reported(rs, x).alias(f"__reported:{x.id}") for x in rs.nodes.values()]).row(0, named=True)
    rounds = sc.rounds.filter(pl.col("code") == unit.code).sort(ROUND)
    tables = _tables_under(rs, start)
    try:
        unit_rows = _unit_rows(rs, _display(rs, sources, tables, facts_dir), unit.code, tables)
    except FactsError:
        raise
    except READ_ERRORS:  # extra columns that do not go together (text here, a list there): shown without them
        unit_rows = _unit_rows(rs, sources, unit.code, tables)
    scored = set(sc.rounds[ROUND].unique().to_list())  # `--round N`: the evidence of that round only
    unit_rows = {t: _locate(df.filter(pl.col(rs.round_column).is_in(scored)) if rs.table_has_round(t) else df, archive)
                 for t, df in unit_rows.items()}
    extra = {x: [(prefix, name) for prefix, name, ids in carried(row, rs.nodes) if x in ids] for x in rs.nodes}
    extra |= {x: v + [(prefix, name) for prefix, name, ids in carried(rounds.columns, rs.nodes) if x in ids
                      and (prefix, name) not in v] for x, v in extra.items()}
    tree = _node(rs, start, row, rounds, unit_rows, extra, limit, with_evidence)
    ov.attach(tree, ov.for_unit(getattr(sc, "overrides_applied", ()), unit.code))  # corrections, at their points
    return {"unit": {"code": unit.code, "name": unit.name, **unit.attrs}, "total": row["total"],
            "reported": row[f"__reported:{ROOT}"], "rank": row["rank"], "of": sc.units.height,
            **({} if rs.has_total else {"has_total": False}), **total_grade(rs, row),
            **named_grades(rs, row), "invalid": _invalid(rs, unit_rows, limit), "node": tree}


def total_grade(rs: RuleSet, row: dict[str, Any]) -> dict[str, Any]:
    """``{"grade": {id, label, sublevel}}``: the total's own grade, when the rule set grades it."""
    if rs.grading is None or "grade" not in row:
        return {}
    labels = dict(rs.grading.classes)
    return {"grade": {"id": row["grade"], "label": labels.get(row["grade"]), "sublevel": row.get("sublevel")}}


def named_grades(rs: RuleSet, row: dict[str, Any]) -> dict[str, Any]:
    """``{"gradings": {id: {node, grade}}}`` for the named gradings (``g:<node>:<id>``)."""
    got = {g.id: {"node": g.node, "grade": row.get(grade_col(g.node, g.id))} for g in named_gradings(rs) if g.id}
    return {"gradings": got} if got else {}


def _tables_under(rs: RuleSet, start: str) -> set[str]:
    out, stack = set(), [start]
    while stack:
        x = rs.nodes[stack.pop()]
        stack.extend(x.children)
        if x.is_point:
            out |= {a.table for a in aggregates(x.probe)}
    return out


def _unit_rows(rs: RuleSet, sources: Mapping[str, Any], code: str, tables: set[str]) -> dict[str, pl.DataFrame]:
    from govindex.eval.facts import READ_ERRORS, unreadable

    try:
        return {t: sources[t].filter(pl.col(rs.unit_column).cast(pl.String) == code).collect() for t in sorted(tables)}
    except READ_ERRORS as exc:
        located = unreadable(sources, exc)
        if located is None:
            raise
        raise located from None


def _display(rs: RuleSet, sources: dict[str, pl.LazyFrame], tables: set[str],
             facts_dir: Path | None) -> Mapping[str, Any]:
    if facts_dir is None:
        return sources
    frames = {t: with_extras(rs, facts_dir, t) if t in tables else sources[t] for t in sources}
    return Sources(frames, getattr(sources, "files", {}))  # the files: to name one that cannot be read


def _locate(df: pl.DataFrame, archive: pl.DataFrame | None) -> pl.DataFrame:
    """Page rows with their WARC location from the crawl index, unless the facts carry it."""
    if archive is None or "warc_file" in df.columns or not set(_ARCHIVE_KEY) <= set(df.columns):
        return df
    idx = archive.select(*_ARCHIVE_KEY, "warc_file", "offset", "length").unique(_ARCHIVE_KEY, keep="last")
    idx = idx.with_columns([pl.col(c).cast(df.schema[c]) for c in _ARCHIVE_KEY])
    return df.join(idx, on=list(_ARCHIVE_KEY), how="left", maintain_order="left")


def _invalid(rs: RuleSet, unit_rows: dict[str, pl.DataFrame], limit: int | None) -> dict[str, Any]:
    """Per table with a ``valid when`` rule, the unit's rows that fail it — once, not under every point."""
    out = {}
    for t, df in unit_rows.items():
        if rs.tables[t].valid is None:
            continue
        bad = df.filter(~valid_condition(rs, t))
        if bad.height:
            show = [c for c in (rs.round_column, "url", "title", "name", "status", "error") if c in bad.columns]
            rows = bad.select(show) if limit is None else bad.select(show).head(limit)
            out[t] = {"rule": _show(rs.tables[t].valid), "rows": bad.height,
                      "sample": [{k: plain(v) for k, v in r.items()} for r in rows.iter_rows(named=True)]}
    return out


Carried = dict[str, list[tuple[str, str]]]  # node → (prefix, field) of the carried columns it has


def _node(rs: RuleSet, ident: str, row: dict[str, Any], rounds: pl.DataFrame,
          unit_rows: dict[str, pl.DataFrame], extra: Carried, limit: int | None = LIMIT,
          with_evidence: bool = True) -> dict[str, Any]:
    x = rs.nodes[ident]
    # On the node's scale; with a declared scale, also what it contributes to its parent.
    out: dict[str, Any] = {"id": x.id, "name": x.label, "kind": x.kind, "level": x.level, "max": x.scale,
                           "score": row[val_col(x.id)]}
    if x.own_scale is not None:
        out.update({"max_in_parent": x.max, "in_parent": row[score_col(x.id)]})
    out["reported"] = row[f"__reported:{x.id}"]
    out.update({name: row[prefix + x.id] for prefix, name in extra[x.id] if prefix + x.id in row})
    per_round = [(prefix, name) for prefix, name in extra[x.id] if prefix + x.id not in row]
    if x.ref is not None:  # computed once, where declared: here its rate × this place's max
        target = rs.nodes[x.ref]
        # its rate: the target's, as this place reads it (r:<ref>, eval/node_rates.py), never s / max
        out.update({"kind": "ref", "refers_to": x.ref, "declared_under": target.parent, "missing": x.missing,
                    "rate": row[rate_col(x.id)]})
        return out
    if x.stages is not None:  # §9b: the stages (whether this unit's value was imputed / treated: carried)
        out["stages"] = describe(x.stages)
    if not x.is_point:
        # the exact rate r:<node> (docs §5 "Means on rates"), not s / max; none for the root without a total
        out["rate"] = row.get(rate_col(x.id))
        out["aggregate"] = x.aggregate
        out["missing"] = x.missing
        out.update(_exclusions(rs, x.id, row))
        out["children"] = [_node(rs, c, row, rounds, unit_rows, extra, limit, with_evidence) for c in x.children]
        return out
    status = row[status_col(x.id)]
    policy = x.policy(status) if status in ("no_data", "not_applicable", "error") else x.missing  # by its reason
    out.update({"probe": _show(x.probe), "formula": _show(x.score), "missing": policy,
                "rounds_policy": x.rounds, "status": status, "rate": row[rate_col(x.id)]})
    if keeps_value(x):  # §9b: a value kept between stages (a z-score), not a rate
        out.update({"max": None, "value_kept": True})
    out["per_round"] = [{"round": r[ROUND], "value": _plain(r[value_col(x.id)]), "status": r[status_col(x.id)],
                         "rate": r[rate_col(x.id)],
                         **{name: _plain(r[prefix + x.id]) for prefix, name in per_round}}
                        for r in rounds.iter_rows(named=True)]
    if row.get("ov:" + x.id):  # an override changed this point (eval/overrides.py)
        out["overridden"] = True
    out["facts"] = [evidence(rs, agg, unit_rows[agg.table], limit) for agg in aggregates(x.probe)] \
        if with_evidence else []
    return out


def _policy(k: Node, row: dict[str, Any]) -> str:
    """The missing-data policy that applies to child ``k`` in this unit: by its status's reason
    for a point with a policy per reason, else its own."""
    status = row.get(status_col(k.id)) if k.is_point else None
    return k.policy(status) if status in ("no_data", "not_applicable", "error") else k.missing


def _exclusions(rs: RuleSet, ident: str, row: dict[str, Any]) -> dict[str, Any]:
    """The children left out of the node's aggregate for this unit (null where their policy is
    ``exclude``), and how the others' maxima were renormalised: ``Σmax of all / Σmax of those
    present`` (the factor the sum was multiplied by). Children of weight 0 take no part at all.
    Empty when nothing is left out."""
    kids = counted(rs, rs.nodes[ident])
    out = [k for k in kids if row[score_col(k.id)] is None and _policy(k, row) == "exclude"]
    if not out:
        return {}
    present = math.fsum(k.max for k in kids if row[score_col(k.id)] is not None or _policy(k, row) == "zero")
    total = math.fsum(k.max for k in kids)
    return {"excluded": [k.id for k in out],
            "renormalised": {"max_present": present, "max_all": total, "factor": total / present if present else None}}


def _show(e: Expr | None) -> str:
    """An expression as text, lets expanded."""
    return format_expr(to_syntax(e)) if e is not None else ""


def _plain(v: object) -> object:
    return plain(v)


def load_sources(rs: RuleSet, facts: Path) -> Sources:
    """Validated lazy scans of the tables that some probe reads (others need not exist on disk).
    Raises :class:`FactsError` listing every problem (see :mod:`govindex.eval.facts`)."""
    used = _tables_under(rs, ROOT)
    return load(rs, facts, [t for t in rs.tables if t in used])
