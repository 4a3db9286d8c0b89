"""A point's ``score_on: scale`` and the root's ``scale:`` (docs §5 "A node's own scale").

``score_on: scale`` (with ``scale: S``): the point's formula gives its value on its scale (GODI's
20 + 20 + 15 … points out of 100), not a rate; the value is the result itself and the rate
``x / S``. ``score_on: rate`` is the default (the formula gives a rate in [0, 1]).
``scale:`` in the ruleset header is the total's scale, as on any node: the total is reported as
its rate × scale whatever ``max_total`` is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from govindex.ir import ROOT, Node, Stages
from govindex.lang import nodes as n

SCORE_ON = ("rate", "scale")
_HINT = 'e.g. scale: 100 and score_on: scale — the formula then returns 0 … 100; or score_on: rate (a rate in 0 … 1)'


class Checker(Protocol):
    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None: ...


def score_on(ck: Checker, s: dict[str, n.Expr], ident: str, own_scale: float | None, stages: Stages | None) -> bool:
    """True when point ``ident`` says ``score_on: scale`` (and can: E270 without a scale, E271 for
    another word, E273 when a ``normalise:`` stage replaces the formula's rate; E272 for a constant
    score outside [0, scale] — a formula's result is checked when scoring)."""
    e = s.get("score_on")
    if e is None:
        return False
    word = e.id if isinstance(e, n.Name) else e.value if isinstance(e, n.String) else None
    if word not in SCORE_ON:
        ck.err("E271", f"`score_on` of point `{ident}` is `scale` or `rate`", e.span, _HINT)
        return False
    if word == "rate":
        return False
    if own_scale is None:
        ck.err("E270", f"point `{ident}` scores on its scale but declares no `scale:`", e.span,
               "add e.g. `scale: 100` (the top of the values its formula gives), or remove `score_on`")
        return False
    if stages is not None and stages.normalise is not None:
        ck.err("E273", f"point `{ident}`: `normalise:` makes its rate, so its formula's value is not on its scale",
               e.span, "remove `score_on: scale` (the normalised rate is shown × scale), or the `normalise:` stage")
        return False
    f = s.get("score")
    if isinstance(f, n.Number) and not 0 <= f.value <= own_scale:  # the data-dependent case: when scoring
        ck.err("E272", f"point `{ident}` scores on its scale 0 … {own_scale:g}, but its score is {f.text or f.value}",
               f.span, f"keep the score within 0 … {own_scale:g}, or raise `scale:`")
    return True


def with_root_scale(nodes: dict[str, Node], scale: float | None) -> dict[str, Node]:
    """``nodes`` with the ruleset header's ``scale:`` as the root's own scale."""
    if scale is None or ROOT not in nodes:
        return nodes
    return {**nodes, ROOT: replace(nodes[ROOT], own_scale=scale)}
