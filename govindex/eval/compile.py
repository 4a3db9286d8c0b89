"""A checked rule set → a polars plan: per fact table, one ``group_by(unit, round).agg(...)``
holding every aggregate that any probe asks of that table; per point, a unit-level probe
expression over those aggregates and a formula expression over the probe's value.

Dispatch is by table (``_ROW``, ``_AGG``, ``_UNIT``); a name with no translation raises
:class:`CompileGap`, a bug, never a user error (the checker has vetted every name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from govindex.ir import Node, RuleSet
from govindex.lang import nodes as n

ROUND = "__round"
ASOF = "__asof"


class CompileGap(Exception):
    """The compiler met a construct it has no translation for (a bug in govindex)."""


@dataclass
class Plan:
    aggs: dict[str, dict[n.Call, str]] = field(default_factory=dict)  # table → call → alias
    agg_exprs: dict[str, list[pl.Expr]] = field(default_factory=dict)  # table → aliased polars exprs
    row_cols: dict[str, dict[tuple, str]] = field(default_factory=dict)  # table → row-column key → alias
    row_exprs: dict[str, list[pl.Expr]] = field(default_factory=dict)  # table → row columns for with_columns
    row_raw: dict[str, dict[tuple, pl.Expr]] = field(default_factory=dict)  # table → key → unaliased expr
    bits: Bits = field(default_factory=lambda: Bits())
    valid: dict[str, pl.Expr] = field(default_factory=dict)  # table → its `valid when` condition
    probes: dict[str, pl.Expr] = field(default_factory=dict)  # point → value expr (unit × round)
    tables_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # point → tables read
    formulas: dict[str, pl.Expr] = field(default_factory=dict)  # point → rate expr
    guards: dict[str, list[str]] = field(default_factory=dict)  # point → counts of entries it must not score

    def prep_exprs(self, table: str) -> list[pl.Expr]:
        """Columns computed once before the row columns: validity and marker bit words."""
        return [self.valid[table].alias(valid_col(table)), *self.bits.prep(table)]


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
        plan.aggs[t] = {}
        plan.agg_exprs[t] = [pl.len().alias(rows_col(t)), _RowCols(rs, plan, t).cond(None).sum().alias(ok_col(t))]
    for p in rs.points:
        c = _Unit(rs, plan, p.id)
        plan.probes[p.id] = c.expr(p.probe)
        plan.tables_of[p.id] = tuple(sorted(c.tables))
        f = _Unit(rs, plan, p.id, x=pl.col(value_col(p.id)))
        plan.formulas[p.id] = f.expr(p.score).cast(pl.Float64)
        _guard_entries(rs, plan, p)
    return plan


def valid_condition(rs: RuleSet, table: str) -> pl.Expr:
    """The row condition of a table's `valid when` rule (always true without one)."""
    v = rs.tables[table].valid
    if v is None:  # a column expression, not a literal: a literal does not broadcast inside agg()
        return pl.col(rs.unit_column).is_not_null()
    return _Row(rs, table).expr(v).fill_null(False)


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
    def __init__(self, rs: RuleSet, table: str, bits: Bits | None = None):
        self.rs, self.table, self.bits = rs, table, bits
        self.cols = rs.tables[table].columns

    def has(self, column: n.Expr, literal: str) -> pl.Expr:
        if self.bits is not None and isinstance(column, n.Name) and self.is_list(column):
            return self.bits.test(self.table, column.id, literal)
        return self.expr(column).list.contains(literal)

    def expr(self, e: n.Expr) -> pl.Expr:
        if isinstance(e, n.Name):
            return pl.col(e.id)
        if isinstance(e, (n.Number, n.Bool)):
            return pl.lit(e.value)
        if isinstance(e, n.String):
            return pl.lit(e.value)
        if isinstance(e, n.Null):
            return pl.lit(None)
        if isinstance(e, n.Unary):
            inner = self.expr(e.operand)
            return ~inner if e.op == "not" else -_num(inner)
        if isinstance(e, n.If):
            return pl.when(self.expr(e.cond).fill_null(False)).then(self.expr(e.then)).otherwise(self.expr(e.else_))
        if isinstance(e, n.Binary):
            return self._binary(e)
        if isinstance(e, n.Call):
            fn = _ROW_FNS.get(e.fn) or _MATHS.get(e.fn)
            if fn is None:
                raise CompileGap(f"no row translation for {e.fn}")
            return fn(self, e)
        raise CompileGap(f"no row translation for {type(e).__name__}")

    def is_datetime(self, e: n.Expr) -> bool:
        return isinstance(e, n.Name) and self.cols.get(e.id) in ("date", "datetime")

    def is_list(self, e: n.Expr) -> bool:
        return isinstance(e, n.Name) and self.cols.get(e.id) == "list[str]"

    def _binary(self, e: n.Binary) -> pl.Expr:
        if e.op in ("in", "not in"):
            if self.is_list(e.right):
                out = (self.has(e.right, e.left.value) if isinstance(e.left, n.String)
                       else pl.col(e.right.id).list.contains(self.expr(e.left)))
            else:
                items = _literal_list(e.right)
                left = self.expr(e.left)
                if items and all(isinstance(i, float) for i in items):
                    left = left.cast(pl.Float64)  # number literals are floats; int columns compare as such
                out = left.is_in(items)
            return ~out if e.op == "not in" else out
        left, right = self.expr(e.left), self.expr(e.right)
        if e.op in ("+", "-", "*"):  # in float64: integer arithmetic would wrap silently past 2^63
            left, right = _num(left), _num(right)
        if self.is_datetime(e.left) and isinstance(e.right, n.String):
            right = pl.lit(datetime.fromisoformat(e.right.value))
        if self.is_datetime(e.right) and isinstance(e.left, n.String):
            left = pl.lit(datetime.fromisoformat(e.left.value))
        return _BINOPS[e.op](left, right)


def _literal_list(e: n.Expr) -> list:
    if isinstance(e, n.ListLit):
        return [i.value for i in e.items]  # type: ignore[union-attr]
    raise CompileGap("`in` needs a list literal")


def _s(e: n.Expr) -> str:
    assert isinstance(e, n.String)
    return e.value


def _has_any(r: _Row, e: n.Call, all_: bool = False) -> pl.Expr:
    parts = [r.has(e.args[0], v) for v in _literal_list(e.args[1])]
    if not parts:
        return pl.lit(all_)
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if all_ else (out | p)
    return out


_ROW_FNS = {
    "has": lambda r, e: r.has(e.args[0], _s(e.args[1])),
    "has_any": lambda r, e: _has_any(r, e),
    "has_all": lambda r, e: _has_any(r, e, all_=True),
    "contains": lambda r, e: r.expr(e.args[0]).str.contains(_s(e.args[1]), literal=True),
    "contains_any": lambda r, e: r.expr(e.args[0]).str.contains_any(_literal_list(e.args[1])),
    "matches": lambda r, e: r.expr(e.args[0]).str.contains(_s(e.args[1])),
    "starts_with": lambda r, e: r.expr(e.args[0]).str.starts_with(_s(e.args[1])),
    "ends_with": lambda r, e: r.expr(e.args[0]).str.ends_with(_s(e.args[1])),
    "length": lambda r, e: (r.expr(e.args[0]).list.len() if r.is_list(e.args[0])
                            else r.expr(e.args[0]).str.len_chars()).cast(pl.Float64),
    "days_between": lambda r, e: (_dt(r, e.args[1]) - _dt(r, e.args[0])).dt.total_days(fractional=True),
    "present": lambda r, e: r.expr(e.args[0]).is_not_null(),
}


def _dt(r: _Row, e: n.Expr) -> pl.Expr:
    if isinstance(e, n.String):
        return pl.lit(datetime.fromisoformat(e.value))
    return r.expr(e)


_BINOPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: pl.when(b != 0).then(a / b),
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
# between points (keys are ASTs, which compare without source positions).


class _RowCols:
    def __init__(self, rs: RuleSet, plan: Plan, table: str):
        self.rs, self.plan, self.table = rs, plan, table
        self.row = _Row(rs, table, plan.bits)
        self.cols = plan.row_cols.setdefault(table, {})
        self.raw: dict[tuple, pl.Expr] = plan.row_raw.setdefault(table, {})

    def col(self, key: tuple, make) -> pl.Expr:
        """The column for ``key``; ``make()`` builds its expression from raw (not aliased) parts,
        since columns added in one ``with_columns`` cannot see each other."""
        if key not in self.cols:
            alias = f"c:{self.table}:{len(self.cols)}"
            self.cols[key] = alias
            self.raw[key] = make()
            self.plan.row_exprs.setdefault(self.table, []).append(self.raw[key].alias(alias))
        return pl.col(self.cols[key])

    def cond(self, where: n.Expr | None) -> pl.Expr:
        return self.col(("cond", where), lambda: self.cond_raw(where))

    def cond_raw(self, where: n.Expr | None) -> pl.Expr:
        c = pl.col(valid_col(self.table))
        return c if where is None else c & self.row.expr(where).fill_null(False)

    def value(self, where: n.Expr | None, value: n.Expr) -> pl.Expr:
        return self.col(("value", where, value), lambda: pl.when(self.cond_raw(where)).then(self.row.expr(value)))


def _agg(rs: RuleSet, plan: Plan, call: n.Call, point: str) -> pl.Expr:
    rc = _RowCols(rs, plan, call.args[0].id)  # type: ignore[union-attr]
    return _AGG[call.fn](rc, call, call.kwarg("where"), point)


def _distinct(v: pl.Expr, approx: bool) -> pl.Expr:
    uniq = v.approx_n_unique() if approx else v.n_unique()
    return uniq.cast(pl.Float64) - (v.null_count() > 0).cast(pl.Float64)


def _ratio(rc: _RowCols, call: n.Call, where: n.Expr | None, _p: str) -> pl.Expr:
    base = rc.cond(where)
    hit = rc.col(("ratio", where, call.args[1]),
                 lambda: rc.cond_raw(where) & rc.row.expr(call.args[1]).fill_null(False))
    den = base.sum()
    return pl.when(den > 0).then(hit.sum() / den)


def _coverage(rc: _RowCols, call: n.Call, where: n.Expr | None, _p: str) -> pl.Expr:
    items = _literal_list(call.args[2])
    if not items:
        return pl.lit(None, pl.Float64)
    column = call.args[1]
    if rc.row.is_list(column) and isinstance(column, n.Name):
        found = _or_words(rc, column.id, [str(i) for i in items], where)
        return pl.sum_horizontal([f.cast(pl.Float64) for f in found]) / len(items)
    if not rc.row.is_list(column) and len(set(items)) <= Bits.PER_WORD:
        # Text column: one Aho-Corasick pass finds every keyword, kept as bits of one word.
        keys = list(dict.fromkeys(items))
        bit = {k: 1 << i for i, k in enumerate(keys)}

        def make() -> pl.Expr:
            found = rc.row.expr(column).str.extract_many(keys, overlapping=True)
            word = found.list.eval(pl.element().replace_strict(bit, default=0, return_dtype=pl.Int64)) \
                .list.agg(pl.element().bitwise_or())
            return pl.when(rc.cond_raw(where)).then(word.fill_null(0)).otherwise(0)
        word = rc.col(("words", where, column, tuple(keys)), make)
        return pl.sum_horizontal([((word & bit[k]) != 0).any().cast(pl.Float64) for k in items]) / len(items)
    found = []
    for k in items:
        def make(k=k) -> pl.Expr:
            col = rc.row.expr(column)
            hit = rc.row.has(column, k) if rc.row.is_list(column) else col.str.contains(k, literal=True)
            return rc.cond_raw(where) & hit.fill_null(False)
        found.append(rc.col(("has", where, column, k), make).any().cast(pl.Float64))
    return pl.sum_horizontal(found) / len(items)


def _entry(rc: _RowCols, call: n.Call, where: n.Expr | None, point: str) -> pl.Expr:
    return rc.col(("entry", where, point), lambda: pl.when(rc.cond_raw(where) & (pl.col("point") == point))
                  .then(pl.col("value").cast(pl.Float64))).mean()


def _marker_literals_of(rc: _RowCols, where: n.Expr | None) -> tuple[str, list[str]] | None:
    """(column, literals) when ``where`` only asks that a list column hold one of the literals."""
    if isinstance(where, n.Call) and where.fn in ("has", "has_any") and isinstance(where.args[0], n.Name) \
            and rc.row.is_list(where.args[0]):
        lits = _literal_list(where.args[1]) if where.fn == "has_any" else [_s(where.args[1])]
        return where.args[0].id, [str(x) for x in lits]
    if isinstance(where, n.Binary) and where.op == "in" and isinstance(where.left, n.String) \
            and isinstance(where.right, n.Name) and rc.row.is_list(where.right):
        return where.right.id, [where.left.value]
    return None


def _or_words(rc: _RowCols, column: str, literals: list[str], where: n.Expr | None) -> list[pl.Expr]:
    """Per literal, whether any valid row matching ``where`` holds it: the marker bit words of those
    rows OR-ed together in the aggregation (one row column per word, shared by every point),
    then the literal's bit tested — instead of one row column per literal."""
    out = []
    for lit in literals:
        word, mask = rc.plan.bits.locate(rc.table, column, lit)
        src = f"b:{column}:{word}"
        ored = rc.col(("or-word", where, column, word),
                      lambda src=src: pl.when(rc.cond_raw(where)).then(pl.col(src)).otherwise(0)).bitwise_or()
        out.append((ored.fill_null(0) & mask) != 0)
    return out


def _any(rc: _RowCols, call: n.Call, where: n.Expr | None, _p: str) -> pl.Expr:
    pure = _marker_literals_of(rc, where)
    if pure is None:
        return rc.cond(where).any()
    column, literals = pure
    return pl.any_horizontal(_or_words(rc, column, literals, None))


_AGG = {
    "any": _any,
    "count": lambda rc, c, w, p: rc.cond(w).sum().cast(pl.Float64),
    "distinct": lambda rc, c, w, p: _distinct(rc.value(w, c.args[1]), approx=False),
    "approx_distinct": lambda rc, c, w, p: _distinct(rc.value(w, c.args[1]), approx=True),
    "sum": lambda rc, c, w, p: rc.value(w, c.args[1]).cast(pl.Float64).sum(),  # an Int64 sum would wrap
    "mean": lambda rc, c, w, p: rc.value(w, c.args[1]).mean().cast(pl.Float64),
    "min": lambda rc, c, w, p: rc.value(w, c.args[1]).min(),
    "max": lambda rc, c, w, p: rc.value(w, c.args[1]).max(),
    "median": lambda rc, c, w, p: rc.value(w, c.args[1]).median().cast(pl.Float64),
    "ratio": _ratio,
    "coverage": _coverage,
    "days_since": lambda rc, c, w, p: rc.value(w, c.args[1]).max(),
    "entry": _entry,
}


# ------------------------------------------------------------------ unit level (probes, formulas)


class _Unit:
    def __init__(self, rs: RuleSet, plan: Plan, point: str, x: pl.Expr | None = None):
        self.rs, self.plan, self.point, self.x = rs, plan, point, x
        self.tables: set[str] = set()

    def expr(self, e: n.Expr) -> pl.Expr:
        if isinstance(e, n.Name):
            if e.id == "x" and self.x is not None:
                return self.x
            raise CompileGap(f"unresolved name {e.id}")
        if isinstance(e, n.Bool):
            return pl.lit(e.value)
        if isinstance(e, n.Number):
            return pl.lit(e.value, pl.Float64)
        if isinstance(e, n.String):
            return pl.lit(e.value)
        if isinstance(e, n.Null):
            return pl.lit(None, pl.Float64)
        if isinstance(e, n.Unary):
            inner = self.expr(e.operand)
            return ~inner if e.op == "not" else -_num(inner)
        if isinstance(e, n.If):
            return pl.when(self.expr(e.cond)).then(self.expr(e.then)).otherwise(self.expr(e.else_))
        if isinstance(e, n.Binary):
            left, right = self.expr(e.left), self.expr(e.right)
            if e.op in ("+", "-", "*", "/"):
                left, right = _num(left), _num(right)
            if e.op in ("in", "not in"):
                items = _literal_list(e.right)
                if items and all(isinstance(i, float) for i in items):
                    left = left.cast(pl.Float64)
                out = left.is_in(items)
                return ~out if e.op == "not in" else out
            return _BINOPS[e.op](left, right)
        if isinstance(e, n.Call):
            if e.args and isinstance(e.args[0], n.Name) and e.args[0].id in self.rs.tables:
                return self._aggregate(e)
            fn = _MATHS.get(e.fn) or _FORMULA_FNS.get(e.fn)
            if fn is None:
                raise CompileGap(f"no unit-level translation for {e.fn}")
            return fn(self, e)
        raise CompileGap(f"no unit-level translation for {type(e).__name__}")

    def _aggregate(self, call: n.Call) -> pl.Expr:
        table = call.args[0].id  # type: ignore[union-attr]
        self.tables.add(table)
        key = call if call.fn != "entry" else n.Call("entry", call.args, (n.Kwarg("point", n.String(self.point)),))
        aliases = self.plan.aggs[table]
        if key not in aliases:
            alias = f"a:{table}:{len(aliases)}"
            aliases[key] = alias
            self.plan.agg_exprs[table].append(_agg(self.rs, self.plan, call, self.point).alias(alias))
        col = pl.col(aliases[key])
        if call.fn == "days_since":
            return (pl.col(ASOF) - col.cast(pl.Datetime("us"))).dt.total_days(fractional=True)
        return col

    def kw(self, e: n.Call, name: str, default: float | None = None) -> float:
        v = e.kwarg(name)
        if v is None:
            if default is None:
                raise CompileGap(f"{e.fn} needs {name}")
            return default
        assert isinstance(v, n.Number)
        return v.value


def _num(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Float64)


def _over(e: pl.Expr) -> pl.Expr:
    return e.over(ROUND)


def _finite(e: pl.Expr) -> pl.Expr:
    """A value for normalisations across units: one non-finite value (a log of 0) must not turn
    every unit's mean or spread into inf or NaN, so it is left out (its own unit has no rate)."""
    x = _num(e)
    return pl.when(x.is_finite()).then(x)


def _minmax(u: _Unit, e: n.Call) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    lo, hi = _over(x.min()), _over(x.max())
    # All units equal: nobody is ahead; a positive common value is full marks, zero is none.
    return (pl.when(x.is_null()).then(None).when(hi > lo).then((x - lo) / (hi - lo))
            .otherwise((x > 0).cast(pl.Float64)))


def _zscore(u: _Unit, e: n.Call) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    span = u.kw(e, "span", 3.0)
    mean, std = _over(x.mean()), _over(x.std(ddof=0))
    z = pl.when(std > 0).then((x - mean) / std).otherwise(0.0)
    return pl.when(x.is_null()).then(None).otherwise((z + span) / (2 * span))


def _rank(u: _Unit, e: n.Call) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    cnt = _over(x.count())
    r = _over(x.rank("average"))
    return pl.when(x.is_null()).then(None).when(cnt > 1).then((r - 1) / (cnt - 1)).otherwise(1.0)


def _best_ratio(u: _Unit, e: n.Call) -> pl.Expr:
    x = _finite(u.expr(e.args[0]))
    best = _over(x.max())
    return pl.when(best > 0).then(x / best).otherwise(pl.when(x.is_null()).then(None).otherwise(0.0))


def _phi(z: pl.Expr) -> pl.Expr:
    # Standard normal CDF by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): no UDF needed.
    y = z.abs() / math.sqrt(2)
    t = 1 / (1 + 0.3275911 * y)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1 - poly * (-(y * y)).exp()
    return 0.5 * (1 + pl.when(z >= 0).then(erf).otherwise(-erf))


def _lognormal(u: _Unit, e: n.Call) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
    p10, median = u.kw(e, "p10"), u.kw(e, "median")
    lower_better = p10 < median
    sigma = abs(math.log(p10) - math.log(median)) / 1.2815515655446004
    z = (x.clip(lower_bound=1e-12).log() - math.log(median)) / sigma
    p = _phi(z)
    score = (1 - p) if lower_better else p
    return pl.when(x.is_null()).then(None).when(x <= 0).then(1.0 if lower_better else 0.0).otherwise(score)


def _steps(u: _Unit, e: n.Call, down: bool) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
    table = e.args[1]
    assert isinstance(table, n.MapLit)
    pairs = sorted(((float(p.key), u.expr(p.value)) for p in table.pairs), key=lambda kv: kv[0], reverse=not down)
    chain = None
    for t, rate in pairs:
        test = (x <= t) if down else (x >= t)
        chain = pl.when(test).then(rate) if chain is None else chain.when(test).then(rate)
    if chain is None:
        return pl.lit(0.0)
    return pl.when(x.is_null()).then(None).otherwise(chain.otherwise(0.0))


def _variadic(fn):
    return lambda u, e: fn([_num(u.expr(a)) for a in e.args])


_MATHS = {
    "log": lambda u, e: _num(u.expr(e.args[0])).log(),
    "sqrt": lambda u, e: _num(u.expr(e.args[0])).sqrt(),
    "abs": lambda u, e: _num(u.expr(e.args[0])).abs(),
    "clamp": lambda u, e: _num(u.expr(e.args[0])).clip(u.expr(e.args[1]), u.expr(e.args[2])),
    "coalesce": lambda u, e: pl.coalesce([u.expr(a) for a in e.args]),
}

_FORMULA_FNS = {
    "presence": lambda u, e: (_num(u.expr(e.args[0])) > 0).cast(pl.Float64),
    "linear": lambda u, e: _num(u.expr(e.args[0])) / u.kw(e, "cap"),
    "ramp": lambda u, e: (_num(u.expr(e.args[0])) - u.kw(e, "lo")) / (u.kw(e, "hi") - u.kw(e, "lo")),
    "goalpost": lambda u, e: (_num(u.expr(e.args[0])) - u.kw(e, "lo")) / (u.kw(e, "hi") - u.kw(e, "lo")),
    "steps": lambda u, e: _steps(u, e, down=False),
    "steps_down": lambda u, e: _steps(u, e, down=True),
    "log_scale": lambda u, e: _num(u.expr(e.args[0])).clip(lower_bound=0).log1p() / math.log1p(u.kw(e, "cap")),
    "sqrt_scale": lambda u, e: _num(u.expr(e.args[0])).clip(lower_bound=0).sqrt() / math.sqrt(u.kw(e, "cap")),
    "minmax": _minmax,
    "zscore": _zscore,
    "rank": _rank,
    "best_ratio": _best_ratio,
    "lognormal": _lognormal,
    "decay": lambda u, e: pl.lit(0.5).pow(_num(u.expr(e.args[0])).clip(lower_bound=0) / u.kw(e, "half_life")),
    "sigmoid": lambda u, e: 1 / (1 + (-(u.kw(e, "steepness", 1.0)) * (_num(u.expr(e.args[0])) - u.kw(e, "mid"))).exp()),
    "min": _variadic(pl.min_horizontal),
    "max": _variadic(pl.max_horizontal),
    "avg": _variadic(pl.mean_horizontal),
}


def row_condition(rs: RuleSet, table: str, e: n.Expr) -> pl.Expr:
    """A checked row condition on ``table`` as a polars expression (null counts as false): what
    extraction uses for markers and cleaning rules."""
    return _Row(rs, table).expr(e).fill_null(False)


def row_filter(rs: RuleSet, call: n.Call, point: str | None = None) -> pl.Expr:
    """The row condition an aggregate applies (table validity and ``where:``), for explain."""
    table = call.args[0].id  # type: ignore[union-attr]
    cond = valid_condition(rs, table)
    where = call.kwarg("where")
    if where is not None:
        cond = cond & _Row(rs, table).expr(where).fill_null(False)
    if call.fn == "entry" and point is not None:
        cond = cond & (pl.col("point") == point)
    return cond


def aggregates_in(e: n.Expr, tables: dict) -> list[n.Call]:
    """Every aggregate call in a (let-expanded) probe expression, in reading order."""
    out: list[n.Call] = []

    def walk(x: n.Expr) -> None:
        if isinstance(x, n.Call):
            if x.args and isinstance(x.args[0], n.Name) and x.args[0].id in tables:
                out.append(x)
                return
            for a in x.args:
                walk(a)
            for k in x.kwargs:
                walk(k.value)
        elif isinstance(x, n.Binary):
            walk(x.left)
            walk(x.right)
        elif isinstance(x, n.Unary):
            walk(x.operand)
        elif isinstance(x, n.If):
            walk(x.cond)
            walk(x.then)
            walk(x.else_)

    walk(e)
    return out


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
    for call in aggregates_in(p.probe, rs.tables) if p.probe is not None else ():
        if call.fn == "entry":
            plan.guards.setdefault(p.id, []).append(_guard_entry(rs, plan, p, call))


def _guard_entry(rs: RuleSet, plan: Plan, p: Node, call: n.Call) -> str:
    values, rng = entry_allowed(p.settings)
    rc = _RowCols(rs, plan, call.args[0].id)  # type: ignore[union-attr]
    where = call.kwarg("where")
    mine = rc.cond_raw(where) & (pl.col("point") == p.id)
    value = pl.col("value").cast(pl.Float64)
    entries = rc.col(("entry", where, p.id), lambda: pl.when(mine).then(value))  # the column `_entry` averages
    bad = rc.col(("entry-bad", where, p.id), lambda: mine & ~entry_ok(values, rng, value).fill_null(True))
    conflict = (_distinct(entries, approx=False) > 1).cast(pl.Int64)
    alias = f"a:{rc.table}:guard:{p.id}"
    plan.agg_exprs[rc.table].append((bad.sum() + conflict).alias(alias))
    return alias
