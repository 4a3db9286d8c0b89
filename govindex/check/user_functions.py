"""User functions: ``let name(p1, p2) = expr`` — checked at their definitions, lowered at each call.

A call is expanded by name: the body with each parameter replaced by the argument as written,
lowered in the caller's context. So an argument may be a number, a text, a list, a threshold
map, a table name (``count(t, …)``) or a row condition, whatever the body does with its
parameter; and it is type-checked there, per call. An error inside the body is reported at the
call, the definition's place in the hint. The lowered body is memoised by (function, the
arguments' structure — spans and number spelling aside —, context): twenty calls with the same
arguments are one IR node, computed once; two distinct arguments, two.

A function is pure (it reads only its parameters, lets and tables) and non-recursive: a cycle
through lets and functions is E315, found at the definitions before anything is lowered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from govindex.check.functions import AGGREGATES, FORMULAS, ROW
from govindex.diagnostics import Diagnostic, did_you_mean
from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr

if TYPE_CHECKING:
    from govindex import ir
    from govindex.check.expr import Ctx, Lowered, Scope

BUILTINS = frozenset({*AGGREGATES, *FORMULAS, *ROW, "log", "sqrt", "abs", "coalesce", "clamp"})
MAX_NESTING = 100  # functions calling functions: beyond what shape.py's E108 lets through


@dataclass
class Functions:
    """The functions of a rule set, and what lowering their calls found."""

    decls: dict[str, n.LetDecl] = field(default_factory=dict)
    bodies: dict[str, n.Expr] = field(default_factory=dict)  # lets and function bodies, for shape.py
    cyclic: set[str] = field(default_factory=set)  # in a cycle (E315 reported): never lowered
    # (function, arguments, context) → (node, type, whether it reads the point)
    calls: dict[tuple[object, ...], tuple[ir.Expr | None, str | None, bool]] = field(default_factory=dict)


def check_definitions(decls: Mapping[str, n.LetDecl], lets: Mapping[str, n.Expr], tables: Mapping[str, object],
                      diags: list[Diagnostic]) -> set[str]:
    """E311, E312, W505 and E315 at the definitions; returns the functions in a cycle."""
    for name, d in decls.items():
        if name in BUILTINS:
            diags.append(Diagnostic("E312", f"`let {name}(…)` has the name of a built-in function", d.span,
                                    f"rename it, e.g. `{name}_of`: `{name}` stays the built-in"))
        used = {x.id for x in n.walk(d.value) if isinstance(x, n.Name)}
        for p in d.params:
            what = ("a table" if p in tables else "a let" if p in lets else "a function" if p in decls
                    else "a built-in function" if p in BUILTINS else "the formula's value" if p == "x" else "")
            if what:
                diags.append(Diagnostic("E311", f"parameter `{p}` of `{name}` has the name of {what}", d.span,
                                        f"rename the parameter, e.g. `{p}_`: inside `{name}` it would hide {what}"))
            elif p not in used:
                diags.append(Diagnostic("W505", f"parameter `{p}` of `{name}` is never used", d.span,
                                        "remove it (and its argument at every call) or use it"))
    return _cycles(decls, lets, diags)


def _refs(e: n.Expr, names: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    for x in n.walk(e):
        ref = x.id if isinstance(x, n.Name) else x.fn if isinstance(x, n.Call) else ""
        if ref in names and ref not in out:
            out.append(ref)
    return out


def _cycles(decls: Mapping[str, n.LetDecl], lets: Mapping[str, n.Expr], diags: list[Diagnostic]) -> set[str]:
    """Every cycle through at least one function, reported once at the function that starts it."""
    bodies: dict[str, n.Expr] = {**lets, **{k: d.value for k, d in decls.items()}}
    cyclic: set[str] = set()
    for start in decls:
        if start in cyclic:
            continue
        path = _path_back(start, bodies)
        if path:
            cyclic |= set(path)
            shown = " → ".join(f"{p}(…)" if p in decls else p for p in [*path, start])
            diags.append(Diagnostic("E315", f"`{start}` calls itself: {shown}", decls[start].span,
                                    "a function may not use itself, directly or through other lets and "
                                    "functions: compute the repeated part once, in a let of its own"))
    return cyclic


def _path_back(start: str, bodies: Mapping[str, n.Expr]) -> list[str]:
    """The names from ``start`` back to ``start`` (a depth-first search without recursion), or []."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        cur, path = stack.pop()
        for ref in _refs(bodies[cur], bodies):
            if ref == start:
                return path
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*path, ref]))
    return []


def substitute(e: n.Expr, env: Mapping[str, n.Expr]) -> n.Expr:
    """``e`` with each name in ``env`` replaced by its expression (arguments are not re-substituted)."""
    if isinstance(e, n.Name):
        return env.get(e.id, e)
    if isinstance(e, n.Call):
        return replace(e, args=tuple(substitute(a, env) for a in e.args),
                       kwargs=tuple(replace(k, value=substitute(k.value, env)) for k in e.kwargs))
    if isinstance(e, n.Binary):
        return replace(e, left=substitute(e.left, env), right=substitute(e.right, env))
    if isinstance(e, n.Unary):
        return replace(e, operand=substitute(e.operand, env))
    if isinstance(e, n.If):
        return replace(e, cond=substitute(e.cond, env), then=substitute(e.then, env), else_=substitute(e.else_, env))
    if isinstance(e, n.ListLit):
        return replace(e, items=tuple(substitute(i, env) for i in e.items))
    if isinstance(e, n.MapLit):
        return replace(e, pairs=tuple(replace(p, value=substitute(p.value, env)) for p in e.pairs))
    return e


def bind(e: n.Call, d: n.LetDecl, diags: list[Diagnostic]) -> dict[str, n.Expr] | None:
    """Parameter → argument for a call (positional, then by parameter name), or None after E310."""
    usage = f"usage: {d.name}({', '.join(d.params)}), defined at {d.span}"
    if len(e.args) > len(d.params):
        diags.append(Diagnostic("E310", f"`{d.name}` takes {len(d.params)} argument(s), got {len(e.args) + len(e.kwargs)}",
                                e.span, usage))
        return None
    env = dict(zip(d.params, e.args))
    for kw in e.kwargs:
        if kw.name not in d.params:
            diags.append(Diagnostic("E310", f"`{d.name}` has no parameter `{kw.name}`", kw.span,
                                    did_you_mean(kw.name, d.params) or usage))
            return None
        if kw.name in env:
            diags.append(Diagnostic("E310", f"`{kw.name}` of `{d.name}` is given twice", kw.span, usage))
            return None
        env[kw.name] = kw.value
    missing = [p for p in d.params if p not in env]
    if missing:
        diags.append(Diagnostic("E310", f"`{d.name}` needs {', '.join(f'`{p}`' for p in missing)}", e.span, usage))
        return None
    return env


def lower_call(e: n.Call, ctx: Ctx, sc: Scope, lower: Callable[[n.Expr, Ctx, Scope], Lowered]) -> Lowered:
    """The node of a call of a user function in ``ctx``: lowered at the first call with these
    arguments in this context, the same object afterwards."""
    fs = sc.functions
    d = fs.decls[e.fn]
    sc.used_lets.add(e.fn)
    env = bind(e, d, sc.diags)
    if env is None or e.fn in fs.cyclic:
        for a in (*e.args, *(k.value for k in e.kwargs)):
            if not isinstance(a, n.Name):
                lower(a, ctx, sc)  # the arguments' own mistakes are still reported
        return None, None
    if sum(1 for x in sc.expanding if x in fs.decls) >= MAX_NESTING:  # shape.py's E108 comes first: a safeguard
        sc.diags.append(Diagnostic("E108", f"functions call functions more than {MAX_NESTING} levels deep here",
                                   e.span, "flatten the chain: compute parts in lets or points of their own"))
        return None, None
    args = tuple(env[p] for p in d.params)
    shared = replace(ctx, point=None)
    hit = fs.calls.get((e.fn, args, shared)) or fs.calls.get((e.fn, args, ctx))
    if hit is None:
        before, mark = sc.point_reads, len(sc.diags)
        sc.expanding += (e.fn,)
        try:
            node, t = lower(substitute(d.value, env), ctx, sc)
        finally:
            sc.expanding = sc.expanding[:-1]
        sc.diags[mark:] = [_at_call(x, e, d) for x in sc.diags[mark:]]
        reads_point = sc.point_reads != before
        hit = (node, t, reads_point)
        fs.calls[(e.fn, args, ctx if reads_point else shared)] = hit
    elif hit[2]:
        sc.point_reads += 1
    return hit[0], hit[1]


def _at_call(dg: Diagnostic, call: n.Call, d: n.LetDecl) -> Diagnostic:
    """A diagnostic inside the body moved to the call, the body's place in the hint."""
    at = dg.location
    if not (isinstance(at, n.Span) and at.path == d.span.path and d.span.line <= at.line <= d.span.end_line):
        if "defined at" in dg.hint:
            return dg
        where = f"an argument of `{d.name}`, defined at {d.span}"  # already at the call: say what it fed
        return Diagnostic(dg.code, dg.message, dg.location, f"{dg.hint}; {where}" if dg.hint else where,
                          dg.severity)
    hint = f"in the body of `{d.name}`, defined at {at}" + (f": {dg.hint}" if dg.hint else "")
    text = format_expr(call)
    shown = text if len(text) <= 60 else f"{call.fn}(…)"
    return Diagnostic(dg.code, f"{dg.message} (in `{shown}`)", call.span, hint, dg.severity)
