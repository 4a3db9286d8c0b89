"""Checking a grading's class conditions: ``A: x >= q(x, 0.75) and y >= 2/3``.

A condition is over one unit: its measures (numbers — the nodes named in ``measures:``), the
attributes of the units registry (text) and statistics across units of a measure, each one
number for all units — or, with ``by: <column or grading>``, for the units sharing the unit's value
of it (:class:`govindex.ir.UnitStat`, evaluated by :mod:`govindex.eval.node_grades`). Names
resolve to measures first, then attributes and named gradings (a grading's value is the unit's
class id, text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from govindex import ir
from govindex.diagnostics import did_you_mean
from govindex.lang import nodes as n

# statistic → (positional parameters after the measure, description); `where:` on every one.
STATS: dict[str, tuple[tuple[str, ...], str]] = {
    "q": (("p",), "the p-quantile (R's type 7 unless `type:` says otherwise)"),
    "quantile": (("p",), "the same as q"),
    "median": ((), "the median (the 0.5-quantile of type 7)"),
    "mean": ((), "the arithmetic mean, summed in unit order"),
    "min": ((), "the smallest value"),
    "max": ((), "the largest value"),
    "count": ((), "how many units have a value"),
}
_ARITH = {"+", "-", "*", "/"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}

Err = Callable[[str, str, n.Span, str], None]


class Conditions:
    """Lowers conditions to IR; reports through ``err`` (codes E262, E263)."""

    def __init__(self, err: Err, measures: set[str], attrs: set[str], quantile_types: tuple[int, ...]):
        self.err, self.measures, self.attrs, self.qtypes = err, measures, attrs, quantile_types

    def condition(self, e: n.Expr) -> ir.Expr | None:
        """A class's condition (a true/false expression), or None after reporting why not."""
        out = self.lower(e, in_stat=False)
        if out is not None and out.type != "bool":
            self.err("E262", f"a class condition is true or false, not {out.type}", _span(e),
                     "e.g. A: x >= q(x, 0.75) and y >= 2/3")
            return None
        return out

    def lower(self, e: n.Expr, in_stat: bool) -> ir.Expr | None:
        if isinstance(e, n.Number):
            return ir.Const(e.value, "num", e.text, e.span)
        if isinstance(e, n.String):
            return ir.Const(e.value, "str", e.value, e.span)
        if isinstance(e, n.Bool):
            return ir.Const(e.value, "bool", "", e.span)
        if isinstance(e, n.Name):
            return self._name(e)
        if isinstance(e, n.Unary):
            x = self.lower(e.operand, in_stat)
            want: ir.Type = "num" if e.op == "-" else "bool"
            return None if x is None or not self._is(x, want, e.operand) else ir.Op(
                "neg" if e.op == "-" else "not", (x,), want, e.span)
        if isinstance(e, n.Binary):
            return self._binary(e, in_stat)
        if isinstance(e, n.Call):
            return self._stat(e, in_stat)
        self.err("E262", "a class condition compares measures, numbers and statistics across units", _span(e),
                 "e.g. x >= median(x) and region == \"north\"")
        return None

    def _name(self, e: n.Name) -> ir.Expr | None:
        if e.id in self.measures:
            return ir.Column(e.id, "measures", "num", e.span)
        if e.id in self.attrs:
            return ir.Column(e.id, "units", "str", e.span)
        self.err("E262", f"`{e.id}` is neither a measure of this grading nor a column of the units registry", e.span,
                 did_you_mean(e.id, self.measures | self.attrs) or "name it in `measures: {…}`")
        return None

    def _binary(self, e: n.Binary, in_stat: bool) -> ir.Expr | None:
        a, b = self.lower(e.left, in_stat), self.lower(e.right, in_stat)
        if a is None or b is None:
            return None
        if e.op in _ARITH:
            ok = self._is(a, "num", e.left) & self._is(b, "num", e.right)
            return ir.Op(cast(ir.OpName, e.op), (a, b), "num", e.span) if ok else None
        if e.op in ("and", "or"):
            ok = self._is(a, "bool", e.left) & self._is(b, "bool", e.right)
            return ir.Op(cast(ir.OpName, e.op), (a, b), "bool", e.span) if ok else None
        if e.op in _COMPARE:
            if a.type != b.type or a.type not in ("num", "str") or (a.type == "str" and e.op not in ("==", "!=")):
                self.err("E262", f"cannot compare {a.type} {e.op} {b.type}", e.span,
                         "compare numbers with numbers, or a registry column with a string by == / !=")
                return None
            return ir.Op(cast(ir.OpName, e.op), (a, b), "bool", e.span)
        self.err("E262", f"`{e.op}` is not available in a class condition", e.span, "use and, or, not, comparisons")
        return None

    def _is(self, x: ir.Expr, want: ir.Type, at: n.Expr) -> bool:
        if x.type == want:
            return True
        self.err("E262", f"expected a {'number' if want == 'num' else 'condition'}, found {x.type}", _span(at), "")
        return False

    def _stat(self, e: n.Call, in_stat: bool) -> ir.Expr | None:
        spec = STATS.get(e.fn)
        if spec is None:
            self.err("E262", f"unknown statistic `{e.fn}` in a class condition", e.span,
                     did_you_mean(e.fn, STATS) or "one of " + ", ".join(STATS))
            return None
        if in_stat:
            self.err("E262", f"`{e.fn}` inside a statistic: statistics do not nest", e.span, "")
            return None
        params = spec[0]
        if len(e.args) != 1 + len(params) or {k.name for k in e.kwargs} - {"where", "type", "by"} or (
                e.kwarg("type") is not None and e.fn not in ("q", "quantile")):
            sig = ", ".join(["measure", *params])
            self.err("E267", f"`{e.fn}` takes ({sig}) and an optional `where:`, `by:`"
                     + (" and `type:`" if e.fn in ("q", "quantile") else ""), e.span,
                     "e.g. q(x, 0.75, where: region == \"north\")")
            return None
        arg = self.lower(e.args[0], in_stat=True)
        if arg is None or not self._is(arg, "num", e.args[0]):
            return None
        where = None
        if (w := e.kwarg("where")) is not None:
            where = self.lower(w, in_stat=True)
            if where is None or not self._is(where, "bool", w):
                return None
        by = e.kwarg("by")
        if by is not None and not (isinstance(by, n.Name) and by.id in self.attrs):
            self.err("E284", f"`by: {getattr(by, 'id', '…')}` is neither a units registry column nor a grading",
                     _span(by), did_you_mean(getattr(by, "id", ""), self.attrs) or "e.g. q(x, 0.75, by: region)")
            return None
        fn = "quantile" if e.fn in ("q", "quantile") else e.fn
        p, qtype = 0.5, 7
        if fn == "quantile":
            pe, te = e.args[1], e.kwarg("type")
            if not (isinstance(pe, n.Number) and 0.0 <= pe.value <= 1.0):
                self.err("E267", "a quantile's probability is a number from 0 to 1", _span(pe), "e.g. q(x, 0.75)")
                return None
            if te is not None and not (isinstance(te, n.Number) and te.value in self.qtypes):
                self.err("E267", f"quantile `type:` is one of {', '.join(map(str, self.qtypes))}", _span(te), "")
                return None
            p, qtype = pe.value, int(te.value) if isinstance(te, n.Number) else 7
        return ir.UnitStat(cast(ir.UnitStatFn, fn), arg, "num", p, qtype, where, e.span,
                           by.id if isinstance(by, n.Name) else None)


def _span(e: n.Expr) -> n.Span:
    return getattr(e, "span", n.NOWHERE)
