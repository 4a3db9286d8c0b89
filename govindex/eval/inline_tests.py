"""Run the ``test`` blocks of a rule set: given rows → evaluate → compare expectations."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govindex.eval.evaluate import evaluate
from govindex.eval.facts import frames_from_rows
from govindex.eval.node_values import val_col
from govindex.ir import ROOT, RuleSet
from govindex.lang import nodes as n

_OPS: dict[str, Callable[[float, float], bool]] = {"==": lambda a, b: abs(a - b) <= 1e-6, "!=": lambda a, b: abs(a - b) > 1e-6,
        "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Outcome:
    test: str
    expect: n.Expect
    actual: float | None
    passed: bool

    def describe(self) -> str:
        want = "null" if isinstance(self.expect.value, n.Null) else f"{self.expect.value.value:g}"  # type: ignore[union-attr]  # check: a number or null
        got = "null" if self.actual is None else f"{self.actual:.6g}"
        return f"{self.expect.unit} {self.expect.node} {self.expect.op} {want} (got {got})"


def _py(e: n.Expr, coltype: str | None) -> Any:
    """A given value (checked by ``check`` to fit its column's type) as a Python value."""
    if isinstance(e, n.Number):
        return int(e.value) if coltype == "int" and e.value == int(e.value) else e.value
    if isinstance(e, n.String) and coltype in ("date", "datetime"):
        # One spelling for every row: the facts reader infers one format per column.
        return datetime.fromisoformat(e.value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(e, (n.String, n.Bool)):
        return e.value
    if isinstance(e, n.ListLit):
        return [_py(i, None) for i in e.items]
    return None


def run_tests(rs: RuleSet) -> list[Outcome]:
    """Every expectation of every test block, evaluated."""
    out = []
    for t in rs.tests:
        rows: dict[str, list[dict[str, Any]]] = {}
        for g in t.givens:
            cols = rs.tables[g.table].columns
            for r in g.rows.items:
                assert isinstance(r, n.MapLit)
                rows.setdefault(g.table, []).append({str(p.key): _py(p.value, cols.get(str(p.key))) for p in r.pairs})
        sc = evaluate(rs, frames_from_rows(rs, rows))
        by_code = {row["code"]: row for row in sc.units.iter_rows(named=True)}
        for ex in t.expects:
            node = rs.nodes[ex.node if ex.node != "total" else ROOT]
            actual = by_code.get(ex.unit, {}).get(val_col(node.id))  # as reported: on its scale (val:<node>)
            if isinstance(ex.value, n.Null):
                ok = (actual is None) == (ex.op == "==")
            else:
                assert isinstance(ex.value, n.Number)  # the checker allows a number or null (E401)
                ok = actual is not None and _OPS[ex.op](actual, ex.value.value)
            out.append(Outcome(t.name, ex, actual, ok))
    return out
