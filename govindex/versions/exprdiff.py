"""Two expressions as written → their smallest changed subexpressions (a tree diff).

Both syntax trees are walked in parallel: where the node types and shapes match (the same
function with the same arguments and keywords, the same operator, lists and maps aligned item by
item) the walk goes down; elsewhere the pair of subtrees is one :class:`Part`, each side printed by
:func:`govindex.lang.fmt.format_expr`. A threshold 2336 → 1800 inside a 2,000-character probe is
then one part ``2336 → 1800``, with the path that leads to it (``steps arg 2 › key 2336``).

Lists and maps of different lengths are aligned with :mod:`difflib` (an inserted item is the part
``— → "疫苗接种"``); a map whose keys moved at an equal value reports the key (a step's threshold).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr

NOTHING = "—"  # the side of an inserted or deleted list item / map entry


@dataclass(frozen=True, slots=True)
class Part:
    """One changed subexpression: where it sits (``path``, "" at the top) and both texts."""

    path: str
    old: str
    new: str


def parts(old: n.Expr, new: n.Expr) -> list[Part]:
    """The smallest changed subexpressions turning ``old`` into ``new``; [] when they are equal."""
    out: list[Part] = []
    _walk(old, new, (), out)
    return out


def _join(path: tuple[str, ...]) -> str:
    return " › ".join(path)


def _emit(a: n.Expr | None, b: n.Expr | None, path: tuple[str, ...], out: list[Part]) -> None:
    out.append(Part(_join(path), NOTHING if a is None else format_expr(a), NOTHING if b is None else format_expr(b)))


def _walk(a: n.Expr, b: n.Expr, path: tuple[str, ...], out: list[Part]) -> None:
    if a == b:
        return
    if type(a) is not type(b):
        _emit(a, b, path, out)
    elif isinstance(a, n.Call) and isinstance(b, n.Call):
        _call(a, b, path, out)
    elif isinstance(a, n.Binary) and isinstance(b, n.Binary) and a.op == b.op and a.op in _CHAINS:
        _chain(a.op, _flatten(a), _flatten(b), path, out)
    elif isinstance(a, n.Binary) and isinstance(b, n.Binary) and a.op == b.op:
        _walk(a.left, b.left, (*path, f"`{a.op}` left"), out)
        _walk(a.right, b.right, (*path, f"`{a.op}` right"), out)
    elif isinstance(a, n.Unary) and isinstance(b, n.Unary) and a.op == b.op:
        _walk(a.operand, b.operand, path, out)
    elif isinstance(a, n.If) and isinstance(b, n.If):
        for name, x, y in (("if", a.cond, b.cond), ("then", a.then, b.then), ("else", a.else_, b.else_)):
            _walk(x, y, (*path, name), out)
    elif isinstance(a, n.ListLit) and isinstance(b, n.ListLit):
        _list(a.items, b.items, path, out)
    elif isinstance(a, n.MapLit) and isinstance(b, n.MapLit):
        _map(a.pairs, b.pairs, path, out)
    else:  # leaves (numbers, strings, names), or an operator that changed
        _emit(a, b, path, out)


_CHAINS = ("and", "or", "+", "*")  # associative: `a and b` → `a and b and c` adds an operand
_LEVEL = {"or": 2, "and": 3, "+": 6, "*": 7}  # an operand joined by `op` parenthesised above this (lang/fmt)


def _flatten(e: n.Expr) -> list[n.Expr]:
    """The operands of a chain of one associative operator (``a and b and c`` → a, b, c)."""
    if isinstance(e, n.Binary) and e.op in _CHAINS:
        op = e.op
        out: list[n.Expr] = []
        stack: list[n.Expr] = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, n.Binary) and x.op == op:
                stack += [x.right, x.left]
            else:
                out.append(x)
        return out
    return [e]


def _chain(op: str, xs: list[n.Expr], ys: list[n.Expr], path: tuple[str, ...], out: list[Part]) -> None:
    """Operand lists aligned like list items: an operand added or removed is one part."""
    sm = difflib.SequenceMatcher(None, [format_expr(x) for x in xs], [format_expr(y) for y in ys], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                _walk(xs[i1 + k], ys[j1 + k], (*path, f"`{op}` operand {j1 + k + 1}"), out)
            continue
        here = (*path, f"`{op}` operand {(j1 if j2 > j1 else i1) + 1}")
        out.append(Part(_join(here), _joined(op, xs[i1:i2]), _joined(op, ys[j1:j2])))


def _joined(op: str, xs: list[n.Expr]) -> str:
    if len(xs) == 1:
        return format_expr(xs[0])
    return f" {op} ".join(format_expr(x, _LEVEL[op]) for x in xs) or NOTHING


def _call(a: n.Call, b: n.Call, path: tuple[str, ...], out: list[Part]) -> None:
    if a.fn != b.fn or len(a.args) != len(b.args) or [k.name for k in a.kwargs] != [k.name for k in b.kwargs]:
        _emit(a, b, path, out)
        return
    for i, (x, y) in enumerate(zip(a.args, b.args, strict=True)):
        _walk(x, y, (*path, f"`{a.fn}` arg {i + 1}"), out)
    for kx, ky in zip(a.kwargs, b.kwargs, strict=True):
        _walk(kx.value, ky.value, (*path, f"`{a.fn}` {kx.name}:"), out)


def _list(xs: tuple[n.Expr, ...], ys: tuple[n.Expr, ...], path: tuple[str, ...], out: list[Part]) -> None:
    if len(xs) == len(ys):
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            _walk(x, y, (*path, f"item {i + 1}"), out)
        return
    sm = difflib.SequenceMatcher(None, [format_expr(x) for x in xs], [format_expr(y) for y in ys], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        here = (*path, f"item {j1 + 1}" if j2 > j1 else f"item {i1 + 1}")
        old = ", ".join(format_expr(x) for x in xs[i1:i2]) or NOTHING
        new = ", ".join(format_expr(y) for y in ys[j1:j2]) or NOTHING
        out.append(Part(_join(here), old, new))


def _pair(p: n.Pair) -> str:
    return format_expr(n.MapLit((p,)))[1:-1]


def _map(xs: tuple[n.Pair, ...], ys: tuple[n.Pair, ...], path: tuple[str, ...], out: list[Part]) -> None:
    if len(xs) == len(ys):
        for x, y in zip(xs, ys, strict=True):
            key = _pair(x).split(": ", 1)[0]
            if x.key == y.key:
                _walk(x.value, y.value, (*path, f"key {key}"), out)
            elif x.value == y.value:  # a threshold moved: the key is what changed
                out.append(Part(_join((*path, f"key {key}")), key, _pair(y).split(": ", 1)[0]))
            else:
                out.append(Part(_join(path), _pair(x), _pair(y)))
        return
    sm = difflib.SequenceMatcher(None, [_pair(x) for x in xs], [_pair(y) for y in ys], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            out.append(Part(_join(path), ", ".join(_pair(x) for x in xs[i1:i2]) or NOTHING,
                            ", ".join(_pair(y) for y in ys[j1:j2]) or NOTHING))
