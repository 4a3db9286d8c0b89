"""Our numeric definitions against R itself, bit for bit (issue 11: "numbers are defined").

tests/xval/xval.R runs once for the module on every case (random and constructed) and the engine
must give the same double (``==``: NaN equals NaN, and the sign of a zero is not compared — our
rounding always returns ``+0.0`` where R's ``round(-0.001, 2)`` is ``−0``):

- rounding mode ``r`` (govindex/eval/rounding.py) = R's ``round(x, d)``, d = 0…15;
- govindex/eval/stats.py ``quantile(type = 1…9)``, ``median``, ``mean``, ``sd`` = R's;
  ``skewness``/``kurtosis`` = ``e1071::skewness/kurtosis(x, type = 2)`` (COINr's estimators);
- govindex/eval/ranks.py tie methods = R's ``rank(-x, ties.method = "min" | "average" | "max" |
  "first")`` within groups, ``dense`` = ``match(-x, sort(unique(-x)))``.

Skips without ``Rscript`` (Debian: ``apt-get install r-base-core r-cran-e1071``).
"""

from __future__ import annotations

import math
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from govindex.eval import stats
from govindex.eval.ranks import rank_expr, tie_keys, with_keys
from govindex.eval.rounding import MAX_DIGITS, r_exact_from, round_expr
from govindex.ir import Ranking
from tests.xval.harness import HERE, run_cases, same

RSCRIPT = shutil.which("Rscript")
pytestmark = pytest.mark.skipif(RSCRIPT is None, reason="Rscript not found: apt-get install r-base-core r-cran-e1071")

SEED = 20261202
PROBS = [0.0, 0.01, 0.1, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 0.9, 0.99, 1.0, 0.3, 0.7, 0.05, 0.95]
TIES = {"min": "min", "average": "average", "max": "max", "ordinal": "first"}
WORKED_TIES = [0.005, 0.015, 0.125, 0.575, 2.675, 1.0049999999999999, 1.005, 0.285, 0.5, 1.5, 2.5, 0.045,
               5.015, 10.065, 0.0, 1e-300, 5e-324, 1e15, 1e300, math.inf]


# ---- the cases --------------------------------------------------------------------------------

def rounding_values(rng: np.random.Generator) -> list[float]:
    """Constructed halves and their neighbours, R's exactness threshold, random doubles of every size."""
    v: list[float] = list(WORKED_TIES)
    for digits in range(0, 9):
        for m in rng.integers(0, 10**6, 40):
            half = float(f"{m}5e-{digits + 1}")  # the decimal m.5 / 10^digits, read to a double
            v += [half, math.nextafter(half, 0), math.nextafter(half, math.inf)]
    for digits in range(0, MAX_DIGITS + 1):
        t = r_exact_from(digits)
        v += [t, math.nextafter(t, 0), t * 1.5, t / 2 + t / 4]
    v += [float(f) for f in rng.uniform(0, 1, 200)]
    v += [float(f) for f in 10 ** rng.uniform(-6, 16, 400)]
    bits = rng.integers(0x3C00000000000000, 0x4360000000000000, 300, dtype=np.uint64)  # ~1e-19 … 1e16
    v += bits.view(np.float64).tolist()
    v += [-x for x in v[::3]]
    return v


def samples(rng: np.random.Generator) -> list[np.ndarray]:
    """Vectors for the statistics: skewed, tied, shifted, tiny, constant; 1 to 40 values."""
    out: list[np.ndarray] = []
    for n in [1, 2, 3, 4, 5, 6, 7, 10, 13, 20, 31, 40]:
        for _ in range(6):
            out += [rng.normal(0, 1, n), rng.lognormal(0, 2, n), rng.integers(0, 4, n).astype(float),
                    np.round(rng.uniform(0, 100, n), 2), 1e8 + rng.normal(0, 1e-3, n), rng.normal(0, 1e-200, n)]
        out.append(np.full(n, 0.1))
    out.append(np.array([0.1, 0.2, 0.3, 0.4, 1e6]))
    return out


def rounding_cases(values: list[float]) -> list[tuple[str, str, list[str], list[float | None]]]:
    return [(f"round:{d}", "round", [str(d)], list(values)) for d in range(MAX_DIGITS + 1)]


def stat_cases(vectors: list[np.ndarray]) -> list[tuple[str, str, list[str], list[float | None]]]:
    cases: list[tuple[str, str, list[str], list[float | None]]] = []
    for k, x in enumerate(vectors):
        v = x.tolist()
        cases += [(f"{op}:{k}", op, [], v) for op in ("mean", "median")]
        if len(v) >= 2:
            cases.append((f"sd:{k}", "sd", [], v))
        if len(v) >= 3:
            cases.append((f"skewness:{k}", "skewness", [], v))
        if len(v) >= 4:
            cases.append((f"kurtosis:{k}", "kurtosis", [], v))
        cases += [(f"quantile:{t}:{k}", "quantile", [str(t), *(p.hex() for p in PROBS)], v) for t in range(1, 10)]
    return cases


def rank_vectors(rng: np.random.Generator) -> list[tuple[list[float | None], list[str]]]:
    """Values with many ties (short decimals, so a value is its own tie key), some missing, in 1–3 groups."""
    out: list[tuple[list[float | None], list[str]]] = []
    for n in [1, 2, 3, 5, 8, 13, 21, 40]:
        for kind in range(6):
            raw = rng.integers(0, max(2, n // (kind + 1)), n) / (1, 4, 10, 100, 3, 1)[kind]
            vals: list[float | None] = [float(f"{x:.6g}") for x in raw]
            for i in rng.integers(0, n, n // 5):
                vals[int(i)] = None
            groups = [f"g{g}" for g in rng.integers(0, 1 + kind % 3, n)]
            out.append((vals, groups))
    return out


def rank_cases(vectors: list[tuple[list[float | None], list[str]]]) -> list[tuple[str, str, list[str], list[float | None]]]:
    cases: list[tuple[str, str, list[str], list[float | None]]] = []
    for k, (vals, groups) in enumerate(vectors):
        cases += [(f"rank:{ours}:{k}", "rank", [r, *groups], vals) for ours, r in TIES.items()]
        cases.append((f"rank:dense:{k}", "dense", ["dense", *groups], vals))
    return cases


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every case, and R's answer to each: one Rscript process for the module."""
    rng = np.random.default_rng(SEED)
    values, vectors, ranked = rounding_values(rng), samples(rng), rank_vectors(rng)
    cases = rounding_cases(values) + stat_cases(vectors) + rank_cases(ranked)
    assert RSCRIPT is not None
    r = run_cases([RSCRIPT, "--vanilla", str(HERE / "xval.R")], cases, tmp_path_factory.mktemp("xval-r"))
    return {"values": values, "vectors": vectors, "ranked": ranked, "r": r}


def mismatches(ours: list[float | None], theirs: list[float | None], inputs: list) -> list[str]:
    return [f"{x!r}: ours {a!r}, R {b!r}" for x, a, b in zip(inputs, ours, theirs, strict=True) if not same(a, b)]


# ---- rounding -----------------------------------------------------------------------------------

def engine_round(values: list[float], digits: int) -> list[float | None]:
    df = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    return df.select(round_expr(pl.col("x"), digits, "r")).to_series().to_list()


@pytest.mark.parametrize("digits", range(MAX_DIGITS + 1))
def test_round_mode_r_is_r_round(world: dict, digits: int) -> None:
    values = world["values"]
    bad = mismatches(engine_round(values, digits), world["r"][f"round:{digits}"], values)
    assert not bad, f"{len(bad)} of {len(values)} differ from R's round(x, {digits}): {bad[:10]}"


def test_round_mode_r_below_2_pow_50_at_digits_0(world: dict) -> None:
    """Below 2^50 mode r with 0 digits is R's ``round(x)`` (``rint``: halves to even) on every case."""
    values = [x for x in world["values"] if abs(x) < 2.0**50]
    bad = mismatches(engine_round(values, 0), [r for x, r in zip(world["values"], world["r"]["round:0"], strict=True)
                                               if abs(x) < 2.0**50], values)
    assert not bad, bad[:10]


@pytest.mark.parametrize(("x", "r"), [(2396662573780169.5, 2396662573780170.0), (3384461945489412.5, 3384461945489412.0),
                                      (1296281936371046.8, 1296281936371047.0), (-3384461945489412.5, -3384461945489412.0)])
def test_round_mode_r_large_values_at_digits_0(x: float, r: float) -> None:
    """R 4.2.2: ``round(2396662573780169.5)`` is 2396662573780170 (``fround``: ``if (digits == 0.)
    return private_rint(x)``, before the size test that applies to digits > 0 only)."""
    assert engine_round([x], 0) == [r]


# ---- statistics ---------------------------------------------------------------------------------

def _check(world: dict, op: str, ours) -> None:
    bad = []
    for k, x in enumerate(world["vectors"]):
        key = f"{op}:{k}"
        if key in world["r"] and not same(ours(x), world["r"][key][0]):
            bad.append(f"{x.tolist()!r}: ours {ours(x)!r}, R {world['r'][key][0]!r}")
    assert not bad, f"{op}: {len(bad)} vectors differ from R: {bad[:5]}"


@pytest.mark.parametrize("op", ["mean", "median", "sd"])
def test_base_statistics_are_r(world: dict, op: str) -> None:
    _check(world, op, getattr(stats, op))


def test_r_mean_is_r_mean(world: dict) -> None:
    """``stats.r_mean`` (the mean sd/skewness/kurtosis deviate from) is R's ``mean`` itself. (``stats.mean``
    is the correctly rounded mean: equal to R's on every vector here, not on every vector — 17 of
    20 000 random normal/log-normal vectors of 1–59 values differ by 1 ulp, where R's is not.)"""
    _check(world, "mean", stats.r_mean)


@pytest.mark.parametrize("op", ["skewness", "kurtosis"])
def test_skewness_kurtosis_are_e1071_type_2(world: dict, op: str) -> None:
    _check(world, op, getattr(stats, op))


@pytest.mark.parametrize(("x", "r"), [([0.4459646303987351, -2.0172060016931623], 1.7417246571717353),
                                      ([0.8273066925193602, 0.5468140898787284, 0.6677837571893646], 0.14068719880267438)])
def test_sd_exact_cases(x: list[float], r: float) -> None:
    """R 4.2.2 ``sd(c(0.4459646303987351, -2.0172060016931623))`` is 1.7417246571717353 (the
    deviations and their squares in long double); with IEEE deviations and an exact sum, 1.741724657171735."""
    assert stats.sd(np.array(x)) == r


@pytest.mark.parametrize(("x", "r"), [([71.52, 8.98, 0.12], 1.631607927484604), ([31.7, 75.48, 78.0], -1.7138120196462783),
                                      ([53.98, 81.74, 65.56], 0.48887426522932215)])
def test_skewness_exact_cases(x: list[float], r: float) -> None:
    """R 4.2.2 ``e1071::skewness(c(71.52, 8.98, 0.12), type = 2)`` is 1.631607927484604; with
    Σd²·√Σd² for ``sum(x^2)^(3/2)`` (two roundings, not R's one ``pow``) it would be 1.6316079274846038."""
    assert stats.skewness(np.array(x)) == r


def test_mean_median_quantile_sd_agree_on_constructed_vectors() -> None:
    """Worked cases that hold today (R 4.2.2 values): type-7 quartile of 1..5 is 2, median of two is their mean."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stats.quantile(x, 0.25) == 2.0 and stats.median(np.array([0.1, 0.2])) == 0.15000000000000002


@pytest.mark.parametrize("qtype", range(1, 10))
def test_quantile_types_are_r(world: dict, qtype: int) -> None:
    bad = []
    for k, x in enumerate(world["vectors"]):
        theirs = world["r"][f"quantile:{qtype}:{k}"]
        for p, q in zip(PROBS, theirs, strict=True):
            if not same(stats.quantile(x, p, qtype), q):
                bad.append(f"p={p!r} x={x.tolist()!r}: ours {stats.quantile(x, p, qtype)!r}, R {q!r}")
    assert not bad, f"type {qtype}: {len(bad)} differ from R: {bad[:5]}"


def test_statistics_leave_out_missing_values(world: dict) -> None:
    """NaN is a unit without data: the statistic of the rest (R's ``na.rm = TRUE``)."""
    x = next(v for v in world["vectors"] if len(v) >= 10)
    holed = np.insert(x, [0, len(x) // 2, len(x)], np.nan)
    for op in ("mean", "median", "sd", "skewness", "kurtosis"):
        assert same(getattr(stats, op)(holed), getattr(stats, op)(x))


# ---- ranks ----------------------------------------------------------------------------------------

def engine_ranks(vals: list[float | None], groups: list[str], ties: str) -> list[float | None]:
    df = pl.DataFrame({"v": vals, "g": groups}, schema={"v": pl.Float64, "g": pl.String})
    df = with_keys(df, {"key": (pl.col("v"), 12)})
    out = df.select(rank_expr(pl.col("key"), Ranking(ties=ties, by="g")).cast(pl.Float64)).to_series()  # type: ignore[arg-type]
    return out.to_list()


@pytest.mark.parametrize("ties", [*TIES, "dense"])
def test_rank_methods_are_r_rank(world: dict, ties: str) -> None:
    bad = []
    for k, (vals, groups) in enumerate(world["ranked"]):
        present = np.array([math.nan if v is None else v for v in vals])
        assert np.array_equal(tie_keys(present), present, equal_nan=True)  # short decimals: their own keys
        ours, theirs = engine_ranks(vals, groups, ties), world["r"][f"rank:{ties}:{k}"]
        if not all(same(a, b) for a, b in zip(ours, theirs, strict=True)):
            bad.append(f"{vals!r} in {groups!r}: ours {ours!r}, R {theirs!r}")
    assert not bad, f"{ties}: {len(bad)} vectors differ from R: {bad[:3]}"


def test_cases_are_what_they_claim() -> None:
    """The constructed halves are halves: m.5 / 10^d as written (a guard on the case generator)."""
    assert Fraction("0.125") == Fraction(0.125) and float("2675e-3") == 2.675
    assert Path(HERE / "xval.R").is_file()
