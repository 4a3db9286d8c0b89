"""The trace of one unit's score: node by node, formula, probe values per round, the facts
that matched (with their source URL or manual entry)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from govindex.diagnostics import UsageError, did_you_mean
from govindex.eval import overrides as ov
from govindex.eval.carried import carried
from govindex.eval.compile import ROUND, row_filter, valid_condition, value_col
from govindex.eval.evaluate import Scores, rate_col, score_col, status_col
from govindex.eval.facts import Sources, load
from govindex.eval.missing import counted
from govindex.eval.node_grades import grade_col, named_gradings
from govindex.eval.node_values import val_col
from govindex.eval.ranks import reported
from govindex.eval.stages import describe
from govindex.ir import ROOT, Expr, Node, RuleSet, Unit, aggregates, keeps_value, to_syntax
from govindex.lang.fmt import format_expr

FACT_ROWS = 3
_SHOW = ("url", "title", "name", "query", "text", "account", "point", "value", "collector", "note",
         "submitted", "replied", "published", "status", "error")


def find_unit(rs: RuleSet, key: str) -> Unit:
    u = rs.unit_by(key)
    if u is None:
        raise UsageError(f"no unit {key!r} in the registry; "
                         + (did_you_mean(key, [x.name for x in rs.units] + [x.code for x in rs.units])
                            or "give a code or a name from the units file"))
    return u


def explain(sc: Scores, unit: Unit, node: str | None, sources: dict[str, pl.LazyFrame]) -> dict[str, Any]:
    """The trace as a JSON-ready dict."""
    rs = sc.rs
    start = node or ROOT
    if start not in rs.nodes:
        raise UsageError(f"no node {start!r}; " + (did_you_mean(start, rs.nodes) or "see `govindex check`"))
    mine = sc.units.filter(pl.col("code") == unit.code)
    row = mine.row(0, named=True)
    # The value each node is published with (on its scale, rounded by `rounding:`).
    row |= mine.select([reported(rs, x).alias(f"__reported:{x.id}") for x in rs.nodes.values()]).row(0, named=True)
    rounds = sc.rounds.filter(pl.col("code") == unit.code).sort(ROUND)
    unit_rows = _unit_rows(rs, sources, unit.code, _tables_under(rs, start))
    extra = {x: [(prefix, name) for prefix, name, ids in carried(row, rs.nodes) if x in ids] for x in rs.nodes}
    extra |= {x: v + [(prefix, name) for prefix, name, ids in carried(rounds.columns, rs.nodes) if x in ids
                      and (prefix, name) not in v] for x, v in extra.items()}
    tree = _node(rs, start, row, rounds, unit_rows, extra)
    ov.attach(tree, ov.for_unit(getattr(sc, "overrides_applied", ()), unit.code))  # corrections, at their points
    return {"unit": {"code": unit.code, "name": unit.name, **unit.attrs}, "total": row["total"],
            "reported": row[f"__reported:{ROOT}"], "rank": row["rank"], "of": sc.units.height,
            **({} if rs.has_total else {"has_total": False}), **total_grade(rs, row),
            **named_grades(rs, row), "node": tree}


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


def _unit_rows(rs: RuleSet, sources: dict[str, pl.LazyFrame], code: str, tables: set[str]) -> dict[str, pl.DataFrame]:
    from govindex.eval.facts import READ_ERRORS, unreadable

    try:
        return {t: sources[t].filter(pl.col(rs.unit_column).cast(pl.String) == code).collect() for t in sorted(tables)}
    except READ_ERRORS as exc:
        located = unreadable(sources, exc)
        if located is None:
            raise
        raise located from None


Carried = dict[str, list[tuple[str, str]]]  # node → (prefix, field) of the carried columns it has


def _node(rs: RuleSet, ident: str, row: dict[str, Any], rounds: pl.DataFrame,
          unit_rows: dict[str, pl.DataFrame], extra: Carried) -> dict[str, Any]:
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
        out["children"] = [_node(rs, c, row, rounds, unit_rows, extra) for c in x.children]
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
    out["facts"] = _facts(rs, x.probe, unit_rows)
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
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def _facts(rs: RuleSet, probe: Expr | None, unit_rows: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    out = []
    for agg in aggregates(probe):
        table = agg.table
        df = unit_rows[table]
        matched = df.filter(row_filter(rs, agg))
        if rs.table_has_round(table):
            matched = matched.sort(rs.round_column, descending=True)
        show = [c for c in _SHOW if c in matched.columns]
        if rs.table_has_round(table):
            show = [rs.round_column, *show]
        sample = [{k: _plain(v) for k, v in r.items()} for r in matched.select(show).head(FACT_ROWS).iter_rows(named=True)]
        invalid = df.filter(~valid_condition(rs, table)) if rs.tables[table].valid is not None else df.clear()
        out.append({"table": table, "aggregate": agg.fn, "filter": _show(agg.where), "matched": matched.height, "rows": sample,
                    "invalid": invalid.height,
                    "invalid_rows": [{k: _plain(v) for k, v in r.items()}
                                     for r in invalid.select(show).head(FACT_ROWS).iter_rows(named=True)]})
    return out


# ------------------------------------------------------------------ text rendering


def render_text(doc: dict[str, Any], fmt_num: Callable[[float | None], str]) -> str:
    u = doc["unit"]
    extra = " · ".join(v for k, v in u.items() if k not in ("code", "name") and v)
    total = (f"total {fmt_num(doc['reported'])}, rank {doc['rank']} of {doc['of']}" if doc.get("has_total", True)
             else f"no total (total: none): categories only, {doc['of']} units")
    lines = [f"{u['name']} ({u['code']}{', ' + extra if extra else ''})", total + _grades_text(doc), ""]
    top = doc["node"]
    # `total: none`: the root is no result (no value to show): its categories are the top lines
    for x in top["children"] if not doc.get("has_total", True) and top["id"] == ROOT else [top]:
        _render_node(x, 0, lines, fmt_num)
    return "\n".join(lines)


def _grades_text(doc: dict[str, Any]) -> str:
    """`` · grade A 优秀 (A2) · grading groups: VH · grading bands of perf: green`` — the total's own
    grade, then each named grading (of the total, or ``of <node>``), for the header line."""
    parts = []
    if "grade" in doc:
        g = doc["grade"]
        label = f" {g['label']}" if g["label"] not in (None, g["id"]) else ""
        sub = f" ({g['sublevel']})" if g.get("sublevel") not in (None, g["id"]) else ""
        parts.append("grade —" if g["id"] is None else f"grade {g['id']}{label}{sub}")
    for gid, v in doc.get("gradings", {}).items():
        of = "" if v["node"] == ROOT else f" of {v['node']}"
        parts.append(f"grading {gid}{of}: {v['grade'] or '—'}")
    return "".join(f" · {p}" for p in parts)


def _render_node(x: dict[str, Any], depth: int, lines: list[str], f: Callable[[float | None], str]) -> None:
    pad = "  " * depth
    # One value per node: as published (val:<node> rounded by `rounding:`), the figure scores.json shows.
    score = (f"value {f(x['reported'])} (not a rate)" if x.get("value_kept")
             else f"{f(x['reported'])} / {x['max']:g}")
    if "max_in_parent" in x:
        score += f" (in its parent {f(x['in_parent'])} / {x['max_in_parent']:g})"
    if x["kind"] == "ref":
        rate = "null" if x["rate"] is None else f"{x['rate']:.4g}"
        lines.append(f"{pad}↪ {x['id']} {x['name']}  {score}  refers to {x['refers_to']} (computed once, under "
                     f"{x['declared_under']}): rate {rate} × {x['max']:g}; missing: {x['missing']}")
        return
    if x["kind"] == "indicator":
        lines.append(f"{pad}{x['id']} {x['name']}  {score}  [{x['aggregate']}]{_carried_text(x)}")
        if "excluded" in x:
            r = x["renormalised"]
            factor = "—" if r["factor"] is None else f"{r['factor']:.6g}"
            lines.append(f"{pad}    excluded {', '.join(x['excluded'])}: the others renormalised, "
                         f"× {r['max_all']:g} / {r['max_present']:g} = × {factor}")
        if "stages" in x:
            lines.append(f"{pad}    stages {x['stages']}")
        for c in x["children"]:
            _render_node(c, depth + 1, lines, f)
        return
    flag = "" if x["status"] == "ok" else f"  !{x['status']}"
    flag += "  !overridden" if x.get("overrides") else ""
    lines.append(f"{pad}• {x['id']} {x['name']}  {score}  [{x['kind']}]{flag}{_carried_text(x)}")
    lines.append(f"{pad}    probe    {x['probe']}")
    if "stages" in x:
        lines.append(f"{pad}    stages   {x['stages']}")
    vals = " · ".join(f"r{r['round']}: {_v(r['value'])}" + ("" if r["status"] == "ok" else f" ({r['status']})")
                      + _round_carried(r) for r in x["per_round"])
    lines.append(f"{pad}    values   {vals}")
    lines += ov.render_lines(x, pad)  # overrides of FACTS/overrides.csv: old → new, why, who, when
    rate = "null" if x["rate"] is None else f"{x['rate']:.4g}"
    if x.get("value_kept"):
        lines.append(f"{pad}    score    value (not a rate): z = {x['score']!r} ({x['rounds_policy']} of rounds; "
                     f"missing: {x['missing']})")
    else:
        lines.append(f"{pad}    score    {x['formula']} → rate {rate} ({x['rounds_policy']} of rounds; "
                     f"missing: {x['missing']})")
    for fact in x["facts"]:
        filt = f" where {fact['filter']}" if fact["filter"] else ""
        lines.append(f"{pad}    facts    {fact['matched']} row(s) of {fact['table']}{filt}")
        for r in fact["rows"]:
            lines.append(f"{pad}             " + "  ".join(f"{k}={_v(v)}" for k, v in r.items() if v not in (None, "")))
        if fact["invalid"]:
            lines.append(f"{pad}    invalid  {fact['invalid']} row(s) of {fact['table']} fail its `valid when` rule")
            for r in fact["invalid_rows"]:
                lines.append(f"{pad}             " + "  ".join(f"{k}={_v(v)}" for k, v in r.items() if v not in (None, "")))


_CARRIED_SHOWN = ("rank_label", "grade", "imputed", "treated", "why")


def _round_carried(r: dict[str, Any]) -> str:
    """`` (imputed) [treated 0.5]`` for a round's carried values: a flag when set, a value when there."""
    out = " (imputed)" if r.get("imputed") else ""
    return out + "".join(f" [{k} {_v(r[k])}]" for k in _CARRIED_SHOWN if k != "imputed" and r.get(k) is not None)


def _carried_text(x: dict[str, Any]) -> str:
    """`` · rank =3 · grade A · imputed · treated 0.5 · why …`` for the carried fields the node has."""
    parts = []
    if x.get("rank_label") is not None:
        parts.append(f"rank {x['rank_label']}")
    elif x.get("rank") is not None:
        parts.append(f"rank {x['rank']}")
    if x.get("grade") is not None:
        parts.append(f"grade {x['grade']}")
    if x.get("imputed"):
        parts.append("imputed")
    if x.get("treated") is not None:
        parts.append(f"treated {_v(x['treated'])}")
    if x.get("why") and "excluded" not in x:  # exclusions get a line of their own, with the factor
        parts.append(f"why: {x['why']}")
    return "".join(f" · {p}" for p in parts)


def _v(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str) and len(v) > 60:
        return v[:57] + "…"
    return str(v)


def load_sources(rs: RuleSet, facts: Path) -> Sources:
    """Validated lazy scans of the tables that some probe reads (others need not exist on disk).
    Raises :class:`FactsError` listing every problem (see :mod:`govindex.eval.facts`)."""
    used = _tables_under(rs, ROOT)
    return load(rs, facts, [t for t in rs.tables if t in used])
