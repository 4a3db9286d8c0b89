"""Checking the inline ``test`` blocks: given rows fit their tables, expectations name what exists.

A given row is checked like a row of facts before anything runs: each value is a literal of its
column's declared type (text in an ``int`` column, ``1.5`` for a whole number, a date that does
not exist are errors located at the value), and its unit and round are ones the rule set knows
(a row for an unknown unit or round would be dropped without a word).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from govindex.diagnostics import did_you_mean
from govindex.ir import Node, Table
from govindex.lang import nodes as n

INT64 = 2**63 - 1
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?")
_EXAMPLES = {"str": '"text"', "int": "12", "float": "0.5", "bool": "true", "date": '"2019-01-31"',
             "datetime": '"2019-01-31 08:30"', "list[str]": '["a", "b"]'}


def given_value_problem(e: n.Expr, coltype: str) -> str:
    """Why ``e`` cannot be a value of a column of type ``coltype``; "" when it can (null always can)."""
    if isinstance(e, n.Null):
        return ""
    check = _VALUE_CHECKS.get(coltype)
    if check is None:
        return f"no literal fits a {coltype} column"
    return check(e)


def _str(e: n.Expr) -> str:
    return "" if isinstance(e, n.String) else "expected text in quotes"


def _int(e: n.Expr) -> str:
    if not isinstance(e, n.Number):
        return "expected a whole number"
    if e.value != int(e.value):
        return f"{e.text or e.value} is not a whole number"
    return "" if abs(e.value) <= INT64 else f"{e.text or e.value} does not fit a 64-bit integer"


def _float(e: n.Expr) -> str:
    return "" if isinstance(e, n.Number) else "expected a number"


def _bool(e: n.Expr) -> str:
    return "" if isinstance(e, n.Bool) else "expected true or false"


def _date(e: n.Expr) -> str:
    return _when(e, _DATE, date.fromisoformat, "a date YYYY-MM-DD")


def _datetime(e: n.Expr) -> str:
    return _when(e, _DATETIME, datetime.fromisoformat, "a date YYYY-MM-DD or date and time YYYY-MM-DD HH:MM[:SS]")


def _when(e: n.Expr, form: re.Pattern[str], parse: Callable[[str], object], want: str) -> str:
    if not isinstance(e, n.String) or not form.fullmatch(e.value):
        return f"expected {want} in quotes (local time, no time zone)"
    try:
        parse(e.value)
    except ValueError:
        return f"{e.value!r} is not a real date or time"
    return ""


def _strings(e: n.Expr) -> str:
    if isinstance(e, n.ListLit) and all(isinstance(i, n.String) for i in e.items):
        return ""
    return "expected a list of texts in quotes"


_VALUE_CHECKS: dict[str, Callable[[n.Expr], str]] = {
    "str": _str, "int": _int, "float": _float, "bool": _bool, "date": _date, "datetime": _datetime,
    "list[str]": _strings,
}


def _shown(e: n.Expr) -> str:
    if isinstance(e, n.String):
        return f'"{e.value}"'
    if isinstance(e, n.Number):
        return e.text or f"{e.value:g}"
    return type(e).__name__.lower().replace("lit", "")


@dataclass
class TestChecker:
    """Checks test blocks against the tables, nodes, units and rounds of the rule set."""

    err: Callable[..., None]  # (code, message, span, hint)
    tables: dict[str, Table]
    nodes: dict[str, Node]
    codes: set[str]
    unit_col: str
    round_col: str
    rounds: set[int]

    def run(self, tests: list[n.TestDecl]) -> None:
        names: set[str] = set()
        for t in tests:
            if t.name in names:
                self.err("E201", f"test \"{t.name}\" declared twice", t.span)
            names.add(t.name)
            for g in t.givens:
                self._given(g)
            for ex in t.expects:
                self._expect(ex)

    def _given(self, g: n.Given) -> None:
        if g.table not in self.tables:
            self.err("E401", f"test gives rows for unknown table `{g.table}`", g.span, did_you_mean(g.table, self.tables))
            return
        for row in g.rows.items:
            if not isinstance(row, n.MapLit):
                self.err("E401", "a given row is a map {column: value}", row.span)
                continue
            for p in row.pairs:
                self._cell(g.table, p)

    def _cell(self, table: str, p: n.Pair) -> None:
        cols = self.tables[table].columns
        if p.key not in cols:
            self.err("E401", f"table `{table}` has no column `{p.key_text}`", p.span, did_you_mean(str(p.key), cols))
            return
        col, coltype = str(p.key), cols[str(p.key)]
        problem = given_value_problem(p.value, coltype)
        if problem:
            self.err("E401", f"`{col}` is declared {coltype}: {_shown(p.value)} does not fit ({problem})",
                     p.value.span, f"e.g. {col}: {_EXAMPLES.get(coltype, 'null')}")
        elif col == self.unit_col and isinstance(p.value, n.String) and self.codes and p.value.value not in self.codes:
            self.err("E401", f"unit {p.value.value!r} is not in the units registry: the row would be ignored",
                     p.value.span, did_you_mean(p.value.value, self.codes) or "use a code of the units registry")
        elif col == self.round_col and isinstance(p.value, n.Number) and self.rounds and int(p.value.value) not in self.rounds:
            self.err("E401", f"round {_shown(p.value)} is not declared: the row would be ignored", p.value.span,
                     f"the rule set declares rounds {', '.join(map(str, sorted(self.rounds)))}")

    def _expect(self, ex: n.Expect) -> None:
        if ex.node not in self.nodes:
            self.err("E401", f"expectation on unknown node `{ex.node}`", ex.span, did_you_mean(ex.node, self.nodes))
        if self.codes and ex.unit not in self.codes:
            self.err("E401", f"expectation on unknown unit {ex.unit!r}", ex.span, "use a code of the units registry")
        if not isinstance(ex.value, (n.Number, n.Null)):
            self.err("E401", "an expectation compares with a number or null", ex.value.span)
