"""Statistics across units: one pure function per statistic, each defined to the last bit.

Every function takes the values of the units (a float array; NaN is a unit without data and is
left out) and returns a float (NaN when there are too few values). The definitions, written down
in docs/rules-language.md §9a "Statistics across units", are these:

- **sums** in ``mean`` and ``exact_sum`` are exact: the real sum of the doubles, rounded once
  (``math.fsum``), so those never depend on the order of the units;
- ``mean``: the double nearest the exact arithmetic mean (rational arithmetic, one rounding);
  R's ``mean`` (a long-double sum with a second-pass correction) gives the same double except in
  rare near-halfway cases, which it cannot promise and we can;
- ``sd``, ``skewness``, ``kurtosis`` are R's and e1071's **to the bit, in R's order of
  operations** (COINr calls them; the published numbers are theirs): the deviations are taken
  from R's ``mean`` (:func:`r_mean`: long-double sum ÷ n, plus the long-double sum of ``x − m``
  ÷ n, rounded to a double);
  ``sd`` is R's ``sqrt(var(x))``: ``Σ (x − m)²`` with ``x − m``, the square and the sum in long
  double, one long-double division by ``n − 1``, rounded to a double, then ``√``;
  ``skewness``/``kurtosis`` are ``e1071::skewness/kurtosis(x, type = 2)`` (COINr's ``skew()``/
  ``kurt()``, Excel's SKEW and KURT): ``d = x − mean(x)`` in doubles, ``d²`` as ``d·d``, ``d³``,
  ``d⁴`` and ``(Σd²)^1.5`` by C's ``pow`` (R's ``^``: ``R_pow``), each ``sum`` accumulated in
  long double from the first unit to the last and rounded to a double, then e1071's formula in
  doubles, left to right;
- **platform**: "long double" is the type R calls ``LDOUBLE``; here it is ``np.longdouble``, the
  x87 80-bit extended type on x86-64 Linux, as R's on the same machine, and ``pow`` is the C
  library's (glibc's ``pow``, as R's ``R_pow`` calls it off Windows). On a platform where long
  double is the double (arm64 macOS, MSVC) or ``pow`` rounds differently, R and govindex both give
  other last bits there; the cross-check against R (tests/test_xval_r.py) proves the equality
  where it runs. These sums follow the order of the units (the units frame is sorted by code), as
  R's do;
- ``population_sd``: ``√(Σ d·d / n)``, ``d = x − mean`` (the correctly rounded mean; each ``d``
  one IEEE subtraction, the sum exact, one division, a correctly rounded square root) —
  ``zscore``'s spread (§9), not R's;
- ``quantile``: R's ``quantile.default`` types 1–9 (R 4.0–4.4 arithmetic; type 7 the default);
- ``median``: R's ``median``: the middle value, or the correctly rounded mean of the two middle
  values;
- ``kth_largest``: the k-th value in decreasing order (ties counted one by one, as R's
  ``sort(x, decreasing = TRUE)[k]``);
- ``count``: the number of values (units with data).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

FUZZ = 4 * 2.220446049250313e-16  # R's 4 * .Machine$double.eps, for quantile types 4–9
_AB = {4: (0.0, 1.0), 5: (0.5, 0.5), 6: (0.0, 0.0), 8: (1 / 3, 1 / 3), 9: (3 / 8, 3 / 8)}


def present(values: np.ndarray) -> np.ndarray:
    """The values of the units with data: NaN (no data) left out, as float64."""
    v = np.asarray(values, dtype=np.float64)
    return v[~np.isnan(v)]


def count(values: np.ndarray) -> float:
    """The number of units with data."""
    return float(len(present(values)))


def exact_sum(values: np.ndarray) -> float:
    """The real sum of the values rounded once to a double (``math.fsum``): order-independent."""
    return math.fsum(present(values).tolist())


def mean(values: np.ndarray) -> float:
    """The double nearest the exact arithmetic mean of the values; NaN without values."""
    v = present(values).tolist()
    if not v:
        return math.nan
    return float(sum((Fraction(x) for x in v), Fraction(0)) / len(v))


LDOUBLE = np.longdouble  # R's LDOUBLE: the x87 80-bit type on x86-64 Linux


def _ld_sum(values: np.ndarray) -> np.longdouble:
    """R's ``rsum``: the values added one after another in long double, first to last."""
    if len(values) == 0:
        return LDOUBLE(0)
    return LDOUBLE(np.add.accumulate(np.asarray(values, dtype=LDOUBLE))[-1])


def r_mean(values: np.ndarray) -> float:
    """R's ``mean(x, na.rm = TRUE)`` of the values with data: ``s = Σx / n`` in long double; when
    finite, ``s + Σ(x − s) / n`` (both in long double); rounded to a double. NaN without values."""
    v = present(values)
    n = len(v)
    if n == 0:
        return math.nan
    s = _ld_sum(v) / LDOUBLE(n)
    if math.isfinite(float(s)):
        s = s + _ld_sum(v.astype(LDOUBLE) - s) / LDOUBLE(n)
    return float(s)


def _r_pow(x: float, y: float) -> float:
    """R's ``x ^ y`` on doubles (``R_pow``): ``x·x`` for 2, else C's ``pow`` (IEEE overflow to ±∞)."""
    if y == 2.0:
        return x * x
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.copysign(math.inf, x) if y % 2 == 1 else math.inf
    except ValueError:
        return math.nan


def _ieee_div(a: float, b: float) -> float:
    """``a / b`` as C divides doubles: ±∞ for x/0, NaN for 0/0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def sd(values: np.ndarray) -> float:
    """R's ``sd(x)``: ``√(Σ(x − m)² / (n − 1))`` with the deviations, squares, sum and division in
    long double (R's ``cov.c``), ``m`` = :func:`r_mean`; NaN below 2 values."""
    v = present(values)
    n = len(v)
    if n < 2:
        return math.nan
    d = v.astype(LDOUBLE) - LDOUBLE(r_mean(v))
    return math.sqrt(float(_ld_sum(d * d) / LDOUBLE(n - 1)))


def _e1071_sums(v: np.ndarray, k: int) -> tuple[float, float]:
    """e1071's ``x <- x - mean(x)``, then ``(sum(x^2), sum(x^k))`` as R computes them."""
    m = r_mean(v)
    d = [x - m for x in v.tolist()]
    return float(_ld_sum(np.array([x * x for x in d]))), float(_ld_sum(np.array([_r_pow(x, k) for x in d])))


def population_sd(values: np.ndarray) -> float:
    """Population standard deviation (n): ``√(fsum(d·d) / n)``, ``d = x − mean``; NaN without values
    (the spread of ``zscore(x)``, §9)."""
    v = present(values)
    if len(v) == 0:
        return math.nan
    m = mean(v)
    return math.sqrt(math.fsum((x - m) * (x - m) for x in v.tolist()) / len(v))


def skewness(values: np.ndarray) -> float:
    """``e1071::skewness(x, type = 2)`` (COINr's ``skew()``):
    ``sqrt(n) * sum(x^3) / (sum(x^2)^(3/2)) * sqrt(n*(n-1)) / (n-2)``; NaN below 3 values or when
    every value is the same (R's 0/0)."""
    v = present(values)
    n = len(v)
    if n < 3:
        return math.nan
    s2, s3 = _e1071_sums(v, 3)
    y = _ieee_div(math.sqrt(n) * s3, _r_pow(s2, 1.5))
    return y * math.sqrt(n * (n - 1)) / (n - 2)


def kurtosis(values: np.ndarray) -> float:
    """``e1071::kurtosis(x, type = 2)`` (COINr's ``kurt()``, excess): ``r = n * sum(x^4) /
    (sum(x^2)^2)``, ``((n+1)*(r-3) + 6) * (n-1) / ((n-2)*(n-3))``; NaN below 4 values or when
    every value is the same."""
    v = present(values)
    n = len(v)
    if n < 4:
        return math.nan
    s2, s4 = _e1071_sums(v, 4)
    r = _ieee_div(n * s4, s2 * s2)
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def quantile(values: np.ndarray, p: float, type: int = 7) -> float:  # noqa: A002 - R's name
    """R's ``quantile(x, p, type = type)`` (R 4.0–4.4 ``quantile.default``) of the values with
    data; NaN without values. ``p`` in [0, 1], ``type`` 1–9.

    Type 7: ``i = 1 + (n−1)·p``, ``lo = ⌊i⌋``, ``hi = ⌈i⌉``; ``x[lo]`` unless ``i > lo`` and
    ``x[hi] ≠ x[lo]``, then ``(1−h)·x[lo] + h·x[hi]`` with ``h = i − lo`` (no fuzz).
    Types 1–3: ``nppm = n·p`` (type 3: ``n·p − 0.5``), ``j = ⌊nppm⌋``; ``h`` is ``nppm > j``
    (type 1), ``((nppm > j) + 1)/2`` (type 2), ``nppm ≠ j or j odd`` (type 3).
    Types 4–9: ``nppm = a + p·(n + 1 − a − b)``, ``j = ⌊nppm + fuzz⌋``, ``h = nppm − j`` set to 0
    when ``|h| < fuzz`` (``fuzz = 4·2⁻⁵²``). Then, with ``x`` padded ``x₁ x₁ x … xₙ xₙ``:
    ``x[j]`` if ``h = 0``, ``x[j+1]`` if ``h = 1``, else ``(1−h)·x[j] + h·x[j+1]`` when they differ.
    """
    if not 1 <= type <= 9:
        raise ValueError(f"quantile type {type} is not 1–9")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability {p} is not in [0, 1]")
    x: list[float] = np.sort(present(values)).tolist()
    n = len(x)
    if n == 0:
        return math.nan
    if type == 7:
        index = 1 + (n - 1) * p
        lo, hi = math.floor(index), math.ceil(index)
        q = x[lo - 1]
        if index > lo and x[hi - 1] != q:
            h = index - lo
            q = (1 - h) * q + h * x[hi - 1]
        return q
    if type <= 3:
        nppm = n * p - 0.5 if type == 3 else n * p
        j = math.floor(nppm)
        h = float(nppm > j) if type == 1 else (float(nppm > j) + 1) / 2 if type == 2 else \
            float(nppm != j or j % 2 == 1)
    else:
        a, b = _AB[type]
        nppm = a + p * (n + 1 - a - b)
        j = math.floor(nppm + FUZZ)
        h = nppm - j
        if abs(h) < FUZZ:
            h = 0.0
    padded = [x[0], x[0], *x, x[-1], x[-1]]
    lo_v = padded[min(max(j + 1, 0), n + 3)]  # R's x[j + 2], 1-based → 0-based j + 1
    hi_v = padded[min(max(j + 2, 0), n + 3)]
    if h == 1:
        return hi_v
    if 0 < h < 1 and lo_v != hi_v:
        return (1 - h) * lo_v + h * hi_v
    return lo_v


def median(values: np.ndarray) -> float:
    """R's ``median``: the middle value (odd count) or the correctly rounded mean of the two
    middle values (even count); NaN without values."""
    x = np.sort(present(values))
    n = len(x)
    if n == 0:
        return math.nan
    half = (n + 1) // 2
    if n % 2 == 1:
        return float(x[half - 1])
    return mean(x[half - 1:half + 1])


def kth_largest(values: np.ndarray, k: int) -> float:
    """The k-th largest value (k = 1 the largest), ties counted one by one; NaN when fewer than
    k units have data."""
    x = np.sort(present(values))[::-1]
    return float(x[k - 1]) if 1 <= k <= len(x) else math.nan


STATISTICS = {
    "mean": mean, "sd": sd, "skewness": skewness, "kurtosis": kurtosis, "median": median, "count": count,
}
