"""Grading any node, statistics across units, the difference-trend floor, rounding on a node's
own scale: each against a definition written here, bit for bit, and located diagnostics."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check
from govindex.eval.node_rounding import on_scale_expr, rounded_score
from govindex.eval.stats import quantile
from govindex.grade import FLOOR, difference_trend_breaks
from govindex.ir import Node, Rounding
from tests.test_example_tiered import r_quantile7
from tests.test_rounding import reference

MODES = ["r", "decimal_half_up", "decimal_half_even", "binary_half_up", "half_up", "floor", "ceil", "truncate"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40), st.floats(0, 1))
def test_quantile_is_r_type_7(xs, p):
    assert quantile(np.array(xs), p) == r_quantile7(xs, p)


def test_quantile_ignores_nan_and_is_nan_on_nothing():
    assert quantile(np.array([math.nan, 1.0, 3.0]), 0.5) == 2.0
    assert math.isnan(quantile(np.array([]), 0.5))


def _node(m: float, scale: float, digits: int, mode: str) -> Node:
    return Node("x", "x", "indicator", "total", 1, m, None, "sum", "null", "", None, None, (), None,  # type: ignore[arg-type]
                own_scale=scale, round=Rounding(mode, digits, "points"))  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.floats(0, 1), st.sampled_from([1 / 3, 0.25, 10.0, 100 / 7, 0.0041667]),
       st.sampled_from([1.0, 10.0, 100.0]), st.integers(0, 3), st.sampled_from(MODES))
def test_round_on_a_nodes_scale_is_its_definition(rate, m, scale, digits, mode):
    """v = s / M × S, v' = round(v), s' = v' × M / S; shown on the scale: v' itself."""
    node, s = _node(m, scale, digits, mode), rate * m
    v = reference(s / m * scale, digits, mode)
    got = pl.DataFrame({"s": [s]}).select(rounded_score(node, pl.col("s")).alias("s2"))["s2"][0]
    assert got == v * m / scale
    shown = pl.DataFrame({"s": [got]}).select(on_scale_expr(node, pl.col("s")).alias("v"))["v"][0]
    assert shown == v


def test_floor_is_a_parameter_with_the_old_default():
    desc = [10.0, 9.0, 8.9, 8.8, 6.0, 5.9, 5.8, 5.7, 2.0, 1.9]
    assert difference_trend_breaks(desc, 3, 2, 1) == difference_trend_breaks(desc, 3, 2, 1, FLOOR)
    assert FLOOR == 2.0
    # significance = gap / (local trend + floor × mean gap): written out for the first break
    gaps = [a - b for a, b in zip(desc, desc[1:])]
    for f in (0.5, 2.0, 7.0):
        first = difference_trend_breaks(desc, 3, 2, 1, f)[0]
        near = gaps[max(0, first.after - 1 - 2): first.after - 1] + gaps[first.after: first.after + 2]
        assert first.significance == gaps[first.after - 1] / (sum(near) / len(near) + f * sum(gaps) / len(gaps))


HEADER = """ruleset "g" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  missing: zero
}

indicator A "A" {
  max: 1
  point pa "a" {
    kind: technical
    max: 1
    probe: 1
    score: x
  }
}
"""


def _diags(tmp_path, body: str):
    (tmp_path / "units.csv").write_text("code,name,region\nu1,U1,n\nu2,U2,s\n", encoding="utf-8")
    (tmp_path / "r.rules").write_text(HEADER + body, encoding="utf-8")
    return check(tmp_path)[1]


def test_a_bad_condition_is_located_with_a_hint(tmp_path):
    body = 'grading "g" {\n  measures: {x: A}\n  method: conditions\n  classes: {H: "h", L: "l"}\n' \
           '  conditions: {H: x >= q(z, 0.5)}\n}\n'
    d = [x for x in _diags(tmp_path, body) if x.code == "E262"]
    assert d and (d[0].span.line, d[0].span.col) == (HEADER.count("\n") + 5, 26) and d[0].hint


def test_a_node_grade_is_computed(tmp_path):
    body = 'grading "g" {\n  node: A\n  measures: {x: A}\n  method: conditions\n  classes: {H: "h", L: "l"}\n' \
           '  conditions: {H: x >= max(x, where: region == "n")}\n}\n'
    assert not [x for x in _diags(tmp_path, body) if x.is_error]
