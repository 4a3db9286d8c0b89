"""govindex.eval.stats against references written from the published definitions (R's
``quantile.default``, ``median``, ``mean``, ``sd``; e1071's ``skewness``/``kurtosis`` type 2, which
COINr's ``skew``/``kurt`` call; the exact mean), bit for bit. R's sums are written out as R's C code
adds them: one ``LDOUBLE`` (``np.longdouble``, x87 80-bit here) accumulator, first value to last."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.eval import stats

FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
VALUES = st.lists(st.one_of(FINITE, st.integers(-50, 50).map(float)), min_size=1, max_size=40)
PROBS = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.75, 0.9, 1.0, 1 / 3]))


# ------------------------------------------------------------------ references (plain Python)

def ref_quantile(xs: list[float], p: float, type_: int) -> float:
    """R 4.0–4.4 quantile.default, transcribed with 1-based indices as R writes it."""
    x = sorted(xs)
    n = len(x)

    def at(i: int) -> float:  # x[i], 1-based
        return x[i - 1]

    if type_ == 7:
        index = 1 + (n - 1) * p
        lo, hi = math.floor(index), math.ceil(index)
        qs = at(lo)
        if index > lo and at(hi) != qs:
            h = index - lo
            qs = (1 - h) * qs + h * at(hi)
        return qs
    if type_ <= 3:
        nppm = n * p - .5 if type_ == 3 else n * p
        j = math.floor(nppm)
        h = {1: 1.0 if nppm > j else 0.0,
             2: ((1.0 if nppm > j else 0.0) + 1) / 2,
             3: 1.0 if (nppm != j or j % 2 == 1) else 0.0}[type_]
    else:
        a, b = {4: (0, 1), 5: (.5, .5), 6: (0, 0), 8: (1 / 3, 1 / 3), 9: (3 / 8, 3 / 8)}[type_]
        fuzz = 4 * 2.220446049250313e-16
        nppm = a + p * (n + 1 - a - b)
        j = math.floor(nppm + fuzz)
        h = nppm - j
        if abs(h) < fuzz:
            h = 0.0
    xx = [x[0], x[0], *x, x[-1], x[-1]]  # R: c(x[1], x[1], x, x[n], x[n])
    qs = xx[j + 2 - 1]
    if h == 1:
        qs = xx[j + 3 - 1]
    if 0 < h < 1 and xx[j + 2 - 1] != xx[j + 3 - 1]:
        qs = (1 - h) * xx[j + 2 - 1] + h * xx[j + 3 - 1]
    return qs


LD = np.longdouble


def rsum(xs: list) -> float:
    """R's ``sum``: ``LDOUBLE s = 0; for (i...) s += x[i]; return (double) s``."""
    acc = LD(0)
    for v in xs:
        acc += LD(v)
    return float(acc)


def r_mean(xs: list[float]) -> float:
    """R's ``mean`` (summary.c): ``s = Σx / n`` in long double, then ``s += Σ(x − s) / n``."""
    n = len(xs)
    acc = LD(0)
    for v in xs:
        acc += LD(v)
    acc /= n
    if math.isfinite(float(acc)):
        t = LD(0)
        for v in xs:
            t += LD(v) - acc
        acc += t / n
    return float(acc)


def r_sd(xs: list[float]) -> float:
    """R's ``sd`` = ``sqrt(var(x))`` (cov.c): ``LDOUBLE xxm = mean; sum += (x − xxm)·(x − xxm)``,
    ``(double)(sum / (n − 1))``."""
    xxm = LD(r_mean(xs))
    acc = LD(0)
    for v in xs:
        acc += (LD(v) - xxm) * (LD(v) - xxm)
    return math.sqrt(float(acc / (len(xs) - 1)))


def r_pow(x: float, y: float) -> float:
    """R's ``x ^ y``: ``x * x`` for 2, else C's ``pow`` (Python's ``math.pow`` is that call)."""
    return x * x if y == 2 else math.pow(x, y)


def c_div(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def ref_mean(xs: list[float]) -> float:
    return float(sum((Fraction(v) for v in xs), Fraction(0)) / len(xs))  # one rounding


def ref_skew(xs: list[float]) -> float:
    """e1071 (type 2): x <- x - mean(x); sqrt(n)*sum(x^3)/(sum(x^2)^(3/2)) * sqrt(n*(n-1))/(n-2)."""
    n = len(xs)
    m = r_mean(xs)
    d = [v - m for v in xs]
    y = c_div(math.sqrt(n) * rsum([r_pow(v, 3) for v in d]), r_pow(rsum([v * v for v in d]), 1.5))
    return y * math.sqrt(n * (n - 1)) / (n - 2)


def ref_kurt(xs: list[float]) -> float:
    """e1071 (type 2): r <- n*sum(x^4)/(sum(x^2)^2); ((n+1)*(r-3)+6)*(n-1)/((n-2)*(n-3))."""
    n = len(xs)
    m = r_mean(xs)
    d = [v - m for v in xs]
    s2 = rsum([v * v for v in d])
    r = c_div(n * rsum([r_pow(v, 4) for v in d]), s2 * s2)
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# ------------------------------------------------------------------ properties

@settings(max_examples=300, deadline=None)
@given(VALUES, PROBS, st.integers(1, 9))
def test_quantile_is_r_bit_for_bit(xs: list[float], p: float, type_: int) -> None:
    assert same(stats.quantile(np.array(xs), p, type_), ref_quantile(xs, p, type_))


@settings(max_examples=200, deadline=None)
@given(VALUES, st.randoms(use_true_random=False))
def test_statistics_ignore_order_and_missing(xs: list[float], rnd: random.Random) -> None:
    """Mean, median, count and quantiles do not depend on the order of the units; sd, skewness and
    kurtosis add in the units' order as R does, so only missing values (NaN) may be moved in."""
    ys = xs + [math.nan] * 3
    rnd.shuffle(ys)
    a, b = np.array(xs), np.array(ys)
    for f in (stats.mean, stats.median, stats.count):
        assert same(f(a), f(b)), f.__name__
    holed = np.array([v for x in xs for v in ([math.nan, x] if rnd.random() < 0.3 else [x])])
    for f in (stats.sd, stats.skewness, stats.kurtosis):
        assert same(f(a), f(holed)), f.__name__
    for t in range(1, 10):
        assert same(stats.quantile(a, 0.3, t), stats.quantile(b, 0.3, t))


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_moments_are_the_definitions(xs: list[float]) -> None:
    a = np.array(xs)
    assert stats.mean(a) == ref_mean(xs)
    assert stats.r_mean(a) == r_mean(xs)
    if len(xs) >= 2:
        assert stats.sd(a) == r_sd(xs)
    if len(xs) >= 3:
        assert same(stats.skewness(a), ref_skew(xs))
    if len(xs) >= 4:
        assert same(stats.kurtosis(a), ref_kurt(xs))


@settings(max_examples=200, deadline=None)
@given(VALUES, st.integers(1, 45))
def test_median_and_kth_largest(xs: list[float], k: int) -> None:
    a = np.array(xs)
    s = sorted(xs)
    n = len(s)
    med = s[n // 2] if n % 2 else ref_mean(s[n // 2 - 1:n // 2 + 1])
    assert stats.median(a) == med
    assert same(stats.kth_largest(a, k), sorted(xs, reverse=True)[k - 1] if k <= n else math.nan)


# ------------------------------------------------------------------ worked values

def test_quantile_types_on_one_to_ten() -> None:
    """quantile(1:10, 0.1, type = t) in R: 1, 1.5, 1, 1, 1.5, 1.1, 1.9, 1.3666…, 1.4."""
    x = np.arange(1.0, 11.0)
    got = [stats.quantile(x, 0.1, t) for t in range(1, 10)]
    assert got[:7] == [1.0, 1.5, 1.0, 1.0, 1.5, 1.1, 1.9]
    assert got[7] == pytest.approx(1 + 11 / 30) and got[8] == pytest.approx(1.4)


def test_type7_interpolates_as_r_not_as_x_plus_h_times_difference() -> None:
    """R computes (1-h)*x[lo] + h*x[hi]; x[lo] + h*(x[hi]-x[lo]) can differ in the last bit."""
    x = np.array([0.79, 0.65])
    h = (1 + 0.09) - 1  # 0.09000000000000008, as R computes index - lo
    assert stats.quantile(x, 0.09) == (1 - h) * 0.65 + h * 0.79 == 0.6626
    assert 0.65 + h * (0.79 - 0.65) == 0.6626000000000001


def test_equal_values_interpolate_to_themselves() -> None:
    """R skips the interpolation when x[hi] == x[lo]: no rounding drift (the 2005 r-devel case)."""
    v = -0.00090419678460984
    assert all(stats.quantile(np.full(602, v), p) == v for p in (0.2, 0.4, 0.6, 0.8))


def test_mean_is_correctly_rounded_where_a_naive_sum_is_not() -> None:
    xs = [1e16, 1.0, -1e16, 1.0]
    assert sum(xs) / 4 == 0.25  # a left-to-right sum loses a 1 to 1e16
    assert stats.mean(np.array(xs)) == 0.5


def test_coinr_skew_example() -> None:
    """COINr's vignette: x = c(1:10, 30, 100) fails the check (skew > 2 and kurtosis > 3.5)."""
    x = np.array([*range(1, 11), 30, 100], dtype=float)
    assert stats.skewness(x) > 2 and stats.kurtosis(x) > 3.5


def test_too_few_values() -> None:
    assert math.isnan(stats.mean(np.array([math.nan])))
    assert math.isnan(stats.sd(np.array([1.0])))
    assert math.isnan(stats.skewness(np.array([1.0, 2.0])))
    assert math.isnan(stats.kurtosis(np.array([1.0, 2.0, 3.0])))
    assert math.isnan(stats.quantile(np.array([]), 0.5))
    assert stats.count(np.array([1.0, math.nan])) == 1.0
