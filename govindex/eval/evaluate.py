"""Facts + plan → scores. The only module that collects.

1. one lazy ``group_by(unit, round).agg(...)`` per fact table, all collected together on the
   streaming engine;
2. probe values, statuses and rates per unit × round (normalisations across units per round);
3. rounds combined per point;
4. the indicator tree, bottom-up, each node from its children only (subtrees independent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time

import polars as pl

from govindex.diagnostics import FactsError
from govindex.eval import overrides as ov
from govindex.eval.compile import ASOF, ROUND, STAGED, Plan, compile_rules, ok_col, rows_col, value_col
from govindex.eval.exact import div
from govindex.eval.exact_sums import SUM_PREFIX, sum_col, with_exact_sums
from govindex.eval.executor import Executor, InProcess, collect_query
from govindex.eval.facts import READ_ERRORS, Source, unreadable
from govindex.eval.integrity import Integrity, TableCounts, point_shares, table_counts, units_without_facts
from govindex.eval.missing import NOT_APPLICABLE, counted, declared_status, gated, point_score, presence, wavg, why_columns
from govindex.eval.node_grades import with_grades
from govindex.eval.node_rates import RATE_MEANS, mean_rate, mean_terms, node_rate, product_rate
from govindex.eval.node_rounding import rounded_score
from govindex.eval.node_values import check_range, formula_rate, formula_values, fv_col, on_its_scale, val_col, with_values
from govindex.eval.ranks import with_ranks
from govindex.eval.refs import ref_score, tree_order
from govindex.eval.round_mean import exact_means, rounds_collected
from govindex.eval.rounding import round_expr
from govindex.eval.stage_values import averages_values, point_zvalues
from govindex.eval.stages import indicator_stages, point_rates, point_values, unit_flags
from govindex.eval.summaries import summarise
from govindex.grade import Graded
from govindex.ir import ROOT, Node, RuleSet, keeps_value

OK, NO_DATA, ERROR = "ok", "no_data", "error"


def score_col(node: str) -> str:
    return f"s:{node}"


def status_col(point: str) -> str:
    return f"st:{point}"


def rate_col(point: str) -> str:
    return f"r:{point}"


@dataclass
class Scores:
    """Results of one evaluation.

    ``units``: one row per unit — registry columns, ``total``, ``rank``, ``s:<node>`` for every
    node (unrounded), ``val:<node>`` every node's value as published (on its scale, computed once:
    :mod:`govindex.eval.node_values`), ``st:<point>`` status per point. ``rounds``: one row per unit × round with
    ``v:<point>`` probe values, ``st:<point>`` and ``r:<point>`` rates. ``integrity``: what the
    facts held that scoring could not use (see :mod:`govindex.eval.integrity`).
    """

    rs: RuleSet
    units: pl.DataFrame
    rounds: pl.DataFrame
    round_ids: list[int]
    graded: Graded | None = None
    integrity: Integrity | None = None
    node_graded: dict[str, Graded] = field(default_factory=dict)  # gradings of other nodes (g:<node>)
    summaries: pl.DataFrame | None = None  # `summary` declarations: one row per summary × node × group
    named_graded: dict[str, Graded] = field(default_factory=dict)  # named gradings by id (g:<node>:<id>)
    overrides_applied: tuple[ov.AppliedOverride, ...] = ()  # FACTS/overrides.csv as applied (eval/overrides.py)




def evaluate(rs: RuleSet, sources: Mapping[str, Source], rounds: list[int] | None = None,
             plan: Plan | None = None, executor: Executor | None = None,
             overrides: Sequence[ov.Override] = ()) -> Scores:
    """Score every unit of ``rs`` from ``sources``: table name → a lazy frame, or a list of lazy
    frames over partitions holding disjoint units (see :func:`govindex.eval.facts.partitions`), whose
    aggregations the ``executor`` runs (in this process by default); ``overrides`` (read by
    :func:`govindex.eval.overrides.read`) replace probe values before anything reads them."""
    plan = plan or compile_rules(rs)
    round_ids = sorted(rounds or rs.rounds)
    per_round, counts = _probe_frame(rs, plan, sources, round_ids, executor)
    used = [c.table for c in counts]
    without = units_without_facts(rs, per_round, used)
    per_round, applied = _rates(rs, plan, per_round, overrides)
    units = unit_flags(rs, per_round, _combine_rounds(rs, per_round))  # imp:/tv: of the stages (§9b)
    units = ov.flag_units(_tree(rs, units), applied)  # ov:<point>
    report = Integrity(len(rs.units), counts, without, point_shares(rs, units, status_col))
    units, graded, node_graded, named_graded = with_grades(rs, units)
    summaries = summarise(rs, units) if rs.summaries else None
    return Scores(rs, units, per_round, round_ids, graded, report, node_graded, summaries, named_graded, applied)


def _base(rs: RuleSet, round_ids: list[int]) -> pl.DataFrame:
    codes = [u.code for u in rs.units]
    asof = [datetime.combine(rs.rounds[r], time()) if r in rs.rounds else None for r in round_ids]
    units = pl.DataFrame({"code": codes}, schema={"code": pl.String})
    rounds = pl.DataFrame({ROUND: round_ids, ASOF: asof}, schema={ROUND: pl.Int64, ASOF: pl.Datetime("us")})
    return units.join(rounds, how="cross")


def _all_rounds(rs: RuleSet, round_ids: list[int]) -> bool:
    return set(round_ids) >= set(rs.rounds)


def _table_query(rs: RuleSet, plan: Plan, table: str, lf: pl.LazyFrame, round_ids: list[int]) -> pl.LazyFrame:
    keys = [pl.col(rs.unit_column).cast(pl.String).alias("code")]
    if rs.table_has_round(table):
        if not _all_rounds(rs, round_ids):  # one round alone: the others are left out on purpose
            lf = lf.filter(pl.col(rs.round_column).is_in(round_ids))
        # otherwise rows of undeclared rounds are grouped too, to be counted as dropped
        keys.append(pl.col(rs.round_column).cast(pl.Int64).alias(ROUND))
    if plan.prep_exprs(table):
        lf = lf.with_columns(plan.prep_exprs(table))
    if plan.row_exprs.get(table):
        lf = lf.with_columns(plan.row_exprs[table])
    return lf.group_by(keys).agg(plan.agg_exprs[table])


def _probe_frame(rs: RuleSet, plan: Plan, sources: Mapping[str, Source], round_ids: list[int],
                 executor: Executor | None) -> tuple[pl.DataFrame, list[TableCounts]]:
    used = [t for t in rs.tables if plan.aggs[t]]
    try:
        frames = _collect_tables(rs, plan, sources, used, round_ids, executor)
    except READ_ERRORS as exc:  # a data page that does not decode: name its file
        located = unreadable(sources, exc)
        if located is None:
            raise
        raise located from None
    counts = [table_counts(rs, t, df, round_ids, _all_rounds(rs, round_ids)) for t, df in zip(used, frames)]
    base = _base(rs, round_ids)
    for t, df in zip(used, frames):
        on = ["code", ROUND] if rs.table_has_round(t) else ["code"]
        base = base.join(df, on=on, how="left")
    return base.sort(["code", ROUND]), counts


def _collect_tables(rs: RuleSet, plan: Plan, sources: Mapping[str, Source], used: list[str], round_ids: list[int],
                    executor: Executor | None) -> list[pl.DataFrame]:
    whole = [s for t in used if isinstance(s := sources[t], pl.LazyFrame)]
    if executor is None and len(whole) == len(used):  # no table in partitions
        queries = [_table_query(rs, plan, t, s, round_ids) for t, s in zip(used, whole)]
        frames = pl.collect_all(queries, engine="streaming") if queries else []
    else:
        parts = [(t, lf) for t in used for lf in _parts(sources[t])]
        results = (executor or InProcess()).map(collect_query, [_table_query(rs, plan, t, lf, round_ids)
                                                                for t, lf in parts])
        frames = [pl.concat([r for (t2, _), r in zip(parts, results) if t2 == t], how="vertical_relaxed")
                  for t in used]
        for t, df in zip(used, frames):
            _check_disjoint(rs, t, df)
    return frames


def _check_disjoint(rs: RuleSet, table: str, df: pl.DataFrame) -> None:
    """Partitions must hold disjoint units: one unit's rows in two of them would be aggregated
    twice and joined as duplicate rows. Numbered shards (``part-000``, ``part-001`` … — see
    :func:`govindex.eval.facts.partitions`) promise it; a layout written by hand may break it, so
    it is a facts error naming the units, never a total counted twice."""
    keys = ["code", ROUND] if rs.table_has_round(table) else ["code"]
    shared = df.filter(pl.struct(keys).is_duplicated())["code"].unique().sort()
    if len(shared):
        raise FactsError(f"table `{table}`: the numbered files part-NNN.parquet hold rows of the same unit(s) "
                         f"({', '.join(shared.head(5).to_list())}{' …' if len(shared) > 5 else ''}), so they cannot "
                         "be aggregated apart\n  hint: keep each unit in one part-NNN file (as `bench generate` "
                         "does), name source files otherwise (part-weibo …), or score without --executor ray")


def _parts(source: Source) -> list[pl.LazyFrame]:
    return source if isinstance(source, list) else [source]


def _status(plan: Plan, point: str) -> pl.Expr:
    tables = plan.tables_of[point]
    no_rows = [pl.col(rows_col(t)).fill_null(0) == 0 for t in tables]
    no_ok = [pl.col(ok_col(t)).fill_null(0) == 0 for t in tables]
    error = pl.any_horizontal([r.not_() & k for r, k in zip(no_rows, no_ok)]) if tables else pl.lit(False)
    error = error | _unscorable_entries(plan, point)
    empty = pl.any_horizontal(no_rows) if tables else pl.lit(False)
    return (pl.when(error).then(pl.lit(ERROR)).when(empty | pl.col(value_col(point)).is_null())
            .then(pl.lit(NO_DATA)).otherwise(pl.lit(OK)))


def _unscorable_entries(plan: Plan, point: str) -> pl.Expr:
    """Manual entries outside the point's ``values:``/``range:``, not finite, or in conflict
    (see :func:`govindex.eval.compile._guard_entries`): the unit × round is an error, not a score."""
    return pl.any_horizontal([pl.col(c).fill_null(0) > 0 for c in plan.guards.get(point, [])] or [pl.lit(False)])


def _rates(rs: RuleSet, plan: Plan, df: pl.DataFrame,
           overrides: Sequence[ov.Override] = ()) -> tuple[pl.DataFrame, tuple[ov.AppliedOverride, ...]]:
    points = rs.points
    for stage in plan.stages:  # unit-level values several points share, each computed once
        df = df.with_columns(stage)
    df = df.with_columns([plan.probes[p.id].alias(value_col(p.id)) for p in points])
    df = df.with_columns([_status(plan, p.id).alias(status_col(p.id)) for p in points])
    df = df.with_columns([declared_status(plan, p.id, status_col(p.id)) for p in points
                          if p.id in plan.not_applicable or p.id in plan.errors])
    df, applied = ov.apply(rs, df, overrides, status_col)  # corrections: as if the facts had said so
    # A value that is not OK must not take part in normalisations across units.
    df = df.with_columns([pl.when(pl.col(status_col(p.id)) == OK).then(pl.col(value_col(p.id)))
                          .alias(value_col(p.id)) for p in points])
    df = point_values(rs, df)  # denominate → impute → treat, across units per round (§9b)
    for stage in plan.all_formula_stages():
        df = df.with_columns(stage)
    rates = []
    for p in points:
        r = formula_rate(p, plan.formulas[p.id])  # clipped to [0, 1], or x / scale (eval/node_values.py)
        rates.append(pl.when(pl.col(status_col(p.id)) == OK).then(r).alias(rate_col(p.id)))
    rates += formula_values(rs, plan.formulas, {p.id: pl.col(status_col(p.id)) == OK for p in points})
    drop = [c for c in df.columns if c.startswith(("a:", "__rows:", "__ok:", *STAGED))]
    df = point_rates(rs, df.with_columns(rates).drop(drop))  # `normalise:` replaces the formula's rate
    df = point_zvalues(rs, df)  # `keep: "value"`: val:<point> the z, no rate (eval/stage_values.py)
    check_range(rs, df)  # E272: a `score_on: scale` result outside [0, scale]
    # A formula undefined at this value (e.g. log of a negative) leaves nothing to score.
    return df.with_columns([pl.when(pl.col(val_col(p.id) if keeps_value(p) else rate_col(p.id)).is_null()
                                    & (pl.col(status_col(p.id)) == OK))
                            .then(pl.lit(NO_DATA))
                            .otherwise(pl.col(status_col(p.id))).alias(status_col(p.id)) for p in points]), applied


_ROUND_AGG: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "latest": lambda c: c.sort_by(ROUND).drop_nulls().last(),
    "mean": rounds_collected,  # a list per unit, made the exact mean by exact_means (eval/round_mean.py)
    "max": lambda c: c.max(),
    "min": lambda c: c.min(),
    "share": lambda c: (c.drop_nulls() > 0).mean(),
}


def _combine_rounds(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    aggs = []
    for p in rs.points:
        aggs.append(_ROUND_AGG[p.rounds](pl.col(rate_col(p.id))).alias(rate_col(p.id)))
        st = pl.col(status_col(p.id))
        aggs.append(pl.when((st == OK).any()).then(pl.lit(OK)).when((st == ERROR).any()).then(pl.lit(ERROR))
                    .when((st == NOT_APPLICABLE).any()).then(pl.lit(NOT_APPLICABLE))
                    .otherwise(pl.lit(NO_DATA)).alias(status_col(p.id)))
        if on_its_scale(p):  # the formula's result, combined as the rate is (eval/node_values.py)
            aggs.append(_ROUND_AGG[p.rounds](pl.col(fv_col(p.id))).alias(fv_col(p.id)))
        if keeps_value(p):  # a value kept between stages, combined as a rate is (eval/stage_values.py)
            aggs.append(_ROUND_AGG[p.rounds](pl.col(val_col(p.id))).alias(val_col(p.id)))
    means = [c for p in rs.points if p.rounds == "mean"
             for c in (rate_col(p.id), *((fv_col(p.id),) if on_its_scale(p) else ()),
                       *((val_col(p.id),) if keeps_value(p) else ()))]
    combined = exact_means(df.group_by("code").agg(aggs), means)
    registry = pl.DataFrame([{"code": u.code, "name": u.name, **u.attrs} for u in rs.units],
                            schema={"code": pl.String, "name": pl.String, **{a: pl.String for a in rs.unit_attrs}},
                            orient="row")
    return registry.join(combined, on="code", how="left", maintain_order="left")


def round_half(e: pl.Expr, digits: int, mode: str) -> pl.Expr:
    """``e`` rounded to ``digits`` decimals by ``mode``, as :mod:`govindex.eval.rounding` defines it."""
    return round_expr(e, digits, mode)


def _tree(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    rounding = rs.rounding
    point_scores = []
    for p in rs.points:
        s = pl.col(rate_col(p.id)) * p.max
        if keeps_value(p):  # its score is its value, the z (eval/stage_values.py)
            point_scores.append(point_score(p, pl.col(val_col(p.id))).alias(score_col(p.id)))
            continue
        if rounding.at == "points":
            s = round_half(s, rounding.digits, rounding.mode)
        s = point_score(p, s)  # 0 where the policy for its reason says so; its status still says why
        point_scores.append(_rounded(p, s).alias(score_col(p.id)))
    df = df.with_columns(point_scores)
    # Bottom-up: every node depends on its children (a ref on its target) only. Each batch's sums
    # are exact (govindex.eval.exact_sums), computed before the nodes that read them.
    for batch in tree_order(rs):
        df = with_exact_sums(df, {c: t for x in batch if not x.is_ref for c, t in _sum_terms(rs, x).items()})
        # Each node's aggregate once (gated): the rate, or a sum's score; score and rate follow from it.
        df = df.with_columns([gated(rs, x, _node_expr(rs, x, rate=x.aggregate not in _SUMS)).alias(_RAW + x.id)
                              for x in batch if not x.is_ref])
        df = df.with_columns([_rounded(x, _ref_expr(rs, x) if x.is_ref else _score_of(rs, x))
                              .alias(score_col(x.id)) for x in batch])
        df = indicator_stages(rs, df, batch)  # §9b: cross-unit stages of the indicators just computed
        df = df.with_columns([node_rate(rs, x, None if x.is_ref else _rate_of(x))
                              .alias(rate_col(x.id)) for x in batch])  # r:<node> (eval/node_rates.py)
    df = df.drop([c for c in df.columns if c.startswith((SUM_PREFIX, _RAW))])
    if not rs.has_total:  # `total: none`: no total, no rank
        df = df.with_columns(pl.lit(None, pl.Float64).alias(score_col(ROOT)))
    df = with_values(rs, df)  # val:<node>, the value every output shows (eval/node_values.py)
    total = pl.col(val_col(ROOT))  # on the root's `scale:` when it has one
    df = df.with_columns(total.alias("total"), *why_columns(rs))
    df = with_ranks(rs, df)  # `rank`, and k:/kl: of every ranked node (registry order: ordinal ties)
    return df.sort(["rank", "code"], nulls_last=True)


_SUMS = ("sum", "capped_sum")
_RAW = "__raw:"  # a node's aggregate, computed once per batch: its rate, or (sums) its score


def _score_of(rs: RuleSet, x: Node) -> pl.Expr:
    """The score from the node's aggregate: a sum's is its score; a parent that averages values
    (§9b) scores the mean of the values itself; the others are rate × max, one product."""
    raw = pl.col(_RAW + x.id)
    return raw if x.aggregate in _SUMS or averages_values(rs, x) else raw * x.max


def _rate_of(x: Node) -> pl.Expr:
    """The rate from the node's aggregate, before its ``round:`` and stages: a sum's score over
    its max (one IEEE division), the others' aggregate itself."""
    raw = pl.col(_RAW + x.id)
    return div(raw, x.max) if x.aggregate in _SUMS else raw


def _rounded(node: Node, s: pl.Expr) -> pl.Expr:
    """A node's score rounded by its ``round:`` (as part of the method: the parent aggregates the
    rounded value; on its scale when it has one); unchanged without one."""
    return rounded_score(node, s)


def _ref_expr(rs: RuleSet, x: Node) -> pl.Expr:
    target = x.ref or ""
    rate = pl.col(rate_col(target)) if rs.nodes[target].is_point else pl.lit(None, pl.Float64)
    return ref_score(rs, x, pl.col(score_col(target)), rate)


def _kids(rs: RuleSet, node: Node) -> tuple[list[Node], list[pl.Expr], list[pl.Expr], pl.Expr]:
    """The children that count (weight 0 takes no part), their scores (nulls as 0), whether each
    is present (by the policy for its reason: a null under ``zero`` is a present 0), and whether
    a child's null makes the node null."""
    kids = counted(rs, node)
    scores = [pl.col(score_col(k.id)) for k in kids]
    null_hit, present = presence(kids, scores)
    return kids, [s.fill_null(0.0) for s in scores], present, null_hit


def _sum_terms(rs: RuleSet, node: Node) -> dict[str, list[pl.Expr]]:
    """The terms of the node's sums, each summed exactly (:mod:`govindex.eval.exact`): the
    maxima of the children present (``den``), and the scores (``num``) or, for ``geomean``, the
    weighted logs of the rates (``logs``). A child not present is a 0 term. ``wavg`` folds its
    own sums in declared order (see :func:`govindex.eval.missing.wavg`)."""
    if node.aggregate == "wavg":
        return {}
    kids, vals, present, _ = _kids(rs, node)
    if node.aggregate in (*RATE_MEANS, "geomean_product"):  # on rates (eval/node_rates.py)
        return mean_terms(rs, node, kids, present)
    out = {sum_col(node.id, "den"): [pl.when(p).then(pl.lit(k.max)).otherwise(0.0) for p, k in zip(present, kids)]}
    if node.aggregate in ("sum", "capped_sum", "mean", "wmean"):
        out[sum_col(node.id, "num")] = [pl.when(p).then(v).otherwise(0.0) for p, v in zip(present, vals)]
    elif node.aggregate == "geomean":
        out[sum_col(node.id, "logs")] = [pl.when(p).then(div(v, k.max).log() * k.max).otherwise(0.0)
                                         for p, v, k in zip(present, vals, kids)]
    return out


def _node_expr(rs: RuleSet, node: Node, rate: bool = False) -> pl.Expr:
    """The node's score from its children (its rate with ``rate``: for the aggregators defined on
    rates the score is that rate × max, one product; for sums the score over max)."""
    kids, vals, present, null_hit = _kids(rs, node)
    if node.aggregate == "wavg":
        val, den = wavg(rs, kids, present), pl.lit(1.0)  # never null for want of children: 0 (Lighthouse)
    elif node.aggregate in (*RATE_MEANS, "geomean_product"):
        den = pl.col(sum_col(node.id, "den"))
        val = mean_rate(node) if node.aggregate in RATE_MEANS else product_rate(rs, node, kids, present)
    else:
        den = pl.col(sum_col(node.id, "den"))
        total_max = math.fsum(k.max for k in kids)  # = den, bit for bit, when every child is present
        if node.aggregate in _SUMS:
            num = pl.col(sum_col(node.id, "num"))
            # Nothing missing: the sum itself. A missing child rescales by the maxima of those
            # present: (num × Σmax) / Σmax_present, a product and one IEEE division (den is a column).
            val = pl.when(den == total_max).then(num).otherwise(num * total_max / den).clip(upper_bound=node.max)
            val = div(val, node.max) if rate else val
        elif node.aggregate in ("min", "max"):
            rates = [pl.when(p).then(div(v, k.max)) for p, v, k in zip(present, vals, kids)]
            pick = pl.min_horizontal if node.aggregate == "min" else pl.max_horizontal
            val = pick(rates)
        elif node.aggregate == "geomean":
            val = (pl.col(sum_col(node.id, "logs")) / den).exp()
        else:
            raise ValueError(f"no aggregator {node.aggregate}")
    if node.aggregate not in _SUMS and not rate and not averages_values(rs, node):
        val = val * node.max  # a rate × the maximum: one product (× 1 changes nothing)
    out = pl.when(null_hit | (den <= 0)).then(None).otherwise(val)
    return out.fill_null(0.0) if node.missing == "zero" else out
