"""Several named gradings of one node, gradings `within:` another's classes, `by:` in statistics,
and exact threshold cuts (docs §14a): each against a definition written here from the docs (plain
Python, R's type-7 quantile transcribed in tests/test_example_tiered.py), bit for bit; located
diagnostics for each new mistake (E264, E280–E284)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check
from govindex.eval.evaluate import Scores, evaluate
from govindex.eval.facts import frames_from_rows
from govindex.grade import difference_trend_breaks
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_text
from govindex.results import long_table, to_json, wide_table
from tests.test_example_tiered import r_quantile7

HEADER = """ruleset "g" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 1
  aggregate: mean
  missing: null
}

table t {
  unit: str
  round: int
  v: float
}

indicator A "A" {
  weight: 1
  aggregate: mean
  point pa "a" {
    kind: technical
    scale: 1
    probe: max(t, v)
    score: x
  }
}
"""
REGIONS = ("n", "s", "e")


def _dir(tmp_path: Path, body: str, n_units: int) -> Path:
    rows = "".join(f"u{i:02d},U{i:02d},{REGIONS[i % 3]}\n" for i in range(n_units))
    (tmp_path / "units.csv").write_text("code,name,region\n" + rows, encoding="utf-8")
    (tmp_path / "r.rules").write_text(HEADER + body, encoding="utf-8")
    return tmp_path


def _score(tmp_path: Path, body: str, values: list[float]) -> Scores:
    rs, diags = check(_dir(tmp_path, body, len(values)))
    assert rs is not None, [str(d) for d in diags if d.is_error]
    rows = [{"unit": f"u{i:02d}", "round": 1, "v": v} for i, v in enumerate(values)]
    return evaluate(rs, frames_from_rows(rs, {"t": rows}))


def _errors(tmp_path: Path, body: str) -> list:
    return [d for d in check(_dir(tmp_path, body, 6))[1] if d.is_error]


def _col(sc: Scores, col: str) -> list:
    return sc.units.sort("code")[col].to_list()


# ------------------------------------------------------------------ the references (docs §14a)

def ref_thresholds(x: float, cuts: list[tuple[str, float]], last: str) -> str:
    """The first class whose cut the value reaches (exact >=); the last takes the rest."""
    return next((c for c, cut in cuts if x >= cut), last)


GROUPS = 'grading groups "groups" {\n  method: thresholds\n  classes: {hi: "high", lo: "low"}\n  cuts: {hi: 0.5}\n}\n'
QUARTILES = """grading "quartiles within groups" {
  measures: {x: total}
  method: conditions
  within: groups
  classes: {Q4: "top", Q3: "3rd", Q2: "2nd", Q1: "1st"}
  conditions: {Q4: x >= q(x, 0.75), Q3: x >= median(x), Q2: x >= q(x, 0.25)}
}
"""


def ref_within(xs: list[float], group: list[str]) -> list[str]:
    """Each unit's quartile class among the units of its own group (type 7)."""
    out = []
    for x, g in zip(xs, group):
        mine = [y for y, h in zip(xs, group) if h == g]
        q75, q50, q25 = (r_quantile7(mine, p) for p in (0.75, 0.5, 0.25))
        out.append("Q4" if x >= q75 else "Q3" if x >= q50 else "Q2" if x >= q25 else "Q1")
    return out


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=4, max_size=24))
def test_quartiles_within_groups_are_their_definition(tmp_path_factory, values):
    sc = _score(tmp_path_factory.mktemp("w"), QUARTILES + GROUPS, values)
    xs = _col(sc, "total")
    group = [ref_thresholds(x, [("hi", 0.5)], "lo") for x in xs]
    assert _col(sc, "g:total:groups") == group
    assert _col(sc, "grade") == ref_within(xs, group)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=3, max_size=24), st.floats(0, 1))
def test_by_a_registry_column_and_by_a_grading(tmp_path_factory, values, p):
    body = f"""grading "by region" {{
  measures: {{x: total}}
  method: conditions
  classes: {{top: "top", rest: "rest"}}
  conditions: {{top: x >= q(x, {p!r}, by: region) and x >= median(x, by: groups)}}
}}
""" + GROUPS
    sc = _score(tmp_path_factory.mktemp("b"), body, values)
    xs, region = _col(sc, "total"), _col(sc, "region")
    group = [ref_thresholds(x, [("hi", 0.5)], "lo") for x in xs]
    want = []
    for x, r, g in zip(xs, region, group):
        qr = r_quantile7([y for y, s in zip(xs, region) if s == r], p)
        mg = r_quantile7([y for y, h in zip(xs, group) if h == g], 0.5)
        want.append("top" if x >= qr and x >= mg else "rest")
    assert _col(sc, "grade") == want


def test_thresholds_within_groups_grade_each_group_apart(tmp_path):
    body = GROUPS + """grading halves "halves" {
  method: thresholds
  within: groups
  classes: {up: "up", down: "down"}
  cuts: {up: 0.75}
}
"""
    values = [0.1, 0.3, 0.6, 0.8, 0.9, 0.45]
    sc = _score(tmp_path, body, values)
    xs = _col(sc, "total")
    assert _col(sc, "g:total:groups") == [ref_thresholds(x, [("hi", 0.5)], "lo") for x in xs]
    assert _col(sc, "g:total:halves") == [ref_thresholds(x, [("up", 0.75)], "down") for x in xs]
    assert _col(sc, "grade") == _col(sc, "g:total:groups")  # the first grading of the total


def test_difference_trend_within_groups_never_mixes_groups(tmp_path):
    body = GROUPS + """grading gaps "gaps" {
  method: difference_trend
  within: groups
  classes: {a: "a", b: "b"}
  min_class: 1
}
"""
    values = [0.05, 0.1, 0.4, 0.55, 0.6, 0.95]
    sc = _score(tmp_path, body, values)
    got = dict(zip(_col(sc, "total"), _col(sc, "g:total:gaps")))
    # within "lo" the largest gap is 0.1 → 0.4, within "hi" 0.6 → 0.95
    assert got == {0.05: "b", 0.1: "b", 0.4: "a", 0.55: "b", 0.6: "b", 0.95: "a"}


def test_the_docs_worked_example(tmp_path):
    """§14a: 0.2 … 0.9 cut at 0.5, quartiles within each group."""
    sc = _score(tmp_path, QUARTILES + GROUPS, [0.2, 0.4, 0.6, 0.7, 0.8, 0.9])
    assert _col(sc, "grade") == ["Q1", "Q4", "Q1", "Q2", "Q3", "Q4"]


# ------------------------------------------------------------------ exact cuts (docs §14a)

def test_a_cut_is_reached_exactly_and_not_a_hair_below(tmp_path):
    """cut 0.5: 0.5 reaches it; the double just below (0.49999999999999994) does not — the
    1e-9 tolerance of earlier versions would have put it in `hi`."""
    below = math.nextafter(0.5, 0.0)
    sc = _score(tmp_path, GROUPS.replace("grading groups", "grading"), [0.5, below, 0.5 - 1e-10])
    assert _col(sc, "grade") == ["hi", "lo", "lo"]


# ------------------------------------------------------------------ outputs

def test_every_output_shows_a_named_grading(tmp_path):
    sc = _score(tmp_path, QUARTILES + GROUPS, [0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9])
    assert "grade:total:groups" in wide_table(sc).columns
    long = long_table(sc)
    assert long.filter(pl.col("node") == "total")["grade:groups"].null_count() == 0
    assert long.filter(pl.col("node") != "total")["grade:groups"].null_count() == long.height - sc.units.height
    doc = json.loads(json.dumps(to_json(sc)))
    assert {u["code"]: u["gradings"]["groups"] for u in doc["units"]} == dict(
        zip(_col(sc, "code"), _col(sc, "g:total:groups")))
    (g,) = doc["gradings"]
    assert (g["id"], g["node"], [c["count"] for c in g["classes"]]) == ("groups", "total", [4, 3])
    assert doc["grading"]["label"] == "quartiles within groups"


def test_without_named_gradings_nothing_new_is_written(tmp_path):
    sc = _score(tmp_path, GROUPS.replace("grading groups", "grading"), [0.2, 0.7])
    doc = to_json(sc)
    assert "gradings" not in doc and all("gradings" not in u for u in doc["units"])
    assert not [c for c in wide_table(sc).columns if c.count(":") > 1]


def test_a_named_grading_round_trips_through_fmt():
    text = 'grading groups "EGDI groups" {\n  method: thresholds\n  classes: {a: "a", b: "b"}\n  cuts: {a: 1}\n}\n'
    rules = parse_text(text)
    assert rules.items[0].id == "groups"
    out = format_file(rules)
    assert out.startswith('grading groups "EGDI groups" {') and format_file(parse_text(out)) == out


# ------------------------------------------------------------------ diagnostics

SECOND = 'grading "second" {\n  method: thresholds\n  classes: {a: "a", b: "b"}\n  cuts: {a: 0.3}\n}\n'


@pytest.mark.parametrize("body,code,line,col", [
    (GROUPS + SECOND, "E264", 6, 1),  # a second grading of the total without a name
    (GROUPS + GROUPS.replace('"groups"', '"again"'), "E280", 6, 1),
    (GROUPS.replace("grading groups", "grading region"), "E281", 1, 1),
    (GROUPS + SECOND.replace('grading "second" {', 'grading s "s" {\n  within: grups'), "E282", 7, 11),
    (GROUPS.replace("method:", "within: groups\n  method:"), "E283", 2, 11),
    (QUARTILES.replace("q(x, 0.75)", "q(x, 0.75, by: provnce)") + GROUPS, "E284", 6, 40),
])
def test_mistakes_are_located_with_a_hint(tmp_path, body, code, line, col):
    errors = [d for d in _errors(tmp_path, body) if d.code == code]
    assert errors, [str(d) for d in _errors(tmp_path, body)]
    at = errors[0].span
    assert (at.line - HEADER.count("\n"), at.col) == (line, col) and errors[0].hint


def test_gradings_reading_each_other_in_a_circle(tmp_path):
    a = 'grading a "a" {\n  measures: {x: total}\n  method: conditions\n  within: b\n  classes: {h: "h", l: "l"}\n' \
        '  conditions: {h: x >= median(x)}\n}\n'
    b = 'grading b "b" {\n  measures: {x: total}\n  method: conditions\n  classes: {h: "h", l: "l"}\n' \
        '  conditions: {h: a == "h"}\n}\n'
    errors = [d for d in _errors(tmp_path, SECOND + a + b) if d.code == "E283"]
    assert errors and "a → b → a" in errors[0].message


def test_a_class_that_the_grading_does_not_have(tmp_path):
    body = QUARTILES.replace("Q4: x >= q(x, 0.75)", 'Q4: groups == "hgh"') + GROUPS
    errors = [d for d in _errors(tmp_path, body) if d.code == "E262"]
    assert errors and "not a class of grading `groups`" in errors[0].message and "hi" in errors[0].hint
    assert (errors[0].span.line - HEADER.count("\n"), errors[0].span.col) == (6, 30)


def test_difference_trend_equal_means_the_same_double():
    """Equal totals (the same double) are never split; totals 1e-12 apart are different units and
    can be (the 1e-9 tolerance of earlier versions treated them as equal)."""
    same = difference_trend_breaks([1.0, 1.0, 0.5, 0.5], 3, 1, 1)
    assert [c.after for c in same] == [2]
    close = difference_trend_breaks([1.0, 1.0 - 1e-12, 0.5], 3, 1, 1)
    assert [c.after for c in close] == [1, 2]
