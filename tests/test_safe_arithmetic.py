"""Arithmetic that cannot silently go wrong (issue 9, reproducer 5): integer sums in float64, not
wrapping past 2^63; normalisations across units (z-score, min-max, rank, best ratio) that one
non-finite value cannot spoil for every unit."""

from __future__ import annotations

import math

import polars as pl
import pytest

from govindex.check.run import load
from govindex.eval.evaluate import evaluate, rate_col, status_col, value_col
from govindex.eval.explain import load_sources

RULES = """
ruleset "arithmetic" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 60
  missing: exclude
}

table t {
  unit: str
  round: int
  a: int
  b: int
  c: int
  v: float
}

indicator big "大数" {
  max: 20
  point rowsum "逐行求和" { kind: technical  max: 10  probe: sum(t, a + b + c)  score: zscore(x) }
  point colsum "按列求和" { kind: technical  max: 10  probe: sum(t, a)  score: minmax(x) }
}

indicator logs "对数" {
  max: 40
  point z "z" { kind: technical  max: 10  probe: log(sum(t, v))  score: zscore(x) }
  point mm "minmax" { kind: technical  max: 10  probe: log(sum(t, v))  score: minmax(x) }
  point rk "rank" { kind: technical  max: 10  probe: log(sum(t, v))  score: rank(x) }
  point br "best" { kind: technical  max: 10  probe: log(sum(t, v))  score: best_ratio(x) }
}
"""

BIG = 2**62
UNITS = ["u1", "u2", "u3", "u4", "u5"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("arith")
    (root / "r.rules").write_text(RULES, encoding="utf-8")
    (root / "units.csv").write_text("code,name\n" + "".join(f"{u},单位{u}\n" for u in UNITS), encoding="utf-8")
    rows = [("u1", BIG, BIG, BIG, 0.0)] + [("u1", BIG, 0, 0, 0.0)] * 2  # u1: log(0) = -inf
    rows += [(u, i, i, i, float(i)) for i, u in enumerate(UNITS[1:], start=1)]
    df = pl.DataFrame(rows, schema={"unit": pl.String, "a": pl.Int64, "b": pl.Int64, "c": pl.Int64, "v": pl.Float64},
                      orient="row").with_columns(round=pl.lit(1, pl.Int64))
    (root / "facts" / "t").mkdir(parents=True)
    df.write_parquet(root / "facts" / "t" / "part-0.parquet")
    rs = load(root)
    sc = evaluate(rs, load_sources(rs, root / "facts"))
    return {r["code"]: r for r in sc.rounds.iter_rows(named=True)}


def test_row_arithmetic_does_not_wrap(scored):
    assert scored["u1"][value_col("rowsum")] == pytest.approx(3 * BIG + 2 * BIG, rel=1e-12)  # 3·2^62, then 2·2^62
    assert scored["u1"][rate_col("rowsum")] > 0.5  # the largest, not a negative outlier


def test_integer_sums_do_not_wrap(scored):
    assert scored["u1"][value_col("colsum")] == pytest.approx(3 * BIG, rel=1e-12)  # not -4.6e18
    assert scored["u1"][rate_col("colsum")] == 1.0 and scored["u2"][rate_col("colsum")] == 0.0


def _reference(values: dict[str, float], point: str) -> dict[str, float]:
    """Each normalisation over the finite values alone (the unit whose value is -inf has none)."""
    xs = list(values.values())
    lo, hi, n = min(xs), max(xs), len(xs)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / n)
    ranks = {u: sorted(xs).index(x) for u, x in values.items()}
    return {"z": {u: ((x - mean) / std + 3) / 6 for u, x in values.items()},
            "mm": {u: (x - lo) / (hi - lo) for u, x in values.items()},
            "rk": {u: ranks[u] / (n - 1) for u in values},
            "br": {u: x / hi for u, x in values.items()}}[point]


@pytest.mark.parametrize("point", ["z", "mm", "rk", "br"])
def test_one_minus_inf_leaves_the_others_scored(scored, point):
    assert scored["u1"][value_col(point)] == -math.inf
    assert scored["u1"][status_col(point)] == "no_data"
    finite = {u: math.log(i) for i, u in enumerate(UNITS[1:], start=1)}
    want = _reference(finite, point)
    for u in UNITS[1:]:
        assert scored[u][status_col(point)] == "ok"
        assert scored[u][rate_col(point)] == pytest.approx(min(1.0, max(0.0, want[u])), abs=1e-12)
