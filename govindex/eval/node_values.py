"""A node's value as published, computed once: ``val:<node>`` (docs §5 "A node's own scale").

Every output reads this column — the JSON, CSV/parquet and Excel figures, ``scores_long``'s
``score``, ``explain``, summaries, inline test expectations, gradings and ranks — so no two of
them can differ by an ulp. For a node ``x`` with score ``s`` (out of its effective maximum ``M``)
and rate ``r``:

- without a declared scale: ``s`` itself (the total: its score out of ``max_total``);
- with ``scale: S`` (the root's ``scale:`` in the ruleset header included): ``r × S`` for an
  indicator, ``s / M × S`` for a point; rounded by ``round:`` on its scale, the rounded value
  ``v′`` exactly (:func:`govindex.eval.node_rounding.on_scale_expr`);
- a point with ``score_on: scale``: its formula's result ``x`` itself (rounds combined as its rate
  is), ``0`` where its missing-data policy scores it 0. Its rate is ``x / S``, one IEEE division,
  and a result outside ``[0, S]`` is an error (E272) located at the formula, never clipped.
"""

from __future__ import annotations

import polars as pl

from govindex.diagnostics import Diagnostic, RuleError
from govindex.eval.exact import div
from govindex.eval.node_rounding import on_scale_expr
from govindex.ir import ROOT, Node, RuleSet, keeps_value


def val_col(node: str) -> str:
    """The column of ``node``'s value as published (``v:<point>`` is the probe's value)."""
    return f"val:{node}"


def fv_col(point: str) -> str:
    """The column of a ``score_on: scale`` point's formula result, per round then rounds combined."""
    return f"fv:{point}"


def on_its_scale(p: Node) -> bool:
    """Whether point ``p``'s formula gives its value on its scale (``score_on: scale``)."""
    return p.score_on_scale and p.own_scale is not None


def formula_rate(p: Node, f: pl.Expr) -> pl.Expr:
    """The rate of point ``p`` from its formula's result ``f``: ``f`` clipped to [0, 1], or for
    ``score_on: scale`` ``f / S`` (one division; E272 has refused any ``f`` outside [0, S])."""
    f = f.fill_nan(None)
    if not on_its_scale(p):
        return f.clip(0.0, 1.0)
    assert p.own_scale is not None
    return div(f, p.own_scale)


def formula_values(rs: RuleSet, formulas: dict[str, pl.Expr], ok: dict[str, pl.Expr]) -> list[pl.Expr]:
    """``fv:<point>`` for every ``score_on: scale`` point where its status is ok (``ok``)."""
    return [pl.when(ok[p.id]).then(formulas[p.id].fill_nan(None)).alias(fv_col(p.id))
            for p in rs.points if on_its_scale(p)]


def check_range(rs: RuleSet, df: pl.DataFrame) -> None:
    """Raise E272 (at the point's ``score:``) when a ``score_on: scale`` result leaves [0, S]."""
    problems = []
    for p in (p for p in rs.points if on_its_scale(p)):
        assert p.own_scale is not None
        col = pl.col(fv_col(p.id))
        bad = df.filter(col.is_not_null() & ((col < 0.0) | (col > p.own_scale)))
        if len(bad):
            row = bad.row(0, named=True)
            span = p.score_src.span if p.score_src is not None else p.span
            problems.append(Diagnostic(
                "E272", f"point `{p.id}` scores on its scale 0 … {p.own_scale:g}, but its formula gives "
                f"{row[fv_col(p.id)]!r} for unit {row['code']} ({len(bad)} unit × round(s) outside)", span,
                f"keep the formula within 0 … {p.own_scale:g} (e.g. min({p.own_scale:g}, …)), or raise `scale:`"))
    if problems:
        raise RuleError(problems)


def value_expr(rs: RuleSet, x: Node) -> pl.Expr:
    """``val:<x>`` from the node's final ``s:``/``r:`` columns (see the module docstring)."""
    if x.id == ROOT and not rs.has_total:
        return pl.lit(None, pl.Float64)
    s = pl.col(f"s:{x.id}")
    if keeps_value(x):  # a value kept between stages: the z itself (§9b)
        return s
    if x.is_point and on_its_scale(x) and x.round is None and rs.rounding.at != "points" and x.rounds != "share":
        return pl.when(s.is_null()).then(None).otherwise(pl.col(fv_col(x.id)).fill_null(0.0))
    return on_scale_expr(x, s)


def with_values(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with ``val:<node>`` for every node, the root's included."""
    return df.with_columns([value_expr(rs, x).alias(val_col(x.id)) for x in rs.nodes.values()])
