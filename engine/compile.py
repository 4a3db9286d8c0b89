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

from engine import nodes as n
from engine.model import RuleSet

ROUND = "__round"
ASOF = "__asof"


class CompileGap(Exception):
    """The compiler met a construct it has no translation for (a bug in govindex)."""


@dataclass
class Plan:
    aggs: dict[str, dict[n.Call, str]] = field(default_factory=dict)  # table → call → alias
    agg_exprs: dict[str, list[pl.Expr]] = field(default_factory=dict)  # table → aliased polars exprs
    probes: dict[str, pl.Expr] = field(default_factory=dict)  # point → value expr (unit × round)
    tables_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # point → tables read
    formulas: dict[str, pl.Expr] = field(default_factory=dict)  # point → rate expr


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
        plan.aggs[t] = {}
        plan.agg_exprs[t] = [pl.len().alias(rows_col(t)), valid_condition(rs, t).sum().alias(ok_col(t))]
    for p in rs.points:
        c = _Unit(rs, plan, p.id)
        plan.probes[p.id] = c.expr(p.probe)
        plan.tables_of[p.id] = tuple(sorted(c.tables))
        f = _Unit(rs, plan, p.id, x=pl.col(value_col(p.id)))
        plan.formulas[p.id] = f.expr(p.score).cast(pl.Float64)
    return plan


def valid_condition(rs: RuleSet, table: str) -> pl.Expr:
    """The row condition of a table's `valid when` rule (always true without one)."""
    v = rs.tables[table].valid
    if v is None:  # a column expression, not a literal: a literal does not broadcast inside agg()
        return pl.col(rs.unit_column).is_not_null()
    return _Row(rs, table).expr(v).fill_null(False)


# ------------------------------------------------------------------ row level


class _Row:
    def __init__(self, rs: RuleSet, table: str):
        self.rs, self.table = rs, table
        self.cols = rs.tables[table].columns

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
            return ~inner if e.op == "not" else -inner
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
                out = pl.col(e.right.id).list.contains(self.expr(e.left))
            else:
                items = _literal_list(e.right)
                left = self.expr(e.left)
                if items and all(isinstance(i, float) for i in items):
                    left = left.cast(pl.Float64)  # number literals are floats; int columns compare as such
                out = left.is_in(items)
            return ~out if e.op == "not in" else out
        left, right = self.expr(e.left), self.expr(e.right)
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
    col = r.expr(e.args[0])
    parts = [col.list.contains(v) for v in _literal_list(e.args[1])]
    if not parts:
        return pl.lit(all_)
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if all_ else (out | p)
    return out


_ROW_FNS = {
    "has": lambda r, e: r.expr(e.args[0]).list.contains(_s(e.args[1])),
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


def _agg(rs: RuleSet, call: n.Call, point: str) -> pl.Expr:
    table = call.args[0].id  # type: ignore[union-attr]
    row = _Row(rs, table)
    cond = valid_condition(rs, table)
    where = call.kwarg("where")
    if where is not None:
        cond = cond & row.expr(where).fill_null(False)
    return _AGG[call.fn](row, call, cond, point)


def _value(row: _Row, call: n.Call, cond: pl.Expr) -> pl.Expr:
    return row.expr(call.args[1]).filter(cond)


def _ratio(row: _Row, call: n.Call, cond: pl.Expr, _p: str) -> pl.Expr:
    den = cond.sum()
    num = (cond & row.expr(call.args[1]).fill_null(False)).sum()
    return pl.when(den > 0).then(num / den)


def _coverage(row: _Row, call: n.Call, cond: pl.Expr, _p: str) -> pl.Expr:
    items = _literal_list(call.args[2])
    col = row.expr(call.args[1])
    if not items:
        return pl.lit(None, pl.Float64)
    found = [((col.list.contains(k) if row.is_list(call.args[1]) else col.str.contains(k, literal=True))
              .fill_null(False) & cond).any().cast(pl.Float64) for k in items]
    return pl.sum_horizontal(found) / len(items)


def _entry(row: _Row, call: n.Call, cond: pl.Expr, point: str) -> pl.Expr:
    return pl.col("value").cast(pl.Float64).filter(cond & (pl.col("point") == point)).mean()


_AGG = {
    "any": lambda r, c, cond, p: cond.any(),
    "count": lambda r, c, cond, p: cond.sum().cast(pl.Float64),
    "distinct": lambda r, c, cond, p: _value(r, c, cond).drop_nulls().n_unique().cast(pl.Float64),
    "approx_distinct": lambda r, c, cond, p: _value(r, c, cond).drop_nulls().approx_n_unique().cast(pl.Float64),
    "sum": lambda r, c, cond, p: _value(r, c, cond).sum().cast(pl.Float64),
    "mean": lambda r, c, cond, p: _value(r, c, cond).mean().cast(pl.Float64),
    "min": lambda r, c, cond, p: _value(r, c, cond).min(),
    "max": lambda r, c, cond, p: _value(r, c, cond).max(),
    "median": lambda r, c, cond, p: _value(r, c, cond).median().cast(pl.Float64),
    "ratio": _ratio,
    "coverage": _coverage,
    "days_since": lambda r, c, cond, p: _value(r, c, cond).max(),
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
            self.plan.agg_exprs[table].append(_agg(self.rs, call, self.point).alias(alias))
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


def _minmax(u: _Unit, e: n.Call) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
    lo, hi = _over(x.min()), _over(x.max())
    # All units equal: nobody is ahead; a positive common value is full marks, zero is none.
    return (pl.when(x.is_null()).then(None).when(hi > lo).then((x - lo) / (hi - lo))
            .otherwise((x > 0).cast(pl.Float64)))


def _zscore(u: _Unit, e: n.Call) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
    span = u.kw(e, "span", 3.0)
    mean, std = _over(x.mean()), _over(x.std(ddof=0))
    z = pl.when(std > 0).then((x - mean) / std).otherwise(0.0)
    return pl.when(x.is_null()).then(None).otherwise((z + span) / (2 * span))


def _rank(u: _Unit, e: n.Call) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
    cnt = _over(x.count())
    r = _over(x.rank("average"))
    return pl.when(x.is_null()).then(None).when(cnt > 1).then((r - 1) / (cnt - 1)).otherwise(1.0)


def _best_ratio(u: _Unit, e: n.Call) -> pl.Expr:
    x = _num(u.expr(e.args[0]))
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
