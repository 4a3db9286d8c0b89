"""Summaries across units: a node's score over all units (or per group of units) published as a
result of its own — e.g. an open-data index's dataset score, the mean over places of that
dataset's entry scores.

Definitions, for each node of a summary and each group (all units when there is no ``by:``):

- the values are the node's scores **on its scale** (what every output shows), unrounded, of the
  units of the group that have a score; a unit whose score is null (no data under ``exclude`` or
  ``null``) is left out and counted in ``missing`` — it is neither a zero nor imputed;
- ``mean`` = the double nearest the exact mean of the values (one rounding, whatever the order of
  the units: :func:`govindex.eval.stats.mean`, the mean of every statistic across units);
  ``sum`` = the correctly rounded sum (``math.fsum``); ``min``/``max`` the least/greatest value;
  ``count`` = ``n``;
- with no value at all (``n`` = 0) the summary is null (``count``: 0).

Groups are the values of the unit attribute ``by:``, in sorted order (an empty value is a group
of its own, shown as null).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from govindex.eval import stats
from govindex.eval.node_values import val_col
from govindex.ir import RuleSet, Summary

SCHEMA = {"summary": pl.String, "aggregate": pl.String, "by": pl.String, "group": pl.String, "node": pl.String,
          "label": pl.String, "value": pl.Float64, "units": pl.Int64, "missing": pl.Int64}

_AGG: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": lambda v: stats.mean(np.asarray(v, dtype=np.float64)),
    "sum": math.fsum,
    "min": min,
    "max": max,
    "count": lambda v: float(len(v)),
}


def summarise(rs: RuleSet, units: pl.DataFrame) -> pl.DataFrame:
    """Every summary of ``rs`` over the scored ``units`` frame (``s:<node>`` columns), one row per
    summary × node × group, in declared order."""
    rows: list[dict[str, object]] = []
    for s in rs.summaries:
        rows += _rows(rs, s, units)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _rows(rs: RuleSet, s: Summary, units: pl.DataFrame) -> list[dict[str, object]]:
    groups: list[str | None] = [None]
    if s.by is not None:
        keys = {v or "" for v in units[s.by].to_list()}
        groups = [g or None for g in sorted(keys)]
    out: list[dict[str, object]] = []
    for ident in s.nodes:
        x = rs.nodes[ident]
        scores = units[val_col(ident)].to_list()  # as published (eval/node_values.py)
        members = units[s.by].to_list() if s.by is not None else [None] * len(scores)
        for g in groups:
            picked = [v for v, m in zip(scores, members) if (m or None) == g]
            vals = [v for v in picked if v is not None]
            value = _AGG[s.aggregate](vals) if vals else (0.0 if s.aggregate == "count" else None)
            out.append({"summary": s.id, "aggregate": s.aggregate, "by": s.by, "group": g, "node": ident,
                        "label": x.label, "value": value, "units": len(vals), "missing": len(picked) - len(vals)})
    return out
