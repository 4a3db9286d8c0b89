"""The indicator tree of a rule set: parents, levels, effective maxima, checked probes and formulas."""

from __future__ import annotations

from govindex.check.expr import Ctx, Scope, check_expr, did_you_mean
from govindex.check.functions import AGGREGATORS, MISSING_POLICIES, ROUND_POLICIES
from govindex.check.settings import number_value, policy_name, text_value
from govindex.ir import ROOT, Node
from govindex.lang import nodes as n

INDICATOR_KEYS = {"max", "weight", "aggregate", "missing", "description", "source"}
POINT_KEYS = {"kind", "max", "weight", "probe", "score", "missing", "rounds", "values", "range",
              "description", "source"}
_EPS = 1e-9


class Tree:
    """Builds the indicator tree: parents, levels, effective maxima, checked probes and formulas."""

    def __init__(self, ck, settings: dict[str, n.Expr], scope: Scope, decl: n.RulesetDecl | None):
        self.ck, self.settings, self.scope, self.decl = ck, settings, scope, decl
        self.decls: dict[str, n.IndicatorDecl | n.PointDecl] = {}
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {ROOT: []}

    def build(self) -> dict[str, Node]:
        for it in self.ck.items:
            if isinstance(it, (n.IndicatorDecl, n.PointDecl)):
                self._collect(it, None)
        self._attach_under()
        out: dict[str, Node] = {}
        total = number_value(self.settings.get("max_total"))
        root_agg = self._aggregate(self.settings.get("aggregate"))
        rspan = self.decl.span if self.decl else n.NOWHERE
        if total is None and root_agg in ("wmean", "mean", "geomean"):
            self.ck.err("E206", f"the ruleset aggregates by {root_agg} and needs `max_total:`", rspan,
                        "e.g. max_total: 100 — the children's maxima follow from their weights")
            total = 100.0
        elif total is None:
            total = sum(number_value(dict((s.key, s.value) for s in self.decls[c].settings).get("max")) or 0
                        for c in self.children[ROOT])
        label = text_value(self.settings.get("total_label"), "总分")
        self._emit(ROOT, label, None, 0, total, None, root_agg, "null", rspan, out, {})
        return out

    def _collect(self, d: n.IndicatorDecl | n.PointDecl, parent: str | None) -> None:
        if d.id in self.decls or d.id == ROOT:
            first = self.decls[d.id].span if d.id in self.decls else "reserved for the whole tree"
            self.ck.err("E201", f"duplicate id `{d.id}`", d.span, f"first declared at {first}")
            return
        self.decls[d.id] = d
        self.children.setdefault(d.id, [])
        if parent is not None:
            if d.under is not None:
                self.ck.err("E207", f"`{d.id}` is nested in `{parent}` and also says `under {d.under}`", d.span,
                            "use one or the other")
            self.parent[d.id] = parent
        if isinstance(d, n.IndicatorDecl):
            for c in d.children:
                self._collect(c, d.id)

    def _attach_under(self) -> None:
        for d in self.decls.values():
            if d.id in self.parent:
                continue
            if d.under is None:
                if isinstance(d, n.PointDecl):
                    self.ck.err("E203", f"point `{d.id}` is outside any indicator", d.span,
                                "nest it in an indicator or write `point id \"名称\" under <indicator> { ... }`")
                    continue
                self.parent[d.id] = ROOT
            elif d.under not in self.decls or isinstance(self.decls[d.under], n.PointDecl):
                self.ck.err("E204", f"`under {d.under}`: no indicator `{d.under}`", d.span,
                            did_you_mean(d.under, [k for k, v in self.decls.items() if isinstance(v, n.IndicatorDecl)]))
                continue
            else:
                self.parent[d.id] = d.under
        # order children by declaration: nested first in their file order, then `under` in file order
        for d in self.decls.values():
            p = self.parent.get(d.id)
            if p is not None:
                self.children.setdefault(p, []).append(d.id)
        for start in self.decls:
            seen, cur = [], start
            while cur in self.parent and cur != ROOT:
                if cur in seen:
                    self.ck.err("E205", f"indicators form a cycle: {' → '.join(seen + [cur])}", self.decls[start].span,
                                "each indicator has exactly one parent")
                    for c in seen:
                        self.parent.pop(c, None)
                    break
                seen.append(cur)
                cur = self.parent[cur]

    def _aggregate(self, e: n.Expr | None) -> str:
        if e is None:
            return "sum"
        if isinstance(e, n.Name) and e.id in AGGREGATORS:
            return e.id
        self.ck.err("E207", "unknown aggregator", e.span,
                    did_you_mean(getattr(e, "id", ""), AGGREGATORS) or "one of " + ", ".join(AGGREGATORS))
        return "sum"

    def _policy(self, e: n.Expr | None, table: dict[str, str], default: str | None, what: str, span: n.Span) -> str:
        if e is None:
            if default is None:
                self.ck.err("E209", f"{what} has no missing-data policy", span,
                            "add `missing: zero|exclude|null` to it or to the ruleset")
                return "zero"
            return default
        if isinstance(e, n.Name) and e.id in table:
            return e.id
        if isinstance(e, n.Null) and "null" in table:  # `null` is a keyword, not a name
            return "null"
        self.ck.err("E207", "unknown policy", e.span, did_you_mean(getattr(e, "id", ""), table) or "one of " + ", ".join(table))
        return default or next(iter(table))

    def _emit(self, ident, label, parent, level, max_, weight, agg, missing, span, out, settings) -> None:
        kids = [c for c in self.children.get(ident, []) if c in self.decls and self.parent.get(c) == ident]
        node_children = tuple(kids)
        out[ident] = Node(ident, label, "indicator", parent, level, max_, weight, agg, missing, "", None, None,
                          node_children, span, settings)
        if not kids:
            if ident != ROOT:
                self.ck.err("E210", f"indicator `{ident}` has no children", span, "give it points or sub-indicators")
            return
        kid_settings = {c: self.ck._settings(self.decls[c].settings,
                                             POINT_KEYS if isinstance(self.decls[c], n.PointDecl) else INDICATOR_KEYS,
                                             f"`{c}`") for c in kids}
        maxima = self._child_maxima(ident, agg, max_, kids, kid_settings, span)
        for c in kids:
            d, s = self.decls[c], kid_settings[c]
            if isinstance(d, n.PointDecl):
                self._point(d, ident, level + 1, maxima[c], number_value(s.get("weight")), s, out)
            else:
                # An indicator's own null propagates unless it says otherwise (the ruleset's
                # `missing:` is the default for points only).
                miss = self._policy(s.get("missing"), MISSING_POLICIES, "null", f"indicator `{c}`", d.span)
                self._emit(c, d.label, ident, level + 1, maxima[c], number_value(s.get("weight")),
                           self._aggregate(s.get("aggregate")), miss, d.span, out, s)

    def _child_maxima(self, ident, agg, max_, kids, kid_settings, span) -> dict[str, float]:
        out: dict[str, float] = {}
        if agg in ("wmean", "mean", "geomean"):
            weights = {}
            for c in kids:
                s = kid_settings[c]
                w = number_value(s.get("weight"))
                if "max" in s:
                    self.ck.err("E207", f"`{c}` sets `max` but `{ident}` aggregates by {agg}", s["max"].span,
                                "children of a weighted node give `weight:`; their max follows from it")
                if w is None:
                    if agg == "mean":
                        w = 1.0
                    else:
                        self.ck.err("E206", f"`{c}` needs `weight:` (its parent `{ident}` uses {agg})",
                                    self.decls[c].span)
                        w = 1.0
                if w <= 0:
                    self.ck.err("E207", "a weight must be positive", s["weight"].span)
                    w = 1.0
                weights[c] = w
            tot = sum(weights.values())
            return {c: max_ * w / tot for c, w in weights.items()}
        for c in kids:
            if "weight" in kid_settings[c]:
                self.ck.err("E207", f"`{c}` sets `weight` but `{ident}` aggregates by {agg}", kid_settings[c]["weight"].span,
                            "weights are used by wmean, mean and geomean parents; give `max:` here")
            m = number_value(kid_settings[c].get("max"))
            if m is None:
                self.ck.err("E206", f"`{c}` needs `max:`", self.decls[c].span,
                            f"its parent `{ident}` adds up its children's maxima")
                m = 0.0
            elif m <= 0:
                self.ck.err("E207", "a maximum must be positive", kid_settings[c]["max"].span)
            out[c] = m
        total = sum(out.values())
        if agg == "sum" and abs(total - max_) > _EPS * max(1.0, max_):
            where = span if ident != ROOT else (self.decl.span if self.decl else span)
            parts = " + ".join(f"{out[c]:g}" for c in kids[:12]) + (" + …" if len(kids) > 12 else "")
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, not its max {max_:g}", where,
                        f"{parts} = {total:g}; fix a child's max, or use `aggregate: capped_sum` for bonus points")
        if agg == "capped_sum" and total < max_ - _EPS:
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, below its max {max_:g}", span,
                        "the maximum can never be reached")
        return out

    def _point(self, d: n.PointDecl, parent: str, level: int, max_: float, weight, s, out) -> None:
        kind = s.get("kind")
        if not (isinstance(kind, n.Name) and kind.id in ("technical", "manual")):
            self.ck.err("E206" if kind is None else "E207", f"point `{d.id}` needs `kind: technical` or `kind: manual`",
                        kind.span if kind else d.span)
        probe, score = s.get("probe"), s.get("score")
        ptype = None
        if probe is None:
            self.ck.err("E206", f"point `{d.id}` needs `probe:`", d.span, "e.g. probe: any(pages, where: has(markers, \"x\"))")
        else:
            probe, ptype = check_expr(probe, Ctx("probe"), self.scope)
            if ptype not in (None, "num", "bool"):
                self.ck.err("E106", f"a probe yields a number or true/false, not {ptype}", s["probe"].span)
        if score is None:
            self.ck.err("E206", f"point `{d.id}` needs `score:`", d.span, "e.g. score: presence(x)")
        else:
            score, stype = check_expr(score, Ctx("formula", x_type=ptype or "num"), self.scope)
            if stype not in (None, "num", "bool"):
                self.ck.err("E106", f"a formula yields a number, not {stype}", s["score"].span)
        default_missing = self.settings.get("missing")
        dm = policy_name(default_missing, MISSING_POLICIES)
        miss = self._policy(s.get("missing"), MISSING_POLICIES, dm, f"point `{d.id}`", d.span)
        default_rounds = self.settings.get("rounds_policy")
        dr = default_rounds.id if isinstance(default_rounds, n.Name) and default_rounds.id in ROUND_POLICIES else "latest"
        rounds = self._policy(s.get("rounds"), ROUND_POLICIES, dr, f"point `{d.id}`", d.span)
        for key in ("values", "range"):
            v = s.get(key)
            if v is not None and not (isinstance(v, n.ListLit) and v.items and all(isinstance(i, n.Number) for i in v.items)
                                      and (key == "values" or len(v.items) == 2)):
                self.ck.err("E207", f"`{key}` is a list of numbers" + (" [lo, hi]" if key == "range" else ""), v.span)
        out[d.id] = Node(d.id, d.label, kind.id if isinstance(kind, n.Name) else "technical", parent, level, max_,
                         weight, "", miss, rounds, probe, score, (), d.span, s)
