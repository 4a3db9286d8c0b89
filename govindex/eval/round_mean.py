"""The ``mean`` rounds policy (§11): a point's rate over the rounds that have one, exactly.

The rate is :func:`govindex.eval.stats.mean` of the rounds' rates: the double nearest the exact
arithmetic mean (rational arithmetic, one rounding), so it depends neither on the order of the
rounds nor on threads, and is the value the published definition "the mean of the rounds" has
when it is rounded once: the mean of 0.1, 0.2 and 0.3 is 0.2 (a float sum in round order, then a
division, gives 0.20000000000000004). A point with no round with a rate has none (null).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from govindex.eval import stats


def rounds_collected(rate: pl.Expr) -> pl.Expr:
    """The aggregation of a ``mean`` point's rate in the group by unit: its rates as a list."""
    return rate.drop_nulls()


def exact_means(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``df`` with each list column of ``columns`` replaced by the exact mean of its list."""
    if not columns:
        return df
    return df.with_columns([pl.Series(c, [_mean(v) for v in df[c].to_list()], dtype=pl.Float64) for c in columns])


def _mean(values: list[float] | None) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    m = stats.mean(np.asarray(values, dtype=np.float64))
    return None if math.isnan(m) else m
