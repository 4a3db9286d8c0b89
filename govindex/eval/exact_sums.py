"""The tree's sums as columns: each node's terms summed exactly per row (:mod:`govindex.eval.exact`).

A node's sums (its children's scores, the maxima of those present, a geometric mean's weighted
logs) are computed as polars expressions term by term, collected as one numpy block per level
and summed row by row by :func:`govindex.eval.exact.fsum_rows` — the correctly rounded exact sum,
whatever the children's order — then joined back as ``__sum:<node>:<what>`` columns that the
node's expression reads. Division by a constant is one IEEE division (:func:`govindex.eval.exact.div`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from govindex.eval.exact import fsum_rows

SUM_PREFIX = "__sum:"


def sum_col(node: str, what: str) -> str:
    """The column holding sum ``what`` (``num``, ``den``, ``logs``) of ``node``."""
    return f"{SUM_PREFIX}{node}:{what}"



def with_exact_sums(df: pl.DataFrame, sums: dict[str, list[pl.Expr]]) -> pl.DataFrame:
    """``df`` with a column per entry of ``sums``: the exact sum (correctly rounded) of its terms,
    row by row. Terms are floats without nulls."""
    if not sums:
        return df
    block = df.select([t.cast(pl.Float64).alias(f"{c}#{i}") for c, terms in sums.items()
                       for i, t in enumerate(terms)])
    arr = block.to_numpy() if block.width else np.zeros((df.height, 0))
    cols, at = [], 0
    for c, terms in sums.items():
        cols.append(pl.Series(c, fsum_rows(arr[:, at:at + len(terms)]), dtype=pl.Float64))
        at += len(terms)
    return df.with_columns(cols)
