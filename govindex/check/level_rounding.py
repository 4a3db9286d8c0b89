"""The rule set's default ``round:`` per level: ``round: {mode: "r", levels: {1: {digits: 1}, 2:
{digits: 2}}, points: {digits: 2}}`` in the ruleset header.

An indicator at level ``L`` (the total is level 0) without a ``round:`` of its own is rounded by
``levels[L]``; a point without one by ``points``. A node's own ``round:`` overrides the default.
The ``mode`` of an entry defaults to the map's ``mode``, then to the rule set's ``rounding`` mode.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from govindex import ir
from govindex.check.functions import ROUNDING_MODES
from govindex.check.settings import Reporter
from govindex.ir import Node
from govindex.lang import nodes as n

_HINT = 'e.g. round: {mode: "r", levels: {1: {digits: 1}, 2: {digits: 2}}, points: {digits: 2}}'


def header_mode(settings: dict[str, n.Expr]) -> str | None:
    """The ``mode`` of the ruleset's ``round:`` map, when it names a mode."""
    e = settings.get("round")
    for p in e.pairs if isinstance(e, n.MapLit) else ():
        if p.key_text == "mode" and isinstance(p.value, n.String) and p.value.value in ROUNDING_MODES:
            return p.value.value
    return None


def with_level_rounding(nodes: dict[str, Node], settings: dict[str, n.Expr], ck: Reporter,
                        default_mode: str) -> dict[str, Node]:
    """``nodes`` with the ruleset's default ``round:`` given to every node without its own (E266
    for a bad map)."""
    e = settings.get("round")
    if e is None:
        return nodes
    pairs = {p.key_text: p for p in e.pairs} if isinstance(e, n.MapLit) else None
    if pairs is None or not set(pairs) <= {"mode", "levels", "points"} or not set(pairs) - {"mode"}:
        ck.err("E266", "the ruleset's `round` is a map of `levels`, `points` and an optional `mode`",
               getattr(e, "span", n.NOWHERE), _HINT)
        return nodes
    mode = default_mode
    if "mode" in pairs:
        m = pairs["mode"].value
        if not (isinstance(m, n.String) and m.value in ROUNDING_MODES):
            ck.err("E266", "`mode` of the ruleset's `round` is a rounding mode", pairs["mode"].span,
                   "one of " + ", ".join(ROUNDING_MODES))
            return nodes
        mode = m.value
    by_level: dict[int, ir.Rounding] = {}
    if "levels" in pairs:
        by_level = _levels(pairs["levels"].value, nodes, ck, mode)
    points = _entry(pairs["points"].value, "`points`", ck, mode) if "points" in pairs else None
    out = {}
    for k, x in nodes.items():
        default = points if x.is_point else by_level.get(x.level)
        own = "round" in x.settings
        out[k] = x if own or default is None else replace(x, round=default)
    return out


def _levels(e: n.Expr, nodes: dict[str, Node], ck: Reporter, mode: str) -> dict[int, ir.Rounding]:
    if not isinstance(e, n.MapLit):
        ck.err("E266", "`levels` maps a level (0 the total, 1 the first level …) to a rounding", e.span, _HINT)
        return {}
    depths = {x.level for x in nodes.values() if not x.is_point}
    out = {}
    for p in e.pairs:
        if not (isinstance(p.key, float) and p.key == int(p.key) and int(p.key) in depths):
            ck.err("E266", f"level {p.key_text}: no indicator is at that level", p.span,
                   "levels of indicators: " + ", ".join(map(str, sorted(depths))) + " (0 is the total)")
            continue
        r = _entry(p.value, f"level {p.key_text}", ck, mode)
        if r is not None:
            out[int(p.key)] = r
    return out


def _entry(e: n.Expr, what: str, ck: Reporter, mode: str) -> ir.Rounding | None:
    pairs = {p.key_text: p.value for p in e.pairs} if isinstance(e, n.MapLit) else None
    digits = pairs.get("digits") if pairs is not None else None
    m = pairs.get("mode", n.String(mode)) if pairs is not None else None
    ok = (pairs is not None and set(pairs) <= {"digits", "mode"} and isinstance(digits, n.Number)
          and digits.value == int(digits.value) and 0 <= digits.value <= 10
          and isinstance(m, n.String) and m.value in ROUNDING_MODES)
    if not ok:
        ck.err("E266", f"the rounding of {what} is a map of `digits` (0–10) and an optional `mode`",
               getattr(e, "span", n.NOWHERE), f'e.g. {{digits: 2, mode: "r"}} — modes: {", ".join(ROUNDING_MODES)}')
        return None
    assert isinstance(digits, n.Number) and isinstance(m, n.String)
    return ir.Rounding(cast(ir.RoundingMode, m.value), int(digits.value), "points")
