"""Cross-unit stages of a node: ``denominate``, ``impute``, ``treat``, ``normalise`` (§9b).

Each is a map setting on a point or an indicator, checked here into :class:`govindex.ir.Stages`:

    denominate: {by: "population", scale: 1000}
    impute: {method: "mean", by: "region"}
    treat: {method: "winsorise", skew: 2, kurtosis: 3.5, max_points: 5, fallback: "log"}
    normalise: {method: "minmax", direction: "higher", by: "region"}

Diagnostics: E230 a malformed stage, E231 a ``by:`` that names no registry column (or point),
E232 a denominator column that is not numeric, E233 stages that do not go together, E290 a
``keep:`` that is not ``"rate"``/``"value"`` or keeps a value that is not a z-score (the tree
around a kept value: :mod:`govindex.check.stage_values`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, cast

from govindex import ir
from govindex.diagnostics import did_you_mean
from govindex.lang import nodes as n

STAGE_KEYS = frozenset({"denominate", "impute", "treat", "normalise"})
IMPUTE_METHODS = ("mean", "median", "latest", "constant")
TREAT_METHODS = ("winsorise", "caps")
NORMALISE_METHODS = ("minmax", "zscore", "rank", "percentile", "goalposts", "target", "fraction")
DIRECTIONS = ("higher", "lower")
KEEPS = ("rate", "value")
FALLBACKS = ("log", "none")

_EXAMPLES = {
    "denominate": 'denominate: {by: "population", scale: 1000}',
    "impute": 'impute: {method: "mean", by: "region"}',
    "treat": 'treat: {method: "winsorise", skew: 2, kurtosis: 3.5, max_points: 5, fallback: "log"}',
    "normalise": 'normalise: {method: "minmax", direction: "higher"}',
}
_KEYS = {
    "denominate": {"by", "scale"},
    "impute": {"method", "by", "value"},
    "treat": {"method", "skew", "kurtosis", "max_points", "fallback", "lo", "hi", "type"},
    "normalise": {"method", "direction", "by", "mean", "sd", "worst", "best", "target", "keep"},
}


class _Tree(Protocol):
    """What the stage checker reads of :class:`govindex.check.tree.Tree`."""

    ck: Any
    decls: dict[str, n.IndicatorDecl | n.PointDecl | n.RefDecl]

    def _constant(self, e: n.Expr) -> Any: ...


class _Bad(Exception):
    def __init__(self, code: str, msg: str, span: n.Span, hint: str):
        super().__init__(msg)
        self.code, self.msg, self.span, self.hint = code, msg, span, hint


def node_stages(tree: _Tree, s: dict[str, n.Expr], ident: str, is_point: bool) -> ir.Stages | None:
    """The stages ``s`` declares for node ``ident`` (None when it declares none); each problem is
    reported once, and the stage it concerns is left out."""
    if not STAGE_KEYS & set(s):
        return None
    found: dict[str, object] = {}
    for key, parse in _PARSERS.items():
        e = s.get(key)
        if e is None:
            continue
        try:
            found[key] = parse(_Stage(tree, key, e, ident))
        except _Bad as bad:
            tree.ck.err(bad.code, bad.msg, bad.span, bad.hint)
    _conflicts(tree, s, ident, is_point)
    return ir.Stages(**found) if found else None  # type: ignore[arg-type]  # keys are the fields


def _conflicts(tree: _Tree, s: dict[str, n.Expr], ident: str, is_point: bool) -> None:
    if is_point and "normalise" in s and "score" in s:
        tree.ck.err("E233", f"point `{ident}` has both `score:` and `normalise:`", s["normalise"].span,
                    "a normalised point takes its rate from `normalise:`; remove `score:`")
    if not is_point and "denominate" in s:
        tree.ck.err("E233", f"`denominate` on indicator `{ident}`", s["denominate"].span,
                    "denominate the points' probe values: put `denominate:` on each point")
    imp = s.get("impute")
    if not is_point and isinstance(imp, n.MapLit) and any(
            p.key_text == "method" and isinstance(p.value, n.String) and p.value.value == "latest" for p in imp.pairs):
        tree.ck.err("E233", f"`impute: {{method: \"latest\"}}` on indicator `{ident}`", imp.span,
                    "an indicator is computed once, after rounds are combined: impute its points by latest round")
    if not is_point and "round" in s:
        tree.ck.err("E233", f"indicator `{ident}` has `round:` and cross-unit stages", s["round"].span,
                    "round a parent, or round only for output (`rounding:`)")


class _Stage:
    """One stage setting being read: its map, with located errors."""

    def __init__(self, tree: _Tree, key: str, e: n.Expr, ident: str):
        self.tree, self.key, self.e, self.ident = tree, key, e, ident
        if not isinstance(e, n.MapLit):
            raise self.bad(f"`{key}` of `{ident}` is a map", e.span)
        self.pairs = {p.key_text or str(p.key): p for p in e.pairs}
        for k, p in self.pairs.items():
            if k not in _KEYS[key]:
                raise self.bad(f"`{key}` of `{ident}` has no parameter `{k}`", p.span,
                               did_you_mean(k, sorted(_KEYS[key])) or "parameters: " + ", ".join(sorted(_KEYS[key])))

    def bad(self, msg: str, span: n.Span, hint: str = "") -> _Bad:
        return _Bad("E230", msg, span, hint or f"e.g. {_EXAMPLES[self.key]}")

    def text(self, name: str, choices: tuple[str, ...] | None, default: str | None = None) -> str | None:
        p = self.pairs.get(name)
        if p is None:
            if default is None and choices is not None and name == "method":
                raise self.bad(f"`{self.key}` of `{self.ident}` needs `method:` — one of {', '.join(choices)}",
                               self.e.span)
            return default
        v = p.value
        if not isinstance(v, n.String) or (choices is not None and v.value not in choices):
            shown = v.value if isinstance(v, n.String) else ""
            hint = (did_you_mean(shown, list(choices)) if choices else "") or (
                f"one of {', '.join(repr(c) for c in choices)}" if choices else 'a quoted name, e.g. "region"')
            raise self.bad(f"`{name}` of `{self.key}` in `{self.ident}` is "
                           + ("one of " + ", ".join(choices) if choices else "a quoted name"), v.span, hint)
        return v.value

    def number(self, name: str, default: float | None, ok: Callable[[float], bool] = math.isfinite,
               what: str = "a finite number") -> float:
        p = self.pairs.get(name)
        if p is None:
            if default is None:
                raise self.bad(f"`{self.key}` of `{self.ident}` needs `{name}:`", self.e.span)
            return default
        v = self.tree._constant(p.value).value
        if v is None or not ok(v):
            raise self.bad(f"`{name}` of `{self.key}` in `{self.ident}` is {what}", p.value.span)
        return float(v)

    def group(self) -> str | None:
        """``by:`` a registry column (E231 when it is none)."""
        by = self.text("by", None)
        if by is not None:
            attrs = _attrs(self.tree)
            if by not in attrs:
                raise _Bad("E231", f"`by: \"{by}\"` in `{self.key}` of `{self.ident}`: the units registry has no "
                           f"column `{by}`", self.pairs["by"].value.span,
                           did_you_mean(by, attrs) or f"registry columns: {', '.join(attrs) or '(none)'}")
        return by


def _attrs(tree: _Tree) -> list[str]:
    registry = getattr(tree.ck, "registry", None)
    return list(registry[1]) if registry else []


def _units(tree: _Tree) -> list[ir.Unit]:
    registry = getattr(tree.ck, "registry", None)
    return list(registry[0]) if registry else []


def _denominate(st: _Stage) -> ir.Denominate:
    by = st.text("by", None)
    if by is None:
        raise st.bad(f"`denominate` of `{st.ident}` needs `by:` — a registry column or a point", st.e.span)
    scale = st.number("scale", 1.0, lambda v: math.isfinite(v) and v > 0, "a positive number")
    span = st.pairs["by"].value.span
    if by in _attrs(st.tree):
        for u in _units(st.tree):
            raw = u.attrs.get(by, "")
            if raw and not _is_number(raw):
                raise _Bad("E232", f"`denominate` of `{st.ident}` by `{by}`: unit {u.code} has {raw!r}, not a number",
                           span, "a denominator column holds numbers (an empty cell: the unit has no data)")
        return ir.Denominate(by, False, scale)
    points = [k for k, d in st.tree.decls.items() if isinstance(d, n.PointDecl)]
    if by in points and by != st.ident:
        return ir.Denominate(by, True, scale)
    raise _Bad("E231", f"`denominate` of `{st.ident}` by `{by}`: no registry column or point `{by}`", span,
               did_you_mean(by, _attrs(st.tree) + points) or f"registry columns: {', '.join(_attrs(st.tree))}")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _impute(st: _Stage) -> ir.Impute:
    method = st.text("method", IMPUTE_METHODS)
    by = st.group()
    if by is not None and method not in ("mean", "median"):
        raise st.bad(f"`by:` groups a mean or median, not `{method}`", st.pairs["by"].span)
    value = st.number("value", None if method == "constant" else 0.0)
    if method != "constant" and "value" in st.pairs:
        raise st.bad(f"`value:` is the constant of `method: \"constant\"`, not of `{method}`", st.pairs["value"].span)
    return ir.Impute(cast(Any, method), by, value)


def _treat(st: _Stage) -> ir.Treat:
    method = st.text("method", TREAT_METHODS)
    positive = (lambda v: math.isfinite(v) and v > 0, "a positive number")
    whole = (lambda v: v == int(v) and 1 <= v <= 1000, "a whole number from 1 to 1000")
    share = (lambda v: 0 <= v <= 1, "a probability from 0 to 1")
    qtype = (lambda v: v == int(v) and 1 <= v <= 9, "a quantile type from 1 to 9 (R's)")
    allowed = {"winsorise": {"method", "skew", "kurtosis", "max_points", "fallback"},
               "caps": {"method", "lo", "hi", "type"}}[cast(str, method)]
    for k, p in st.pairs.items():
        if k not in allowed:
            raise st.bad(f"`{k}` is not a parameter of `method: \"{method}\"`", p.span,
                         "parameters: " + ", ".join(sorted(allowed)))
    if method == "caps":
        lo, hi = st.number("lo", 0.05, *share), st.number("hi", 0.95, *share)
        if lo >= hi:
            raise st.bad(f"`lo` ({lo:g}) of `treat` in `{st.ident}` is not below `hi` ({hi:g})", st.e.span)
        return ir.Treat("caps", lo=lo, hi=hi, type=int(st.number("type", 7.0, *qtype)))
    return ir.Treat("winsorise", skew=st.number("skew", 2.0, *positive), kurtosis=st.number("kurtosis", 3.5),
                    max_points=int(st.number("max_points", 5.0, *whole)),
                    fallback=cast(Any, st.text("fallback", FALLBACKS, "log")))


_NORMALISE_PARAMS = {"zscore": {"mean", "sd"}, "goalposts": {"worst", "best"}, "target": {"target"}}


def _normalise(st: _Stage) -> ir.Normalise:
    method = cast(str, st.text("method", NORMALISE_METHODS))
    own = _NORMALISE_PARAMS.get(method, set())
    for k, p in st.pairs.items():
        if k in {"mean", "sd", "worst", "best", "target"} - own:
            raise st.bad(f"`{k}` is not a parameter of `method: \"{method}\"`", p.span,
                         f"{method} takes " + (", ".join(sorted(own)) or "no parameter beyond direction and by"))
    direction = cast(Any, st.text("direction", DIRECTIONS, "higher"))
    by = st.group()
    if _keep(st, method) == "value":  # the z itself, unbounded (check/stage_values.py)
        return ir.Normalise("zscore", direction, by, keep="value")
    if method == "zscore":
        sd = st.number("sd", None, lambda v: math.isfinite(v) and v > 0, "a positive number")
        return ir.Normalise("zscore", direction, by, mean=st.number("mean", None), sd=sd)
    if method == "goalposts":
        worst, best = st.number("worst", None), st.number("best", None)
        if worst == best or "direction" in st.pairs:
            raise st.bad(f"goalposts of `{st.ident}` need `worst` ≠ `best` (no `direction:`: a lower `best` "
                         "means lower is better)", st.e.span)
        return ir.Normalise("goalposts", direction, by, worst=worst, best=best)
    if method == "target":
        return ir.Normalise("target", direction, by, target=st.number("target", None))
    return ir.Normalise(cast(Any, method), direction, by)


def _keep(st: _Stage, method: str) -> str:
    """``keep:`` — ``"rate"`` (the default) or ``"value"``: only a z-score is kept as a value, and
    it takes no ``mean``/``sd`` (those place a z on a rate). E290 otherwise."""
    p = st.pairs.get("keep")
    if p is None:
        return "rate"
    word = p.value.value if isinstance(p.value, n.String) else None
    if word not in KEEPS:
        raise _Bad("E290", f"`keep` of `normalise` in `{st.ident}` is \"rate\" or \"value\"", p.value.span,
                   'keep: "value" keeps the z-score itself (unbounded); keep: "rate" (the default) a rate in [0, 1]')
    if word == "value" and method != "zscore":
        raise _Bad("E290", f"`keep: \"value\"` in `{st.ident}` keeps a z-score; `{method}` gives a rate",
                   p.value.span, 'use method: "zscore" with keep: "value", or remove `keep:`')
    if word == "value" and (extra := [k for k in ("mean", "sd") if k in st.pairs]):
        raise _Bad("E290", f"`{extra[0]}` places a z-score on a rate; `keep: \"value\"` in `{st.ident}` keeps the z "
                   "itself", st.pairs[extra[0]].span, f"remove `{extra[0]}:` (or `keep:` to carry mean + sd·z as a rate)")
    return word


_PARSERS: dict[str, Callable[[_Stage], object]] = {
    "denominate": _denominate, "impute": _impute, "treat": _treat, "normalise": _normalise,
}


def check_statistics(tree: _Tree, e: ir.Expr | None) -> None:
    """The statistics across units in a formula: ``p`` a probability, ``type`` R's 1–9, ``k`` a
    whole number ≥ 1 (E105), ``by:`` a registry column (E231)."""
    for f in ir.walk(e):
        if not (isinstance(f, ir.Formula) and f.fn.startswith("units_")):
            continue
        lit = f.args[1] if len(f.args) > 1 and isinstance(f.args[1], ir.Const) else None
        v = lit.value if lit is not None else None
        if f.fn == "units_quantile" and isinstance(v, float) and not 0 <= v <= 1:
            tree.ck.err("E105", f"`p` of `units_quantile` is a probability from 0 to 1, not {v:g}", f.span, "e.g. 0.75")
        if f.fn == "units_kth_largest" and isinstance(v, float) and not (v == int(v) and v >= 1):
            tree.ck.err("E105", f"`k` of `units_kth_largest` is a whole number from 1, not {v:g}", f.span, "e.g. 3")
        params = dict(f.params)
        t = params.get("type")
        if t is not None and not (isinstance(t.value, float) and t.value == int(t.value) and 1 <= t.value <= 9):
            tree.ck.err("E105", f"`type` of `{f.fn}` is one of R's quantile types 1–9", f.span, "type: 7 is R's default")
        by = params.get("by")
        if by is not None and str(by.value) not in _attrs(tree):
            tree.ck.err("E231", f"`by: \"{by.value}\"` of `{f.fn}`: the units registry has no column `{by.value}`",
                        f.span, did_you_mean(str(by.value), _attrs(tree)) or
                        f"registry columns: {', '.join(_attrs(tree)) or '(none)'}")
