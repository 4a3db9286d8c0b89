"""Exact division in formulas, probes and the rounds policy (issue 11, item 3).

polars divides a column by a scalar as a multiplication by the scalar's reciprocal: 6 / 10 gives
0.6000000000000001. Every division of the engine is one IEEE division, the correctly rounded
quotient (:func:`govindex.eval.exact.div`). Each test below scores random facts and compares
every unit's rate, bit for bit (``==``), with plain Python written from the definitions of
docs/rules-language.md §9 (the formula table) and §11 (rounds); the facts include values where
``x * (1 / c) != x / c`` for c = 10, 3 and 0.3.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.eval.evaluate import evaluate, rate_col
from govindex.eval.facts import frames_from_rows
from govindex.eval.round_mean import exact_mean
from govindex.ir import RuleSet

HEAD = """ruleset "division" {{
  units: "units.csv"
  rounds: {{{rounds}}}
  max_total: {total}
  missing: exclude
}}

table t {{
  unit: str
  round: int
  a: float
}}

indicator F "F" {{
  max: {total}
{points}}}
"""

# point id → (score formula, reference of the formula's value before clipping to [0, 1])
FORMULAS: dict[str, tuple[str, object]] = {
    "lin10": ("linear(x, cap: 10)", lambda x, xs: x / 10),
    "lin3": ("linear(x, cap: 3)", lambda x, xs: x / 3),
    "lin03": ("linear(x, cap: 0.3)", lambda x, xs: x / 0.3),
    "ramp": ("ramp(x, lo: 0.7, hi: 10.7)", lambda x, xs: (x - 0.7) / (10.7 - 0.7)),
    "ramp_down": ("ramp(x, lo: 10, hi: 0)", lambda x, xs: (x - 10) / (0 - 10)),
    "goal": ("goalpost(x, lo: 1, hi: 4)", lambda x, xs: (x - 1) / (4 - 1)),
    "logs": ("log_scale(x, cap: 10)", lambda x, xs: math.log1p(max(x, 0.0)) / math.log1p(10)),
    "sqrts": ("sqrt_scale(x, cap: 10)", lambda x, xs: math.sqrt(max(x, 0.0)) / math.sqrt(10)),
    "decay": ("decay(x, half_life: 3)", lambda x, xs: 0.5 ** (max(x, 0.0) / 3)),
    "minmax": ("minmax(x)", lambda x, xs: (x - min(xs)) / (max(xs) - min(xs)) if max(xs) > min(xs) else float(x > 0)),
    "rank": ("rank(x)", lambda x, xs: (_avg_rank(x, xs) - 1) / (len(xs) - 1) if len(xs) > 1 else 1.0),
    "best": ("best_ratio(x)", lambda x, xs: x / max(xs) if max(xs) > 0 else 0.0),
    "op10": ("x / 10", lambda x, xs: x / 10),
    "op3": ("x / 3", lambda x, xs: x / 3),
    "op03": ("(x / 0.3) / 10", lambda x, xs: (x / 0.3) / 10),
    "op_lit": ("x / (1 + 2)", lambda x, xs: x / 3),
    "sig": ("sigmoid(x, mid: 5, steepness: 0.5)", lambda x, xs: 1 / (1 + math.exp(-0.5 * (x - 5)))),
    "z3": ("zscore(x)", lambda x, xs: _z(x, xs, 3.0)),
    "z2": ("zscore(x, span: 2.5)", lambda x, xs: _z(x, xs, 2.5)),
    "avg3": ("avg(x, x / 3, 0.7)", lambda x, xs: ((x + x / 3) + 0.7) / 3),
    "savg": ("strict_avg(x / 10, 0.3)", lambda x, xs: (x / 10 + 0.3) / 2),
}


def _z(x: float, xs: list[float], span: float) -> float:
    """zscore: z = (x − mean) / sd, the mean the double nearest the exact mean, the population sd
    √(Σ(v − mean)² / n) with the sum exact; 0 when sd = 0; then (z + span) / (2·span)."""
    mean = float(sum((Fraction(v) for v in xs), Fraction(0)) / len(xs))
    sd = math.sqrt(math.fsum((v - mean) * (v - mean) for v in xs) / len(xs))
    z = (x - mean) / sd if sd > 0 else 0.0
    return (z + span) / (2 * span)


def _avg_rank(x: float, xs: list[float]) -> float:
    """1-based rank of x among xs, ties given the mean of their ranks."""
    below, equal = sum(v < x for v in xs), sum(v == x for v in xs)
    return below + (equal + 1) / 2


def _clip(v: float) -> float:
    return min(max(v, 0.0), 1.0)


def _point(pid: str, probe: str, score: str, extra: str = "") -> str:
    return (f'  point {pid} "{pid}" {{\n    kind: technical\n    max: 1\n{extra}'
            f"    probe: {probe}\n    score: {score}\n  }}\n")


def _load(tmp: Path, points: str, n_points: int, rounds: int, units: list[str]) -> RuleSet:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "units.csv").write_text("code,name\n" + "".join(f"{u},{u}\n" for u in units), encoding="utf-8")
    dates = ", ".join(f'{r}: "2024-01-{r:02d}"' for r in range(1, rounds + 1))
    (tmp / "index.rules").write_text(HEAD.format(rounds=dates, total=n_points, points=points), encoding="utf-8")
    return load(tmp)


UNITS = [f"U{i}" for i in range(7)]
# x where x·(1/c) ≠ x/c for c = 10, 3, 0.3 (6 / 10 → 0.6000000000000001 by the reciprocal)
HARD = [6.0, 7.0, 3.0, 0.3, 0.9, 2.9, 0.7, 1.4, 5.1, 9.7, 0.29]
xs_strategy = st.lists(st.one_of(st.sampled_from(HARD), st.floats(0.0, 10.0), st.integers(0, 10).map(float),
                                 st.integers(0, 100).map(lambda k: k / 10)),
                       min_size=len(UNITS), max_size=len(UNITS))


@pytest.fixture(scope="module")
def formula_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    points = "".join(_point(pid, "max(t, a)", f) for pid, (f, _) in FORMULAS.items())
    points += _point("row10", "max(t, a / 10)", "x") + _point("unit10", "max(t, a) / 10", "x")
    points += _point("unit3", "max(t, a) / 3", "x")
    return _load(tmp_path_factory.mktemp("f") / "r", points, len(FORMULAS) + 3, 1, UNITS)


def _rates(rs: RuleSet, rows: list[dict[str, object]]) -> dict[str, dict[str, float | None]]:
    units = evaluate(rs, frames_from_rows(rs, {"t": rows})).units
    return {r["code"]: {p.id: r[rate_col(p.id)] for p in rs.points} for r in units.to_dicts()}


@settings(max_examples=40, deadline=None)
@given(xs=xs_strategy)
def test_every_formula_divides_exactly(formula_rules: RuleSet, xs: list[float]) -> None:
    got = _rates(formula_rules, [{"unit": u, "round": 1, "a": x} for u, x in zip(UNITS, xs)])
    for u, x in zip(UNITS, xs):
        for pid, (_, ref) in FORMULAS.items():
            want = _clip(ref(x, xs))  # type: ignore[operator]
            assert got[u][pid] == want, (pid, x, got[u][pid], want)
        assert got[u]["row10"] == _clip(x / 10) and got[u]["unit10"] == _clip(x / 10), x
        assert got[u]["unit3"] == _clip(x / 3), x


def test_six_tenths_is_six_tenths(formula_rules: RuleSet) -> None:
    got = _rates(formula_rules, [{"unit": u, "round": 1, "a": 6.0} for u in UNITS])
    assert 6.0 * (1 / 10) == 0.6000000000000001  # what a multiplication by the reciprocal gives
    assert {got["U0"][p] for p in ("lin10", "op10", "row10", "unit10")} == {0.6}
    assert got["U0"]["lin03"] == 1.0 and got["U0"]["op03"] == 1.0  # 6 / 0.3 = 20, clipped


# ------------------------------------------------------------------ rounds: mean

ROUNDS = 4


@pytest.fixture(scope="module")
def mean_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    points = _point("m", "max(t, a)", "x", "    rounds: mean\n")
    return _load(tmp_path_factory.mktemp("m") / "r", points, 1, ROUNDS, UNITS)


def _exact_mean(values: list[float]) -> float:
    """The definition: the double nearest the exact mean of the rounds' rates."""
    return float(sum((Fraction(v) for v in values), Fraction(0)) / len(values))


rate = st.one_of(st.sampled_from([0.1, 0.2, 0.3, 0.7, 1 / 3, 2 / 3, 1.0, 0.0]), st.floats(0.0, 1.0))


@settings(max_examples=30, deadline=None)
@given(panel=st.lists(st.lists(st.one_of(st.none(), rate), min_size=ROUNDS, max_size=ROUNDS),
                      min_size=len(UNITS), max_size=len(UNITS)),
       seed=st.integers(0, 2**32 - 1))
def test_rounds_mean_is_the_exact_mean_whatever_the_round_order(mean_rules: RuleSet, panel: list[list[float | None]],
                                                                 seed: int) -> None:
    order = list(range(1, ROUNDS + 1))
    random.Random(seed).shuffle(order)  # the same rates carried by other rounds

    def rows(rounds: list[int]) -> list[dict[str, object]]:
        return [{"unit": u, "round": r, "a": v} for u, vals in zip(UNITS, panel) for r, v in zip(rounds, vals)
                if v is not None]

    base = _rates(mean_rules, rows(list(range(1, ROUNDS + 1))))
    permuted = _rates(mean_rules, rows(order))
    for u, vals in zip(UNITS, panel):
        present = [v for v in vals if v is not None]
        want = _exact_mean(present) if present else None
        assert base[u]["m"] == want and permuted[u]["m"] == want, (vals, base[u]["m"], want)


def test_rounds_mean_of_tenths(mean_rules: RuleSet) -> None:
    rows = [{"unit": "U0", "round": r, "a": v} for r, v in ((1, 0.1), (2, 0.2), (3, 0.3))]
    rows += [{"unit": "U1", "round": r, "a": v} for r, v in ((1, 0.3), (2, 0.2), (3, 0.1))]
    got = _rates(mean_rules, rows)
    assert (0.1 + 0.2 + 0.3) / 3 == 0.20000000000000004  # a float sum in round order
    assert got["U0"]["m"] == 0.2 and got["U1"]["m"] == 0.2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), min_size=1,
                max_size=9))
def test_exact_mean_is_the_double_nearest_the_rational_mean(values: list[float]) -> None:
    assert exact_mean(values) == _exact_mean(values)
    assert exact_mean(list(reversed(values))) == _exact_mean(values)


def test_exact_mean_constructed() -> None:
    assert exact_mean([0.1, 0.2, 0.3]) == 0.2
    assert exact_mean([1.0, 2.0 ** -53, 2.0 ** -53]) == float((1 + 2 * Fraction(2.0 ** -53)) / 3)
    assert exact_mean([5e-324, 5e-324, 0.0]) == float(Fraction(2 * 5e-324) / 3)
    assert exact_mean([]) is None and exact_mean(None) is None
