"""Named gradings: ``grading groups "EGDI groups" {…}``, ``within: groups``, ``by: groups``.

A grading may carry an id. A node's first grading is its grading (``grade``/``sublevel`` for the
total, ``g:<node>`` for another node); each further grading of the node must be named and is
shown as ``g:<node>:<id>``. A named grading can be read by another: ``within: <id>`` grades each
of its classes separately; ``by: <id>`` groups a statistic across units; ``<id> == "A"`` in a class
condition is the unit's class under it. This module checks ids (E280, E281), ``within:``
(E282), what each grading reads (:attr:`govindex.ir.Grading.needs`) and that no grading reads
itself through others (E283).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from govindex import ir
from govindex.diagnostics import did_you_mean
from govindex.lang import nodes as n

Err = Callable[[str, str, n.Span, str], None]


def grading_ids(decls: Iterable[n.GradingDecl], attrs: Iterable[str], err: Err) -> dict[str, n.GradingDecl]:
    """The named gradings by id; a repeated id (E280) or one that is a registry column (E281) is
    reported and left out."""
    out: dict[str, n.GradingDecl] = {}
    columns = set(attrs)
    for g in decls:
        if g.id is None:
            continue
        if g.id in out:
            err("E280", f"a second grading named `{g.id}`", g.span, f"the first is at {out[g.id].span}; rename one")
        elif g.id in columns:
            err("E281", f"grading `{g.id}` has the name of a units registry column", g.span,
                "give the grading another name: conditions read both by name")
        else:
            out[g.id] = g
    return out


def within(e: n.Expr | None, own: str | None, ids: Iterable[str], err: Err) -> str | None:
    """The grading named by ``within:`` (E282 when it names none, E283 when it is the grading itself)."""
    if e is None:
        return None
    known = list(ids)
    if not isinstance(e, n.Name) or e.id not in known:
        err("E282", f"`within: {getattr(e, 'id', '…')}` names no grading", getattr(e, "span", n.NOWHERE),
            did_you_mean(getattr(e, "id", ""), known) or "name a grading: grading groups \"…\" { … }, then within: groups")
        return None
    if e.id == own:
        err("E283", f"grading `{own}` is `within:` itself", e.span, "name another grading")
        return None
    return e.id


def needs(g: ir.Grading, ids: set[str]) -> tuple[str, ...]:
    """The gradings ``g`` reads, in first-use order: ``within:``, then ``by:`` and class names in its
    conditions."""
    found = [g.within] if g.within else []
    for _, cond in g.conditions:
        for e in _walk(cond):
            name = e.by if isinstance(e, ir.UnitStat) else e.name if isinstance(e, ir.Column) else None
            if name in ids and name not in found:
                found.append(name)
    return tuple(x for x in found if x is not None)


def _walk(e: ir.Expr) -> Iterator[ir.Expr]:
    yield e
    if isinstance(e, ir.UnitStat):
        yield from _walk(e.arg)
        if e.where is not None:
            yield from _walk(e.where)
    elif isinstance(e, ir.Op):
        for a in e.args:
            yield from _walk(a)


def cycles(gradings: Iterable[ir.Grading], err: Err) -> bool:
    """Report (E283) each named grading that reads itself through others; True when there is none."""
    named = {g.id: g for g in gradings if g.id is not None}
    ok = True
    for gid, g in named.items():
        path = _path_back(gid, named)
        if path:
            err("E283", "gradings read each other in a circle: " + " → ".join([gid, *path]), g.span,
                "a grading can be within, or grouped by, only a grading that does not read it back")
            ok = False
    return ok


def _path_back(start: str, named: dict[str, ir.Grading]) -> list[str]:
    """The gradings from ``start``'s needs back to ``start``, or [] when none leads back."""
    stack: list[tuple[str, list[str]]] = [(x, [x]) for x in named[start].needs]
    seen: set[str] = set()
    while stack:
        at, path = stack.pop()
        if at == start:
            return path
        if at in seen or at not in named:
            continue
        seen.add(at)
        stack += [(x, [*path, x]) for x in named[at].needs]
    return []



def class_names(gradings: Iterable[ir.Grading], err: Err) -> None:
    """Report (E262) a condition comparing a grading with a string that is none of its classes:
    ``groups == "very_hgh"`` would never hold."""
    every = list(gradings)
    classes = {g.id: [c for c, _ in g.classes] for g in every if g.id is not None}
    for g in every:
        for _, cond in g.conditions:
            for e in _walk(cond):
                if not (isinstance(e, ir.Op) and e.op in ("==", "!=")):
                    continue
                names = [a.name for a in e.args if isinstance(a, ir.Column) and a.name in classes]
                texts = [a for a in e.args if isinstance(a, ir.Const) and a.type == "str"]
                if names and texts and texts[0].value not in classes[names[0]]:
                    err("E262", f"{texts[0].value!r} is not a class of grading `{names[0]}`", texts[0].span,
                        did_you_mean(str(texts[0].value), classes[names[0]])
                        or "its classes: " + ", ".join(classes[names[0]]))
