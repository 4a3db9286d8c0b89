"""Old node ids → new node ids, each rename with the evidence for it.

A node keeps its identity across versions when it keeps its id. A node whose id changed is a
**rename** only on evidence, and the evidence is reported:

* ``same label and parent`` — the same label under the same parent (itself matched), the pair
  unique on both sides (two siblings with one label prove nothing);
* ``same probe and parent`` — for a point, the same probe (as it means, lets expanded) under the
  same parent, that probe *distinctive*: no other point of either version has it (the ubiquitous
  ``entry(manual)`` proves nothing).

Never on a changed label and a changed probe both, never by position, never by "most of its
children" (question labels repeat under every dataset: a dataset would be "renamed" into an
unrelated one). Matching runs in passes, so a renamed indicator lets its renamed children match.
"""

from __future__ import annotations

from collections import Counter

from govindex import ir
from govindex.ir import Node, RuleSet
from govindex.lang import nodes as n

SAME_LABEL = "same label and parent"
SAME_PROBE = "same probe and parent"


def match(old: RuleSet, new: RuleSet) -> dict[str, str]:
    """Old node id → new node id: equal ids, then renames found pass by pass."""
    return match_with_evidence(old, new)[0]


def match_with_evidence(old: RuleSet, new: RuleSet) -> tuple[dict[str, str], dict[str, str]]:
    """``match`` and, for every renamed node (by its new id), why it is one."""
    m = {i: i for i in old.nodes if i in new.nodes}
    why: dict[str, str] = {}
    probes = _distinctive(old, new)
    while True:
        found = _pass(old, new, m, probes)
        if not found:
            return m, why
        for a, (b, evidence) in found.items():
            m[a] = b
            why[b] = evidence


def _pass(old: RuleSet, new: RuleSet, m: dict[str, str], probes: dict) -> dict[str, tuple[str, str]]:
    """One pass: renames provable now (each old and new node at most once, unambiguous)."""
    taken = set(m.values())
    rest_old = [old.nodes[i] for i in old.nodes if i not in m]
    rest_new = [new.nodes[i] for i in new.nodes if i not in taken]
    found: dict[str, tuple[str, str]] = {}
    for evidence, key in ((SAME_LABEL, _label_key), (SAME_PROBE, _probe_key)):
        ko = Counter(k for x in rest_old if (k := key(x, m, probes)) is not None)
        kn = {k: x for x in rest_new if (k := key(x, None, probes)) is not None}
        counts_new = Counter(k for x in rest_new if (k := key(x, None, probes)) is not None)
        for x in rest_old:
            k = key(x, m, probes)
            if k is None or ko[k] != 1 or counts_new[k] != 1 or x.id in found:
                continue
            w = kn[k]
            if w.id not in {b for b, _ in found.values()}:
                found[x.id] = (w.id, evidence)
    return found


def _eligible(x: Node) -> bool:
    return not x.is_ref and x.id != ir.ROOT  # a ref is known by its id (target@parent)


def _parent(x: Node, m: dict[str, str] | None) -> str | None:
    """The parent's id in the new version (an old node's parent through ``m``; None: unmatched)."""
    if x.parent is None:
        return None
    return x.parent if m is None else m.get(x.parent)


def _label_key(x: Node, m: dict[str, str] | None, probes: dict) -> tuple | None:
    parent = _parent(x, m)
    return None if not _eligible(x) or parent is None else (x.is_point, x.label, parent)


def _probe_key(x: Node, m: dict[str, str] | None, probes: dict) -> tuple | None:
    parent = _parent(x, m)
    p = probes.get((m is None, x.id))
    return None if not _eligible(x) or parent is None or p is None else (p, parent)


def _distinctive(old: RuleSet, new: RuleSet) -> dict[tuple[bool, str], n.Expr]:
    """(new side?, point id) → its probe (as it means), for the probes found once in each version."""
    sides = [{x.id: ir.to_syntax(x.probe) for x in rs.points if x.probe is not None} for rs in (old, new)]
    counts = [Counter(s.values()) for s in sides]
    return {(side == 1, i): p for side, s in enumerate(sides) for i, p in s.items()
            if counts[0][p] == 1 and counts[1][p] == 1}
