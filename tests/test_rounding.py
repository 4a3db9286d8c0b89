"""Every rounding mode against a reference written from its definition, bit for bit: Python's
``decimal`` on ``repr(x)`` for the decimal modes, JavaScript's ``Math.round`` and R ≥ 4.0's
``fround`` in plain Python."""

from __future__ import annotations

import math
import struct
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.eval.rounding import M_LOG10_2, MODES, round_expr

_DECIMAL = {"decimal_half_up": ROUND_HALF_UP, "decimal_half_even": ROUND_HALF_EVEN, "floor": ROUND_FLOOR,
            "ceil": ROUND_CEILING, "truncate": ROUND_DOWN, "up": ROUND_UP}


def _decimal(x: float, d: int, mode: str) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-d), rounding=_DECIMAL[mode]))


def _js(x: float, d: int) -> float:
    p = float(10**d)
    y = x * p
    f = math.floor(y)
    return float(f + 1 if y - f >= 0.5 else f) / p


def _r(x: float, d: int) -> float:
    if x == 0.0:
        return x
    if x < 0.0:
        return -_r(-x, d)
    logb = math.frexp(x)[1] - 1
    if d > 0 and M_LOG10_2 * (0.5 + logb) + d > 15:  # DBL_DIG; d = 0 is rint(x) at every size
        return x
    p = float(10**d)
    x10 = p * x
    i10 = float(math.floor(x10))
    xd, xu = i10 / p, float(math.ceil(x10)) / p
    du, dd = xu - x, x - xd
    return xu if du < dd or (du == dd and math.fmod(i10, 2.0) == 1.0) else xd


def reference(x: float, d: int, mode: str) -> float:
    """The definition of each mode, on one double; zero results are +0.0."""
    if mode == "binary_half_up":
        out = _js(x, d)
    elif mode == "r":
        out = _r(x, d)
    elif mode == "half_up":
        p = float(10**d)
        out = math.copysign(math.floor(abs(x) * p * (1 + 1e-12) + 0.5) / p, x)
    else:
        out = _decimal(x, d, mode)
    return out + 0.0


def engine(xs: list[float], d: int, mode: str) -> list[float]:
    return pl.select(round_expr(pl.lit(pl.Series(xs, dtype=pl.Float64)), d, mode)).to_series().to_list()


def _bits(xs: list[float]) -> list[bytes]:
    return [struct.pack("<d", x) for x in xs]


TIES = [0.005, 0.015, 0.025, 0.125, 0.135, 0.575, 2.675, 1.005, 1.0049999999999999, 0.285, 1.445, 8.345,
        0.29, 28.999999999999996, 4.35, 1234.5675, 0.5, 1.5, 2.5, 99.995, 100.0, 0.0, 1e-300, 5e-324]
TIES = TIES + [-t for t in TIES]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("d", [0, 1, 2, 3])
def test_constructed_ties_match_the_definition(mode: str, d: int) -> None:
    assert _bits(engine(TIES, d, mode)) == _bits([reference(x, d, mode) for x in TIES])


_DOUBLES = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
_HALVES = st.builds(lambda k, d, s: s * (k + 0.5) / 10**d, st.integers(0, 10**9), st.integers(0, 4), st.sampled_from([1, -1]))


@given(st.lists(st.one_of(_DOUBLES, _HALVES), min_size=1, max_size=30), st.integers(0, 4), st.sampled_from(sorted(MODES)))
def test_random_doubles_match_the_definition(xs: list[float], d: int, mode: str) -> None:
    xs = [x for x in xs if abs(x) * 10**d < 1e14]  # the documented domain of the decimal modes
    if xs:
        assert _bits(engine(xs, d, mode)) == _bits([reference(x, d, mode) for x in xs])


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30), st.integers(0, 10))
def test_r_and_js_everywhere(xs: list[float], d: int) -> None:
    xs = [x for x in xs if abs(x) * 10**d < 2.0**52]
    for mode in ("r", "binary_half_up"):
        if xs:
            assert _bits(engine(xs, d, mode)) == _bits([reference(x, d, mode) for x in xs])


def test_worked_ties_of_the_docs() -> None:
    """The table of docs/rules-language.md §12."""
    rows = {
        "decimal_half_up": [0.01, 0.02, 0.13, 0.58, 2.68, 1.01],
        "decimal_half_even": [0.0, 0.02, 0.12, 0.58, 2.68, 1.0],
        "half_up": [0.01, 0.02, 0.13, 0.58, 2.68, 1.01],
        "binary_half_up": [0.01, 0.02, 0.13, 0.57, 2.68, 1.0],
        "r": [0.0, 0.01, 0.12, 0.58, 2.67, 1.0],
        "floor": [0.0, 0.01, 0.12, 0.57, 2.67, 1.0],
        "ceil": [0.01, 0.02, 0.13, 0.58, 2.68, 1.01],
        "truncate": [0.0, 0.01, 0.12, 0.57, 2.67, 1.0],
    }
    xs = [0.005, 0.015, 0.125, 0.575, 2.675, 1.0049999999999999]
    for mode, want in rows.items():
        assert engine(xs, 2, mode) == want, mode
    assert engine([0.15, 0.25, 0.35, 0.45, 2.5, -2.5], 1, "r")[:3] == [0.1, 0.2, 0.3]  # R 4.0.0 NEWS
    assert engine([2.5, -2.5, 0.5], 0, "r") == [2.0, -2.0, 0.0]
    assert engine([2.5, -2.5, -0.4], 0, "binary_half_up") == [3.0, -2.0, 0.0]  # Math.round: halves toward +∞
    assert engine([0.29, -0.29], 2, "floor") == [0.29, -0.29]  # the decimal, not 28.999999999999996
    assert engine([0.6 * 0.375], 2, "half_up") == [0.23] and engine([0.6 * 0.375], 2, "decimal_half_up") == [0.22]
    assert engine([0.015], 2, "half_even") == engine([0.015], 2, "decimal_half_even") == [0.02]


def test_nulls_and_non_finite_pass_through() -> None:
    out = engine([float("nan"), float("inf"), -float("inf")], 2, "half_up")
    assert math.isnan(out[0]) and out[1:] == [float("inf"), -float("inf")]
    assert pl.select(round_expr(pl.lit(None, dtype=pl.Float64), 2, "r")).item() is None


def test_the_checker_knows_every_mode() -> None:
    from govindex.check.functions import ROUNDING_MODES
    from govindex.eval.rounding import ALIASES

    assert set(ROUNDING_MODES) == set(MODES) | set(ALIASES)


def test_the_docs_table_is_what_the_engine_computes() -> None:
    """Every figure of the table under "Rounding modes" in docs/rules-language.md §12."""
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "rules-language.md").read_text(encoding="utf-8")
    part = doc.split("### Rounding modes", 1)[1].split("\n\n| mode |", 1)[1].split("\n\n", 1)[0]
    lines = [ln for ln in part.splitlines() if ln.startswith("| `")]
    xs = [0.005, 0.015, 0.125, 0.575, 2.675, 1.0049999999999999, 0.29, -0.015, 0.6 * 0.375]
    assert {ln.split("`")[1] for ln in lines} == set(MODES) | {"half_even", "down"}
    for ln in lines:
        cells = [c.strip() for c in ln.replace("\\|", "¦").strip("|").split("|")]
        assert [float(c) for c in cells[2:]] == engine(xs, 2, cells[0].strip("`")), cells[0]


_BIG = st.builds(lambda k, q, s: s * (k + q / 4), st.integers(2**50, 2**53 - 1), st.integers(0, 3), st.sampled_from([1, -1]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(_BIG, st.floats(2.0**52, 1e300), st.floats(allow_nan=False, allow_infinity=False)),
                min_size=1, max_size=30))
def test_r_at_0_digits_rounds_every_size_to_even(xs: list[float]) -> None:
    """R's ``fround`` with ``digits = 0`` is ``rint(x)`` before any size test: ``x.25 → x``,
    ``x.5 → even``, ``x.75 → x + 1`` from 2^50 to 2^53 too (mode ``r`` left them unrounded before)."""
    assert _bits(engine(xs, 0, "r")) == _bits([reference(x, 0, "r") for x in xs])
    assert _bits(engine(xs, 0, "r")) == _bits([float(round(x)) + 0.0 for x in xs])  # Python's round: rint
