"""Cross-unit stages (§9b): each definition against a plain-Python reference written from the docs
(and COINr's definitions), bit for bit; the stages end to end on a small rule set, per round and
by group; and the diagnostics E230–E233, located, with hints."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate
from govindex.eval.facts import frames_from_rows
from govindex.eval.stages import coinr_treat, normalise, treat
from govindex.ir import Normalise, Treat
from tests.test_stats import r_sd, ref_kurt, ref_quantile, ref_skew

VALUES = st.lists(st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: round(v, 3)), min_size=1, max_size=30)


# ------------------------------------------------------------------ references


def exact_mean(xs: list[float]) -> float:
    return float(sum((Fraction(v) for v in xs), Fraction(0)) / len(xs))


def ref_normalise(xs: list[float], method: str, lower: bool = False, **p: float) -> list[float]:
    lo, hi, n = min(xs), max(xs), len(xs)

    def clamp(v: float) -> float:
        return min(1.0, max(0.0, v))

    if method == "minmax":
        return [1.0 if hi == lo else ((hi - x) if lower else (x - lo)) / (hi - lo) for x in xs]
    if method in ("rank", "percentile"):
        ys = [-x for x in xs] if lower else xs
        r = [1 + sum(1 for y in ys if y < v) for v in ys]  # R's ties.method = "min"
        return [k / n for k in r] if method == "rank" else [(k - 1) / (n - 1) if n > 1 else 1.0 for k in r]
    if method == "zscore":
        m = exact_mean(xs)
        s = r_sd(xs) if n > 1 else math.nan  # R's sd (COINr's n_zscore), summed in the units' order
        z = [0.0 if (math.isnan(s) or s == 0) else ((m - x) if lower else (x - m)) / s for x in xs]
        return [clamp((p["mean"] + p["sd"] * v) / p["scale"]) for v in z]
    if method == "goalposts":
        return [clamp((x - p["worst"]) / (p["best"] - p["worst"])) for x in xs]
    if method == "target":
        t = p["target"]
        if lower:
            return [1.0 if t == hi else clamp((hi - x) / (hi - t)) for x in xs]
        return [1.0 if t == lo else clamp((x - lo) / (t - lo)) for x in xs]
    raise AssertionError(method)


@settings(max_examples=150, deadline=None)
@given(VALUES, st.sampled_from(["minmax", "rank", "percentile", "zscore", "goalposts", "target"]), st.booleans(),
       st.randoms(use_true_random=False))
def test_normalisations_are_their_definitions(xs, method, lower, rnd):
    p = {"mean": 50.0, "sd": 10.0, "scale": 100.0, "worst": -100.0, "best": 900.0, "target": 500.0}
    spec = Normalise(method, "lower" if lower else "higher", mean=p["mean"], sd=p["sd"], worst=p["worst"],
                     best=p["best"], target=p["target"])
    got = normalise(np.array(xs), spec, 100.0).tolist()
    want = ref_normalise(xs, method, lower, **p)
    assert got == [min(1.0, max(0.0, w)) for w in want]
    # the units' order does not matter (but to R's sd, which adds in the units' order, as R does)
    if method == "zscore":
        return
    order = list(range(len(xs)))
    rnd.shuffle(order)
    again = normalise(np.array([xs[i] for i in order]), spec, 100.0).tolist()
    assert again == [got[i] for i in order]


def test_fraction_of_the_best():
    xs = [2.0, 5.0, 8.0]
    assert normalise(np.array(xs), Normalise("fraction"), 1.0).tolist() == [2 / 8, 5 / 8, 1.0]
    assert normalise(np.array(xs), Normalise("fraction", "lower"), 1.0).tolist() == [1.0, 2 / 5, 2 / 8]


def test_nan_is_no_value():
    out = normalise(np.array([1.0, math.nan, 3.0]), Normalise("minmax"), 1.0)
    assert out[0] == 0.0 and math.isnan(out[1]) and out[2] == 1.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=2, max_size=30), st.floats(0, 0.5), st.floats(0.5, 1),
       st.integers(1, 9))
def test_caps_are_the_quantiles(xs, lo, hi, qtype):
    got = treat(np.array(xs), Treat("caps", lo=lo, hi=hi, type=qtype)).tolist()
    a, b = ref_quantile(xs, lo, qtype), ref_quantile(xs, hi, qtype)
    assert got == [min(max(x, a), b) for x in xs]


def test_coinr_treat_paths():
    t = Treat("winsorise")
    calm = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert coinr_treat(calm, t) is calm  # passes: untreated
    # COINr's vignette: 1:10 with 30 and 100; one Winsorisation (100 → 30) brings it within limits
    x = np.array([*range(1, 11), 30.0, 100.0])
    assert coinr_treat(x, t).tolist() == [*range(1, 11), 30.0, 30.0]
    # a long tail of eight: two Winsorised points are not enough, so log_CT of the original values
    y = np.array([*range(1, 31), *(40.0 * 2 ** k for k in range(8))])
    lo, hi = 1.0, 40.0 * 2 ** 7
    assert coinr_treat(y, Treat("winsorise", max_points=2)).tolist() == [
        math.log(v - lo + 0.01 * (hi - lo)) for v in y.tolist()]
    # fallback "none": the Winsorised values (the top three tied at the third highest)
    assert coinr_treat(y, Treat("winsorise", max_points=2, fallback="none")).tolist() == [
        *range(1, 31), *(40.0 * 2 ** k for k in range(5)), 1280.0, 1280.0, 1280.0]
    # up to five: four steps do it (the top five tied at 320)
    assert coinr_treat(y, t).tolist()[-6:] == [160.0] + [320.0] * 5
    # too few values to check: untreated
    assert coinr_treat(np.array([1.0, 2.0, 100.0]), t).tolist() == [1.0, 2.0, 100.0]


# ------------------------------------------------------------------ end to end

UNITS = "code,name,region,population\nA,a,north,100\nB,b,north,200\nC,c,south,50\nD,d,south,\nE,e,south,400\n"
RULES = '''ruleset "stages" {
  units: "units.csv"
  rounds: {1: "2024-01-01", 2: "2024-06-01"}
  max_total: 100
  aggregate: mean
  missing: exclude
}

table t {
  unit: str
  round: int
  v: float
  w: float
}

indicator pillar "pillar" {
  scale: 100
  aggregate: mean
  normalise: {method: "rank"}

  point per_head "v per 1000 people" {
    kind: technical
    scale: 100
    probe: mean(t, v)
    denominate: {by: "population", scale: 1000}
    impute: {method: "mean", by: "region"}
    normalise: {method: "minmax"}
    rounds: latest
  }

  point carried "w, the latest earlier round" {
    kind: technical
    scale: 100
    probe: mean(t, w)
    impute: {method: "latest"}
    normalise: {method: "percentile", direction: "lower"}
    rounds: mean
  }
}
'''
ROWS = [  # round 1 and 2; D has no population; B lacks v in round 2, C lacks w in round 2
    {"unit": "A", "round": 1, "v": 10.0, "w": 1.0}, {"unit": "B", "round": 1, "v": 30.0, "w": 2.0},
    {"unit": "C", "round": 1, "v": 5.0, "w": 3.0}, {"unit": "D", "round": 1, "v": 9.0, "w": 4.0},
    {"unit": "E", "round": 1, "v": 8.0, "w": 5.0},
    {"unit": "A", "round": 2, "v": 12.0, "w": 2.0}, {"unit": "B", "round": 2, "v": None, "w": 2.5},
    {"unit": "C", "round": 2, "v": 7.0, "w": None}, {"unit": "D", "round": 2, "v": 1.0, "w": 1.0},
    {"unit": "E", "round": 2, "v": 9.0, "w": 0.5},
]


@pytest.fixture()
def scored(tmp_path: Path):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "r.rules").write_text(RULES, encoding="utf-8")
    rs = load(tmp_path)
    return rs, evaluate(rs, frames_from_rows(rs, {"t": ROWS}))


def test_stages_end_to_end(scored):
    rs, sc = scored
    r2 = {r["code"]: r for r in sc.rounds.filter(sc.rounds["__round"] == 2).iter_rows(named=True)}
    # denominate: v / population × 1000; D has no population: no data, then imputed by its region
    per = {"A": 12.0 / 100 * 1000, "C": 7.0 / 50 * 1000, "E": 9.0 / 400 * 1000}
    per["B"] = per["A"]  # north's mean of the round's values: A only
    per["D"] = exact_mean([per["C"], per["E"]])
    assert {c: r2[c]["v:per_head"] for c in per} == per
    assert {c: r2[c]["imp:per_head"] for c in per} == {"A": False, "B": True, "C": False, "D": True, "E": False}
    lo, hi = min(per.values()), max(per.values())
    assert {c: r2[c]["r:per_head"] for c in per} == {c: (v - lo) / (hi - lo) for c, v in per.items()}
    # latest: C's w of round 1 carried to round 2; percentile with lower better
    w2 = {"A": 2.0, "B": 2.5, "C": 3.0, "D": 1.0, "E": 0.5}
    assert r2["C"]["v:carried"] == 3.0 and r2["C"]["imp:carried"] and r2["C"]["st:carried"] == "ok"
    assert {c: r2[c]["r:carried"] for c in w2} == dict(zip(w2, ref_normalise(list(w2.values()), "percentile", True)))
    # the indicator: its score normalised by rank across the units, rate × max
    units = {r["code"]: r for r in sc.units.iter_rows(named=True)}
    pillar = rs.nodes["pillar"]
    raw = {c: units[c]["r:per_head"] * rs.nodes["per_head"].max + units[c]["r:carried"] * rs.nodes["carried"].max
           for c in units}
    want = dict(zip(raw, (r * pillar.max for r in ref_normalise(list(raw.values()), "rank"))))
    assert {c: units[c]["s:pillar"] for c in units} == want
    assert units["B"]["imp:per_head"] and not units["A"]["imp:per_head"]


def test_no_stage_no_column(scored):
    rs, sc = scored
    assert "tv:per_head" not in sc.units.columns and "imp:pillar" not in sc.units.columns


# ------------------------------------------------------------------ diagnostics

BAD = [
    ('impute: {method: "mean", group: "region"}', "E230", "has no parameter `group`"),
    ('impute: {method: "average"}', "E230", "one of mean, median, latest, constant"),
    ('impute: "mean"', "E230", "is a map"),
    ('treat: {method: "caps", lo: 0.9, hi: 0.1}', "E230", "is not below"),
    ('treat: {method: "winsorise", max_points: 0}', "E230", "whole number"),
    ('treat: {method: "caps", type: 10}', "E230", "quantile type"),
    ('normalise: {method: "zscore", mean: 50}', "E230", "needs `sd:`"),
    ('normalise: {method: "minmax", target: 3}', "E230", "not a parameter"),
    ('impute: {method: "median", by: "regoin"}', "E231", "no column `regoin`"),
    ('denominate: {by: "region"}', "E232", "not a number"),
    ('denominate: {by: "nobody"}', "E231", "no registry column or point"),
    ('normalise: {method: "minmax"}\n    score: x', "E233", "both `score:` and `normalise:`"),
]


@pytest.mark.parametrize("setting,code,part", BAD)
def test_stage_diagnostics(tmp_path: Path, setting: str, code: str, part: str):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    body = RULES.split("indicator pillar")[0] + f'''indicator p "p" {{
  scale: 100
  aggregate: mean

  point q "q" {{
    kind: technical
    probe: mean(t, v)
    {setting}
  }}
}}
'''
    if "score" not in setting and "normalise" not in setting:
        body = body.replace("probe: mean(t, v)", "probe: mean(t, v)\n    score: x")
    (tmp_path / "r.rules").write_text(body.replace("  w: float\n", "  w: float\n  name: str\n"), encoding="utf-8")
    rs, diags = check(tmp_path)
    hits = [d for d in diags if d.code == code]
    assert hits, [str(d) for d in diags]
    d = hits[0]
    assert part in d.message and d.hint
    assert d.location is not None and d.location.line > 1 and d.location.col >= 1


def test_indicator_conflicts(tmp_path: Path):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    body = RULES.replace('  normalise: {method: "rank"}\n',
                         '  denominate: {by: "population"}\n  impute: {method: "latest"}\n  round: {digits: 1}\n')
    (tmp_path / "r.rules").write_text(body, encoding="utf-8")
    _, diags = check(tmp_path)
    msgs = [d.message for d in diags if d.code == "E233"]
    assert len(msgs) == 3 and any("denominate" in m for m in msgs) and any("latest" in m for m in msgs)


def test_random_panels_are_order_free(tmp_path: Path):
    """The stages give every unit the same values whatever the order of the fact rows."""
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "r.rules").write_text(RULES, encoding="utf-8")
    rs = load(tmp_path)
    rows = list(ROWS)
    base = evaluate(rs, frames_from_rows(rs, {"t": rows})).units.sort("code")
    random.Random(3).shuffle(rows)
    again = evaluate(rs, frames_from_rows(rs, {"t": rows})).units.sort("code")
    assert base.equals(again)


# ------------------------------------------------------------------ statistics in formulas

STAT_RULES = '''ruleset "stats" {
  units: "units.csv"
  rounds: {1: "2024-01-01", 2: "2024-06-01"}
  max_total: 100
  aggregate: mean
  missing: exclude
}

table t {
  unit: str
  round: int
  v: float
}

indicator i "i" {
  aggregate: mean
  point s_mean "mean" { kind: technical  probe: mean(t, v)  score: units_mean(x) }
  point s_median "median" { kind: technical  probe: mean(t, v)  score: units_median(x) }
  point s_sd "sd" { kind: technical  probe: mean(t, v)  score: units_sd(x) }
  point s_skew "skewness" { kind: technical  probe: mean(t, v)  score: 0.5 + units_skewness(x) * 0.01 }
  point s_kurt "kurtosis" { kind: technical  probe: mean(t, v)  score: 0.5 + units_kurtosis(x) * 0.01 }
  point s_q "quantile" { kind: technical  probe: mean(t, v)  score: units_quantile(x, 0.3, type: 8) }
  point s_q7 "quantile by region" { kind: technical  probe: mean(t, v)  score: units_quantile(x, 0.75, by: "region") }
  point s_kth "2nd largest where x > 0.2" {
    kind: technical
    probe: mean(t, v)
    score: units_kth_largest(x, 2, where: x > 0.2)
  }
  point s_count "count" { kind: technical  probe: mean(t, v)  score: units_count(x) * 0.01 }
}
'''
REGION = {"A": "north", "B": "north", "C": "south", "D": "south", "E": "south"}


@pytest.fixture(scope="module")
def stat_rules(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    (d / "units.csv").write_text(UNITS, encoding="utf-8")
    (d / "r.rules").write_text(STAT_RULES, encoding="utf-8")
    return load(d)


def _ref_stats(vals: dict[str, float]) -> dict[str, dict[str, float | None]]:
    xs = list(vals.values())
    n = len(xs)
    m = exact_mean(xs)
    s = sorted(xs)
    med = s[n // 2] if n % 2 else exact_mean(s[n // 2 - 1:n // 2 + 1])
    sd = r_sd(xs) if n > 1 else None  # R's sd, over the units in code order (A…E)
    big = sorted([x for x in xs if x > 0.2], reverse=True)
    out: dict[str, dict[str, float | None]] = {}
    for c in vals:
        region = [v for u, v in vals.items() if REGION[u] == REGION[c]]
        one = {"s_mean": m, "s_median": med, "s_sd": sd,
               "s_skew": 0.5 + ref_skew(xs) * 0.01 if n >= 3 and len(set(xs)) > 1 else None,
               "s_kurt": 0.5 + ref_kurt(xs) * 0.01 if n >= 4 and len(set(xs)) > 1 else None,
               "s_q": ref_quantile(xs, 0.3, 8), "s_q7": ref_quantile(region, 0.75, 7),
               "s_kth": big[1] if len(big) > 1 else None, "s_count": n * 0.01}
        out[c] = {k: None if v is None else min(1.0, max(0.0, v)) for k, v in one.items()}
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1).map(lambda v: round(v, 4))), min_size=5, max_size=5))
def test_statistics_in_formulas_are_stats_bit_for_bit(stat_rules, values):
    rows = [{"unit": u, "round": 1, "v": v} for u, v in zip("ABCDE", values)]
    rows += [{"unit": u, "round": 2, "v": 0.5} for u in "ABCDE"]  # another round: not counted in round 1
    sc = evaluate(stat_rules, frames_from_rows(stat_rules, {"t": rows}))
    vals = {u: v for u, v in zip("ABCDE", values) if v is not None}
    if not vals:
        return
    want = _ref_stats(vals)
    r1 = {r["code"]: r for r in sc.rounds.filter(sc.rounds["__round"] == 1).iter_rows(named=True)}
    for c in vals:
        for p, w in want[c].items():
            assert r1[c][f"r:{p}"] == w, (c, p, r1[c][f"r:{p}"], w)
    for c in set("ABCDE") - set(vals):
        assert r1[c]["r:s_mean"] is None  # a unit without data has no rate


@pytest.mark.parametrize("score,code,part", [
    ("units_quantile(x, 1.5)", "E105", "probability"),
    ("units_quantile(x, 0.5, type: 10)", "E105", "types 1–9"),
    ("units_kth_largest(x, 0)", "E105", "whole number"),
    ('units_mean(x, by: "regoin")', "E231", "no column `regoin`"),
    ("units_mean(x, where: 1)", "E106", "true/false"),
])
def test_statistic_diagnostics(tmp_path: Path, score: str, code: str, part: str):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    body = STAT_RULES.split("indicator i")[0] + f'''indicator i "i" {{
  aggregate: mean
  point p "p" {{
    kind: technical
    probe: mean(t, v)
    score: {score}
  }}
}}
'''
    (tmp_path / "r.rules").write_text(body, encoding="utf-8")
    _, diags = check(tmp_path)
    hits = [d for d in diags if d.code == code and part in d.message]
    assert hits, [str(d) for d in diags]
    assert hits[0].location is not None and hits[0].location.line > 1
