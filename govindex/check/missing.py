"""Missing data by reason: a point's ``missing:`` per reason, its ``not_applicable:`` condition,
an indicator's ``gate:``, the rule set's defaults, and ``weight: 0``.

- ``missing: exclude`` — one policy for every reason; ``missing: {no_data: zero,
  not_applicable: exclude, error: null}`` — one per reason, the reasons not named taking the
  rule set's default for that reason (``E241`` when there is none).
- ``not_applicable: <condition>`` and ``error: <condition>`` on a point: probe-like conditions,
  evaluated per unit × round, that give the point that status.
- ``gate: {condition: <condition over the children's ids>, score: 0 | null, reason: "…"}`` on an
  indicator: each child id stands for the child's rate (0–1, null when its score is null).
- ``missing_indicators: zero | exclude | null`` in the ruleset header: what a parent does with
  an indicator whose score is null when the indicator says nothing (default ``null``).
"""

from __future__ import annotations

from typing import Literal, cast, get_args

from govindex import ir
from govindex.check.expr import Ctx, Scope, lower_expr
from govindex.check.functions import MISSING_POLICIES
from govindex.check.settings import Reporter
from govindex.diagnostics import did_you_mean
from govindex.lang import nodes as n

REASONS: tuple[ir.Reason, ...] = get_args(ir.Reason)
_POLICY_HINT = "e.g. missing: {no_data: zero, not_applicable: exclude, error: null} — policies: zero, exclude, null"
_GATE_HINT = 'e.g. gate: {condition: speed == 0 or access == 0, score: null, reason: "not assessed"}'
_GATE_OPS = {"+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or"}


def _name(e: n.Expr) -> str | None:
    """The policy a value names (``null`` is a keyword), or None."""
    if isinstance(e, n.Null):
        return "null"
    return e.id if isinstance(e, n.Name) and e.id in MISSING_POLICIES else None


def policy_map(ck: Reporter, e: n.Expr, what: str) -> dict[ir.Reason, ir.MissingPolicy] | None:
    """``missing:`` as a policy per reason: a single policy names all three; a map names some.
    None (and a diagnostic) when it is neither."""
    one = _name(e)
    if one is not None:
        return {r: cast(ir.MissingPolicy, one) for r in REASONS}
    if not isinstance(e, n.MapLit):
        ck.err("E207", f"unknown policy for {what}", e.span,
               did_you_mean(getattr(e, "id", ""), MISSING_POLICIES) or _POLICY_HINT)
        return None
    out: dict[ir.Reason, ir.MissingPolicy] = {}
    bad = False
    for p in e.pairs:
        policy = _name(p.value)
        bad = bad or p.key_text not in REASONS or policy is None
        if p.key_text not in REASONS:
            ck.err("E240", f"`missing` of {what}: no reason `{p.key_text}`", p.span,
                   did_you_mean(p.key_text, REASONS) or "reasons: " + ", ".join(REASONS))
        elif policy is None:
            ck.err("E240", f"`missing` of {what}: `{p.key_text}` takes a policy", p.value.span, _POLICY_HINT)
        else:
            out[p.key_text] = cast(ir.MissingPolicy, policy)  # both checked above
    return None if bad else out


Default = dict[ir.Reason, ir.MissingPolicy] | None  # the rule set's policy per reason; None: none (or reported)


def point_policy(ck: Reporter, e: n.Expr | None, default: Default, default_given: bool, what: str,
                 span: n.Span) -> tuple[ir.MissingPolicy, tuple[tuple[ir.Reason, ir.MissingPolicy], ...]]:
    """A point's policy: its ``missing:`` over the rule set's ``default`` reason by reason. The
    first result is the policy for ``no_data`` (``Node.missing``), the second every reason's.
    A rule-set default that was given but is invalid has been reported: nothing more here."""
    own = policy_map(ck, e, what) if e is not None else {}
    if own is None:
        return "zero", ()  # reported
    merged = {**(default or {}), **own}
    lacking = [r for r in REASONS if r not in merged]
    if lacking and default is None and default_given:
        return "zero", ()
    if lacking and e is None and not default:
        ck.err("E209", f"{what} has no missing-data policy", span, "add `missing: zero|exclude|null` to it or to the ruleset")
        return "zero", ()
    if lacking:
        ck.err("E241", f"{what} has no policy for {', '.join(lacking)}", e.span if e is not None else span,
               "name every reason in the point's `missing:` map or in the ruleset's")
        return "zero", ()
    # One policy for every reason: the single-word form, evaluated as before (no per-unit lookup).
    by = () if len(set(merged.values())) == 1 else tuple((r, merged[r]) for r in REASONS)
    return merged["no_data"], by


def ruleset_default(ck: Reporter, settings: dict[str, n.Expr]) -> Default:
    """The rule set's ``missing:`` per reason, every reason named (None when not given or
    invalid: reported)."""
    e = settings.get("missing")
    out = policy_map(ck, e, "the ruleset") if e is not None else None
    lacking = [r for r in REASONS if out is not None and r not in out]
    if e is not None and lacking:
        ck.err("E241", f"the ruleset's `missing:` has no policy for {', '.join(lacking)}", e.span,
               "the rule set's map names every reason (a point's map may name only those it changes)")
        return None
    return out


def indicator_default(ck: Reporter, settings: dict[str, n.Expr]) -> str:
    """``missing_indicators:``: what a parent does with a null indicator that says nothing."""
    e = settings.get("missing_indicators")
    if e is None:
        return "null"
    name = _name(e)
    if name is None:
        ck.err("E207", "unknown missing_indicators policy", e.span, "one of " + ", ".join(MISSING_POLICIES))
        return "null"
    return name


def condition(ck: Reporter, e: n.Expr | None, key: str, point: str, scope: Scope) -> ir.Expr | None:
    """A point's ``not_applicable:`` or ``error:`` condition, checked as a probe yielding true/false."""
    if e is None:
        return None
    lowered, ty = lower_expr(e, Ctx("probe", point=point), scope)
    if ty is not None and ty != "bool":
        ck.err("E242", f"`{key}` of `{point}` is a condition, not {ty}", e.span,
               f'e.g. {key}: any(audits, where: audit == "image-alt" and '
               + ("not applies)" if key == "not_applicable" else "errored)"))
        return None
    return lowered


def gate(ck: Reporter, e: n.Expr | None, ident: str, kids: list[str]) -> ir.Gate | None:
    """An indicator's ``gate:``: a map of ``condition`` (over its children's ids),
    ``score`` (``0`` or ``null``) and an optional ``reason`` text."""
    if e is None:
        return None
    pairs = {p.key_text: p.value for p in e.pairs} if isinstance(e, n.MapLit) else None
    keys = {"condition", "score", "reason"}
    if pairs is None or "condition" not in pairs or "score" not in pairs or not set(pairs) <= keys:
        ck.err("E243", f"`gate` of `{ident}` is a map of `condition`, `score` and an optional `reason`", e.span,
               _GATE_HINT)
        return None
    score = pairs["score"]
    kind = "null" if isinstance(score, n.Null) else "zero" if isinstance(score, n.Number) and score.value == 0 else None
    if kind is None:
        ck.err("E243", f"`score` of the gate of `{ident}` is 0 or null", score.span, _GATE_HINT)
    reason = pairs.get("reason", n.String("gated"))
    if not isinstance(reason, n.String):
        ck.err("E243", f"`reason` of the gate of `{ident}` is a quoted text", reason.span, _GATE_HINT)
        return None
    when = _gate_expr(ck, pairs["condition"], ident, kids)
    if when is None or kind is None:
        return None
    return ir.Gate(when, cast(Literal["zero", "null"], kind), reason.value or "gated", e.span)


def _gate_expr(ck: Reporter, e: n.Expr, ident: str, kids: list[str]) -> ir.Expr | None:
    """A gate condition lowered to IR: numbers, children ids (:class:`ir.NodeRef`), arithmetic,
    comparisons, ``and``/``or``/``not``, ``if … then … else``."""
    if isinstance(e, n.Number):
        return ir.Const(e.value, "num", e.text)
    if isinstance(e, n.Bool):
        return ir.Const(e.value, "bool")
    if isinstance(e, n.Name):
        if e.id in kids:
            return ir.NodeRef(e.id, "num", e.span)
        ck.err("E244", f"the gate of `{ident}` reads `{e.id}`, which is not one of its children", e.span,
               did_you_mean(e.id, kids) or "children: " + ", ".join(kids))
        return None
    if isinstance(e, n.Unary):
        x = _gate_expr(ck, e.operand, ident, kids)
        return None if x is None else ir.Op("neg" if e.op == "-" else "not", (x,), "num" if e.op == "-" else "bool")
    if isinstance(e, n.Binary) and e.op in _GATE_OPS:
        a, b = _gate_expr(ck, e.left, ident, kids), _gate_expr(ck, e.right, ident, kids)
        logic = e.op in ("and", "or") or e.op in ("==", "!=", "<", "<=", ">", ">=")
        return None if a is None or b is None else ir.Op(cast(ir.OpName, e.op), (a, b), "bool" if logic else "num")
    if isinstance(e, n.If):
        c, t, f = (_gate_expr(ck, x, ident, kids) for x in (e.cond, e.then, e.else_))
        return None if c is None or t is None or f is None else ir.Cond(c, t, f, t.type)
    ck.err("E244", f"the gate of `{ident}` is a condition over its children's ids, numbers and operators",
           getattr(e, "span", n.NOWHERE), _GATE_HINT)
    return None
