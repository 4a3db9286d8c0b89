"""What a rule set's probes read and test, from the checked IR: what the synthetic-facts
generators (the benchmark facts, :mod:`govindex.synth.bench`, and the example facts,
``examples/generate_facts.py``) need to make facts that the probes can match.

- :func:`calls` — every aggregate of every point's probe, in rule-set order;
- :func:`tests` — every literal a row expression tests a column against: markers
  (``has(markers, "x")``, ``"x" in markers``), keywords (``contains``, ``starts_with`` …),
  comparisons (``site == "opendata"``, ``depth <= 4``, ``kind in ["a", "b"]``) and the expected
  lists of ``coverage``;
- :func:`pairs` — the (start, end) columns of ``days_between``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from govindex import ir
from govindex.ir import RuleSet

LIST_TESTS = ("has", "has_any", "has_all")
TEXT_TESTS = ("contains", "contains_any", "starts_with", "ends_with", "matches")
_NOT_TESTS = ("and", "or", "+", "-", "*", "/", "not", "neg")


@dataclass(frozen=True, slots=True)
class Call:
    """One aggregate of a point's probe; ``whole`` when it is the whole probe."""

    point: str
    agg: ir.Agg
    whole: bool


@dataclass(frozen=True, slots=True)
class Test:
    """Literals tested against a column: ``how`` is the row function, the operator, or
    ``coverage``; ``literal_first`` when the literal is written first (``"x" in markers``)."""

    node: ir.Expr
    how: str
    column: ir.Column
    values: tuple[str | float, ...]
    literal_first: bool = False


def calls(rs: RuleSet) -> list[Call]:
    """Every aggregate of every point's probe: points in rule-set order, aggregates in reading order."""
    return [Call(p.id, a, p.probe == a) for p in rs.points for a in ir.aggregates(p.probe)]


def literal_values(e: ir.Expr | None) -> tuple[str | float, ...]:
    """The literal(s) of ``e``: a constant, or a list of them; a date as written."""
    if isinstance(e, ir.ListConst):
        return tuple(v for i in e.items for v in literal_values(i))
    if isinstance(e, ir.Const) and e.type == "datetime":
        return (e.text,)
    if isinstance(e, ir.Const) and isinstance(e.value, (str, float)) and not isinstance(e.value, bool):
        return (e.value,)
    return ()


def tests(*roots: ir.Expr | None) -> Iterator[Test]:
    """Every literal test under ``roots``, in reading order (each distinct node once)."""
    for x in ir.walk(*roots):
        if isinstance(x, ir.RowCall) and isinstance(x.args[0], ir.Column) and len(x.args) > 1 \
                and x.fn in (*LIST_TESTS, *TEXT_TESTS):
            yield Test(x, x.fn, x.args[0], literal_values(x.args[1]))
        elif isinstance(x, ir.RowCall) and x.fn == "present" and isinstance(x.args[0], ir.Column):
            yield Test(x, x.fn, x.args[0], ())
        elif isinstance(x, ir.Agg) and x.fn == "coverage" and isinstance(x.arg, ir.Column):
            yield Test(x, "coverage", x.arg, literal_values(x.items))
        elif isinstance(x, ir.Op) and x.op not in _NOT_TESTS:
            left, right = x.args
            if isinstance(left, ir.Column) and isinstance(right, (ir.Const, ir.ListConst)):
                yield Test(x, x.op, left, literal_values(right))
            elif isinstance(right, ir.Column) and isinstance(left, (ir.Const, ir.ListConst)):
                yield Test(x, x.op, right, literal_values(left), literal_first=True)


def pairs(*roots: ir.Expr | None) -> Iterator[tuple[str, str]]:
    """(start, end) columns of every ``days_between`` of two columns, in reading order."""
    for x in ir.walk(*roots):
        if isinstance(x, ir.RowCall) and x.fn == "days_between" and all(isinstance(a, ir.Column) for a in x.args):
            start, end = x.args
            assert isinstance(start, ir.Column) and isinstance(end, ir.Column)
            yield start.name, end.name


def columns(*roots: ir.Expr | None) -> set[str]:
    """The names of the columns ``roots`` read."""
    return {x.name for x in ir.walk(*roots) if isinstance(x, ir.Column)}
