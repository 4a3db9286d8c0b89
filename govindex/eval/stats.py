"""Statistics across units: one pure function per statistic, each defined to the last bit.

Every function takes the values of the units (a float array; NaN is a unit without data and is
left out) and returns a float (NaN when there are too few values). The definitions, written down
in docs/rules-language.md §9a "Statistics across units", are these:

- **sums** are exact: the real sum of the doubles, rounded once (``math.fsum``), so a statistic
  never depends on the order of the units;
- ``mean``: the double nearest the exact arithmetic mean (rational arithmetic, one rounding);
  R's ``mean`` (a long-double sum with a second-pass correction) gives the same double except in
  rare near-halfway cases, which it cannot promise and we can;
- ``sd``: ``√(Σ d·d / (n − 1))``, ``d = x − mean`` (each ``d`` one IEEE subtraction, the sum
  exact, then one division and a correctly rounded square root);
- ``population_sd``: ``√(Σ d·d / n)``, the same way (``zscore``'s spread);
- ``skewness`` and ``kurtosis``: COINr's ``skew()``/``kurt()`` (e1071 type 2, Excel's SKEW and
  KURT), in their order of operations, with exact sums; ``d²`` and ``(Σd²)²`` are products
  ``x·x`` (as R's ``^2``), ``d³`` and ``d⁴`` the doubles nearest the exact powers (R's ``^`` uses
  ``powl``, which agrees but for rare double roundings; C's ``pow`` is not correctly rounded on
  every platform), ``(Σd²)^1.5`` is ``Σd² · √Σd²``;
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


def _power(x: float, k: int) -> float:
    """The double nearest x**k (exact rational power, one rounding): the same on every platform."""
    return float(Fraction(x) ** k)


def _deviations(v: np.ndarray) -> list[float]:
    m = mean(v)
    return [x - m for x in v.tolist()]


def sd(values: np.ndarray) -> float:
    """Sample standard deviation (n − 1): ``√(fsum(d·d) / (n − 1))``; NaN below 2 values."""
    v = present(values)
    if len(v) < 2:
        return math.nan
    return math.sqrt(math.fsum(d * d for d in _deviations(v)) / (len(v) - 1))


def population_sd(values: np.ndarray) -> float:
    """Population standard deviation (n): ``√(fsum(d·d) / n)``, ``d = x − mean``; NaN without values
    (the spread of ``zscore(x)``, §9)."""
    v = present(values)
    if len(v) == 0:
        return math.nan
    return math.sqrt(math.fsum(d * d for d in _deviations(v)) / len(v))


def skewness(values: np.ndarray) -> float:
    """COINr's ``skew()`` (e1071 type 2): ``√n·Σd³ / (Σd²·√Σd²) · √(n(n−1)) / (n−2)``; NaN below 3
    values or when ``(Σd²)^1.5`` is 0 (every value the same, or a spread so small it underflows)."""
    v = present(values)
    n = len(v)
    if n < 3:
        return math.nan
    d = _deviations(v)
    s2 = math.fsum(x * x for x in d)
    den = s2 * math.sqrt(s2)
    if den == 0:  # all equal, or a spread so small its power underflows: R's 0/0, ±x/0
        return math.nan
    y = math.sqrt(n) * math.fsum(_power(x, 3) for x in d) / den
    return y * math.sqrt(n * (n - 1)) / (n - 2)


def kurtosis(values: np.ndarray) -> float:
    """COINr's ``kurt()`` (e1071 type 2, excess): ``r = n·Σd⁴ / (Σd²)²``,
    ``((n+1)(r−3) + 6)(n−1) / ((n−2)(n−3))``; NaN below 4 values or when all are equal."""
    v = present(values)
    n = len(v)
    if n < 4:
        return math.nan
    d = _deviations(v)
    s2 = math.fsum(x * x for x in d)
    if s2 * s2 == 0:  # all equal, or a spread whose square underflows
        return math.nan
    r = n * math.fsum(_power(x, 4) for x in d) / (s2 * s2)
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
