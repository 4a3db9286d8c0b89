"""The tree around a value kept between stages (docs §9b "Values between stages").

A point with ``normalise: {method: "zscore", keep: "value"}`` has a **value** (its z-score,
unbounded), not a rate in [0, 1]. A value means something only to a parent that averages values
and turns the average into a rate itself, so the checker requires, for every such point ``p``
under parent ``P``:

- E291 ``P`` aggregates by ``mean`` or ``wmean`` (the exact weighted mean of the values);
- E292 ``P`` is an indicator with a ``normalise:`` stage that makes a rate (not the root, not
  another ``keep: "value"``);
- E293 every child of ``P`` that counts is a value (no mixing of values and rates);
- E294 ``p`` is not rounded (``round:``), scored or shown on a scale (``score_on``, ``scale:``: a
  value has none), nor referenced by a
  ``ref`` (a ref counts a rate), and ``keep: "value"`` sits on a point, not on an indicator.

(E290, a malformed ``keep:``, is reported where the stage is read: :mod:`govindex.check.stages`.)
"""

from __future__ import annotations

from typing import Protocol

from govindex.ir import ROOT, Node, keeps_value
from govindex.lang import nodes as n

VALUE_MEANS = ("mean", "wmean")


class Checker(Protocol):
    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None: ...


def _at(x: Node, key: str) -> n.Span:
    e = x.settings.get(key)
    return e.span if e is not None else x.span


def check_values(ck: Checker, nodes: dict[str, Node]) -> None:
    """Report every misplaced kept value (see the module docstring)."""
    valued = [x for x in nodes.values() if keeps_value(x)]
    for x in valued:
        if not x.is_point:
            ck.err("E294", f"indicator `{x.id}` keeps a value (`keep: \"value\"`); only a point can", _at(x, "normalise"),
                   "keep the z-scores on the points, average them here and normalise to a rate, e.g. "
                   'normalise: {method: "minmax"}')
            continue
        for key, what in (("round", "rounded (`round:`)"), ("score_on", "scored on its scale (`score_on:`)"),
                          ("scale", "shown on a scale (`scale:`)")):
            if key in x.settings:
                ck.err("E294", f"point `{x.id}` keeps a value (a z-score) and cannot be {what}", _at(x, key),
                       f"remove `{key}:`; round or scale the rate its parent's `normalise:` makes")
    for x in nodes.values():
        if x.ref is not None and x.ref in nodes and keeps_value(nodes[x.ref]):
            ck.err("E294", f"ref `{x.id}` counts `{x.ref}`, which keeps a value (a z-score), not a rate", x.span,
                   "reference the indicator that normalises the values to a rate instead")
    for pid in sorted({x.parent for x in valued if x.is_point and x.parent is not None}):
        _check_parent(ck, nodes, nodes[pid])


def _check_parent(ck: Checker, nodes: dict[str, Node], p: Node) -> None:
    kids = [nodes[k] for k in p.children if k in nodes]
    first = next(k for k in kids if keeps_value(k))
    if p.aggregate not in VALUE_MEANS:
        ck.err("E291", f"`{first.id}` keeps a value (a z-score) but its parent `{p.id}` aggregates by "
               f"`{p.aggregate}`", _at(p, "aggregate") if p.id != ROOT else first.span,
               "values are averaged: aggregate: mean (or wmean), then `normalise:` the mean to a rate")
    nm = p.stages.normalise if p.stages is not None else None
    if p.id == ROOT or nm is None or nm.keep == "value":
        ck.err("E292", f"`{p.id}` averages values (z-scores of `{first.id}` …) but does not turn them into a rate",
               first.span if p.id == ROOT else p.span,
               'put the values under an indicator with `normalise:` making a rate, e.g. normalise: {method: "minmax"}')
    rates = [k for k in kids if not keeps_value(k) and (k.weight is None or k.weight != 0)]
    if rates:
        ck.err("E293", f"`{p.id}` mixes values (`{first.id}`: a z-score) and rates (`{rates[0].id}`)", rates[0].span,
               f'give `{rates[0].id}` normalise: {{method: "zscore", keep: "value"}} too, or move it out of `{p.id}`')
