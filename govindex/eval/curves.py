"""Log-normal scoring curves as polars expressions: the exact curve and Lighthouse's audit score.

**exact** (``lognormal(x, p10:, median:)``)::

    t     = c · (ln x − ln median) / (ln median − ln p10)      c = erfc⁻¹(1/5) = 0.9061938024368232
    score = ½ · erfc(t)

the complementary log-normal CDF through (median, 0.5) and (p10, 0.9): σ = (ln median − ln p10)
/ (√2·c), so that ½·erfc((ln x − ln median)/(σ√2)) = ½·erfc(t). ``erfc`` is polars' (the
same function bit for bit as Python's ``math.erfc`` on this platform: both the C library's,
which is correct to within an ulp); ``ln`` is the C library's ``log``. At x = median, t = 0 and
the score is 0.5 exactly; at x = p10, t = −c exactly and the score is ½·erfc(−c) = 0.9 to
within an ulp. x ≤ 0 scores 1 when lower is better (p10 < median), else 0. The sign of the
denominator makes the curve rise when p10 > median (higher is better).

**lighthouse** (``curve: "lighthouse"``): Lighthouse's ``Audit.computeLogNormalScore`` (core/audits/
audit.js) over ``getLogNormalScore`` (core/lib/statistics.js), then ``_normalizeAuditScore``'s
``Math.round(score·100)/100``, operation by operation in doubles as JavaScript evaluates them — see
:func:`lighthouse`. ``Math.log``/``Math.exp`` are taken as the C library's ``log``/``exp``: V8's
come from fdlibm, which may differ in the last bit on rare arguments; the floor to two decimals
moves only when such a bit lies across a boundary k/100.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

from govindex.eval.exact import div

Stage = Callable[[pl.Expr], pl.Expr]  # makes an intermediate value a column (computed once), returns its reference

INVERSE_ERFC_ONE_FIFTH = 0.9061938024368232  # erfc⁻¹(1/5): Lighthouse's "closest double"
JS_MIN_VALUE = 5e-324  # Number.MIN_VALUE
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # A&S 7.1.26, as Lighthouse
_P = 0.3275911
MIN_PASSING, MAX_AVERAGE, MAX_FAILING = 0.9, 0.8999999999999999, 0.49999999999999994



def exact(x: pl.Expr, p10: float, median: float) -> pl.Expr:
    """The exact log-normal score of ``x`` (see the module docstring)."""
    lm, lp = math.log(median), math.log(p10)
    t = div((x.log() - lm) * INVERSE_ERFC_ONE_FIFTH, lm - lp)
    score = t.erfc() * 0.5
    return pl.when(x.is_null()).then(None).when(x <= 0).then(1.0 if p10 < median else 0.0).otherwise(score)


def js_erf(s: pl.Expr, stage: Stage) -> pl.Expr:
    """Lighthouse's ``erf`` (Abramowitz & Stegun 7.1.26), step by step:
    ``sign(s)·(1 − y·exp(−|s|·|s|))``, ``t = 1/(1 + p·|s|)``, ``y = t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))``."""
    a = stage(s.abs())
    t = stage(1.0 / (1.0 + _P * a))
    a1, a2, a3, a4, a5 = _A
    y = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    return s.sign() * (1.0 - y * (-a * a).exp())


def lighthouse(x: pl.Expr, p10: float, median: float, stage: Stage) -> pl.Expr:
    """Lighthouse's audit score of ``x`` (p10 < median, checked), as published:

    1. ``getLogNormalScore``: 1 for x ≤ 0; else with r = max(MIN_VALUE, x/median),
       q = −ln(max(MIN_VALUE, p10/median)), s = ln(r)·c/q, cp = (1 − erf(s))/2, clamped by band:
       x ≤ p10 → [0.9, 1]; x ≤ median → [0.5, 0.8999999999999999]; else [0, 0.49999999999999994];
    2. ``computeLogNormalScore``: above 0.9, pct += 0.05·(pct − 0.9) (the boost, up to +0.005 at 1);
       then ``Math.floor(pct·100)/100``;
    3. ``_normalizeAuditScore``: ``Math.round(score·100)/100``.

    ``stage`` makes each intermediate a column: an expression reading one many times would
    otherwise be expanded into a tree that polars plans in time exponential in its depth.
    """
    ratio = stage(div(x, median))
    ratio = pl.when(ratio > JS_MIN_VALUE).then(ratio).otherwise(JS_MIN_VALUE)
    q = -math.log(max(JS_MIN_VALUE, p10 / median))
    s = stage(div(ratio.log() * INVERSE_ERFC_ONE_FIFTH, q))
    cp = stage((1.0 - js_erf(s, stage)) * 0.5)  # `/ 2`: a division by 2 is the multiplication by 0.5, exactly
    banded = (pl.when(x <= p10).then(cp.clip(MIN_PASSING, 1.0))
              .when(x <= median).then(cp.clip(0.5, MAX_AVERAGE))
              .otherwise(cp.clip(0.0, MAX_FAILING)))
    pct = stage(pl.when(x <= 0).then(1.0).otherwise(banded))
    pct = stage(pl.when(pct > 0.9).then(pct + 0.05 * (pct - 0.9)).otherwise(pct))
    score = div(stage((pct * 100.0).floor()), 100.0)
    y = stage(score * 100.0)
    f = stage(y.floor())
    rounded = div(pl.when(y - f >= 0.5).then(f + 1.0).otherwise(f), 100.0)  # Math.round(y) / 100
    return pl.when(x.is_null()).then(None).otherwise(rounded)
