"""The vectorised mean of rounds (eval/round_mean.py) equals the exact definition bit for bit.

The reference is the published definition written independently with ``fractions.Fraction``:
the exact rational mean of the values, rounded once to the nearest double (ties to even), which
``Fraction.__float__`` does."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.eval.round_mean import exact_means, fast_means


def reference_mean(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:  # a single value is its own mean, -0.0 included
        return values[0]
    return float(sum(Fraction(v) for v in values) / len(values))


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
tenths = st.integers(0, 100).map(lambda k: k / 10)
sevenths = st.integers(0, 7).map(lambda k: k / 7)
rates = st.one_of(finite, tenths, sevenths, st.floats(0, 1), st.sampled_from([-0.0, 5e-324, 1e-310, 2.0 ** -1021, 1e308]))
rows = st.lists(st.one_of(st.none(), st.lists(rates, max_size=6)), min_size=1, max_size=60)


def _means(lists: list[list[float] | None]) -> list[float | None]:
    df = pl.DataFrame({"r": lists}, schema={"r": pl.List(pl.Float64)})
    return exact_means(df, ["r"])["r"].to_list()


@settings(max_examples=300, deadline=None)
@given(rows)
def test_exact_means_equal_the_definition_bit_for_bit(lists: list[list[float] | None]) -> None:
    got = _means(lists)
    want = [None if v is None else reference_mean(v) for v in lists]
    assert [g if g is None else g.hex() for g in got] == [w if w is None else w.hex() for w in want]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(rates, min_size=1, max_size=5), min_size=1, max_size=40))
def test_fast_means_proven_rows_are_exact(lists: list[list[float]]) -> None:
    width = max(len(v) for v in lists)
    values = np.array([v + [0.0] * (width - len(v)) for v in lists])
    q, proven = fast_means(values, np.array([len(v) for v in lists]))
    for v, m, ok in zip(lists, q, proven, strict=True):
        if ok:
            assert float(m) == reference_mean(v)


def test_ties_and_classic_cases() -> None:
    cases = [[0.1, 0.2, 0.3], [0.1, 0.2], [-0.0], [-0.0, -0.0], [-0.0, -0.0, -0.0],
             [0.1, 0.5, 0.5], [1.0], [0.0], [5e-324], [1e308, 1e308, 1e308],
             [2.675, 0.575, 0.015], [1 / 3, 2 / 3, 1.0, 0.5], [0.0049999999999999, 1.0049999999999999, 0.125]]
    assert _means(cases) == [reference_mean(c) for c in cases]
    assert _means([[0.1, 0.2, 0.3]]) == [0.2]


def test_fast_path_is_taken_on_ordinary_rates() -> None:
    rng = np.random.default_rng(7)
    values = rng.random((5000, 4))
    q, proven = fast_means(values, np.full(5000, 4))
    assert proven.all()
    q3, proven3 = fast_means(values[:, :3], np.full(5000, 3))
    assert proven3.mean() > 0.99
    assert all(float(m) == reference_mean(list(v)) for v, m in zip(values[:200, :3], q3[:200], strict=True))
