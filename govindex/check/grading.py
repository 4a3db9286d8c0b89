"""Checking the ``grading`` block: method, classes, sub-levels, cuts (see :mod:`govindex.grade`)."""

from __future__ import annotations

from typing import cast

from govindex import ir
from govindex.check.settings import Reporter
from govindex.diagnostics import did_you_mean
from govindex.ir import Grading
from govindex.lang import nodes as n

GRADING_KEYS = {"method", "classes", "sublevels", "cuts", "window", "min_class", "description", "source"}
GRADING_METHODS = {"difference_trend": "breaks at the most significant gaps of the sorted totals",
                   "thresholds": "fixed cut-off totals"}


class GradingChecker:
    """Checks the one ``grading`` block of a rule set, reporting through the rule-set checker."""

    def __init__(self, ck: Reporter):
        self.ck = ck

    def run(self, max_total: float | None, n_units: int) -> Grading | None:
        """The checked grading block, or None when there is none or it has errors."""
        decls = [it for it in self.ck.items if isinstance(it, n.GradingDecl)]
        if not decls:
            return None
        for extra in decls[1:]:
            self.ck.err("E211", "a second `grading` declaration", extra.span, f"the first is at {decls[0].span}")
        g = decls[0]
        s = self.ck._settings(g.settings, GRADING_KEYS, "grading")
        method = s.get("method")
        if not (isinstance(method, n.Name) and method.id in GRADING_METHODS):
            self.ck.err("E211", "grading needs `method: difference_trend` or `method: thresholds`",
                        method.span if method else g.span, did_you_mean(getattr(method, "id", ""), GRADING_METHODS))
            return None
        classes = self._classes(s.get("classes"), g.span)
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
        return Grading(g.label, cast(ir.GradingMethod, method.id), tuple(classes), frozenset(sublevels), cuts,
                       window, min_class, g.span)

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
                self.ck.err("E211", "`cuts` belong to `method: thresholds`", e.span, "difference_trend finds its own breaks")
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
