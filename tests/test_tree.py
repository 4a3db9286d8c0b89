"""The tree: aggregators, missing-data policies, rounds policies, rounding."""

from __future__ import annotations

import pytest

from govindex.check.run import load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows


def point(pid: str, kind: str, max_or_weight: str, extra: str = "") -> str:
    return (f'  point {pid} "{pid}" {{\n    kind: technical\n    {max_or_weight}\n'
            f'    probe: max(t, v, where: kind == "{kind}")\n    score: x\n{extra}  }}\n')


def run(ruleset_dir, body: str, rows: list[dict], max_total: float, rounds=None) -> dict:
    rs = load(ruleset_dir(body, max_total=max_total))
    full = [{"tags": [], "at": None, **r} for r in rows]
    sc = evaluate(rs, frames_from_rows(rs, {"t": full}), rounds)
    return {r["code"]: r for r in sc.units.iter_rows(named=True)}


def rows(unit: str, **vals: float | None) -> list[dict]:
    return [{"unit": unit, "round": 1, "kind": k, "v": v} for k, v in vals.items()]


def test_sum_with_exclusion_renormalises(ruleset_dir):
    body = ('indicator i "I" {\n  max: 10\n' + point("a", "a", "max: 4") +
            point("b", "b", "max: 6", "    missing: exclude\n") + "}\n")
    out = run(ruleset_dir, body, rows("A1", a=0.5), 10)
    # b has no data and is excluded: a alone scores 2 of its 4 → scaled to 10: 5
    assert out["A1"][score_col("i")] == pytest.approx(5.0)
    assert out["A1"][score_col("b")] is None


def test_zero_policy_scores_zero(ruleset_dir):
    body = 'indicator i "I" {\n  max: 10\n' + point("a", "a", "max: 4") + point("b", "b", "max: 6") + "}\n"
    out = run(ruleset_dir, body, rows("A1", a=0.5), 10)
    assert out["A1"][score_col("i")] == pytest.approx(2.0)
    assert out["A1"][score_col("b")] == 0


def test_null_policy_makes_parent_null(ruleset_dir):
    body = ('indicator i "I" {\n  max: 10\n' + point("a", "a", "max: 4") +
            point("b", "b", "max: 6", "    missing: null\n") + "}\n")
    out = run(ruleset_dir, body, rows("A1", a=0.5) + rows("A2", a=1, b=0.5), 10)
    assert out["A1"][score_col("i")] is None and out["A1"]["total"] is None and out["A1"]["rank"] is None
    assert out["A2"]["total"] == pytest.approx(7.0) and out["A2"]["rank"] == 1


def test_indicator_missing_policy_applies_upward(ruleset_dir):
    body = ('indicator i "I" {\n  max: 10\n  indicator j "J" {\n    max: 4\n    missing: exclude\n'
            + point("a", "a", "max: 4", "    missing: null\n").replace("\n  ", "\n    ").replace("  point", "    point", 1)
            + "  }\n" + point("b", "b", "max: 6") + "}\n")
    out = run(ruleset_dir, body, rows("A1", b=0.5), 10)
    # a null → j null → j excluded from i → b alone: 3 of 6 → 5 of 10
    assert out["A1"][score_col("j")] is None
    assert out["A1"][score_col("i")] == pytest.approx(5.0)


def test_wmean_and_effective_maxima(ruleset_dir):
    body = ('indicator i "I" {\n  max: 10\n  aggregate: wmean\n' + point("a", "a", "weight: 3") +
            point("b", "b", "weight: 1") + "}\n")
    rs = load(ruleset_dir(body, max_total=10))
    assert (rs.nodes["a"].max, rs.nodes["b"].max) == (7.5, 2.5)
    out = run(ruleset_dir, body, rows("A1", a=0.4, b=1.0), 10)
    assert out["A1"][score_col("i")] == pytest.approx(10 * (3 * 0.4 + 1 * 1.0) / 4)


def test_geomean(ruleset_dir):
    body = ('indicator i "I" {\n  max: 1\n  aggregate: geomean\n' + point("a", "a", "weight: 1") +
            point("b", "b", "weight: 1") + "}\n")
    out = run(ruleset_dir, body, rows("A1", a=0.25, b=1.0) + rows("A2", a=0.0, b=1.0), 1)
    assert out["A1"][score_col("i")] == pytest.approx(0.5)
    assert out["A2"][score_col("i")] == pytest.approx(0.0)


@pytest.mark.parametrize("agg,expected", [("min", 0.2), ("max", 0.9)])
def test_min_max_aggregators(ruleset_dir, agg, expected):
    body = (f'indicator i "I" {{\n  max: 1\n  aggregate: {agg}\n' + point("a", "a", "max: 1") +
            point("b", "b", "max: 1") + "}\n")
    out = run(ruleset_dir, body, rows("A1", a=0.2, b=0.9), 1)
    assert out["A1"][score_col("i")] == pytest.approx(expected)


def test_capped_sum_allows_bonus(ruleset_dir):
    body = ('indicator i "I" {\n  max: 5\n  aggregate: capped_sum\n' + point("a", "a", "max: 4") +
            point("b", "b", "max: 3") + "}\n")
    out = run(ruleset_dir, body, rows("A1", a=1, b=1) + rows("A2", a=0.5, b=0), 5)
    assert out["A1"][score_col("i")] == 5
    assert out["A2"][score_col("i")] == 2


@pytest.mark.parametrize("policy,expected", [("latest", 0.2), ("mean", 0.5), ("max", 0.8), ("min", 0.2),
                                             ("share", 1.0)])
def test_round_policies(ruleset_dir, policy, expected):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "a", "max: 1", f"    rounds: {policy}\n") + "}\n"
    data = [{"unit": "A1", "round": 1, "kind": "a", "v": 0.8}, {"unit": "A1", "round": 2, "kind": "a", "v": 0.2}]
    out = run(ruleset_dir, body, data, 1)
    assert out["A1"][score_col("a")] == pytest.approx(expected)


def test_latest_falls_back_to_last_round_with_data(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "a", "max: 1") + "}\n"
    data = [{"unit": "A1", "round": 1, "kind": "a", "v": 0.8}, {"unit": "A1", "round": 2, "kind": "other", "v": 1}]
    assert run(ruleset_dir, body, data, 1)["A1"][score_col("a")] == pytest.approx(0.8)


def test_one_round_alone(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "a", "max: 1", "    rounds: mean\n") + "}\n"
    data = [{"unit": "A1", "round": 1, "kind": "a", "v": 0.8}, {"unit": "A1", "round": 2, "kind": "a", "v": 0.2}]
    assert run(ruleset_dir, body, data, 1, rounds=[2])["A1"][score_col("a")] == pytest.approx(0.2)


def test_ties_share_a_rank(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "a", "max: 1") + "}\n"
    out = run(ruleset_dir, body, rows("A1", a=0.5) + rows("A2", a=0.5) + rows("B1", a=0.9), 1)
    assert (out["B1"]["rank"], out["A1"]["rank"], out["A2"]["rank"], out["B2"]["rank"]) == (1, 2, 2, 4)


def test_rounding_half_up_at_output():
    import polars as pl

    from govindex.eval.evaluate import round_half

    df = pl.DataFrame({"x": [1.005, 2.675, -1.005, 0.125, 79.905]})
    assert df.select(round_half(pl.col("x"), 2, "half_up"))["x"].to_list() == [1.01, 2.68, -1.01, 0.13, 79.91]
    assert df.select(round_half(pl.col("x"), 2, "down"))["x"].to_list() == [1.0, 2.67, -1.0, 0.12, 79.9]
    assert df.select(round_half(pl.col("x"), 2, "half_even"))["x"].to_list()[3] == 0.12
