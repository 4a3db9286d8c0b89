"""Every formula against a hand-computed value: one point `p` (max 1) over table `t`."""

from __future__ import annotations

import math

import pytest

from govindex.check.run import load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows


def rates(ruleset_dir, formula: str, values: dict[str, float | None], probe: str = "max(t, v)") -> dict:
    body = f'indicator i "指标" {{\n  max: 1\n  point p "点" {{\n    kind: technical\n    max: 1\n' \
           f'    probe: {probe}\n    score: {formula}\n    missing: exclude\n  }}\n}}\n'
    rs = load(ruleset_dir(body, max_total=1))
    rows = [{"unit": u, "round": 1, "v": v, "kind": "k", "tags": [], "at": None} for u, v in values.items()]
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1])
    return {r["code"]: r[score_col("p")] for r in sc.units.iter_rows(named=True)}


def phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


CASES = [
    ("presence(x)", {"A1": 3, "A2": 0}, {"A1": 1, "A2": 0}),
    ("x", {"A1": 0.25, "A2": 1.5}, {"A1": 0.25, "A2": 1}),
    ("linear(x, cap: 8)", {"A1": 2, "A2": 20}, {"A1": 0.25, "A2": 1}),
    ("ramp(x, lo: 10, hi: 20)", {"A1": 12, "A2": 5}, {"A1": 0.2, "A2": 0}),
    ("ramp(x, lo: 20, hi: 10)", {"A1": 12, "A2": 25}, {"A1": 0.8, "A2": 0}),
    ("goalpost(x, lo: 0, hi: 50)", {"A1": 40}, {"A1": 0.8}),
    ("steps(x, {1: 0.3, 10: 0.6, 50: 1})", {"A1": 0.5, "A2": 1, "B1": 49, "B2": 50}, {"A1": 0, "A2": 0.3, "B1": 0.6, "B2": 1}),
    ("steps_down(x, {1: 1, 3: 0.8, 7: 0.5})", {"A1": 0.5, "A2": 3, "B1": 6, "B2": 8}, {"A1": 1, "A2": 0.8, "B1": 0.5, "B2": 0}),
    ("log_scale(x, cap: 99)", {"A1": 9, "A2": 1000}, {"A1": math.log(10) / math.log(100), "A2": 1}),
    ("sqrt_scale(x, cap: 16)", {"A1": 4}, {"A1": 0.5}),
    ("minmax(x)", {"A1": 2, "A2": 4, "B1": 6}, {"A1": 0, "A2": 0.5, "B1": 1}),
    ("minmax(x)", {"A1": 3, "A2": 3}, {"A1": 1, "A2": 1}),
    ("minmax(x)", {"A1": 0, "A2": 0}, {"A1": 0, "A2": 0}),
    ("zscore(x, span: 2)", {"A1": 1, "A2": 3}, {"A1": 0.25, "A2": 0.75}),
    ("rank(x)", {"A1": 5, "A2": 1, "B1": 5, "B2": 9}, {"A1": (2.5 - 1) / 3, "A2": 0, "B1": (2.5 - 1) / 3, "B2": 1}),
    ("best_ratio(x)", {"A1": 2, "A2": 8}, {"A1": 0.25, "A2": 1}),
    ("lognormal(x, p10: 2, median: 8)", {"A1": 2, "A2": 8, "B1": 0}, {"A1": 0.9, "A2": 0.5, "B1": 1}),
    ("lognormal(x, p10: 100, median: 10)", {"A1": 100, "A2": 10}, {"A1": 0.9, "A2": 0.5}),
    ("decay(x, half_life: 7)", {"A1": 7, "A2": 14}, {"A1": 0.5, "A2": 0.25}),
    ("sigmoid(x, mid: 5, steepness: 2)", {"A1": 5, "A2": 6}, {"A1": 0.5, "A2": 1 / (1 + math.exp(-2))}),
    ("clamp(x / 10, 0.2, 0.6)", {"A1": 1, "A2": 5, "B1": 9}, {"A1": 0.2, "A2": 0.5, "B1": 0.6}),
    ("min(x / 10, 0.5)", {"A1": 2, "A2": 8}, {"A1": 0.2, "A2": 0.5}),
    ("max(x / 10, 0.5)", {"A1": 2, "A2": 8}, {"A1": 0.5, "A2": 0.8}),
    ("avg(x / 10, 1)", {"A1": 2}, {"A1": 0.6}),
    ("if x > 3 then 1 else 0.5", {"A1": 2, "A2": 8}, {"A1": 0.5, "A2": 1}),
    ("log(x) / 2", {"A1": math.e}, {"A1": 0.5}),
    ("sqrt(x)", {"A1": 0.25}, {"A1": 0.5}),
    ("abs(x)", {"A1": -0.3}, {"A1": 0.3}),
    ("coalesce(x, 0.5)", {"A1": 0.2}, {"A1": 0.2}),
]


@pytest.mark.parametrize("formula,values,expected", CASES, ids=[c[0] for c in CASES])
def test_formula(ruleset_dir, formula, values, expected):
    got = rates(ruleset_dir, formula, values)
    for unit, want in expected.items():
        assert got[unit] == pytest.approx(want, abs=2e-7), (unit, got)


def test_missing_unit_is_null_not_zero(ruleset_dir):
    got = rates(ruleset_dir, "linear(x, cap: 8)", {"A1": 4})
    assert got["A1"] == 0.5 and got["A2"] is None  # exclude policy: no facts, no score


def test_normalisations_ignore_units_without_data(ruleset_dir):
    got = rates(ruleset_dir, "minmax(x)", {"A1": 2, "A2": 4})
    assert (got["A1"], got["A2"], got["B1"]) == (0, 1, None)


def test_lognormal_matches_closed_form(ruleset_dir):
    got = rates(ruleset_dir, "lognormal(x, p10: 2, median: 8)", {"A1": 5})
    sigma = (math.log(8) - math.log(2)) / 1.2815515655446004
    assert got["A1"] == pytest.approx(1 - phi((math.log(5) - math.log(8)) / sigma), abs=2e-7)


@pytest.mark.parametrize("formula, expected", [
    ('round(x / 8, 2, mode: "r")', 0.62),  # 5/8 = 0.625 exactly: R ties to the even digit
    ("round(x / 8, 2)", 0.63),
    ('round(x / 8, 2, mode: "binary_half_up")', 0.63),
    ("floor(x * 0.058, 2)", 0.29),  # 0.29 as written, though 0.29·100 = 28.999999999999996
    ("ceil(x / 9, 1)", 0.6),
    ("exp(-x) * 100", math.exp(-5) * 100),
    ("ln(x) / ln(25)", 0.5),
    ("pow(x, 0.5) / 5", math.sqrt(5) / 5),
])
def test_rounding_and_maths_formulas(ruleset_dir, formula, expected):
    assert rates(ruleset_dir, formula, {"A1": 5.0})["A1"] == expected


@pytest.mark.parametrize("formula", ['round(x, 2, mode: "nearest")', "round(x, 1.5)", "floor(x, 16)"])
def test_bad_rounding_arguments_are_e105(ruleset_dir, formula):
    from govindex.check.run import check

    body = f'indicator i "指标" {{\n  max: 1\n  point p "点" {{\n    kind: technical\n    max: 1\n' \
           f'    probe: max(t, v)\n    score: {formula}\n  }}\n}}\n'
    rs, diags = check(ruleset_dir(body, max_total=1))
    assert rs is None and any(d.code == "E105" for d in diags)
