"""A checked rule set → a polars plan, bottom-up from the IR (:mod:`govindex.ir`):

1. per fact table, one ``group_by(unit, round).agg(...)`` holding every aggregate any probe asks
   of that table — after row-level columns computed once over the table (validity, marker bit
   words, each distinct condition and value), shared by every aggregate that needs them;
2. per point, the probe's value over those aggregates, and the formula's rate over the value.

Unit-level nodes are computed once per unit and round, however many points use them: a node
that several nodes or points use, or whose translation reads its argument several times
(``steps`` once per threshold, normalisations across units), becomes a named column of its own,
computed in a **stage** — ``with_columns`` of every column whose inputs are ready: a column's
stage is 1 + the highest stage of the columns it reads, aggregates being stage 0. Other nodes
are inlined where they are used. Formula nodes (over ``x``) are staged the same way per point.

Translation dispatches by IR node type (``_ROW_NODES``, ``_UNIT_NODES``) and by function name
(``_ROW_FNS``, ``_MATHS``, ``_FORMULA_FNS``, ``_AGG``); a node with no translation raises
:class:`CompileGap` — a bug, never a user error: the checker has vetted every node.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from govindex import ir
from govindex.eval import curves, stats
from govindex.eval.exact import div
from govindex.eval.rounding import round_expr
from govindex.ir import Node, RuleSet
from govindex.lang import nodes as n

ROUND = "__round"
ASOF = "__asof"
STAGED = ("u:", "f:")  # prefixes of the unit-level and formula columns of the stages


class CompileGap(Exception):
    """The compiler met a construct it has no translation for (a bug in govindex)."""


@dataclass
class Plan:
    aggs: dict[str, dict[ir.Agg, str]] = field(default_factory=dict)  # table → aggregate → alias
    agg_exprs: dict[str, list[pl.Expr]] = field(default_factory=dict)  # table → aliased polars exprs
    row_cols: dict[str, dict[tuple[object, ...], str]] = field(default_factory=dict)  # table → row-column key → alias
    row_exprs: dict[str, list[pl.Expr]] = field(default_factory=dict)  # table → row columns for with_columns
    row_raw: dict[str, dict[tuple[object, ...], pl.Expr]] = field(default_factory=dict)  # table → key → unaliased
    bits: Bits = field(default_factory=lambda: Bits())
    valid: dict[str, pl.Expr] = field(default_factory=dict)  # table → its `valid when` condition
    rows: dict[str, _Row] = field(default_factory=dict)  # table → its row translator (with marker bits)
    stages: list[list[pl.Expr]] = field(default_factory=list)  # unit-level columns, stage by stage
    probes: dict[str, pl.Expr] = field(default_factory=dict)  # point → value expr (unit × round)
    tables_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # point → tables read
    formula_stages: dict[str, list[list[pl.Expr]]] = field(default_factory=dict)  # point → its formula's columns
    formulas: dict[str, pl.Expr] = field(default_factory=dict)  # point → rate expr
    guards: dict[str, list[str]] = field(default_factory=dict)  # point → counts of entries it must not score
    not_applicable: dict[str, pl.Expr] = field(default_factory=dict)  # point → its `not_applicable:` condition
    errors: dict[str, pl.Expr] = field(default_factory=dict)  # point → its `error:` condition

    def prep_exprs(self, table: str) -> list[pl.Expr]:
        """Columns computed once before the row columns: validity and marker bit words."""
        return [self.valid[table].alias(valid_col(table)), *self.bits.prep(table)]

    def all_formula_stages(self, points: Iterable[str] | None = None) -> list[list[pl.Expr]]:
        """The formula columns of ``points`` (every point by default), stage by stage."""
        per_point = [self.formula_stages[p] for p in (self.formula_stages if points is None else points)]
        depth = max((len(s) for s in per_point), default=0)
        return [[c for s in per_point if k < len(s) for c in s[k]] for k in range(depth)]


def valid_col(table: str) -> str:
    return f"__valid:{table}"


def rows_col(table: str) -> str:
    return f"__rows:{table}"


def ok_col(table: str) -> str:
    return f"__ok:{table}"


def value_col(point: str) -> str:
    return f"v:{point}"


def compile_rules(rs: RuleSet) -> Plan:
    """Compile every point of ``rs``. Pure: builds expressions, reads no data."""
    plan = Plan()
    for t in rs.tables:
        plan.valid[t] = valid_condition(rs, t)
        plan.rows[t] = _Row(rs, t, plan.bits)
        plan.aggs[t] = {}
        plan.agg_exprs[t] = [pl.len().alias(rows_col(t)), _RowCols(plan, t).cond(None).sum().alias(ok_col(t))]
    points = rs.points
    probes = _Unit(rs, plan, [x for p in points for x in (p.probe, p.not_applicable, p.error)], "u:", plan.stages)
    for p in points:
        assert p.probe is not None and p.score is not None
        plan.probes[p.id] = probes.expr(p.probe)
        if p.not_applicable is not None:
            plan.not_applicable[p.id] = probes.expr(p.not_applicable)
        if p.error is not None:
            plan.errors[p.id] = probes.expr(p.error)
        plan.tables_of[p.id] = tuple(sorted({a.table for a in ir.aggregates(p.probe)}))
        stages: list[list[pl.Expr]] = []
        f = _Unit(rs, plan, [p.score], f"f:{p.id}:", stages, x=pl.col(value_col(p.id)))
        plan.formulas[p.id] = f.expr(p.score).cast(pl.Float64)
        plan.formula_stages[p.id] = stages
        _guard_entries(rs, plan, p)
    return plan


def valid_condition(rs: RuleSet, table: str) -> pl.Expr:
    """The row condition of a table's `valid when` rule (always true without one)."""
    v = rs.tables[table].valid
    if v is None:  # a column expression, not a literal: a literal does not broadcast inside agg()
        return pl.col(rs.unit_column).is_not_null()
    return _Row(rs, table).expr(v).fill_null(False)


class _Translator(Protocol):
    def expr(self, e: ir.Expr) -> pl.Expr: ...


# ------------------------------------------------------------------ row level


class Bits:
    """Marker tests as bit tests. Every literal tested against a ``list[str]`` column gets a bit in
    one of a few Int64 words computed once per row (``b:<column>:<word>``); ``has(markers, "x")``
    then costs an AND instead of a scan of every row's list."""

    PER_WORD = 63

    def __init__(self) -> None:
        self.index: dict[tuple[str, str], dict[str, int]] = {}  # (table, column) → literal → index

    def locate(self, table: str, column: str, literal: str) -> tuple[int, int]:
        """The word and the bit mask of ``literal`` in ``table.column``."""
        lits = self.index.setdefault((table, column), {})
        i = lits.setdefault(literal, len(lits))
        word, bit = divmod(i, self.PER_WORD)
        return word, 1 << bit

    def test(self, table: str, column: str, literal: str) -> pl.Expr:
        word, mask = self.locate(table, column, literal)
        return (pl.col(f"b:{column}:{word}") & mask) != 0

    def prep(self, table: str) -> list[pl.Expr]:
        out = []
        for (t, column), lits in self.index.items():
            if t != table:
                continue
            items = sorted(lits.items(), key=lambda kv: kv[1])
            for w in range(0, len(items), self.PER_WORD):
                mapping = {lit: 1 << (i % self.PER_WORD) for lit, i in items[w: w + self.PER_WORD]}
                word = (pl.col(column).list.eval(pl.element().replace_strict(mapping, default=0, return_dtype=pl.Int64))
                        .list.agg(pl.element().bitwise_or()).fill_null(0))
                # a null list stays null (unknown), an empty one is 0 (no marker)
                out.append(pl.when(pl.col(column).is_null()).then(None).otherwise(word)
                           .alias(f"b:{column}:{w // self.PER_WORD}"))
        return out


class _Row:
    """Row-level IR of one table → polars expressions (memoised per node)."""

    def __init__(self, rs: RuleSet, table: str, bits: Bits | None = None):
        self.rs, self.table, self.bits = rs, table, bits
        self.memo: dict[ir.Expr, pl.Expr] = {}

    def expr(self, e: ir.Expr) -> pl.Expr:
        out = self.memo.get(e)
        if out is None:
            fn = _ROW_NODES.get(type(e))
            if fn is None:
                raise CompileGap(f"no row translation for {type(e).__name__}")
            out = self.memo[e] = fn(self, e)
        return out

    def has(self, column: ir.Expr, literal: str) -> pl.Expr:
        if self.bits is not None and is_list(column):
            assert isinstance(column, ir.Column)
            return self.bits.test(self.table, column.name, literal)
        return self.expr(column).list.contains(literal)


def is_list(e: ir.Expr | None) -> bool:
    """A ``list[str]`` column."""
    return isinstance(e, ir.Column) and e.type == "list"


def _const(e: ir.Const) -> pl.Expr:
    return pl.lit(e.value)


def _row_op(r: _Row, e: ir.Op) -> pl.Expr:
    if e.op in ("not", "neg"):
        inner = r.expr(e.args[0])
        return ~inner if e.op == "not" else -_num(inner)
    left, right = e.args
    if e.op in ("in", "not in"):
        if is_list(right):
            assert isinstance(right, ir.Column)
            out = (r.has(right, left.value) if isinstance(left, ir.Const) and isinstance(left.value, str)
                   else pl.col(right.name).list.contains(r.expr(left)))
        else:
            out = _is_in(r.expr(left), right)
        return ~out if e.op == "not in" else out
    if e.op in ("+", "-", "*"):  # in float64: integer arithmetic would wrap silently past 2^63
        return _BINOPS[e.op](_num(r.expr(left)), _num(r.expr(right)))
    return _BINOPS[e.op](r.expr(left), r.expr(right))


def _is_in(left: pl.Expr, items: ir.Expr) -> pl.Expr:
    if not isinstance(items, ir.ListConst):
        raise CompileGap("`in` needs a list literal")
    if items.items and items.type == "nums":
        left = left.cast(pl.Float64)  # number literals are floats; int columns compare as such
    return left.is_in(items.values)


def _row_cond(r: _Row, e: ir.Cond) -> pl.Expr:
    return pl.when(r.expr(e.cond).fill_null(False)).then(r.expr(e.then)).otherwise(r.expr(e.else_))


def _row_call(r: _Row, e: ir.RowCall) -> pl.Expr:
    return _ROW_FNS[e.fn](r, e)


def _maths(t: _Translator, e: ir.Formula) -> pl.Expr:
    fn = _MATHS.get(e.fn)
    if fn is None:
        raise CompileGap(f"no row translation for {e.fn}")
    return fn(t, e)


def _has_any(r: _Row, e: ir.RowCall, all_: bool = False) -> pl.Expr:
    parts = [r.has(e.args[0], v) for v in e.literals(1)]
    if not parts:
        return pl.lit(all_)
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if all_ else (out | p)
    return out


def _length(r: _Row, e: ir.RowCall) -> pl.Expr:
    a = e.args[0]
    return (r.expr(a).list.len() if is_list(a) else r.expr(a).str.len_chars()).cast(pl.Float64)


_ROW_FNS: dict[str, Callable[[_Row, ir.RowCall], pl.Expr]] = {
    "has": lambda r, e: r.has(e.args[0], e.literal(1)),
    "has_any": lambda r, e: _has_any(r, e),
    "has_all": lambda r, e: _has_any(r, e, all_=True),
    "contains": lambda r, e: r.expr(e.args[0]).str.contains(e.literal(1), literal=True),
    "contains_any": lambda r, e: r.expr(e.args[0]).str.contains_any(e.literals(1)),
    "matches": lambda r, e: r.expr(e.args[0]).str.contains(e.literal(1)),
    "starts_with": lambda r, e: r.expr(e.args[0]).str.starts_with(e.literal(1)),
    "ends_with": lambda r, e: r.expr(e.args[0]).str.ends_with(e.literal(1)),
    "length": _length,
    "days_between": lambda r, e: (r.expr(e.args[1]) - r.expr(e.args[0])).dt.total_days(fractional=True),
    "present": lambda r, e: r.expr(e.args[0]).is_not_null(),
}

_ROW_NODES: dict[type[ir.Expr], Callable[[_Row, Any], pl.Expr]] = {
    ir.Column: lambda r, e: pl.col(e.name),
    ir.Const: lambda r, e: _const(e),
    ir.Op: _row_op,
    ir.Cond: _row_cond,
    ir.RowCall: _row_call,
    ir.Formula: _maths,
}

_BINOPS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: pl.when(b != 0).then(div(a, b)),  # one IEEE division, also by a constant
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b,
}


# ------------------------------------------------------------------ aggregates
#
# Each aggregate is split in two: row-level columns computed once over the whole table (the
# condition, the value where the condition holds, null elsewhere), then plain aggregations of
# those columns in the group_by. Plain column aggregations stay on polars' fast, streaming path;
# a filter inside agg() would be evaluated group by group. Identical row columns are shared
# between points (keys are IR nodes, which compare by structure).

RowKey = tuple[object, ...]


class _RowCols:
    def __init__(self, plan: Plan, table: str):
        self.plan, self.table = plan, table
        self.row = plan.rows[table]
        self.cols = plan.row_cols.setdefault(table, {})
        self.raw = plan.row_raw.setdefault(table, {})

    def col(self, key: RowKey, make: Callable[[], pl.Expr]) -> pl.Expr:
        """The column for ``key``; ``make()`` builds its expression from raw (not aliased) parts,
        since columns added in one ``with_columns`` cannot see each other."""
        if key not in self.cols:
            alias = f"c:{self.table}:{len(self.cols)}"
            self.cols[key] = alias
            self.raw[key] = make()
            self.plan.row_exprs.setdefault(self.table, []).append(self.raw[key].alias(alias))
        return pl.col(self.cols[key])

    def cond(self, where: ir.Expr | None) -> pl.Expr:
        return self.col(("cond", where), lambda: self.cond_raw(where))

    def cond_raw(self, where: ir.Expr | None) -> pl.Expr:
        c = pl.col(valid_col(self.table))
        return c if where is None else c & self.row.expr(where).fill_null(False)

    def value(self, where: ir.Expr | None, value: ir.Expr | None) -> pl.Expr:
        assert value is not None
        return self.col(("value", where, value), lambda: pl.when(self.cond_raw(where)).then(self.row.expr(value)))


def _distinct(v: pl.Expr, approx: bool) -> pl.Expr:
    uniq = v.approx_n_unique() if approx else v.n_unique()
    return uniq.cast(pl.Float64) - (v.null_count() > 0).cast(pl.Float64)


def _ratio(rc: _RowCols, a: ir.Agg) -> pl.Expr:
    where, cond = a.where, a.arg
    assert cond is not None
    base = rc.cond(where)
    hit = rc.col(("ratio", where, cond), lambda: rc.cond_raw(where) & rc.row.expr(cond).fill_null(False))
    den = base.sum()
    return pl.when(den > 0).then(div(hit.sum(), den))


def _coverage(rc: _RowCols, a: ir.Agg) -> pl.Expr:
    assert a.items is not None and a.arg is not None
    items, column, where = [str(v) for v in a.items.values], a.arg, a.where
    if not items:
        return pl.lit(None, pl.Float64)
    if isinstance(column, ir.Column) and column.type == "list":
        found = _or_words(rc, column.name, items, where)
        return div(pl.sum_horizontal([f.cast(pl.Float64) for f in found]), len(items))
    if len(set(items)) <= Bits.PER_WORD:
        # Text column: one Aho-Corasick pass finds every keyword, kept as bits of one word.
        keys = list(dict.fromkeys(items))
        bit = {k: 1 << i for i, k in enumerate(keys)}

        def make() -> pl.Expr:
            found = rc.row.expr(column).str.extract_many(keys, overlapping=True)
            word = found.list.eval(pl.element().replace_strict(bit, default=0, return_dtype=pl.Int64)) \
                .list.agg(pl.element().bitwise_or())
            return pl.when(rc.cond_raw(where)).then(word.fill_null(0)).otherwise(0)
        word = rc.col(("words", where, column, tuple(keys)), make)
        return div(pl.sum_horizontal([((word & bit[k]) != 0).any().cast(pl.Float64) for k in items]), len(items))
    found = []
    for k in items:
        def make_one(k: str = k) -> pl.Expr:
            hit = rc.row.expr(column).str.contains(k, literal=True)
            return rc.cond_raw(where) & hit.fill_null(False)
        found.append(rc.col(("has", where, column, k), make_one).any().cast(pl.Float64))
    return div(pl.sum_horizontal(found), len(items))


def _entry(rc: _RowCols, a: ir.Agg) -> pl.Expr:
    where, point = a.where, a.point
    return rc.col(("entry", where, point), lambda: pl.when(rc.cond_raw(where) & (pl.col("point") == point))
                  .then(pl.col("value").cast(pl.Float64))).mean()


def _marker_literals_of(where: ir.Expr | None) -> tuple[str, list[str]] | None:
    """(column, literals) when ``where`` only asks that a list column hold one of the literals."""
    if isinstance(where, ir.RowCall) and where.fn in ("has", "has_any") and is_list(where.args[0]):
        column = where.args[0]
        assert isinstance(column, ir.Column)
        return column.name, where.literals(1)
    if isinstance(where, ir.Op) and where.op == "in" and is_list(where.args[1]):
        lit, column = where.args
        if isinstance(lit, ir.Const) and isinstance(lit.value, str):
            assert isinstance(column, ir.Column)
            return column.name, [lit.value]
    return None


def _or_words(rc: _RowCols, column: str, literals: list[str], where: ir.Expr | None) -> list[pl.Expr]:
    """Per literal, whether any valid row matching ``where`` holds it: the marker bit words of those
    rows OR-ed together in the aggregation (one row column per word, shared by every point),
    then the literal's bit tested — instead of one row column per literal."""
    out = []
    for lit in literals:
        word, mask = rc.plan.bits.locate(rc.table, column, lit)

        def make(src: str = f"b:{column}:{word}") -> pl.Expr:
            return pl.when(rc.cond_raw(where)).then(pl.col(src)).otherwise(0)
        ored = rc.col(("or-word", where, column, word), make).bitwise_or()
        out.append((ored.fill_null(0) & mask) != 0)
    return out


def _any(rc: _RowCols, a: ir.Agg) -> pl.Expr:
    pure = _marker_literals_of(a.where)
    if pure is None:
        return rc.cond(a.where).any()
    column, literals = pure
    return pl.any_horizontal(_or_words(rc, column, literals, None))


_AGG: dict[str, Callable[[_RowCols, ir.Agg], pl.Expr]] = {
    "any": _any,
    "count": lambda rc, a: rc.cond(a.where).sum().cast(pl.Float64),
    "distinct": lambda rc, a: _distinct(rc.value(a.where, a.arg), approx=False),
    "approx_distinct": lambda rc, a: _distinct(rc.value(a.where, a.arg), approx=True),
    "sum": lambda rc, a: rc.value(a.where, a.arg).cast(pl.Float64).sum(),  # an Int64 sum would wrap
    "mean": lambda rc, a: rc.value(a.where, a.arg).mean().cast(pl.Float64),
    "min": lambda rc, a: rc.value(a.where, a.arg).min(),
    "max": lambda rc, a: rc.value(a.where, a.arg).max(),
    "median": lambda rc, a: rc.value(a.where, a.arg).median().cast(pl.Float64),
    "ratio": _ratio,
    "coverage": _coverage,
    "days_since": lambda rc, a: rc.value(a.where, a.arg).max(),
    "entry": _entry,
}


# ------------------------------------------------------------------ unit level (probes, formulas)

# Formulas whose translation reads their argument more than once: a computed argument is worth a column.
_MULTI_USE = {"minmax", "zscore", "rank", "best_ratio", "lognormal"}


def _uses(roots: list[ir.Expr | None]) -> tuple[Counter[ir.Expr], set[ir.Expr]]:
    """How many distinct parents (or points) use each unit-level node, and the nodes that a
    parent's translation reads several times."""
    uses: Counter[ir.Expr] = Counter(r for r in roots if r is not None)
    multi: set[ir.Expr] = set()
    seen: set[ir.Expr] = set()
    stack = [r for r in roots if r is not None]
    while stack:
        e = stack.pop()
        if e in seen or isinstance(e, ir.Agg):  # an aggregate's arguments are row-level
            continue
        seen.add(e)
        kids = list(dict.fromkeys(ir.children(e)))
        uses.update(kids)
        stack.extend(kids)
        if isinstance(e, ir.Steps) or (isinstance(e, ir.Formula) and e.fn in _MULTI_USE):
            multi.add(ir.children(e)[0])
    return uses, multi


def _computed(e: ir.Expr) -> bool:
    """A node that costs work per unit and round (not a literal or a column already there)."""
    if isinstance(e, ir.Agg):
        return e.fn == "days_since"
    return isinstance(e, (ir.Op, ir.Cond, ir.Formula, ir.Steps))


class _Unit:
    """Unit-level IR → polars expressions over the aggregates (and ``x``), memoised per node;
    shared nodes become staged columns (``prefix`` + a number)."""

    def __init__(self, rs: RuleSet, plan: Plan, roots: list[ir.Expr | None], prefix: str,
                 stages: list[list[pl.Expr]], x: pl.Expr | None = None):
        self.rs, self.plan, self.prefix, self.stages, self.x = rs, plan, prefix, stages, x
        self.uses, self.multi = _uses(roots)
        self.memo: dict[ir.Expr, tuple[pl.Expr, int]] = {}
        self.level = 0  # the highest stage read by the expression being built
        self.columns = 0

    def expr(self, e: ir.Expr) -> pl.Expr:
        hit = self.memo.get(e)
        if hit is None:
            outer, self.level = self.level, 0
            fn = _UNIT_NODES.get(type(e))
            if fn is None:
                raise CompileGap(f"no unit-level translation for {type(e).__name__}")
            out, ready = fn(self, e), self.level
            if _computed(e) and (self.uses[e] > 1 or e in self.multi):
                out, ready = self._column(out, ready)
            hit = self.memo[e] = (out, ready)
            self.level = outer
        self.level = max(self.level, hit[1])
        return hit[0]

    def _column(self, e: pl.Expr, ready: int) -> tuple[pl.Expr, int]:
        """``e`` as a column of the stage after the columns it reads."""
        name = f"{self.prefix}{self.columns}"
        self.columns += 1
        while len(self.stages) <= ready:
            self.stages.append([])
        self.stages[ready].append(e.alias(name))
        return pl.col(name), ready + 1

    def aggregate(self, a: ir.Agg) -> pl.Expr:
        aliases = self.plan.aggs[a.table]
        if a not in aliases:
            alias = f"a:{a.table}:{len(aliases)}"
            aliases[a] = alias
            self.plan.agg_exprs[a.table].append(_AGG[a.fn](_RowCols(self.plan, a.table), a).alias(alias))
        col = pl.col(aliases[a])
        if a.fn == "days_since":
            return (pl.col(ASOF) - col.cast(pl.Datetime("us"))).dt.total_days(fractional=True)
        return col


def _num(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Float64)


def _unit_const(e: ir.Const) -> pl.Expr:
    if e.type == "num":
        return pl.lit(e.value, pl.Float64)
    if e.type == "null":
        return pl.lit(None, pl.Float64)
    return pl.lit(e.value)


def _unit_op(u: _Unit, e: ir.Op) -> pl.Expr:
    if e.op == "not":
        return ~u.expr(e.args[0])
    if e.op == "neg":
        return -_num(u.expr(e.args[0]))
    if e.op in ("in", "not in"):
        out = _is_in(u.expr(e.args[0]), e.args[1])
        return ~out if e.op == "not in" else out
    left, right = u.expr(e.args[0]), u.expr(e.args[1])
    if e.op in ("+", "-", "*", "/"):
        left, right = _num(left), _num(right)
    return _BINOPS[e.op](left, right)


def _unit_x(u: _Unit, e: ir.X) -> pl.Expr:
    if u.x is None:
        raise CompileGap("x outside a formula")
    return u.x


def _unit_formula(u: _Unit, e: ir.Formula) -> pl.Expr:
    fn = _MATHS.get(e.fn) or _FORMULA_FNS.get(e.fn)
    if fn is None:
        raise CompileGap(f"no unit-level translation for {e.fn}")
    return fn(u, e)


_UNIT_NODES: dict[type[ir.Expr], Callable[[_Unit, Any], pl.Expr]] = {
    ir.Const: lambda u, e: _unit_const(e),
    ir.X: _unit_x,
    ir.Op: _unit_op,
    ir.Cond: lambda u, e: pl.when(u.expr(e.cond)).then(u.expr(e.then)).otherwise(u.expr(e.else_)),
    ir.Agg: lambda u, e: u.aggregate(e),
    ir.Formula: _unit_formula,
    ir.Steps: lambda u, e: _steps(u, e),
}


def _over(e: pl.Expr) -> pl.Expr:
    return e.over(ROUND)


def _arg(u: _Translator, e: ir.Formula, i: int = 0) -> pl.Expr:
    return _num(u.expr(e.args[i]))


def _finite(e: pl.Expr) -> pl.Expr:
    """A value for normalisations across units: one non-finite value (a log of 0) must not turn
    every unit's mean or spread into inf or NaN, so it is left out (its own unit has no rate)."""
    x = _num(e)
    return pl.when(x.is_finite()).then(x)


def _minmax(u: _Unit, e: ir.Formula) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    lo, hi = _over(x.min()), _over(x.max())
    # All units equal: nobody is ahead; a positive common value is full marks, zero is none.
    return (pl.when(x.is_null()).then(None).when(hi > lo).then(div(x - lo, hi - lo))
            .otherwise((x > 0).cast(pl.Float64)))


def _zscore(u: _Unit, e: ir.Formula) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    span = e.param("span", 3.0)
    # exact sums (§9b); each a column computed once: a Python statistic is never shared by polars
    mean, std = _stage(u, _per_round(x, stats.mean)), _stage(u, _per_round(x, stats.population_sd))
    z = _stage(u, pl.when(std > 0).then(div(x - mean, std)).otherwise(0.0))
    return pl.when(x.is_null()).then(None).otherwise(div(z + span, 2 * span))


def _per_round(x: pl.Expr, fn: Callable[[Any], float]) -> pl.Expr:
    """``fn`` (a statistic of :mod:`govindex.eval.stats`) of ``x`` over the units of the round,
    the same value for each; null where it is NaN."""
    def per_window(s: pl.Series) -> pl.Series:
        return pl.Series([fn(s.cast(pl.Float64).fill_null(math.nan).to_numpy())] * len(s), dtype=pl.Float64)
    return x.map_batches(per_window, return_dtype=pl.Float64).over(ROUND).fill_nan(None)


def _rank(u: _Unit, e: ir.Formula) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    cnt = _over(x.count())
    r = _over(x.rank("average"))
    return pl.when(x.is_null()).then(None).when(cnt > 1).then(div(r - 1, cnt - 1)).otherwise(1.0)


def _best_ratio(u: _Unit, e: ir.Formula) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    best = _over(x.max())
    return pl.when(best > 0).then(div(x, best)).otherwise(pl.when(x.is_null()).then(None).otherwise(0.0))


def _lognormal(u: _Unit, e: ir.Formula) -> pl.Expr:
    curve = dict(e.params).get("curve")
    if curve is not None and curve.value == "lighthouse":
        return curves.lighthouse(_arg(u, e), e.param("p10"), e.param("median"), lambda x: _stage(u, x))
    return curves.exact(_arg(u, e), e.param("p10"), e.param("median"))


def _stage(u: _Unit, e: pl.Expr) -> pl.Expr:
    """``e`` as a column of its own, computed once, for a translation that reads it many times."""
    col, ready = u._column(e, u.level)
    u.level = max(u.level, ready)
    return col


def _strict(fn: Callable[[list[pl.Expr]], pl.Expr]) -> Callable[[_Translator, ir.Formula], pl.Expr]:
    """``fn`` of the arguments, null when any of them is null (``min``/``max``/``avg`` skip nulls)."""
    def build(u: _Translator, e: ir.Formula) -> pl.Expr:
        args = [_num(u.expr(a)) for a in e.args]
        return pl.when(pl.any_horizontal([a.is_null() for a in args])).then(None).otherwise(fn(args))
    return build


def _steps(u: _Unit, e: ir.Steps) -> pl.Expr:
    x = _num(u.expr(e.arg))
    pairs = sorted(((t, u.expr(rate)) for t, rate in e.table.pairs), key=lambda kv: kv[0])
    if not pairs:
        return pl.lit(0.0)
    return pl.when(x.is_null()).then(None).otherwise(_search(x, pairs, 0, len(pairs), pl.lit(0.0), e.down))


def _search(x: pl.Expr, pairs: list[tuple[float, pl.Expr]], lo: int, hi: int, beyond: pl.Expr,
            down: bool) -> pl.Expr:
    """The rate of the highest threshold of ``pairs[lo:hi]`` that ``x`` reaches (``down``: the
    lowest that ``x`` stays within), ``beyond`` when none does: a binary search as nested
    when/then, log₂(T) deep — a chain of T when/thens costs polars time and memory quadratic
    in T. The test is monotone in the threshold, so both pick the same rate, NaN included."""
    if lo == hi:
        return beyond
    mid = (lo + hi) // 2
    t, rate = pairs[mid]
    if down:
        return pl.when(x <= t).then(_search(x, pairs, lo, mid, rate, down)) \
            .otherwise(_search(x, pairs, mid + 1, hi, beyond, down))
    return pl.when(x >= t).then(_search(x, pairs, mid + 1, hi, rate, down)) \
        .otherwise(_search(x, pairs, lo, mid, beyond, down))


def _rounded(u: _Translator, e: ir.Formula, mode: str) -> pl.Expr:
    """x rounded to a literal number of digits (checked: 0–15), by a mode of :mod:`govindex.eval.rounding`."""
    digits = e.args[1] if len(e.args) > 1 else ir.Const(0.0, "num")
    assert isinstance(digits, ir.Const) and isinstance(digits.value, float)
    return round_expr(_arg(u, e), int(digits.value), mode)


def _avg(args: list[pl.Expr]) -> pl.Expr:
    """The mean of the arguments that are not null: their sum left to right, then one IEEE
    division by their number (null when every argument is)."""
    n = pl.sum_horizontal([a.is_not_null().cast(pl.Float64) for a in args])
    total = args[0].fill_null(0.0)
    for a in args[1:]:  # left to right: polars' sum_horizontal adds in another order
        total = total + a.fill_null(0.0)
    return pl.when(n > 0).then(div(total, n))


def _variadic(fn: Callable[[list[pl.Expr]], pl.Expr]) -> Callable[[_Translator, ir.Formula], pl.Expr]:
    return lambda u, e: fn([_num(u.expr(a)) for a in e.args])


_MATHS: dict[str, Callable[[_Translator, ir.Formula], pl.Expr]] = {
    "log": lambda u, e: _arg(u, e).log(),
    "sqrt": lambda u, e: _arg(u, e).sqrt(),
    "abs": lambda u, e: _arg(u, e).abs(),
    "clamp": lambda u, e: _arg(u, e).clip(u.expr(e.args[1]), u.expr(e.args[2])),
    "coalesce": lambda u, e: pl.coalesce([u.expr(a) for a in e.args]),
    "round": lambda u, e: _rounded(u, e, str(dict(e.params).get("mode", ir.Const("half_up", "str")).value)),
    "floor": lambda u, e: _rounded(u, e, "floor"),
    "ceil": lambda u, e: _rounded(u, e, "ceil"),
    "exp": lambda u, e: _arg(u, e).exp(),
    "ln": lambda u, e: _arg(u, e).log(),
    "pow": lambda u, e: _arg(u, e).pow(_arg(u, e, 1)),
}

def _statistic(u: _Unit, e: ir.Formula) -> pl.Expr:
    """A statistic across the units of the round (and of the group ``by:``; those where ``where:``
    holds), the same value for each: :mod:`govindex.eval.stats` itself runs on each window —
    the one Python function in a plan, because polars' sums are not exact and the statistics
    are defined to the bit (§9b)."""
    x = _finite(u.expr(e.args[0]))
    if e.where is not None:
        x = pl.when(u.expr(e.where).fill_null(False)).then(x)
    extra = e.args[1].value if len(e.args) > 1 and isinstance(e.args[1], ir.Const) else None
    fn = _STATS[e.fn]
    qtype = int(e.param("type", 7.0))

    def per_window(s: pl.Series) -> pl.Series:
        v = s.cast(pl.Float64).fill_null(math.nan).to_numpy()
        return pl.Series([fn(v, extra, qtype)] * len(s), dtype=pl.Float64)

    keys: list[pl.Expr] = [pl.col(ROUND)]
    by = dict(e.params).get("by")
    if by is not None:
        groups = {un.code: un.attrs.get(str(by.value), "") for un in u.rs.units}
        keys.append(pl.col("code").replace_strict(groups, default="", return_dtype=pl.String))
    return x.map_batches(per_window, return_dtype=pl.Float64).over(keys).fill_nan(None)


_STATS: dict[str, Callable[[Any, Any, int], float]] = {
    "units_mean": lambda v, a, t: stats.mean(v),
    "units_median": lambda v, a, t: stats.median(v),
    "units_sd": lambda v, a, t: stats.sd(v),
    "units_skewness": lambda v, a, t: stats.skewness(v),
    "units_kurtosis": lambda v, a, t: stats.kurtosis(v),
    "units_quantile": lambda v, a, t: stats.quantile(v, float(a), t),
    "units_kth_largest": lambda v, a, t: stats.kth_largest(v, int(a)),
    "units_count": lambda v, a, t: stats.count(v),
}

_FORMULA_FNS: dict[str, Callable[[_Unit, ir.Formula], pl.Expr]] = {
    "presence": lambda u, e: (_arg(u, e) > 0).cast(pl.Float64),
    "linear": lambda u, e: div(_arg(u, e), e.param("cap")),
    "ramp": lambda u, e: div(_arg(u, e) - e.param("lo"), e.param("hi") - e.param("lo")),
    "goalpost": lambda u, e: div(_arg(u, e) - e.param("lo"), e.param("hi") - e.param("lo")),
    "log_scale": lambda u, e: div(_arg(u, e).clip(lower_bound=0).log1p(), math.log1p(e.param("cap"))),
    "sqrt_scale": lambda u, e: div(_arg(u, e).clip(lower_bound=0).sqrt(), math.sqrt(e.param("cap"))),
    "minmax": _minmax,
    "zscore": _zscore,
    "rank": _rank,
    "best_ratio": _best_ratio,
    "lognormal": _lognormal,
    "decay": lambda u, e: pl.lit(0.5).pow(div(_arg(u, e).clip(lower_bound=0), e.param("half_life"))),
    "sigmoid": lambda u, e: 1 / (1 + (-(e.param("steepness", 1.0)) * (_arg(u, e) - e.param("mid"))).exp()),
    "min": _variadic(pl.min_horizontal),
    "max": _variadic(pl.max_horizontal),
    "avg": _variadic(_avg),
    **{name: _statistic for name in _STATS},
    "strict_min": _strict(pl.min_horizontal),
    "strict_max": _strict(pl.max_horizontal),
    "strict_avg": _strict(_avg),
}


# ------------------------------------------------------------------ row conditions for others


def row_condition(rs: RuleSet, table: str, e: ir.Expr) -> pl.Expr:
    """A checked row condition on ``table`` as a polars expression (null counts as false): what
    extraction uses for markers and cleaning rules."""
    return _Row(rs, table).expr(e).fill_null(False)


def row_value(rs: RuleSet, table: str, e: ir.Expr) -> pl.Expr:
    """A checked row expression on ``table`` (a column, ``days_between(a, b)``…) as polars: the
    value an aggregate reads from each row, for explain's evidence."""
    return _Row(rs, table).expr(e)


def row_filter(rs: RuleSet, agg: ir.Agg) -> pl.Expr:
    """The row condition an aggregate applies (table validity, ``where:``, and the point of an
    ``entry``), for explain."""
    cond = valid_condition(rs, agg.table)
    if agg.where is not None:
        cond = cond & _Row(rs, agg.table).expr(agg.where).fill_null(False)
    if agg.fn == "entry" and agg.point is not None:
        cond = cond & (pl.col("point") == agg.point)
    return cond


# ------------------------------------------------------------------ manual entries at scoring
#
# A manual point's declared `values:`/`range:` hold at scoring as at import: facts written by
# other means (an adapter, a hand-made parquet, an older import) are checked too. Per unit ×
# round, an entry outside them or not finite, or two entries with different values for the same
# point, make the point's status `error` (evaluate reads `Plan.guards`) — never a score, never an
# average of a conflict.

ENTRY_EPS = 1e-9  # an entry equals an allowed value within this (relative to the value, at least absolute)


def entry_allowed(settings: dict[str, n.Expr]) -> tuple[tuple[float, ...] | None, tuple[float, float] | None]:
    """A point's declared ``values:`` and ``range:`` as numbers (None where not declared)."""
    def floats(key: str) -> tuple[float, ...] | None:
        items = getattr(settings.get(key), "items", None)
        return None if items is None else tuple(float(x.value) for x in items)
    rng = floats("range")
    return floats("values"), (rng[0], rng[1]) if rng is not None and len(rng) == 2 else None


def entry_ok(values: tuple[float, ...] | None, rng: tuple[float, float] | None, x: pl.Expr) -> pl.Expr:
    """Whether an entry ``x`` may be scored: finite, one of ``values`` and inside ``rng`` (each if
    declared), within :data:`ENTRY_EPS`."""
    ok = x.is_finite()
    if values is not None:
        ok = ok & pl.any_horizontal([(x - v).abs() <= ENTRY_EPS * max(1.0, abs(v)) for v in values] or [pl.lit(False)])
    if rng is not None:
        ok = ok & (x >= rng[0] - ENTRY_EPS) & (x <= rng[1] + ENTRY_EPS)
    return ok


def _guard_entries(rs: RuleSet, plan: Plan, p: Node) -> None:
    """For every ``entry(T)`` a point reads, count per unit × round its entries that may not be
    scored, plus 1 if they disagree; the point's status is ``error`` where a count is positive."""
    for agg in ir.aggregates(p.probe):
        if agg.fn == "entry":
            plan.guards.setdefault(p.id, []).append(_guard_entry(plan, p, agg))


def _guard_entry(plan: Plan, p: Node, a: ir.Agg) -> str:
    values, rng = entry_allowed(p.settings)
    rc = _RowCols(plan, a.table)
    where = a.where
    mine = rc.cond_raw(where) & (pl.col("point") == p.id)
    value = pl.col("value").cast(pl.Float64)
    entries = rc.col(("entry", where, p.id), lambda: pl.when(mine).then(value))  # the column `_entry` averages
    bad = rc.col(("entry-bad", where, p.id), lambda: mine & ~entry_ok(values, rng, value).fill_null(True))
    conflict = (_distinct(entries, approx=False) > 1).cast(pl.Int64)
    alias = f"a:{rc.table}:guard:{p.id}"
    plan.agg_exprs[rc.table].append((bad.sum() + conflict).alias(alias))
    return alias
