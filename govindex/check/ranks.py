"""Which nodes are ranked, and how: a node's ``rank:`` and the rule set's ``ranks:`` default.

``rank: true`` ranks the node with the defaults (the rule set's ``ranks:`` entries, else
``ties: "min"``, ``on: "value"``, no group, ``digits: 12``); ``rank: {ties: …, on: …, by: …,
digits: …}`` ranks it with those entries over the defaults; ``rank: false`` opts a node out of
the rule set's default. ``ranks: {levels: "all" | [0, 1, …], ties: …, on: …, by: …, digits: …}``
on the rule set ranks every node of those levels (0 is the total). Bad maps are ``E220`` at the
entry; ``by:`` naming no registry column is ``E221``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import cast

from govindex import ir
from govindex.diagnostics import did_you_mean
from govindex.lang import nodes as n

TIES = ("min", "dense", "average", "max", "ordinal")
ON = ("value", "reported")
MAX_DIGITS = 14  # significant digits compared; beyond, a decimal key is not exact (see eval/ranks.py)
_KEYS = ("ties", "on", "by", "digits")
HINT = ('e.g. rank: {ties: "min", on: "value", by: "province", digits: 12} — ties: ' + ", ".join(TIES)
        + f'; on: "value" or "reported"; by: a registry column; digits: 1–{MAX_DIGITS}')

Err = Callable[[str, str, n.Span, str], None]


class Ranks:
    """Reads ``rank:`` settings against the rule set's ``ranks:`` default."""

    def __init__(self, err: Err, ruleset: dict[str, n.Expr], attrs: list[str] | None):
        self.err, self.attrs = err, attrs  # attrs: None when the registry could not be read
        self.levels: set[int] | None = set()  # None: every level
        self.default = ir.Ranking()
        spec = ruleset.get("ranks")
        if spec is None:
            return
        pairs = self._pairs(spec, "`ranks` of the rule set", ("levels", *_KEYS))
        if pairs is None:
            return
        self.default = self._entries(pairs, ir.Ranking())
        lv = pairs.get("levels")
        if lv is None:
            self.levels = None
        elif isinstance(lv, n.String) and lv.value == "all":
            self.levels = None
        elif isinstance(lv, n.ListLit) and all(isinstance(i, n.Number) and i.value == int(i.value) and i.value >= 0
                                               for i in lv.items):
            self.levels = {int(cast(n.Number, i).value) for i in lv.items}
        else:
            self.err("E220", '`levels` of `ranks` is "all" or a list of levels (0 is the total)', lv.span,
                     'e.g. ranks: {levels: [0, 1]} or ranks: {levels: "all"}')

    def of(self, settings: dict[str, n.Expr], level: int, what: str) -> ir.Ranking | None:
        """The ranking of a node at ``level`` with ``settings``, or None when it is not ranked."""
        e = settings.get("rank")
        by_default = self.default if self.levels is None or level in self.levels else None
        if e is None:
            return by_default
        if isinstance(e, n.Bool):
            return (by_default or self.default) if e.value else None
        pairs = self._pairs(e, f"`rank` of {what}", _KEYS)
        return None if pairs is None else self._entries(pairs, by_default or self.default)

    def _pairs(self, e: n.Expr, what: str, keys: tuple[str, ...]) -> dict[str, n.Expr] | None:
        if not isinstance(e, n.MapLit):
            self.err("E220", f"{what} is true, false or a map of {', '.join(f'`{k}`' for k in keys)}", e.span, HINT)
            return None
        out = {}
        for p in e.pairs:
            key = p.key_text or str(p.key)
            if key not in keys:
                self.err("E220", f"{what} has no entry `{key}`", p.span,
                         did_you_mean(key, keys) or "entries: " + ", ".join(keys))
            else:
                out[key] = p.value
        return out

    def _entries(self, pairs: dict[str, n.Expr], base: ir.Ranking) -> ir.Ranking:
        out = base
        for key, v in pairs.items():
            if key == "ties" and isinstance(v, n.String) and v.value in TIES:
                out = replace(out, ties=cast(ir.TieMethod, v.value))
            elif key == "on" and isinstance(v, n.String) and v.value in ON:
                out = replace(out, on="value" if v.value == "value" else "reported")
            elif key == "by" and isinstance(v, n.String):
                if self.attrs is not None and v.value not in self.attrs:
                    self.err("E221", f"`by: {v.value!r}` is not a column of the units registry", v.span,
                             did_you_mean(v.value, self.attrs) or f"registry columns: {', '.join(self.attrs) or 'none'}")
                else:
                    out = replace(out, by=v.value)
            elif (key == "digits" and isinstance(v, n.Number) and v.value == int(v.value)
                  and 1 <= v.value <= MAX_DIGITS):
                out = replace(out, digits=int(v.value))
            elif key != "levels":
                self.err("E220", f"bad `{key}` of a ranking", v.span, HINT)
        return out
