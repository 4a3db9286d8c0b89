"""Rounding modes: each a definition on doubles, compiled to exact polars expressions.

Definitions (``d`` digits after the point, ``p = 10^d``; a zero result is always ``+0.0``; nulls,
NaN and infinities pass through unchanged):

- ``decimal_half_up``, ``decimal_half_even``, ``floor``, ``ceil``, ``truncate``, ``up`` (decimal modes): take
  ``repr(x)``, the shortest decimal that reads back as ``x``; round that decimal to ``d`` digits
  in decimal arithmetic (halves away from zero, halves to the even digit, toward −∞, toward +∞,
  toward 0, away from 0); the result is the double nearest to the rounded decimal. So 1.005,
  2.675 and 0.015 are the halves they are written as; floor(0.29, 2) is 0.29.
- ``half_up`` (today's default, kept for the shipped rule sets): half up with a relative
  tolerance, ``sign(x)·⌊|x|·p·(1 + 10⁻¹²) + 0.5⌋ / p`` in doubles. It absorbs the binary error of
  a score computed as rate × max (0.6 × 0.375 = 0.22499999999999998 → 0.23, where the decimal
  half-up of that double gives 0.22), and so also rounds up values within 10⁻¹² (relative) below
  a half.
- ``half_even`` is ``decimal_half_even``; ``down`` is ``truncate``.
- ``binary_half_up``: JavaScript's ``Math.round(x·p) / p``: ``x·p`` rounded to a double, then to
  the nearest integer with halves toward +∞, then divided by ``p``.
- ``r``: R ≥ 4.0's ``round(x, d)`` (``fround`` in R's nmath): for ``x > 0`` with
  ``log10(2)·(0.5 + logb(x)) + d ≤ 15``, of the candidates ``xd = ⌊x·p⌋/p`` and ``xu = ⌈x·p⌉/p``
  (double arithmetic) the one closer to ``x`` in double arithmetic (``xu − x`` against
  ``x − xd``), ties to the candidate whose last digit is even; larger ``x`` unchanged; negative
  ``x`` as ``−round(−x)``. With ``d = 0`` there is no size test: ``fround`` returns
  ``rint(x)`` (the nearest integer, halves to even) before it, so 2396662573780169.5 → …170;
  the candidates above give exactly that at every size (``x − ⌊x⌋`` is exact).

How the decimal modes are exact without strings or decimals: a decimal ``m`` with at most 15
significant digits is the only such decimal whose nearest double is ``fl(m)``, and any decimal
``t`` rounding to ``x`` lies on the same side of ``m`` as ``x`` when ``fl(m) ≠ x``. So
``repr(x)`` compares with ``m`` exactly as ``x`` compares with ``fl(m)``, equal included; and
``fl(m)`` of ``m = k/p`` or ``m = (2k+1)/(2p)`` is one IEEE division of exact integers. The
integer part ``f = ⌊fl(x·p)⌋`` is off by at most one, so the candidates ``f − 1 … f + 1`` are
decided by two such comparisons. This holds while ``|x|·p < 10^14`` (a midpoint keeps 15
significant digits); beyond, the same comparisons decide by the nearest double of the midpoint,
which can differ from ``repr`` in the 16th–17th digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

from govindex.eval.exact import div

MODES: dict[str, str] = {
    "decimal_half_up": "decimal half up: halves of `repr(x)` away from zero (0.005 → 0.01, 2.675 → 2.68)",
    "decimal_half_even": "decimal half even: halves of `repr(x)` to the even digit (0.125 → 0.12, 0.015 → 0.02)",
    "half_up": "half up within a relative 1e-12 (0.22499999999999998 → 0.23): the shipped rule sets' mode",
    "binary_half_up": "JavaScript `Math.round(x·10^d)/10^d` (1.005 → 1, 0.575 → 0.57)",
    "r": "R ≥ 4.0 `round(x, d)` (0.015 → 0.01, 0.125 → 0.12, 2.675 → 2.67)",
    "floor": "decimal floor of `repr(x)`, toward −∞ (0.29 → 0.29, −0.001 → −0.01)",
    "ceil": "decimal ceiling of `repr(x)`, toward +∞",
    "truncate": "decimal truncation of `repr(x)`, toward zero",
    "up": "decimal rounding of `repr(x)` away from zero",
}
ALIASES: dict[str, str] = {"down": "truncate", "half_even": "decimal_half_even"}
MAX_DIGITS = 15


def canonical(mode: str) -> str:
    """The mode a name stands for (``down`` is ``truncate``); a ``KeyError`` for unknown names."""
    mode = ALIASES.get(mode, mode)
    if mode not in MODES:
        raise KeyError(mode)
    return mode


def round_expr(e: pl.Expr, digits: int, mode: str) -> pl.Expr:
    """``e`` rounded to ``digits`` decimals by ``mode`` (see the module docstring)."""
    if not 0 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be 0–{MAX_DIGITS}, not {digits}")
    out = _BUILDERS[canonical(mode)](e, float(10**digits), digits)
    # ``+ 0.0`` would be simplified away by the optimiser: zero is made positive explicitly.
    return pl.when(~e.is_finite()).then(e).when(out == 0.0).then(0.0).otherwise(out)



def _fl(num: pl.Expr, den: float) -> pl.Expr:
    """The double nearest to the decimal ``num/den`` (both exact integers)."""
    return div(num, den)


def _decimal_floor(e: pl.Expr, p: float) -> pl.Expr:
    f = (e * p).floor()
    return div(pl.when(e >= _fl(f + 1.0, p)).then(f + 1.0)
            .when(e >= _fl(f, p)).then(f).otherwise(f - 1.0), p)


def _decimal_ceil(e: pl.Expr, p: float) -> pl.Expr:
    return -_decimal_floor(-e, p)


def _half(tie: Callable[[pl.Expr], pl.Expr]) -> Callable[[pl.Expr, float, int], pl.Expr]:
    """Nearest ``k/p`` to ``repr(x)``; on a midpoint between ``a`` and ``a + 1``, ``tie(a)``."""

    def build(e: pl.Expr, p: float, _digits: int) -> pl.Expr:
        f = (e * p).floor()
        lo, hi = _fl(2.0 * f - 1.0, 2.0 * p), _fl(2.0 * f + 1.0, 2.0 * p)
        k = (pl.when(e < lo).then(f - 1.0).when(e == lo).then(tie(f - 1.0))
             .when(e < hi).then(f).when(e == hi).then(tie(f)).otherwise(f + 1.0))
        return div(k, p)

    return build


def _away(a: pl.Expr) -> pl.Expr:
    return pl.when(a >= 0.0).then(a + 1.0).otherwise(a)


def _even(a: pl.Expr) -> pl.Expr:
    return pl.when(a % 2.0 == 0.0).then(a).otherwise(a + 1.0)


def _tolerant_half_up(e: pl.Expr, p: float, _digits: int) -> pl.Expr:
    k = (e.abs() * p * (1 + 1e-12) + 0.5).floor()
    return pl.when(e < 0.0).then(-div(k, p)).otherwise(div(k, p))


def _binary_half_up(e: pl.Expr, p: float, _digits: int) -> pl.Expr:
    y = e * p
    f = y.floor()
    return div(pl.when(y - f >= 0.5).then(f + 1.0).otherwise(f), p)


def r_exact_from(digits: int) -> float:
    """The smallest ``2^e`` from which R returns ``x`` unrounded: ``log10(2)·(0.5 + e) + d > 15``,
    evaluated in doubles as R does (``logb(x) = e`` for ``2^e ≤ x < 2^(e+1)``). R applies it for
    ``digits > 0`` only: with 0 digits every size is rounded (``rint``)."""
    e = -1100
    while M_LOG10_2 * (0.5 + e) + digits <= 15:
        e += 1
    return math.ldexp(1.0, e)


M_LOG10_2 = 0.301029995663981195213738894724  # R's nmath constant, log10(2)


def _r(e: pl.Expr, p: float, digits: int) -> pl.Expr:
    x = e.abs()
    x10 = x * p
    i10 = x10.floor()
    xd, xu = div(i10, p), div(x10.ceil(), p)
    du, dd = xu - x, x - xd
    picked = pl.when((du < dd) | ((du == dd) & (i10 % 2.0 == 1.0))).then(xu).otherwise(xd)
    if digits == 0:  # R: ``if (digits == 0.) return private_rint(x)``, before the size test
        mag = pl.when(x == 0.0).then(x).otherwise(picked)
    else:
        mag = pl.when((x == 0.0) | (x >= r_exact_from(digits))).then(x).otherwise(picked)
    return pl.when(e < 0.0).then(-mag).otherwise(mag)


_BUILDERS: dict[str, Callable[[pl.Expr, float, int], pl.Expr]] = {
    "decimal_half_up": _half(_away),
    "decimal_half_even": _half(_even),
    "half_up": _tolerant_half_up,
    "binary_half_up": _binary_half_up,
    "r": _r,
    "floor": lambda e, p, _d: _decimal_floor(e, p),
    "ceil": lambda e, p, _d: _decimal_ceil(e, p),
    "truncate": lambda e, p, _d: pl.when(e >= 0.0).then(_decimal_floor(e, p)).otherwise(_decimal_ceil(e, p)),
    "up": lambda e, p, _d: pl.when(e >= 0.0).then(_decimal_ceil(e, p)).otherwise(_decimal_floor(e, p)),
}
