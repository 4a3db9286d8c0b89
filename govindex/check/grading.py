"""Checking ``grading`` blocks: the node graded, method, classes, sub-levels, cuts, measures and
class conditions (see :mod:`govindex.grade` and :mod:`govindex.eval.node_grades`). At most one
grading per node unless named; a node's first grading is :attr:`RuleSet.grading` (the total's) or in
:attr:`RuleSet.node_gradings`, its further, named ones in :attr:`RuleSet.named_gradings`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from govindex import ir
from govindex.check import grading_ids as ids
from govindex.check.grading_conditions import Conditions
from govindex.check.settings import Reporter
from govindex.diagnostics import did_you_mean
from govindex.ir import ROOT, Grading, Node
from govindex.lang import nodes as n
from govindex.lang.fmt import format_string

GRADING_KEYS = {"method", "classes", "sublevels", "cuts", "window", "min_class", "description", "source",
                "node", "value", "floor", "measures", "conditions", "within"}
GRADING_METHODS = {"difference_trend": "breaks at the most significant gaps of the sorted totals",
                   "thresholds": "fixed cut-off totals",
                   "conditions": "a condition per class over measures and statistics across units"}
GRADING_VALUES = {"unrounded": "the node's value as computed (after any `round:` of the method)",
                  "reported": "the node's value rounded as written (`rounding:`)"}
QUANTILE_TYPES = tuple(range(1, 10))  # R's types, as govindex.eval.stats.quantile implements them


class GradingChecker:
    """Checks the one ``grading`` block of a rule set, reporting through the rule-set checker."""

    def __init__(self, ck: Reporter):
        self.ck = ck

    def run(self, max_total: float | None, n_units: int, nodes: dict[str, Node] | None = None,
            attrs: list[str] | None = None) -> Grading | None:
        """The total's checked grading, or None when there is none or it has errors; the gradings
        of other nodes are left in :attr:`others`."""
        self.others: list[Grading] = []
        self.named: list[Grading] = []  # a node's further gradings (named; see check/grading_ids.py)
        self.nodes, self.attrs = nodes, attrs or []
        decls = [it for it in self.ck.items if isinstance(it, n.GradingDecl)]
        self.ids = ids.grading_ids(decls, self.attrs, self.ck.err)
        seen: dict[str, n.GradingDecl] = {}
        total: Grading | None = None
        for g in decls:
            s = self.ck._settings(g.settings, GRADING_KEYS, "grading")
            node = self._node(s.get("node"))
            if node is None:
                continue
            if node in seen and g.id is None:
                self.ck.err("E264", f"a second grading of `{node}` without a name", g.span,
                            f"the first is at {seen[node].span}; name this one: grading <id> {format_string(g.label)} {{…}}")
                continue
            first = node not in seen
            seen.setdefault(node, g)
            scale = nodes[node].scale if nodes is not None and node in nodes else max_total
            checked = self._one(g, s, scale, n_units)  # the root's: its `scale:`, else max_total
            if checked is not None:
                checked = replace(checked, node=node, id=g.id, **self._extras(s, checked.method),
                                  within=ids.within(s.get("within"), g.id, self.ids, self.ck.err))
                checked = replace(checked, needs=ids.needs(checked, set(self.ids)))
                if not first:
                    self.named.append(checked)
                elif node == ROOT:
                    total = checked
                else:
                    self.others.append(checked)
        every = [*([total] if total else []), *self.others, *self.named]
        ids.cycles(every, self.ck.err)
        ids.class_names(every, self.ck.err)
        return total

    def _node(self, e: n.Expr | None) -> str | None:
        if e is None:
            return ROOT
        ids = list(self.nodes or {})
        if isinstance(e, n.Name) and (self.nodes is None or e.id in self.nodes):
            return e.id
        self.ck.err("E260", f"`node: {getattr(e, 'id', '…')}` is not an indicator or point of the rule set",
                    e.span, did_you_mean(getattr(e, "id", ""), ids) or "name the node graded, e.g. node: total")
        return None

    def _one(self, g: n.GradingDecl, s: dict[str, n.Expr], max_total: float | None, n_units: int) -> Grading | None:
        method = s.get("method")
        if not (isinstance(method, n.Name) and method.id in GRADING_METHODS):
            self.ck.err("E211", "grading needs `method: difference_trend`, `thresholds` or `conditions`",
                        method.span if method else g.span, did_you_mean(getattr(method, "id", ""), GRADING_METHODS))
            return None
        classes = self._classes(s.get("classes"), g.span)
        self._class_ids, self._span = classes, g.span
        ids = [c for c, _ in classes]
        subs = s.get("sublevels")
        sublevels: set[str] = set()
        if subs is not None:
            names = [i for i in subs.items if isinstance(i, n.String)] if isinstance(subs, n.ListLit) else []
            if not isinstance(subs, n.ListLit) or len(names) != len(subs.items):
                self.ck.err("E211", "`sublevels` lists class ids as strings", subs.span, 'e.g. sublevels: ["A", "B", "C"]')
            else:
                for i in names:
                    if i.value not in ids:
                        self.ck.err("E211", f"`sublevels` names unknown class {i.value!r}", i.span, did_you_mean(i.value, ids))
                    sublevels.add(i.value)
        cuts = self._cuts(method.id, s.get("cuts"), ids, max_total, g.span)
        window = self._int(s.get("window"), 5)
        min_class = self._int(s.get("min_class"), max(1, round(n_units * 0.03)))
        if method.id == "conditions" and not classes:
            return None
        return Grading(g.label, cast(ir.GradingMethod, method.id), tuple(classes), frozenset(sublevels), cuts,
                       window, min_class, g.span)

    def _extras(self, s: dict[str, n.Expr], method: str) -> dict[str, Any]:
        """``value``, ``floor``, ``measures`` and ``when``, checked (E261, E263, E265)."""
        out: dict[str, Any] = {}
        v = s.get("value")
        if v is not None:
            if isinstance(v, n.Name) and v.id in GRADING_VALUES:
                out["value"] = v.id
            else:
                self.ck.err("E265", "`value` is `unrounded` or `reported`", v.span,
                            did_you_mean(getattr(v, "id", ""), GRADING_VALUES) or "; ".join(
                                f"{k}: {d}" for k, d in GRADING_VALUES.items()))
        f = s.get("floor")
        if f is not None:
            if method != "difference_trend":
                self.ck.err("E265", "`floor` belongs to `method: difference_trend`", f.span, "remove it")
            elif isinstance(f, n.Number) and 0 < f.value <= 1e6:
                out["floor"] = f.value
            else:
                self.ck.err("E265", "`floor` is a positive number of mean gaps", f.span, "e.g. floor: 2 (the default)")
        for key in ("measures", "conditions"):
            if key in s and method != "conditions":
                self.ck.err("E261" if key == "measures" else "E263", f"`{key}` belongs to `method: conditions`",
                            s[key].span, "thresholds and difference_trend grade the node's own value")
        if method == "conditions":
            out["measures"] = self._measures(s.get("measures"))
            out["conditions"] = self._conditions(s.get("conditions"), dict(out["measures"]))
        return out

    def _measures(self, e: n.Expr | None) -> tuple[tuple[str, str], ...]:
        pairs = e.pairs if isinstance(e, n.MapLit) else ()
        if not isinstance(e, n.MapLit) or not pairs or not all(isinstance(p.value, n.Name) for p in pairs):
            self.ck.err("E261", "`method: conditions` needs `measures:` — a map of names to nodes",
                        e.span if e is not None else self._span, "e.g. measures: {x: total, y: 支柱甲}")
            return ()
        out = []
        for p in pairs:
            assert isinstance(p.value, n.Name)
            if self.nodes is not None and p.value.id not in self.nodes:
                self.ck.err("E260", f"measure `{p.key_text}`: `{p.value.id}` is not an indicator or point", p.value.span,
                            did_you_mean(p.value.id, list(self.nodes)) or "name a node of the rule set, or total")
            elif p.key_text in self.attrs:
                self.ck.err("E261", f"measure `{p.key_text}` has the name of a units registry column", p.span,
                            "give the measure another name")
            elif p.key_text in self.ids:
                self.ck.err("E281", f"measure `{p.key_text}` has the name of a grading", p.span,
                            "give the measure another name: conditions read both by name")
            else:
                out.append((p.key_text, p.value.id))
        return tuple(out)

    def _conditions(self, e: n.Expr | None, measures: dict[str, str]) -> tuple[tuple[str, ir.Expr], ...]:
        ids = [c for c, _ in self._class_ids]
        if not isinstance(e, n.MapLit) or not e.pairs:
            self.ck.err("E263", "`method: conditions` needs `conditions:` — a condition for each class but the last",
                        e.span if e is not None else self._span,
                        "e.g. conditions: {A: x >= q(x, 0.75) and y >= 2/3, B: x >= median(x)}")
            return ()
        lower = Conditions(self.ck.err, set(measures), set(self.attrs) | set(self.ids), QUANTILE_TYPES)
        out = []
        for p in e.pairs:
            if p.key_text not in ids:
                self.ck.err("E263", f"`conditions` gives a condition for {p.key_text}, which is not a class", p.span,
                            did_you_mean(p.key_text, ids) or "classes: " + ", ".join(ids))
                continue
            cond = lower.condition(p.value)
            if cond is not None:
                out.append((p.key_text, cond))
        given = {p.key_text for p in e.pairs}
        for c in ids[:-1]:
            if c not in given:
                self.ck.err("E263", f"class {c} has no condition", e.span,
                            f"add {c}: <condition>; only the last class may take the rest without one")
        order = [c for c in ids if c in given]
        if order != [p.key_text for p in e.pairs if p.key_text in ids]:
            self.ck.err("E263", "conditions are tried from the best class down: give them in the order of `classes`",
                        e.span, " → ".join(ids))
        return tuple(out)

    def _classes(self, e: n.Expr | None, span: n.Span) -> list[tuple[str, str]]:
        labels = [(p, p.value) for p in e.pairs if isinstance(p.value, n.String)] if isinstance(e, n.MapLit) else []
        if not isinstance(e, n.MapLit) or len(e.pairs) < 2 or len(labels) != len(e.pairs):
            self.ck.err("E211", "grading needs `classes:` — at least two, best first, each with a label",
                        e.span if e is not None else span,
                        'e.g. classes: {A: "创新领先", B: "积极追赶", C: "稳步推进", D: "亟待发展"}')
            return []
        return [(str(p.key if not isinstance(p.key, float) else p.key_text), label.value) for p, label in labels]

    def _cuts(self, method: str, e: n.Expr | None, ids: list[str], max_total: float | None,
                      span: n.Span) -> dict[str, float]:
        if method != "thresholds":
            if e is not None:
                self.ck.err("E211", "`cuts` belong to `method: thresholds`", e.span,
                            "difference_trend finds its own breaks; conditions give each class a condition in `conditions:`")
            return {}
        numbers = [(p, p.value) for p in e.pairs if isinstance(p.value, n.Number)] if isinstance(e, n.MapLit) else []
        if not isinstance(e, n.MapLit) or len(numbers) != len(e.pairs):
            self.ck.err("E211", "thresholds need `cuts:` — the lowest total of each class but the last",
                        e.span if e is not None else span, "e.g. cuts: {A: 80, B: 60, C: 45}")
            return {}
        cuts = {str(p.key): v.value for p, v in numbers}
        for p in e.pairs:
            if str(p.key) not in ids[:-1]:
                self.ck.err("E211", f"cut for {p.key_text}: not a class, or the last class (which takes the rest)", p.span,
                            "give a cut for every class but the last")
        for c in ids[:-1]:
            if c not in cuts:
                self.ck.err("E211", f"class {c} has no cut: a gap between classes", e.span, f"add {c}: <lowest total of {c}>")
        ordered = [cuts[c] for c in ids[:-1] if c in cuts]
        if any(a <= b for a, b in zip(ordered, ordered[1:])):
            self.ck.err("E211", "cuts must fall from the best class to the worst: classes overlap", e.span,
                        " > ".join(f"{c}: {cuts[c]:g}" for c in ids[:-1] if c in cuts))
        if max_total and any(not 0 <= v <= max_total for v in cuts.values()):
            self.ck.err("E211", f"cuts must lie within 0 … {max_total:g}", e.span)
        return cuts

    def _int(self, e: n.Expr | None, default: int) -> int:
        if e is None:
            return default
        if isinstance(e, n.Number) and 1 <= e.value <= 10_000 and e.value == int(e.value):
            return int(e.value)
        self.ck.err("E211", "a whole number from 1 is expected", e.span)
        return default
