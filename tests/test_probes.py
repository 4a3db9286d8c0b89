"""Every aggregate and row function against hand-computed values, and the statuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from govindex.check.run import load
from govindex.eval.compile import value_col
from govindex.eval.evaluate import evaluate, status_col
from govindex.eval.facts import frames_from_rows

ROWS = [
    {"unit": "A1", "round": 1, "v": 1.0, "kind": "letter", "tags": ["a", "b"], "at": "2018-12-20"},
    {"unit": "A1", "round": 1, "v": 3.0, "kind": "letter", "tags": ["b"], "at": "2018-12-30"},
    {"unit": "A1", "round": 1, "v": 8.0, "kind": "consult", "tags": [], "at": None},
    {"unit": "A1", "round": 1, "v": 3.0, "kind": "住房公积金查询", "tags": ["c"], "at": "2018-12-25"},
    {"unit": "A2", "round": 1, "v": 5.0, "kind": "letter", "tags": [], "at": "2018-12-01"},
]


def probe(ruleset_dir, expr: str, unit: str = "A1", rows=ROWS):
    body = f'indicator i "指标" {{\n  max: 1\n  point p "点" {{\n    kind: technical\n    max: 1\n' \
           f'    probe: {expr}\n    score: 0\n  }}\n}}\n'
    rs = load(ruleset_dir(body, max_total=1))
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1])
    row = sc.rounds.filter(code=unit).row(0, named=True)
    return row[value_col("p")], row[status_col("p")]


CASES = [
    ("any(t, where: kind == \"letter\")", True),
    ("any(t, where: kind == \"none\")", False),
    ("count(t)", 4),
    ("count(t, where: v >= 3 and not (kind == \"consult\"))", 2),
    ("distinct(t, v)", 3),
    ("approx_distinct(t, kind)", 3),
    ("sum(t, v * 2, where: kind in [\"letter\", \"consult\"])", 24),
    ("mean(t, v)", 3.75),
    ("min(t, v)", 1),
    ("max(t, v, where: kind != \"consult\")", 3),
    ("median(t, v)", 3),
    ("ratio(t, v > 2, where: kind == \"letter\")", 0.5),
    ("coverage(t, tags, [\"a\", \"c\", \"z\", \"q\"])", 0.5),
    ("coverage(t, kind, [\"公积金\", \"社保\"])", 0.5),
    ("days_since(t, at)", 2),  # reference date 2019-01-01, newest 2018-12-30
    ("count(t, where: has(tags, \"b\"))", 2),
    ("count(t, where: has_any(tags, [\"a\", \"c\"]))", 2),
    ("count(t, where: has_all(tags, [\"a\", \"b\"]))", 1),
    ("count(t, where: \"b\" in tags)", 2),
    ("count(t, where: contains(kind, \"公积金\"))", 1),
    ("count(t, where: contains_any(kind, [\"公积金\", \"cons\"]))", 2),
    ("count(t, where: matches(kind, \"^let+er$\"))", 2),
    ("count(t, where: starts_with(kind, \"con\") or ends_with(kind, \"查询\"))", 2),
    ("count(t, where: length(tags) >= 1)", 3),
    ("count(t, where: present(at) and at > \"2018-12-22\")", 2),
    ("max(t, days_between(at, \"2019-01-01\"))", 12),
    ("count(t, where: kind not in [\"letter\"])", 2),
    ("count(t, where: if v > 2 then true else false)", 3),
    ("count(t) + count(t, where: v > 2) * 10", 34),
    ("min(count(t), 2)", 2),
]


@pytest.mark.parametrize("expr,expected", CASES, ids=[c[0] for c in CASES])
def test_probe(ruleset_dir, expr, expected):
    value, status = probe(ruleset_dir, expr)
    assert status == "ok"
    assert value == pytest.approx(expected)


def test_no_rows_is_no_data(ruleset_dir):
    assert probe(ruleset_dir, "count(t)", unit="B1") == (None, "no_data")


def test_rows_but_none_valid_is_error(ruleset_dir):
    header_rows = [dict(r, v=-1.0) for r in ROWS]
    from tests.conftest import HEADER
    body = 'indicator i "指标" {\n  max: 1\n  point p "点" {\n    kind: technical\n    max: 1\n' \
           '    probe: count(t)\n    score: presence(x)\n  }\n}\n'
    rs = load(ruleset_dir(body, header=HEADER.replace("  at: datetime\n", "  at: datetime\n  valid when v >= 0\n"),
                          max_total=1))
    sc = evaluate(rs, frames_from_rows(rs, {"t": header_rows}), [1])
    row = sc.units.filter(code="A1").row(0, named=True)
    assert row[status_col("p")] == "error"
    assert row["total"] == 0  # ruleset says missing: zero — and the status says why


def test_empty_filter_mean_is_no_data(ruleset_dir):
    assert probe(ruleset_dir, "mean(t, v, where: kind == \"none\")") == (None, "no_data")


def test_ratio_with_empty_base_is_no_data(ruleset_dir):
    assert probe(ruleset_dir, "ratio(t, v > 2, where: kind == \"none\")") == (None, "no_data")


def test_reference_date_per_round(ruleset_dir):
    rows = [dict(ROWS[1], round=2)]
    body = 'indicator i "指标" {\n  max: 1\n  point p "点" {\n    kind: technical\n    max: 1\n' \
           '    probe: days_since(t, at)\n    score: 0\n  }\n}\n'
    rs = load(ruleset_dir(body, max_total=1))
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}))
    row = sc.rounds.filter(code="A1", __round=2).row(0, named=True)
    assert row[value_col("p")] == (datetime(2019, 2, 1) - datetime(2018, 12, 30)).days
