"""Consequences folded under their cause: derived maxima are not edits of their own.

A node's maximum is **derived** when its declaration does not write ``max:`` — a child of a
weighted parent (wmean, mean, geomean) gets its weight's share of the parent's maximum — and
the total's maximum is derived when the header does not write ``max_total:`` (the sum of the
first-level maxima). A changed derived maximum is then folded, as a ``follows`` of the edit that
caused it, the first of (in this order):

1. a changed ``weight`` among its siblings (its own included): ``osi weight 0.34 → 1/3; the
   maxima of 3 siblings follow``;
2. a sibling added, removed or moved in or out (the shares are recomputed);
3. the changed maximum of its parent (proportional; itself maybe folded: consequences nest);
4. for the total: a changed maximum of a first-level node, or one added or removed.

A changed derived maximum with no such cause stays an edit of its own. A written ``max:`` is
always an edit of its own: somebody wrote it.
"""

from __future__ import annotations

import dataclasses

from govindex.ir import ROOT, RuleSet


def derived(rs: RuleSet, node_id: str) -> bool:
    """Whether the maximum of ``node_id`` is computed (from weights, or the total from its children)."""
    if node_id == ROOT:
        return "max_total" not in rs.settings
    x = rs.nodes.get(node_id)
    return x is not None and "max" not in x.settings and not x.is_ref


def fold(edits: list, old: RuleSet, new: RuleSet, m: dict[str, str]) -> list:
    """``edits`` with every derived-maximum edit moved under its cause's ``follows``."""
    back = {b: a for a, b in m.items()}
    cause_of: dict[int, int] = {}
    for k, e in enumerate(edits):
        if _is_max(e) and derived(new, _node(e)) and derived(old, back.get(_node(e), _node(e))):
            c = _cause(e, edits, old, new, m)
            if c is not None and not _reaches(c, k, cause_of):
                cause_of[k] = c
    return _nest(edits, cause_of)


def _is_max(e) -> bool:
    return (e.kind == "changed" and e.field == "max" and e.scope in ("indicator", "point")) or (
        e.scope == "ruleset" and e.field == "max_total")


def _node(e) -> str:
    return ROOT if e.scope == "ruleset" else e.node


def _parent_of(e, old: RuleSet, new: RuleSet, m: dict[str, str]) -> str | None:
    """The parent (new id) an edit's node sits under: a removed node's old parent, mapped."""
    if e.kind == "removed":
        x = old.nodes.get(e.node)
        return None if x is None or x.parent is None else m.get(x.parent)
    x = new.nodes.get(e.node)
    return None if x is None else x.parent


def _cause(e, edits: list, old: RuleSet, new: RuleSet, m: dict[str, str]) -> int | None:
    tree = [(k, c) for k, c in enumerate(edits) if c.scope in ("indicator", "point", "ref")]
    node = _node(e)
    if node == ROOT:
        for k, c in tree:
            if _parent_of(c, old, new, m) == ROOT and (c.kind in ("added", "removed") or c.field == "max"):
                return k
        return None
    parent = new.nodes[node].parent
    sibling = [(k, c) for k, c in tree if _parent_of(c, old, new, m) == parent]
    for k, c in sibling:
        if c.kind == "changed" and c.field == "weight":
            return k
    for k, c in tree:  # the shares are recomputed when a sibling comes or goes
        came_or_went = c.kind in ("added", "removed") and _parent_of(c, old, new, m) == parent
        moved = c.kind == "moved" and parent in (c.new, m.get(c.old or ""))
        if (came_or_went or moved) and c.node != node:
            return k
    for k, c in tree:
        if c.node == parent and c.kind == "changed" and c.field == "max":
            return k
    return None


def _nest(edits: list, cause_of: dict[int, int]) -> list:
    """Rebuild the edits bottom-up: each cause carries its consequences (themselves with theirs)."""
    kids: dict[int, list[int]] = {}
    for k, c in cause_of.items():
        kids.setdefault(c, []).append(k)
    done: dict[int, object] = {}

    def build(k: int, seen: frozenset[int]) -> object:
        if k not in done:
            below = [build(j, seen | {k}) for j in kids.get(k, []) if j not in seen]
            e = edits[k]
            done[k] = dataclasses.replace(e, follows=(*e.follows, *below)) if below else e
        return done[k]

    return [build(k, frozenset()) for k in range(len(edits)) if k not in cause_of]


def _reaches(c: int | None, k: int, cause_of: dict[int, int]) -> bool:
    """Whether ``c`` is ``k`` or caused by it (folding ``k`` under ``c`` would make a cycle)."""
    while c is not None:
        if c == k:
            return True
        c = cause_of.get(c)
    return False
