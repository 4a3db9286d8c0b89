"""Type checking and let-expansion of expressions, in three contexts: probe, row, formula.

Returns the expanded expression (lets inlined) and its type, and appends diagnostics; an
expression with an error gets type ``None`` so one mistake does not cascade into many.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from govindex.check.functions import AGGREGATES, FORMULAS, ROW, Signature
from govindex.check.settings import LIMIT, constant_problem, plain
from govindex.check.shape import MAX_DEPTH, MAX_NODES, expanded_shape, lets_reached
from govindex.diagnostics import Diagnostic
from govindex.lang import nodes as n

COLUMN_TYPE = {"str": "str", "int": "num", "float": "num", "bool": "bool", "date": "datetime",
               "datetime": "datetime", "list[str]": "list"}
_ROW_MATHS = {"log", "sqrt", "abs", "coalesce", "clamp"}


def did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else ""


@dataclass
class Scope:
    tables: dict[str, dict[str, str]]  # table → column → declared type
    lets: dict[str, n.Expr]
    diags: list[Diagnostic]
    used_lets: set[str] = field(default_factory=set)
    used_tables: set[str] = field(default_factory=set)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)  # let → (nodes, depth) expanded
    expanding: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ctx:
    mode: str  # probe | row | formula
    table: str | None = None
    x_type: str | None = None


def check_expr(e: n.Expr, ctx: Ctx, sc: Scope) -> tuple[n.Expr, str | None]:
    """Expand lets in ``e`` and infer its type in context ``ctx``.

    Lets are copied where they are used, so a few lets that each use the previous one twice
    make an expression of millions of nodes, and a long chain makes one too deep for any pass
    that walks it. Such an expression is E108, left unexpanded; its shape is measured first, in
    time linear in the rule text.
    """
    size, depth = expanded_shape(e, sc.lets, sc.shapes)
    if size > MAX_NODES or depth > MAX_DEPTH:
        sc.used_lets |= lets_reached(e, sc.lets)  # used, though not expanded: no W501 for them
        _err(sc, "E108", f"with its lets inlined this expression has {size:,} nodes nested {depth} deep; "
             f"at most {MAX_NODES:,} nodes and {MAX_DEPTH} levels", e.span,
             "a let is copied wherever it is used: compute large parts once in a probe, or simplify")
        return e, None
    return _check(e, ctx, sc)


def _check(e: n.Expr, ctx: Ctx, sc: Scope) -> tuple[n.Expr, str | None]:
    return _DISPATCH[type(e)](e, ctx, sc)


def _err(sc: Scope, code: str, msg: str, span: n.Span, hint: str = "") -> None:
    sc.diags.append(Diagnostic(code, msg, span, hint))


def _literal(e, ctx, sc):
    t = {n.Number: "num", n.String: "str", n.Bool: "bool", n.Null: "null"}[type(e)]
    return e, t


def _name(e: n.Name, ctx: Ctx, sc: Scope):
    if ctx.mode == "formula" and e.id == "x":
        return e, ctx.x_type
    if ctx.mode == "row" and ctx.table:
        cols = sc.tables[ctx.table]
        if e.id in cols:
            return e, COLUMN_TYPE[cols[e.id]]
    if e.id in sc.lets:
        if e.id in sc.expanding:
            _err(sc, "E205", f"`let {e.id}` refers to itself", e.span, "a let may not use itself, directly or not")
            return e, None
        sc.used_lets.add(e.id)
        inner = replace(sc, expanding=sc.expanding + (e.id,))
        expanded, t = _check(sc.lets[e.id], ctx, inner)
        sc.used_tables |= inner.used_tables
        sc.used_lets |= inner.used_lets
        return expanded, t
    if e.id in sc.tables:
        return e, "table"
    if ctx.mode == "row" and ctx.table:
        _err(sc, "E102", f"table `{ctx.table}` has no column `{e.id}`", e.span,
             did_you_mean(e.id, sc.tables[ctx.table]) or f"columns: {', '.join(sc.tables[ctx.table])}")
    elif ctx.mode == "formula":
        _err(sc, "E104", f"unknown name `{e.id}`", e.span,
             did_you_mean(e.id, ["x", *sc.lets]) or "a formula is written over `x`, the probe's value")
    else:
        _err(sc, "E104", f"unknown name `{e.id}`", e.span,
             did_you_mean(e.id, [*sc.lets, *sc.tables]) or "probes aggregate a table: count(pages, where: ...)")
    return e, None


def _unary(e: n.Unary, ctx, sc):
    inner, t = _check(e.operand, ctx, sc)
    want = "bool" if e.op == "not" else "num"
    if t is not None and t != want and not (want == "num" and t == "bool"):
        _err(sc, "E106", f"`{e.op}` needs a {want}, found {t}", e.operand.span)
        return replace(e, operand=inner), None
    return replace(e, operand=inner), want


def _binary(e: n.Binary, ctx, sc):
    left, lt = _check(e.left, ctx, sc)
    right, rt = _check(e.right, ctx, sc)
    out = replace(e, left=left, right=right)
    if lt is None or rt is None:
        return out, None
    op = e.op
    if op in ("and", "or"):
        for side, t in ((e.left, lt), (e.right, rt)):
            if t != "bool":
                _err(sc, "E106", f"`{op}` needs true/false on both sides, found {t}", side.span,
                     "compare the value, e.g. `count > 0`")
                return out, None
        return out, "bool"
    if op in ("+", "-", "*", "/"):
        for side, t in ((e.left, lt), (e.right, rt)):
            if t not in ("num", "bool", "null"):
                _err(sc, "E106", f"`{op}` needs numbers, found {t}", side.span,
                     "for dates use days_between(start, end)" if t == "datetime" else "")
                return out, None
        return out, "num"
    if op in ("in", "not in"):
        if rt in ("strs", "nums", "list"):
            return out, "bool"
        _err(sc, "E106", f"`{op}` needs a list on its right, found {rt}", e.right.span, 'e.g. `channel in ["app", "wechat"]`')
        return out, None
    # comparisons
    if "null" in (lt, rt):
        _err(sc, "E106", "comparing with null is never true", e.span, "use present(column) or not present(column)")
        return out, None
    ok = lt == rt or "null" in (lt, rt) or {lt, rt} <= {"num", "bool"} or {lt, rt} == {"datetime", "str"}
    if not ok:
        _err(sc, "E106", f"cannot compare {lt} with {rt}", e.span, "both sides of a comparison must be of one type")
        return out, None
    if {lt, rt} == {"datetime", "str"}:
        lit = right if rt == "str" else left
        if isinstance(lit, n.String) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?", lit.value):
            _err(sc, "E106", f"`{lit.value}` is not a date", lit.span, 'write dates as "2019-01-31"')
    return out, "bool"


def _if(e: n.If, ctx, sc):
    c, ct = _check(e.cond, ctx, sc)
    a, at = _check(e.then, ctx, sc)
    b, bt = _check(e.else_, ctx, sc)
    out = replace(e, cond=c, then=a, else_=b)
    if ct is not None and ct != "bool":
        _err(sc, "E106", f"the condition of `if` must be true/false, found {ct}", e.cond.span)
        return out, None
    if at and bt and at != bt and not {at, bt} <= {"num", "bool", "null"}:
        _err(sc, "E106", f"the branches of `if` differ: {at} and {bt}", e.span)
        return out, None
    return out, at if at != "null" else bt


def _list(e: n.ListLit, ctx, sc):
    items, types = [], set()
    for it in e.items:
        x, t = _check(it, ctx, sc)
        items.append(x)
        types.add(t)
    out = replace(e, items=tuple(items))
    if None in types:
        return out, None
    if types <= {"str"}:
        return out, "strs"
    if types <= {"num"}:
        return out, "nums"
    _err(sc, "E106", "a list holds either strings or numbers", e.span)
    return out, None


def _map(e: n.MapLit, ctx, sc):
    pairs = []
    for p in e.pairs:
        v, t = _check(p.value, ctx, sc)
        if not isinstance(p.key, float):
            _err(sc, "E106", "threshold tables map numbers to rates", p.span, "e.g. {10: 0.5, 50: 1}")
        elif t not in ("num", None):
            _err(sc, "E106", f"a threshold's rate must be a number, found {t}", p.value.span)
        pairs.append(replace(p, value=v))
    return replace(e, pairs=tuple(pairs)), "map"


def _call(e: n.Call, ctx: Ctx, sc: Scope):
    first = e.args[0] if e.args else None
    on_table = isinstance(first, n.Name) and first.id in sc.tables
    if e.fn in AGGREGATES and (on_table or e.fn not in FORMULAS):
        return _aggregate(e, ctx, sc)
    if ctx.mode == "row" and e.fn in ROW:
        return _apply(e, ROW[e.fn], ctx, sc)
    if e.fn in FORMULAS and (ctx.mode != "row" or e.fn in _ROW_MATHS):
        sig = FORMULAS[e.fn]
        return _apply(e, sig, ctx, sc)
    known = {"row": [*ROW, *_ROW_MATHS], "probe": [*AGGREGATES, *FORMULAS], "formula": list(FORMULAS)}[ctx.mode]
    where = {"row": "on a row", "probe": "in a probe", "formula": "in a formula"}[ctx.mode]
    if e.fn in ROW:
        hint = f"`{e.fn}` works on rows: use it inside `where:`, e.g. count(pages, where: {e.fn}(...))"
    else:
        hint = did_you_mean(e.fn, known) or "see docs/rules-language.md for the functions"
    _err(sc, "E103", f"unknown function `{e.fn}` {where}", e.span, hint)
    for a in e.args:
        _check(a, ctx, sc)
    return e, None


def _aggregate(e: n.Call, ctx: Ctx, sc: Scope):
    sig = AGGREGATES[e.fn]
    if ctx.mode != "probe":
        hint = ("formulas score the probe's value `x`; aggregate in `probe:`" if ctx.mode == "formula"
                else "aggregates cannot be nested in a row expression")
        _err(sc, "E105", f"`{e.fn}` aggregates a table and belongs in a probe", e.span, hint)
        return e, None
    first = e.args[0] if e.args else None
    if not isinstance(first, n.Name) or first.id not in sc.tables:
        got = first.id if isinstance(first, n.Name) else None
        hint = (did_you_mean(got, sc.tables) if got else "") or f"tables: {', '.join(sc.tables)}"
        _err(sc, "E101", f"`{e.fn}` needs a fact table as its first argument"
             + (f"; there is no table `{got}`" if got else ""), (first or e).span, hint)
        return e, None
    sc.used_tables.add(first.id)
    row = Ctx("row", table=first.id)
    if e.fn == "entry":
        cols = sc.tables[first.id]
        lacking = [c for c in ("point", "value") if c not in cols]
        if lacking:
            _err(sc, "E102", f"`entry` reads columns `point` and `value`; `{first.id}` lacks {', '.join(lacking)}",
                 first.span, "manual-entry tables have columns point: str and value: float")
            return e, None
    out, t = _apply(e, sig, row, sc, skip_first=True)
    if e.fn in ("min", "max") and t is not None and len(out.args) > 1:
        _, vt = _check(out.args[1], row, replace(sc, diags=[]))
        if vt not in ("num", "bool"):
            _err(sc, "E106", f"`{e.fn}` over a table needs numbers, found {_TYPE_WORDS.get(vt, vt)}", out.args[1].span,
                 "for dates use days_since(table, column) or days_between(a, b)")
            return out, None
    return out, t


def _apply(e: n.Call, sig: Signature, ctx: Ctx, sc: Scope, skip_first: bool = False):
    args = list(e.args)
    params = list(sig.params)
    out_args: list[n.Expr] = [args[0]] if skip_first else []
    if skip_first:
        args, params = args[1:], params[1:]
    ok = True
    if sig.variadic:
        if not args:
            _err(sc, "E105", f"`{sig.name}` needs at least one argument", e.span)
            ok = False
        params = [params[0]] * len(args)
    elif len(args) > len(params) or len(args) < sum(p.required for p in params):
        want = ", ".join(p.name for p in params)
        _err(sc, "E105", f"`{sig.name}` takes {len(params)} positional argument(s) ({want}), got {len(args)}",
             e.span, _usage(sig))
        ok = False
    for a, p in zip(args, params):
        x, t = _check(a, ctx, sc)
        out_args.append(x)
        ok &= _fits(sc, x, t, p.type, sig.name, p.name)
    kwargs = []
    allowed = {p.name: p for p in sig.kwonly}
    for kw in e.kwargs:
        p = allowed.get(kw.name)
        if p is None:
            _err(sc, "E105", f"`{sig.name}` has no argument `{kw.name}`", kw.span,
                 did_you_mean(kw.name, allowed) or _usage(sig))
            ok = False
            continue
        x, t = _check(kw.value, ctx, sc)
        kwargs.append(replace(kw, value=x))
        ok &= _fits(sc, x, t, p.type, sig.name, p.name)
    for p in sig.kwonly:
        if p.required and e.kwarg(p.name) is None:
            _err(sc, "E105", f"`{sig.name}` needs `{p.name}:`", e.span, _usage(sig))
            ok = False
    if sig.name == "matches" and len(out_args) == 2 and isinstance(out_args[1], n.String):
        problem = regex_problem(out_args[1].value)
        if problem:
            _err(sc, "E107", f"bad regular expression: {problem}", out_args[1].span,
                 "patterns use Rust regex syntax: no look-around or back-references")
            ok = False
    out = replace(e, args=tuple(out_args), kwargs=tuple(kwargs))
    if FORMULAS.get(sig.name) is sig and ok:
        ok = _check_constants(sc, out)  # after let-expansion: `cap: 上限` is fine when 上限 is a number
    return out, (sig.returns if ok else None)


# Formula parameters that would divide by zero or take the log of nothing.
_POSITIVE = {"cap", "half_life", "span", "p10", "median"}


def _check_constants(sc: Scope, e: n.Call) -> bool:
    vals = {k.name: k.value.value for k in e.kwargs if isinstance(k.value, n.Number)}
    ok = True
    for k in e.kwargs:
        if not isinstance(k.value, n.Number):
            _err(sc, "E105", f"`{k.name}` of `{e.fn}` must be a number written out", k.value.span,
                 f"e.g. {k.name}: 6")
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


def _fits(sc: Scope, e: n.Expr, have: str | None, want: str, fn: str, param: str) -> bool:
    if have is None:
        return False
    if want == "any" or have == want or have == "null":
        return True
    if want == "num" and have == "bool":
        return True
    if want == "datetime" and have == "str" and isinstance(e, n.String):
        return True
    if want == "strs" and isinstance(e, n.String):
        return False
    _err(sc, "E106", f"argument `{param}` of `{fn}` must be {_TYPE_WORDS.get(want, want)}, found {_TYPE_WORDS.get(have, have)}",
         e.span, "")
    return False


_TYPE_WORDS = {"num": "a number", "bool": "true/false", "str": "text", "datetime": "a date", "list": "a list column",
               "strs": 'a list of strings ["a", "b"]', "nums": "a list of numbers", "map": "a threshold table {n: rate}",
               "table": "a table"}

_DISPATCH = {
    n.Number: _literal, n.String: _literal, n.Bool: _literal, n.Null: _literal,
    n.Name: _name, n.Unary: _unary, n.Binary: _binary, n.If: _if, n.ListLit: _list, n.MapLit: _map,
    n.Call: _call,
}
