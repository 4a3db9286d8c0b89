"""What a rule set publishes beyond per-unit scores: whether it has a total (``total: none``), and
its summaries across units (``summary id "label" { of: …, aggregate: …, by: … }``).

``total: none`` — the index publishes its first-level indicators (categories) and no total: the
root is a set of categories. Nothing may then rely on a total: ``max_total``, a root
``aggregate``, a ``grading`` of the total (without ``node:`` or with ``node: total``) and a test's ``expect … total`` are E254.

A summary names indicators or points (``of: [a, b]``) or every node of a level (``of: level(2)``),
an aggregate across units (``mean``, ``sum``, ``min``, ``max``, ``count``) and optionally a unit
attribute ``by:`` to summarise per group. See :mod:`govindex.eval.summaries` for the definitions.
"""

from __future__ import annotations

from typing import Protocol

from govindex import ir
from govindex.diagnostics import did_you_mean
from govindex.ir import ROOT, Node, Summary
from govindex.lang import nodes as n

SUMMARY_KEYS = {"of", "aggregate", "by", "description", "source"}
SUMMARY_AGGREGATES: tuple[ir.SummaryAggregate, ...] = ("mean", "sum", "min", "max", "count")
_NO_TOTAL_HINT = "the rule set says `total: none`: it publishes its categories, and no total"


class Checker(Protocol):
    items: list[n.Item]

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None: ...

    def _settings(self, items: tuple[n.Setting, ...], allowed: set[str], what: str) -> dict[str, n.Expr]: ...


def has_total(ck: Checker, settings: dict[str, n.Expr]) -> bool:
    """False when the rule set says ``total: none`` (checking what cannot go with it); else True."""
    e = settings.get("total")
    if e is None:
        return True
    if not (isinstance(e, n.Name) and e.id == "none"):
        ck.err("E253", "`total:` takes `none` (an index without a total)", e.span,
               "write `total: none`, or remove the setting: a rule set has a total by default")
        return True
    for key in ("max_total", "aggregate", "scale"):
        if key in settings:
            ck.err("E254", f"`{key}` says how to make the total, but there is none", settings[key].span,
                   _NO_TOTAL_HINT + f"; remove `{key}`")
    for it in ck.items:
        if isinstance(it, n.GradingDecl) and _grades_total(it):
            ck.err("E254", "a `grading` grades the total, but there is none", it.span,
                   _NO_TOTAL_HINT + "; grade a category with `node:`")
        if isinstance(it, n.TestDecl):
            for ex in it.expects:
                if ex.node == ROOT:
                    ck.err("E254", f"`expect … {ROOT}`: there is no total", ex.span,
                           _NO_TOTAL_HINT + "; expect a category's score instead")
    return False


def _grades_total(g: n.GradingDecl) -> bool:
    """A grading without ``node:``, or with ``node: total``, grades the total."""
    node = next((st.value for st in g.settings if st.key == "node"), None)
    return node is None or (isinstance(node, n.Name) and node.id == ROOT)


def summaries(ck: Checker, nodes: dict[str, Node], attrs: list[str]) -> tuple[Summary, ...]:
    """The rule set's ``summary`` declarations, checked."""
    out: list[Summary] = []
    seen: dict[str, n.Span] = {}
    for d in (it for it in ck.items if isinstance(it, n.SummaryDecl)):
        if d.id in seen:
            ck.err("E258", f"a second summary `{d.id}`", d.span, f"the first is at {seen[d.id]}")
            continue
        seen[d.id] = d.span
        s = ck._settings(d.settings, SUMMARY_KEYS, f"summary `{d.id}`")
        of = _of(ck, d, s.get("of"), nodes)
        agg = _aggregate(ck, d, s.get("aggregate"))
        by = by_column(ck, s.get("by"), attrs, "E257")
        if of is not None and agg is not None and by is not False:
            out.append(Summary(d.id, d.label, of, agg, by if isinstance(by, str) else None, d.span))
    return tuple(out)


def _of(ck: Checker, d: n.SummaryDecl, e: n.Expr | None, nodes: dict[str, Node]) -> tuple[str, ...] | None:
    named = [k for k, x in nodes.items() if k != ROOT and not x.is_ref]
    hint = "e.g. of: [dataset_a, dataset_b], or of: level(2) for every node of the second level"
    if e is None:
        ck.err("E255", f"summary `{d.id}` needs `of:`", d.span, hint)
        return None
    if isinstance(e, n.Call) and e.fn == "level" and len(e.args) == 1 and not e.kwargs:
        lv = e.args[0]
        levels = sorted({x.level for x in nodes.values() if x.level > 0})
        if not (isinstance(lv, n.Number) and lv.value in levels):
            ck.err("E255", "`level(…)` takes the number of a level of the tree", lv.span,
                   "levels: " + ", ".join(map(str, levels)))
            return None
        return tuple(k for k in named if nodes[k].level == lv.value)
    if not (isinstance(e, n.ListLit) and e.items and all(isinstance(i, n.Name) for i in e.items)):
        ck.err("E255", "`of:` takes a list of indicator or point ids, or `level(N)`", e.span, hint)
        return None
    ids = []
    for i in e.items:
        assert isinstance(i, n.Name)
        if i.id not in named:
            ck.err("E256", f"summary `{d.id}`: no indicator or point `{i.id}`", i.span,
                   did_you_mean(i.id, named) or "name declared indicators or points")
        elif i.id in ids:
            ck.err("E255", f"summary `{d.id}` names `{i.id}` twice", i.span, "name each node once")
        else:
            ids.append(i.id)
    return tuple(ids) if len(ids) == len(e.items) else None


def _aggregate(ck: Checker, d: n.SummaryDecl, e: n.Expr | None) -> ir.SummaryAggregate | None:
    if e is None:
        return "mean"
    if isinstance(e, n.Name) and e.id in SUMMARY_AGGREGATES:
        return e.id
    ck.err("E255", f"summary `{d.id}`: unknown aggregate", e.span,
           did_you_mean(getattr(e, "id", ""), SUMMARY_AGGREGATES) or "one of " + ", ".join(SUMMARY_AGGREGATES))
    return None


def by_column(ck: Checker, e: n.Expr | None, attrs: list[str], code: str) -> str | None | bool:
    """A `by:` grouping column of the units file (summaries, statistics): the column, None for all
    units together, False when invalid (reported as ``code``)."""
    if e is None:
        return None
    name = e.id if isinstance(e, n.Name) else e.value if isinstance(e, n.String) else None
    if name in attrs:
        return name
    ck.err(code, f"`by:` names a column of the units file{'' if name is None else f', not `{name}`'}", e.span,
           did_you_mean(name or "", attrs) or ("columns: " + ", ".join(attrs) if attrs else
                                                "the units file has no column beyond code and name"))
    return False
