"""Statistics across units, in plain numpy (no polars): each a written definition.

Only what grading needs is here yet: :func:`quantile` of R's type 7 (the default of R's
``quantile()``). The module is shared — statistics across units used by formulas and gradings
live here and nowhere else.
"""

from __future__ import annotations

import math

import numpy as np

QUANTILE_TYPES = (7,)  # the types :func:`quantile` implements


def quantile(values: np.ndarray, p: float, type: int = 7) -> float:
    """The ``p``-quantile of ``values`` (NaN entries ignored) as R's ``quantile(x, p, type = 7)``
    computes it: with the ``n`` values sorted ``x[1] ≤ … ≤ x[n]``, ``index = 1 + (n − 1)·p``,
    ``lo = ⌊index⌋``, ``hi = ⌈index⌉``, ``h = index − lo``; the quantile is ``x[lo]`` when
    ``h = 0`` or ``x[hi] = x[lo]``, else ``(1 − h)·x[lo] + h·x[hi]`` — that expression, in
    doubles, as R evaluates it. NaN when no value is left; ``p`` must lie in [0, 1]."""
    if type not in QUANTILE_TYPES:
        raise ValueError(f"quantile type {type} is not implemented (types: {QUANTILE_TYPES})")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], not {p}")
    x = np.sort(np.asarray(values, dtype=np.float64)[~np.isnan(np.asarray(values, dtype=np.float64))])
    n = len(x)
    if n == 0:
        return math.nan
    index = 1.0 + (n - 1) * p
    lo, hi = math.floor(index), math.ceil(index)
    q = float(x[lo - 1])
    if index > lo and float(x[hi - 1]) != q:
        h = index - lo
        q = (1.0 - h) * q + h * float(x[hi - 1])
    return q
