"""References: one node counted under several parents (``ref target { weight: … }``).

A ref is a node of its own in the tree — id ``target@parent``, the parent's child at the place it
is written, with its own weight or maximum there — whose score is the target's rate × its own
maximum (see :mod:`govindex.eval.refs`). The target is computed once, where it is declared.

Checked here: the target exists (E250, with a did-you-mean), the references form no cycle (a ref to
an ancestor, or refs that lead back to themselves: E251), a parent counts a node once (a ref to
one of its own children, or the same ref twice: E252).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from govindex.diagnostics import did_you_mean
from govindex.ir import Node
from govindex.lang import nodes as n

if TYPE_CHECKING:
    from govindex.check.tree import Tree

REF_KEYS = {"max", "weight", "round", "description"}


def ref_id(target: str, parent: str) -> str:
    """The id of ``ref target`` written in ``parent``: ``target@parent`` (its ``s:`` column, its key in outputs)."""
    return f"{target}@{parent}"


def collect(tree: Tree, d: n.RefDecl, parent: str) -> None:
    """Register ``ref`` ``d`` as a child of ``parent``, in its declared place among the others."""
    ident = ref_id(d.target, parent)
    if ident in tree.decls:
        tree.ck.err("E252", f"`{parent}` refers to `{d.target}` twice", d.span,
                    f"the first `ref {d.target}` is at {tree.decls[ident].span}; a parent counts a node once")
        return
    tree.decls[ident] = d
    tree.parent[ident] = parent
    tree.children.setdefault(ident, [])


def emit(tree: Tree, ident: str, d: n.RefDecl, parent: str, level: int, max_: float, weight: float | None,
         s: dict[str, n.Expr], out: dict[str, Node]) -> None:
    """The ref's node; its label and missing-data policy are the target's, filled in by :func:`resolve`."""
    out[ident] = Node(ident, d.target, "indicator", parent, level, max_, weight, "", "null", "", None, None, (),
                      d.span, s, round=tree._node_rounding(s, f"`ref {d.target}` in `{parent}`"), ref=d.target)


def resolve(tree: Tree, out: dict[str, Node]) -> None:
    """Check every ref's target and give the ref the target's label and missing-data policy (for a
    point target, its policy per reason too: the ref reads the target's status)."""
    for ident, x in list(out.items()):
        if x.ref is None:
            continue
        target = out.get(x.ref)
        if target is None or target.is_ref:
            declared = [k for k, d in tree.decls.items() if not isinstance(d, n.RefDecl)]
            tree.ck.err("E250", f"`ref {x.ref}`: no indicator or point `{x.ref}`", x.span,
                        did_you_mean(x.ref, declared) or "refer to the id of a declared indicator or point")
            continue
        if target.parent == x.parent:
            tree.ck.err("E252", f"`{x.ref}` is already a child of `{x.parent}`", x.span,
                        "a parent counts a node once: remove the ref, or give the child the weight you want")
            continue
        out[ident] = dataclasses.replace(x, label=target.label, missing=target.missing, missing_by=target.missing_by)
    _cycles(tree, out)


def _cycles(tree: Tree, out: dict[str, Node]) -> None:
    """A ref whose target depends on the ref itself: the target is an ancestor of the ref, or a
    chain of refs leads back (``a`` refers to ``b`` while ``b`` refers to ``a``)."""
    for ident, x in out.items():
        if x.ref is None or x.ref not in out:
            continue
        path = _path(out, x.ref, ident, set())
        if path is not None:
            chain = " → ".join([f"ref {x.ref} (in {x.parent})", *path])
            tree.ck.err("E251", f"`ref {x.ref}` in `{x.parent}` makes a cycle: {chain}", x.span,
                        f"`{x.ref}` would need its own score to compute itself; refer to a node outside "
                        f"`{x.parent}`'s ancestors and subtrees that refer back")


def _path(out: dict[str, Node], start: str, goal: str, seen: set[str]) -> list[str] | None:
    """The nodes from ``start`` down to ``goal`` through children and refs, or None."""
    if start == goal:
        return [start]
    if start in seen or start not in out:
        return None
    seen.add(start)
    x = out[start]
    for nxt in (*x.children, *((x.ref,) if x.ref is not None else ())):
        rest = _path(out, nxt, goal, seen)
        if rest is not None:
            return [start, *rest]
    return None
