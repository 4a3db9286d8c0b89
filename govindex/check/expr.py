"""Type checking of expressions and their lowering to the typed IR (:mod:`govindex.ir`), in three
contexts: a point's probe, a row of a fact table (``where:``, values, ``valid when``), a point's
formula over ``x``.

:func:`lower` returns the IR node and the expression's type and appends diagnostics; an
expression with an error gets the type ``None`` (and no node) so that one mistake does not
cascade into many. A ``let`` is lowered once per context — per table for rows, per probe type
for formulas, and per point when its body reads ``entry`` — and that one node is used wherever
the ``let`` is: a ``let`` used by ten points is one node, computed once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeGuard, get_args

from govindex import ir
from govindex.check.functions import AGGREGATES, FORMULAS, ROUNDING_MODES, ROW, STATISTICS, Param, Signature
from govindex.check.settings import LIMIT, constant_problem, plain
from govindex.check.shape import MAX_DEPTH, expanded_shape, lets_reached
from govindex.check.user_functions import Functions, lower_call
from govindex.diagnostics import Diagnostic, did_you_mean
from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr

COLUMN_TYPE = {"str": "str", "int": "num", "float": "num", "bool": "bool", "date": "datetime",
               "datetime": "datetime", "list[str]": "list"}
_ROW_MATHS = {"log", "sqrt", "abs", "coalesce", "clamp"}
# Types a value parameter (`any`) accepts: not a table, not a list of literals, not a threshold table.
_VALUES = {"num", "bool", "str", "datetime", "list", "null"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?")

Lowered = tuple[ir.Expr | None, str | None]  # the node (None after an error, or for a table name) and its type


@dataclass(frozen=True)
class Ctx:
    mode: str  # probe | row | formula
    table: str | None = None  # row: the table whose row it is
    x_type: str | None = None  # formula: the type of x
    point: str | None = None  # probe: the point (what `entry` reads)


@dataclass
class Scope:
    """What every expression of a rule set is checked against, and what checking found."""

    tables: dict[str, dict[str, str]]  # table → column → declared type
    lets: dict[str, n.Expr]
    diags: list[Diagnostic]
    used_lets: set[str] = field(default_factory=set)
    used_tables: set[str] = field(default_factory=set)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)  # let → (nodes, depth) expanded
    expanding: tuple[str, ...] = ()
    # (let, context) → (node, type, whether it reads the point): each let lowered once per context
    lowered: dict[tuple[str, Ctx], tuple[ir.Expr | None, str | None, bool]] = field(default_factory=dict)
    point_reads: int = 0  # `entry` aggregates lowered so far
    functions: Functions = field(default_factory=Functions)  # `let f(a, b) = …`, and their calls lowered


def lower_expr(e: n.Expr, ctx: Ctx, sc: Scope) -> Lowered:
    """Check a whole expression (a probe, a formula, a row condition) and lower it to IR.

    A let is lowered once and shared, so its size does not multiply; but the passes over an
    expression recurse, so one nested more than MAX_DEPTH levels deep with its lets followed (a
    chain of hundreds of lets) is E108. Its depth is measured first, without recursion, in time
    linear in the rule text.
    """
    bodies = sc.functions.bodies or sc.lets  # with functions: lets and function bodies alike
    _, depth = expanded_shape(e, bodies, sc.shapes)
    if depth > MAX_DEPTH:
        sc.used_lets |= lets_reached(e, bodies)  # used, though not lowered: no W501 for them
        _err(sc, "E108", f"with its lets followed this expression is nested {depth} levels deep; at most {MAX_DEPTH}",
             e.span, "a chain of lets each using the one before: compute parts in points of their own, or simplify")
        return None, None
    return lower(e, ctx, sc)


def lower(e: n.Expr, ctx: Ctx, sc: Scope) -> Lowered:
    """Check ``e`` in context ``ctx`` and lower it to IR (one step of :func:`lower_expr`)."""
    return _DISPATCH[type(e)](e, ctx, sc)


def _err(sc: Scope, code: str, msg: str, span: n.Span, hint: str = "") -> None:
    sc.diags.append(Diagnostic(code, msg, span, hint))


def _literal(e: n.Expr, ctx: Ctx, sc: Scope) -> Lowered:
    if isinstance(e, n.Number):
        return ir.Const(e.value, "num", e.text, e.span), "num"
    if isinstance(e, n.String):
        return ir.Const(e.value, "str", "", e.span), "str"
    if isinstance(e, n.Bool):
        return ir.Const(e.value, "bool", "", e.span), "bool"
    return ir.Const(None, "null", "", e.span), "null"


def _name(e: n.Name, ctx: Ctx, sc: Scope) -> Lowered:
    if ctx.mode == "formula" and e.id == "x":
        return ir.X(_ir_type(ctx.x_type), e.span), ctx.x_type
    if ctx.mode == "row" and ctx.table:
        cols = sc.tables[ctx.table]
        if e.id in cols:
            t = COLUMN_TYPE[cols[e.id]]
            return ir.Column(e.id, ctx.table, _ir_type(t), e.span), t
    if e.id in sc.lets:
        return _let(e, ctx, sc)
    if e.id in sc.functions.decls:
        d = sc.functions.decls[e.id]
        sc.used_lets.add(e.id)
        _err(sc, "E313", f"`{e.id}` is a function: call it", e.span,
             f"e.g. {e.id}({', '.join(d.params)}); it is defined at {d.span}")
        return None, None
    if e.id in sc.tables:
        return None, "table"
    if ctx.mode == "row" and ctx.table:
        _err(sc, "E102", f"table `{ctx.table}` has no column `{e.id}`", e.span,
             did_you_mean(e.id, sc.tables[ctx.table]) or f"columns: {', '.join(sc.tables[ctx.table])}")
    elif ctx.mode == "formula":
        _err(sc, "E104", f"unknown name `{e.id}`", e.span,
             did_you_mean(e.id, ["x", *sc.lets]) or "a formula is written over `x`, the probe's value")
    else:
        _err(sc, "E104", f"unknown name `{e.id}`", e.span,
             did_you_mean(e.id, [*sc.lets, *sc.tables]) or "probes aggregate a table: count(pages, where: ...)")
    return None, None


def _let(e: n.Name, ctx: Ctx, sc: Scope) -> Lowered:
    """The let's node in this context: lowered at its first use, the same object afterwards."""
    if e.id in sc.expanding:
        if e.id in sc.functions.cyclic:
            return None, None  # a cycle through a function: E315 at its definition
        _err(sc, "E205", f"`let {e.id}` refers to itself", e.span, "a let may not use itself, directly or not")
        return None, None
    sc.used_lets.add(e.id)
    shared = replace(ctx, point=None)
    hit = sc.lowered.get((e.id, shared)) or sc.lowered.get((e.id, ctx))
    if hit is None:
        before = sc.point_reads
        sc.expanding += (e.id,)
        try:
            node, t = lower(sc.lets[e.id], ctx, sc)
        finally:
            sc.expanding = sc.expanding[:-1]
        reads_point = sc.point_reads != before
        hit = (node, t, reads_point)
        sc.lowered[(e.id, ctx if reads_point else shared)] = hit
    elif hit[2]:
        sc.point_reads += 1  # a let reading `entry` makes whatever uses it point-specific too
    return hit[0], hit[1]


_IR_TYPES = frozenset(get_args(ir.Type))


def _ir_type(t: str | None) -> ir.Type:
    assert _is_ir_type(t), t
    return t


def _is_ir_type(t: str | None) -> TypeGuard[ir.Type]:
    return t in _IR_TYPES


def _unary(e: n.Unary, ctx: Ctx, sc: Scope) -> Lowered:
    inner, t = lower(e.operand, ctx, sc)
    want = "bool" if e.op == "not" else "num"
    if t is not None and t != want and not (want == "num" and t == "bool"):
        _err(sc, "E106", f"`{e.op}` needs a {want}, found {t}", e.operand.span)
        return None, None
    if inner is None:
        return None, want if t is not None else None
    return ir.Op("not" if e.op == "not" else "neg", (inner,), _ir_type(want), e.span), want


def _binary(e: n.Binary, ctx: Ctx, sc: Scope) -> Lowered:
    left, lt = lower(e.left, ctx, sc)
    right, rt = lower(e.right, ctx, sc)
    if lt is None or rt is None:
        return None, None
    t = _binary_type(e, lt, rt, sc)
    if t is None:
        return None, None
    if {lt, rt} == {"datetime", "str"}:
        left, right = _as_date(left, sc), _as_date(right, sc)
    if left is None or right is None:
        return None, t
    return ir.Op(e.op, (left, right), _ir_type(t), e.span), t  # type: ignore[arg-type]  # fn/op: a catalogue name (a Literal); items: no None once types are known


def _binary_type(e: n.Binary, lt: str, rt: str, sc: Scope) -> str | None:
    op = e.op
    if op in ("and", "or"):
        for side, t in ((e.left, lt), (e.right, rt)):
            if t != "bool":
                _err(sc, "E106", f"`{op}` needs true/false on both sides, found {t}", side.span,
                     "compare the value, e.g. `count > 0`")
                return None
        return "bool"
    if op in ("+", "-", "*", "/"):
        for side, t in ((e.left, lt), (e.right, rt)):
            if t not in ("num", "bool", "null"):
                _err(sc, "E106", f"`{op}` needs numbers, found {t}", side.span,
                     "for dates use days_between(start, end)" if t == "datetime" else "")
                return None
        return "num"
    if op in ("in", "not in"):
        if rt in ("strs", "nums", "list"):
            return "bool"
        _err(sc, "E106", f"`{op}` needs a list on its right, found {rt}", e.right.span, 'e.g. `channel in ["app", "wechat"]`')
        return None
    if "null" in (lt, rt):
        _err(sc, "E106", "comparing with null is never true", e.span, "use present(column) or not present(column)")
        return None
    ok = lt == rt or {lt, rt} <= {"num", "bool"} or {lt, rt} == {"datetime", "str"}
    if not ok or "table" in (lt, rt):
        _err(sc, "E106", f"cannot compare {lt} with {rt}", e.span, "both sides of a comparison must be of one type")
        return None
    return "bool"


def _as_date(e: ir.Expr | None, sc: Scope) -> ir.Expr | None:
    """A text literal used as a date becomes a date constant (its text kept for display)."""
    if not (isinstance(e, ir.Const) and e.type == "str"):
        return e
    text = str(e.value)
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        when = datetime.fromisoformat(text)
    except ValueError:
        _err(sc, "E106", f"`{text}` is not a date", e.span, 'write dates as "2019-01-31"')
        return None
    return ir.Const(when, "datetime", text, e.span)


def _if(e: n.If, ctx: Ctx, sc: Scope) -> Lowered:
    c, ct = lower(e.cond, ctx, sc)
    a, at = lower(e.then, ctx, sc)
    b, bt = lower(e.else_, ctx, sc)
    if ct is not None and ct != "bool":
        _err(sc, "E106", f"the condition of `if` must be true/false, found {ct}", e.cond.span)
        return None, None
    if at and bt and at != bt and not {at, bt} <= {"num", "bool", "null"}:
        _err(sc, "E106", f"the branches of `if` differ: {at} and {bt}", e.span)
        return None, None
    t = at if at != "null" else bt
    if c is None or a is None or b is None or t is None:
        return None, t
    return ir.Cond(c, a, b, _ir_type(t), e.span), t


def _list(e: n.ListLit, ctx: Ctx, sc: Scope) -> Lowered:
    items, types = [], set()
    for it in e.items:
        x, t = lower(it, ctx, sc)
        types.add(t)
        if t is not None and not isinstance(x, ir.Const):
            _err(sc, "E106", "a list holds literal strings or numbers", it.span, 'e.g. ["住房", "社保"]')
            return None, None
        items.append(x)
    if None in types:
        return None, None
    t = "strs" if types <= {"str"} else "nums" if types <= {"num"} else None
    if t is None:
        _err(sc, "E106", "a list holds either strings or numbers", e.span)
        return None, None
    return ir.ListConst(tuple(items), _ir_type(t), e.span), t  # type: ignore[arg-type]  # fn/op: a catalogue name (a Literal); items: no None once types are known


def _map(e: n.MapLit, ctx: Ctx, sc: Scope) -> Lowered:
    pairs: list[tuple[float, ir.Expr]] = []
    ok = True
    for p in e.pairs:
        v, t = lower(p.value, ctx, sc)
        if not isinstance(p.key, float):
            _err(sc, "E106", "threshold tables map numbers to rates", p.span, "e.g. {10: 0.5, 50: 1}")
            ok = False
        elif t not in ("num", None):
            _err(sc, "E106", f"a threshold's rate must be a number, found {t}", p.value.span)
            ok = False
        if v is None:
            ok = False
        else:
            pairs.append((float(p.key), v))
    if not ok:
        return None, "map"
    return ir.MapConst(tuple(pairs), tuple(p.key_text for p in e.pairs), "map", e.span), "map"


# ------------------------------------------------------------------ calls


def _call(e: n.Call, ctx: Ctx, sc: Scope) -> Lowered:
    if e.fn in sc.functions.decls:  # a user function, before the catalogue (E312 forbids the same name)
        return lower_call(e, ctx, sc, lower)
    if e.fn in sc.lets:
        sc.used_lets.add(e.fn)
        _err(sc, "E314", f"`{e.fn}` is a value, not a function", e.span,
             f"use it without parentheses: `{e.fn}`; a function is declared `let {e.fn}(param) = …`")
        return None, None
    first = e.args[0] if e.args else None
    on_table = isinstance(first, n.Name) and first.id in sc.tables
    if e.fn in AGGREGATES and (on_table or e.fn not in FORMULAS):
        return _aggregate(e, ctx, sc)
    if ctx.mode == "row" and e.fn in ROW:
        return _row_call(e, ROW[e.fn], ctx, sc)
    if e.fn in FORMULAS and (ctx.mode != "row" or e.fn in _ROW_MATHS):
        return _formula(e, FORMULAS[e.fn], ctx, sc)
    known = {"row": [*ROW, *_ROW_MATHS], "probe": [*AGGREGATES, *FORMULAS], "formula": list(FORMULAS)}[ctx.mode]
    where = {"row": "on a row", "probe": "in a probe", "formula": "in a formula"}[ctx.mode]
    if e.fn in ROW:
        hint = f"`{e.fn}` works on rows: use it inside `where:`, e.g. count(pages, where: {e.fn}(...))"
    else:
        hint = did_you_mean(e.fn, known) or "see docs/rules-language.md for the functions"
    _err(sc, "E103", f"unknown function `{e.fn}` {where}", e.span, hint)
    for a in e.args:
        lower(a, ctx, sc)
    return None, None


@dataclass
class _Args:
    """A call's arguments, checked against its signature."""

    args: list[ir.Expr | None]
    types: list[str | None]
    kwargs: dict[str, ir.Expr | None]
    ok: bool


def _aggregate(e: n.Call, ctx: Ctx, sc: Scope) -> Lowered:
    sig = AGGREGATES[e.fn]
    if ctx.mode != "probe":
        hint = ("formulas score the probe's value `x`; aggregate in `probe:`" if ctx.mode == "formula"
                else "aggregates cannot be nested in a row expression")
        _err(sc, "E105", f"`{e.fn}` aggregates a table and belongs in a probe", e.span, hint)
        return None, None
    first = e.args[0] if e.args else None
    if not isinstance(first, n.Name) or first.id not in sc.tables:
        got = first.id if isinstance(first, n.Name) else None
        hint = (did_you_mean(got, sc.tables) if got else "") or f"tables: {', '.join(sc.tables)}"
        _err(sc, "E101", f"`{e.fn}` needs a fact table as its first argument"
             + (f"; there is no table `{got}`" if got else ""), (first or e).span, hint)
        return None, None
    table = first.id
    sc.used_tables.add(table)
    if e.fn == "entry":
        lacking = [c for c in ("point", "value") if c not in sc.tables[table]]
        if lacking:
            _err(sc, "E102", f"`entry` reads columns `point` and `value`; `{table}` lacks {', '.join(lacking)}",
                 first.span, "manual-entry tables have columns point: str and value: float")
            return None, None
        sc.point_reads += 1
    a = _arguments(e, sig, Ctx("row", table=table), sc, skip_first=True)
    if e.fn in ("min", "max") and a.ok and a.types and a.types[0] not in ("num", "bool"):
        vt = a.types[0]
        _err(sc, "E106", f"`{e.fn}` over a table needs numbers, found {_TYPE_WORDS.get(vt or '', vt)}", e.args[1].span,
             "for dates use days_since(table, column) or days_between(a, b)")
        return None, None
    if not a.ok:
        return None, None
    items = a.args[1] if e.fn == "coverage" else None
    assert items is None or isinstance(items, ir.ListConst)
    return ir.Agg(e.fn, table, _ir_type(sig.returns), where=a.kwargs.get("where"),  # type: ignore[arg-type]  # fn/op: a catalogue name (a Literal); items: no None once types are known
                  arg=a.args[0] if a.args else None, items=items,
                  point=ctx.point if e.fn == "entry" else None, span=e.span), sig.returns


def _row_call(e: n.Call, sig: Signature, ctx: Ctx, sc: Scope) -> Lowered:
    a = _arguments(e, sig, ctx, sc)
    if not a.ok:
        return None, None
    return ir.RowCall(e.fn, tuple(a.args), _ir_type(sig.returns), e.span), sig.returns  # type: ignore[arg-type]  # fn/op: a catalogue name (a Literal); items: no None once types are known


def _formula(e: n.Call, sig: Signature, ctx: Ctx, sc: Scope) -> Lowered:
    a = _arguments(e, sig, ctx, sc)
    if not a.ok or not _check_constants(sc, e, a.kwargs):
        return None, None
    if e.fn in ("round", "floor", "ceil") and not _check_rounding(sc, e, a):
        return None, None
    args = tuple(x for x in a.args if x is not None)
    if e.fn in ("steps", "steps_down"):
        assert isinstance(args[1], ir.MapConst)
        return ir.Steps(args[0], args[1], e.fn == "steps_down", "num", e.span), sig.returns
    params = tuple((k, v) for k, v in a.kwargs.items() if isinstance(v, ir.Const) and k != "where")
    return ir.Formula(e.fn, args, _ir_type(sig.returns), params, e.span, a.kwargs.get("where")), sig.returns  # type: ignore[arg-type]  # fn/op: a catalogue name (a Literal); items: no None once types are known


def _arguments(e: n.Call, sig: Signature, ctx: Ctx, sc: Scope, skip_first: bool = False) -> _Args:
    args = list(e.args[1:] if skip_first else e.args)
    params = list(sig.params[1:] if skip_first else sig.params)
    out = _Args([], [], {}, True)
    if sig.variadic:
        if not args:
            _err(sc, "E105", f"`{sig.name}` needs at least one argument", e.span)
            out.ok = False
        params = [params[0]] * len(args)
    elif len(args) > len(params) or len(args) < sum(p.required for p in params):
        want = ", ".join(p.name for p in params)
        _err(sc, "E105", f"`{sig.name}` takes {len(params)} positional argument(s) ({want}), got {len(args)}",
             e.span, _usage(sig))
        out.ok = False
    for arg, p in zip(args, params):
        x, t = _argument(arg, p, sig, ctx, sc)
        out.args.append(x)
        out.types.append(t)
        out.ok &= x is not None
    allowed = {p.name: p for p in sig.kwonly}
    for kw in e.kwargs:
        kp = allowed.get(kw.name)
        if kp is None:
            _err(sc, "E105", f"`{sig.name}` has no argument `{kw.name}`", kw.span, did_you_mean(kw.name, allowed) or _usage(sig))
            out.ok = False
            continue
        x, _ = _argument(kw.value, kp, sig, ctx, sc)
        out.kwargs[kw.name] = x
        out.ok &= x is not None
    for p in sig.kwonly:
        if p.required and e.kwarg(p.name) is None:
            _err(sc, "E105", f"`{sig.name}` needs `{p.name}:`", e.span, _usage(sig))
            out.ok = False
    return out


def _argument(arg: n.Expr, p: Param, sig: Signature, ctx: Ctx, sc: Scope) -> Lowered:
    """One argument lowered and fitted to its parameter: None unless it fits."""
    x, t = lower(arg, ctx, sc)
    if not _fits(sc, arg, x, t, p, sig.name):
        return None, t
    if p.type == "datetime" and t == "str":
        x = _as_date(x, sc)
    if p.literal and not isinstance(x, (ir.Const, ir.ListConst, ir.MapConst)):
        _err(sc, "E106", f"argument `{p.name}` of `{sig.name}` must be written out, not computed", arg.span,
             'a literal in quotes, e.g. has(markers, "portal"), or a `let` of one')
        return None, t
    if sig.name == "matches" and p.name == "pattern" and isinstance(x, ir.Const):
        problem = regex_problem(str(x.value))
        if problem:
            _err(sc, "E107", f"bad regular expression: {problem}", arg.span,
                 "patterns use Rust regex syntax: no look-around or back-references")
            return None, t
    return x, t


# Formula parameters that would divide by zero or take the log of nothing.
_POSITIVE = {"cap", "half_life", "span", "p10", "median"}


def _check_rounding(sc: Scope, e: n.Call, a: _Args) -> bool:
    """``round``/``floor``/``ceil``: whole digits 0–15 and a known mode."""
    ok = True
    digits = a.args[1] if len(a.args) > 1 else None
    if isinstance(digits, ir.Const) and not (isinstance(digits.value, float) and digits.value == int(digits.value)
                                             and 0 <= digits.value <= 15):
        _err(sc, "E105", f"`digits` of `{e.fn}` is a whole number from 0 to 15", e.args[1].span, "e.g. 2")
        ok = False
    mode = a.kwargs.get("mode")
    if mode is not None and not (isinstance(mode, ir.Const) and mode.value in ROUNDING_MODES):
        written = e.kwarg("mode")
        _err(sc, "E105", f"`mode` of `{e.fn}` is one of {', '.join(ROUNDING_MODES)}",
             written.span if written is not None else e.span, 'e.g. mode: "r"')
        ok = False
    return ok


def _check_constants(sc: Scope, e: n.Call, kwargs: dict[str, ir.Expr | None]) -> bool:
    vals: dict[str, float] = {}
    ok = True
    for k in e.kwargs:
        if (e.fn, k.name) in (("round", "mode"), ("lognormal", "curve")):
            continue  # a text, checked by _check_rounding / below
        if e.fn in STATISTICS and k.name in ("by", "where"):
            continue  # a registry column and a condition: checked by check/stages.py
        v = kwargs.get(k.name)
        if isinstance(v, ir.Const) and isinstance(v.value, float):
            vals[k.name] = v.value
        else:
            _err(sc, "E105", f"`{k.name}` of `{e.fn}` must be a number written out", k.value.span, f"e.g. {k.name}: 6")
            ok = False
    for k in e.kwargs:
        problem = constant_problem(vals[k.name]) if k.name in vals else ""
        if problem:
            _err(sc, "E105", f"`{k.name}` of `{e.fn}`: {problem}", k.value.span,
                 f"formula constants lie within ±{plain(LIMIT)}")
            ok = False
        elif k.name in _POSITIVE and k.name in vals and vals[k.name] <= 0:
            _err(sc, "E105", f"`{k.name}` of `{e.fn}` must be positive", k.value.span)
            ok = False
    if e.fn in ("ramp", "goalpost") and "lo" in vals and vals.get("lo") == vals.get("hi"):
        _err(sc, "E105", f"`{e.fn}` needs lo ≠ hi", e.span, "the two goalposts must differ")
        ok = False
    if e.fn == "lognormal" and "p10" in vals and vals.get("p10") == vals.get("median"):
        _err(sc, "E105", "`lognormal` needs p10 ≠ median", e.span, "p10 < median when lower is better")
        ok = False
    if e.fn == "lognormal" and not _check_curve(sc, e, kwargs.get("curve"), vals):
        ok = False
    if e.fn == "sigmoid" and vals.get("steepness") == 0:
        _err(sc, "E105", "`sigmoid` needs a steepness other than 0", e.span)
        ok = False
    return ok


def regex_problem(pattern: str) -> str:
    """Why polars (Rust regex) would reject ``pattern``, or "" if it accepts it."""
    import polars as pl

    try:
        re.compile(pattern)
        pl.select(pl.lit("").str.contains(pattern))
    except (re.error, OverflowError, RecursionError) as exc:
        return str(exc)
    except pl.exceptions.PolarsError as exc:
        return str(exc).splitlines()[0]
    return ""


def _usage(sig: Signature) -> str:
    parts = [p.name for p in sig.params] + [f"{p.name}: …" for p in sig.kwonly]
    return f"usage: {sig.name}({', '.join(parts)})"


def _fits(sc: Scope, e: n.Expr, x: ir.Expr | None, have: str | None, p: Param, fn: str) -> bool:
    want = p.type
    if have is None:
        return False
    if have == "table":
        _err(sc, "E106", f"argument `{p.name}` of `{fn}` cannot be a table", e.span,
             "a table is the first argument of an aggregate, e.g. count(pages)")
        return False
    if (want == "any" and have in _VALUES) or have == want:
        return True
    if have == "null" and not p.literal and not p.is_list:
        return True
    if want == "num" and have == "bool":
        return True
    if want == "datetime" and have == "str" and isinstance(x, ir.Const):
        return True
    hint = ""
    if want in ("strs", "nums") and isinstance(x, ir.Const) and x.type in ("str", "num"):
        hint = f"write a list, even of one: [{format_expr(e)}]"
    elif want == "map":
        hint = "e.g. {10: 0.5, 50: 1}"
    _err(sc, "E106", f"argument `{p.name}` of `{fn}` must be {_TYPE_WORDS.get(want, want)}, "
         f"found {_TYPE_WORDS.get(have, have)}", e.span, hint)
    return False


_TYPE_WORDS = {"num": "a number", "bool": "true/false", "str": "text", "datetime": "a date", "list": "a list column",
               "strs": 'a list of strings ["a", "b"]', "nums": "a list of numbers", "map": "a threshold table {n: rate}",
               "table": "a table", "any": "a value", "null": "null"}

_DISPATCH: dict[type, Callable[..., Lowered]] = {
    n.Number: _literal, n.String: _literal, n.Bool: _literal, n.Null: _literal,
    n.Name: _name, n.Unary: _unary, n.Binary: _binary, n.If: _if, n.ListLit: _list, n.MapLit: _map,
    n.Call: _call,
}


CURVES = ("exact", "lighthouse")


def _check_curve(sc: Scope, e: n.Call, curve: ir.Expr | None, vals: dict[str, float]) -> bool:
    """``lognormal``'s ``curve:``: "exact" (the default) or "lighthouse", which, as Lighthouse
    does, takes only a lower-is-better curve (p10 < median)."""
    written = e.kwarg("curve")
    span = written.span if written is not None else e.span
    if curve is not None and not (isinstance(curve, ir.Const) and curve.value in CURVES):
        _err(sc, "E245", f"`curve` of `lognormal` is one of {', '.join(CURVES)}", span, 'e.g. curve: "lighthouse"')
        return False
    if isinstance(curve, ir.Const) and curve.value == "lighthouse" and vals.get("p10", 0) >= vals.get("median", 1):
        _err(sc, "E245", "the lighthouse curve needs p10 < median (lower is better), as Lighthouse requires",
             span, "Lighthouse throws for p10 ≥ median; use the exact curve for higher-is-better values")
        return False
    return True
