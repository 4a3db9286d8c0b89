"""Where each grading sub-level's range starts and ends (docs §14a, "Sub-levels"): the worked
example of the document, computed by govindex.grade, and the properties the definition implies."""

from __future__ import annotations

import math
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.diagnostics.location import Span
from govindex.grade import grade
from govindex.ir import Grading

DOC = (Path(__file__).resolve().parents[1] / "docs" / "rules-language.md").read_text(encoding="utf-8")
ORDER = {"A-": 0, "A": 1, "A+": 2}


def _grading(cut: float) -> Grading:
    """Class A (with sub-levels) at or above ``cut``, B (without) below it."""
    return Grading(label="g", method="thresholds", classes=(("A", "甲"), ("B", "乙")), sublevels=frozenset({"A"}),
                   cuts={"A": cut}, window=5, min_class=1, span=Span("x.rules", 1, 1, 1, 1))


def _sublevels(values: list[float], cut: float = 70.0) -> list[str]:
    totals = {f"u{i}": v for i, v in enumerate(values)}
    totals["below"] = cut - 20  # a unit of class B, which must not move A's range
    g = grade(_grading(cut), totals)
    return [g.sublevel[f"u{i}"] for i in range(len(values))]


def _doc_worked_example() -> tuple[list[float], list[str]]:
    """The `| value | … |` and `| sub-level | … |` rows of the worked example in §14a."""
    values = re.search(r"^\| value \|(.*)\|$", DOC, re.M)
    assert values, "the worked example of sub-levels is missing from docs §14a"
    levels = re.compile(r"^\| sub-level \|(.*)\|$", re.M).search(DOC, values.end())
    assert levels, "the worked example of sub-levels is missing from docs §14a"
    return ([float(v) for v in values.group(1).split("|")], [s.strip() for s in levels.group(1).split("|")])


def test_docs_worked_example():
    values, expected = _doc_worked_example()
    assert (min(values), max(values)) == (80, 89)
    assert _sublevels(values) == expected == ["A+", "A+", "A", "A", "A-", "A-"]


def test_boundaries_belong_to_the_sub_level_above():
    # lo = 80, hi = 89, t = 3: 86 and 83 are boundaries; the doubles just below them are not
    lo_t, hi_t = 83.0, 86.0
    below = [math.nextafter(x, -math.inf) for x in (lo_t, hi_t)]
    got = _sublevels([80.0, 89.0, lo_t, hi_t, *below])
    assert got == ["A-", "A+", "A", "A+", "A-", "A"]


def test_thirds_in_doubles():
    # t = 1/3 = 0.3333333333333333; hi − t = 0.6666666666666667 > 2/3 = 0.6666666666666666
    assert 1 - 1 / 3 > 2 / 3
    assert _sublevels([0.0, 1.0, 2 / 3, 1 - 1 / 3], cut=0.0) == ["A-", "A+", "A", "A+"]


def test_one_value_is_plain():
    assert _sublevels([75.0, 75.0]) == ["A", "A"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=70, max_value=100, allow_nan=False), min_size=2, max_size=30))
def test_sub_levels_follow_the_values(values):
    got = _sublevels(values)
    lo, hi = min(values), max(values)
    pairs = sorted(zip(values, got))
    # a higher value never has a lower sub-level
    assert all(ORDER[a[1]] <= ORDER[b[1]] for a, b in zip(pairs, pairs[1:]))
    if hi > lo:
        t = (hi - lo) / 3
        for v, s in zip(values, got):
            assert s == ("A+" if v >= hi - t else "A" if v >= lo + t else "A-")
        assert got[values.index(hi)] == "A+" and (got[values.index(lo)] == "A-" or lo >= lo + t)
