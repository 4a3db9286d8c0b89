"""The indicator tree of a rule set: parents, levels, effective maxima, checked probes and formulas."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import cast

from govindex import ir
from govindex.check import missing as by_reason
from govindex.check import node_scale, refs
from govindex.check.constant import Constant, constant
from govindex.check.expr import Ctx, Scope, lower_expr
from govindex.check.functions import AGGREGATORS, MISSING_POLICIES, ROUND_POLICIES, ROUNDING_MODES
from govindex.check.level_rounding import header_mode, with_level_rounding
from govindex.check.ranks import Ranks
from govindex.check.settings import AMOUNT_HINT, Reporter, amount_problem, plain, text_value
from govindex.check.size import large
from govindex.check.stage_values import check_values
from govindex.check.stages import STAGE_KEYS, check_statistics, node_stages
from govindex.diagnostics import did_you_mean
from govindex.ir import ROOT, Node
from govindex.lang import nodes as n

INDICATOR_KEYS = {"max", "weight", "scale", "round", "rank", "aggregate", "missing", "gate", "description",
                  "source"} | STAGE_KEYS
POINT_KEYS = {"kind", "max", "weight", "scale", "round", "rank", "probe", "score", "missing", "not_applicable", "error",
              "rounds", "values", "range", "description", "source", "score_on"} | STAGE_KEYS
_EPS = 1e-9
_WEIGHTED = ("wmean", "mean", "geomean", "geomean_product", "wavg")  # aggregators whose children's maxima follow from weights
_KidSettings = dict[str, dict[str, n.Expr]]  # child id → its settings
_EQUAL_BY_DEFAULT = ("mean", "geomean", "geomean_product", "wavg")  # weighted aggregators whose children's weights default to 1
# A root aggregated by these has no natural maximum: the sum of the first-level maxima would put
# a min/max total on a scale it can never reach (EGDI came out "/2").
_NEEDS_TOTAL = (*_WEIGHTED, "min", "max")


def _keys(d: n.IndicatorDecl | n.PointDecl | n.RefDecl) -> set[str]:
    return POINT_KEYS if isinstance(d, n.PointDecl) else refs.REF_KEYS if isinstance(d, n.RefDecl) else INDICATOR_KEYS


class Tree:
    """Builds the indicator tree: parents, levels, effective maxima, checked probes and formulas."""

    def __init__(self, ck: Reporter, settings: dict[str, n.Expr], scope: Scope, decl: n.RulesetDecl | None):
        self.ck, self.settings, self.scope, self.decl = ck, settings, scope, decl
        self.decls: dict[str, n.IndicatorDecl | n.PointDecl | n.RefDecl] = {}
        self.large_tables: set[ir.Expr] = set()  # threshold tables already warned about (W504)
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {ROOT: []}
        self.constants: dict[int, Constant] = {}  # id(setting value) → its value, evaluated once
        self.reported: set[int] = set()  # settings whose problem is reported
        self.ranks = Ranks(ck.err, settings, getattr(ck, "unit_attrs", None))

    def build(self) -> dict[str, Node]:
        for it in self.ck.items:
            if isinstance(it, (n.IndicatorDecl, n.PointDecl)):
                self._collect(it, None)
        self._attach_under()
        self.default_missing = by_reason.ruleset_default(self.ck, self.settings)
        self.indicator_missing = by_reason.indicator_default(self.ck, self.settings)
        out: dict[str, Node] = {}
        total = self._amount(self.settings, "max_total", "the ruleset")
        root_agg = self._aggregate(self.settings.get("aggregate"))
        rspan = self.decl.span if self.decl else n.NOWHERE
        given = "max_total" in self.settings  # when given but invalid, E207 has said so: no more
        if total is None and root_agg in _NEEDS_TOTAL:
            if not given:
                why = ("the children's maxima follow from their weights" if root_agg in _WEIGHTED else
                       "the total is its maximum times the lowest/highest child rate, not a sum of maxima")
                self.ck.err("E206", f"the ruleset aggregates by {root_agg} and needs `max_total:`", rspan,
                            f"e.g. max_total: 100 — {why}")
            total = 100.0
        elif total is None:
            total = self._implied_total(rspan, report=not given)
        label = text_value(self.settings.get("total_label"), "总分")
        self._emit(ROOT, label, None, 0, total, None, root_agg, "null", rspan, out, {})
        refs.resolve(self, out)
        out = node_scale.with_root_scale(out, self._amount(self.settings, "scale", "the ruleset"))  # the total's scale
        out = with_level_rounding(out, self.settings, self.ck, self._default_mode())
        check_values(self.ck, out)  # E291–E294: a value kept between stages sits under a mean that normalises
        return out

    def _implied_total(self, span: n.Span, report: bool) -> float:
        """The total's maximum when ``max_total`` is not given: the sum of the first-level maxima."""
        maxima = [self._value(dict((s.key, s.value) for s in self.decls[c].settings).get("max"))
                  for c in self.children[ROOT]]
        total = sum(m for m in maxima if m is not None)  # bad ones: E207 each
        problem = amount_problem(total) if total > 0 else ""  # no maxima at all: E206/E210 say why
        if problem and report:
            self.ck.err("E207", f"the total's maximum, the sum of the first-level maxima: {problem}", span,
                        f"set `max_total:` and scale the maxima; {AMOUNT_HINT}")
        return total

    def _node_rounding(self, s: dict[str, n.Expr], what: str) -> ir.Rounding | None:
        """``round: {digits: D, mode: "…"}``: the node's score rounded as part of the method (its
        parent aggregates the rounded value). The mode defaults to the rule set's."""
        e = s.get("round")
        if e is None:
            return None
        hint = f'e.g. round: {{digits: 2, mode: "r"}} — modes: {", ".join(ROUNDING_MODES)}; digits 0–10'
        pairs = {p.key_text: p.value for p in e.pairs} if isinstance(e, n.MapLit) else None
        digits = pairs.get("digits") if pairs is not None else None
        mode = pairs.get("mode", n.String(self._default_mode())) if pairs is not None else None
        ok = (pairs is not None and set(pairs) <= {"digits", "mode"} and isinstance(digits, n.Number)
              and digits.value == int(digits.value) and 0 <= digits.value <= 10
              and isinstance(mode, n.String) and mode.value in ROUNDING_MODES)
        if not ok:
            self.ck.err("E207", f"`round` of {what} is a map of `digits` (0–10) and an optional `mode`", e.span, hint)
            return None
        assert isinstance(digits, n.Number) and isinstance(mode, n.String)
        return ir.Rounding(cast(ir.RoundingMode, mode.value), int(digits.value), "points")

    def _default_mode(self) -> str:
        """The rule set's rounding mode (``round: {mode: …}``, then ``rounding: {mode: …}``), else ``half_up``."""
        if (mode := header_mode(self.settings)) is not None:
            return mode
        spec = self.settings.get("rounding")
        for p in spec.pairs if isinstance(spec, n.MapLit) else ():
            if p.key == "mode" and isinstance(p.value, n.String) and p.value.value in ROUNDING_MODES:
                return p.value.value
        return "half_up"

    def _amount(self, s: dict[str, n.Expr], key: str, what: str) -> float | None:
        """A maximum, weight, scale or total from settings ``s`` — a number or a constant expression;
        None when absent or invalid (E207 says so, once per setting)."""
        e = s.get(key)
        if e is None:
            return None
        c = self._constant(e)
        if id(e) not in self.reported:
            self.reported.add(id(e))
            if c.value is None:
                self.ck.err("E207", f"`{key}` of {what} takes a number or a constant expression: {c.problem}",
                            c.span, f"e.g. {key}: 10, {key}: 100/3, or a `let` bound to one")
            elif (problem := amount_problem(c.value)) and not (key == "weight" and c.value == 0):
                hint = AMOUNT_HINT + ("; a weight may also be 0 (shown, not counted)" if key == "weight" else "")
                self.ck.err("E207", f"`{key}` of {what}: {problem}", e.span, hint)
        return self._value(e)

    def _weight(self, s: dict[str, n.Expr]) -> float | None:
        """A child's weight: its valid value, 0 for ``weight: 0`` (allowed: computed, shown, not counted)."""
        e = s.get("weight")
        if e is not None and self._constant(e).value == 0:
            return 0.0
        return self._value(e)

    def _value(self, e: n.Expr | None) -> float | None:
        """The value of an amount setting, when it is a valid amount (else None; :meth:`_amount` reports)."""
        if e is None:
            return None
        v = self._constant(e).value
        return v if v is not None and not amount_problem(v) else None

    def _constant(self, e: n.Expr) -> Constant:
        """``e`` evaluated as a constant expression — once per setting, however often it is read."""
        c = self.constants.get(id(e))
        if c is None:
            c = self.constants[id(e)] = constant(e, self.scope.lets)
            self.scope.used_lets |= c.lets
        return c

    def _collect(self, d: n.IndicatorDecl | n.PointDecl | n.RefDecl, parent: str | None) -> None:
        if isinstance(d, n.RefDecl):
            assert parent is not None  # the grammar has refs inside indicator blocks only
            return refs.collect(self, d, parent)
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
            if isinstance(d, n.RefDecl) or d.id in self.parent:
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
        for ident in self.decls:
            p = self.parent.get(ident)
            if p is not None:
                self.children.setdefault(p, []).append(ident)
        for start in self.decls:
            seen: list[str] = []
            cur = start
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

    def _emit(self, ident: str, label: str, parent: str | None, level: int, max_: float, weight: float | None,
              agg: str, missing: str, span: n.Span, out: dict[str, Node], settings: dict[str, n.Expr]) -> None:
        kids = [c for c in self.children.get(ident, []) if c in self.decls and self.parent.get(c) == ident]
        node_children = tuple(kids)
        out[ident] = Node(ident, label, "indicator", parent, level, max_, weight, cast(ir.Aggregator, agg),
                          cast(ir.MissingPolicy, missing), "", None, None, node_children, span, settings,
                          own_scale=self._amount(settings, "scale", f"`{ident}`"),
                          round=self._node_rounding(settings, f"`{ident}`"),
                          stages=node_stages(self, settings, ident, is_point=False) if ident != ROOT else None,
                          gate=by_reason.gate(self.ck, settings.get("gate"), ident, kids),
                          rank=self.ranks.of(settings if ident != ROOT else {}, level, f"`{ident}`"))
        if not kids:
            if ident != ROOT:
                self.ck.err("E210", f"indicator `{ident}` has no children", span, "give it points or sub-indicators")
            elif not self.decls:  # (declared items that failed to attach have their own errors)
                self.ck.err("E210", "the rule set declares no indicator: there is nothing to score", span,
                            'declare at least one: indicator id "名称" { max: … point … }')
            return
        kid_settings = {c: self.ck._settings(self.decls[c].settings, _keys(self.decls[c]), f"`{c}`") for c in kids}
        maxima = self._child_maxima(ident, agg, max_, kids, kid_settings, span)
        for c in kids:
            d, s = self.decls[c], kid_settings[c]
            if isinstance(d, n.RefDecl):
                refs.emit(self, c, d, ident, level + 1, maxima[c], self._weight(s), s, out)
            elif isinstance(d, n.PointDecl):
                self._point(d, ident, level + 1, maxima[c], self._weight(s), s, out)
            else:
                # An indicator's own null propagates unless it says otherwise (the ruleset's
                # `missing:` is the default for points only).
                miss = self._policy(s.get("missing"), MISSING_POLICIES, self.indicator_missing, f"indicator `{c}`",
                                    d.span)
                self._emit(c, d.label, ident, level + 1, maxima[c], self._weight(s),
                           self._aggregate(s.get("aggregate")), miss, d.span, out, s)

    def _child_maxima(self, ident: str, agg: str, max_: float, kids: list[str], kid_settings: _KidSettings,
                      span: n.Span) -> dict[str, float]:
        if agg in _WEIGHTED:
            return self._weighted_maxima(ident, agg, max_, kids, kid_settings)
        out: dict[str, float] = {}
        for c in kids:
            s = kid_settings[c]
            if "weight" in s:
                self.ck.err("E207", f"`{c}` sets `weight` but `{ident}` aggregates by {agg}", s["weight"].span,
                            "weights are used by wmean, mean and geomean parents; give `max:` here")
            m = self._amount(s, "max", f"`{c}`")
            if m is None and "max" not in s:
                self.ck.err("E206", f"`{c}` needs `max:`", self.decls[c].span,
                            f"its parent `{ident}` adds up its children's maxima")
            # NaN marks a maximum already reported: no sum check involving it, here or below.
            out[c] = m if m is not None else math.nan
        if not any(math.isnan(m) for m in (max_, *out.values())):
            self._check_sum(ident, agg, max_, kids, out, span)
        return out

    def _check_sum(self, ident: str, agg: str, max_: float, kids: list[str], maxima: dict[str, float],
                   span: n.Span) -> None:
        total = sum(maxima.values())
        if agg == "sum" and not abs(total - max_) <= _EPS * max(1.0, max_):
            where = span if ident != ROOT else (self.decl.span if self.decl else span)
            parts = " + ".join(f"{maxima[c]:g}" for c in kids[:12]) + (" + …" if len(kids) > 12 else "")
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, not its max {max_:g}", where,
                        f"{parts} = {total:g}; fix a child's max, or use `aggregate: capped_sum` for bonus points")
        if agg == "capped_sum" and total < max_ - _EPS:
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, below its max {max_:g}", span,
                        "the maximum can never be reached")

    def _weighted_maxima(self, ident: str, agg: str, max_: float, kids: list[str],
                         kid_settings: _KidSettings) -> dict[str, float]:
        """Children of a weighted node: each one's maximum is its weight's share of the node's."""
        weights: dict[str, float] = {}
        for c in kids:
            s = kid_settings[c]
            if "max" in s:
                self.ck.err("E207", f"`{c}` sets `max` but `{ident}` aggregates by {agg}", s["max"].span,
                            "children of a weighted node give `weight:`; their max follows from it")
            w = self._amount(s, "weight", f"`{c}`")
            if w is None and "weight" not in s and agg not in _EQUAL_BY_DEFAULT:
                self.ck.err("E206", f"`{c}` needs `weight:` (its parent `{ident}` uses {agg})", self.decls[c].span)
            # A weight already reported leaves every sibling's share unknown (NaN: no checks below).
            if w is None and self._weight(s) == 0:
                w = 0.0
            weights[c] = math.nan if w is None and "weight" in s else 1.0 if w is None else w
        tot = sum(weights.values())
        # weight 0: computed on the parent's whole scale, shown, and left out of its aggregate
        out = {c: max_ * w / tot if w != 0 else max_ for c, w in weights.items()}
        for c, m in out.items():
            problem = amount_problem(m) if not math.isnan(m) else ""
            if problem and "weight" in kid_settings[c]:
                share = f"{plain(weights[c])}/{plain(tot)} of `{ident}`'s {plain(max_)}"
                self.ck.err("E207", f"the maximum of `{c}`, its weight's share ({share}): {problem}",
                            kid_settings[c]["weight"].span, "give the children weights of comparable size")
                out[c] = math.nan
        return out

    def _point(self, d: n.PointDecl, parent: str, level: int, max_: float, weight: float | None,
               s: dict[str, n.Expr], out: dict[str, Node]) -> None:
        kind = s.get("kind")
        if not (isinstance(kind, n.Name) and kind.id in ("technical", "manual")):
            self.ck.err("E206" if kind is None else "E207", f"point `{d.id}` needs `kind: technical` or `kind: manual`",
                        kind.span if kind else d.span)
        probe_src, score_src = s.get("probe"), s.get("score")
        probe: ir.Expr | None = None
        score: ir.Expr | None = None
        ptype = None
        if probe_src is None:
            self.ck.err("E206", f"point `{d.id}` needs `probe:`", d.span, "e.g. probe: any(pages, where: has(markers, \"x\"))")
        else:
            probe, ptype = lower_expr(probe_src, Ctx("probe", point=d.id), self.scope)
            if ptype not in (None, "num", "bool"):
                self.ck.err("E106", f"a probe yields a number or true/false, not {ptype}", probe_src.span)
        if score_src is None and "normalise" in s:
            score = ir.X("num")  # the rate comes from `normalise:` (§9b); x stands in for the formula
        elif score_src is None:
            self.ck.err("E206", f"point `{d.id}` needs `score:`", d.span, "e.g. score: presence(x)")
        else:
            score, stype = lower_expr(score_src, Ctx("formula", x_type=ptype if ptype in ("num", "bool") else "num"), self.scope)
            if stype not in (None, "num", "bool"):
                self.ck.err("E106", f"a formula yields a number, not {stype}", score_src.span)
            check_statistics(self, score)
        for key, e, src in (("probe", probe, probe_src), ("score", score, score_src)):
            for w in large(d.id, key, e, src.span if src is not None else d.span, self.large_tables):
                self.ck.err("W504", w.message, w.span, w.hint)
        miss, missing_by = by_reason.point_policy(self.ck, s.get("missing"), self.default_missing,
                                                  "missing" in self.settings, f"point `{d.id}`", d.span)
        default_rounds = self.settings.get("rounds_policy")
        dr = default_rounds.id if isinstance(default_rounds, n.Name) and default_rounds.id in ROUND_POLICIES else "latest"
        rounds = self._policy(s.get("rounds"), ROUND_POLICIES, dr, f"point `{d.id}`", d.span)
        for key in ("values", "range"):
            v = s.get(key)
            if v is not None and not (isinstance(v, n.ListLit) and v.items and all(isinstance(i, n.Number) for i in v.items)
                                      and (key == "values" or len(v.items) == 2)):
                self.ck.err("E207", f"`{key}` is a list of numbers" + (" [lo, hi]" if key == "range" else ""), v.span)
        out[d.id] = Node(d.id, d.label, cast(ir.Kind, kind.id if isinstance(kind, n.Name) else "technical"), parent, level,
                         max_, weight, "", miss, cast(ir.RoundsPolicy, rounds), probe, score, (),
                         d.span, s, probe_src, score_src, own_scale=self._amount(s, "scale", f"`{d.id}`"),
                         round=self._node_rounding(s, f"`{d.id}`"), stages=node_stages(self, s, d.id, is_point=True),
                         missing_by=missing_by,
                         not_applicable=by_reason.condition(self.ck, s.get("not_applicable"), "not_applicable", d.id,
                                                            self.scope),
                         error=by_reason.condition(self.ck, s.get("error"), "error", d.id, self.scope),
                         rank=self.ranks.of(s, level, f"`{d.id}`"))
        x = out[d.id]  # `score_on: scale` (check/node_scale.py)
        out[d.id] = replace(x, score_on_scale=node_scale.score_on(self.ck, s, d.id, x.own_scale, x.stages))
