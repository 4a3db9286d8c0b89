"""Values kept between stages (docs §9b "Values between stages").

A point with ``normalise: {method: "zscore", keep: "value"}`` is scored by its **z-score**, not a
rate: across the units of each round (and group, ``by:``) with a value,

    z = (x − m) / sd        (lower is better: (m − x) / sd)

as R computes ``(x - mean(x)) / sd(x)``: ``m`` R's ``mean`` (:func:`govindex.eval.stats.r_mean`),
``sd`` R's ``sd``, the sample SD with n − 1 (:func:`govindex.eval.stats.sd`); one subtraction and
one division in doubles, never clipped. When ``sd`` is 0 or undefined (one unit) every z is 0.

Columns: ``val:<point>`` the z (per round, then rounds combined as a rate is), ``s:<point>`` the
same value (so the missing-data policies see it), ``r:<point>`` null — it has no rate. Its parent
(checked: :mod:`govindex.check.stage_values`) averages the values exactly —
``exactsum(wᵢ·zᵢ) / exactsum(wᵢ)`` (:mod:`govindex.eval.node_rates`) — into ``s:<parent>``, and
its ``normalise:`` makes the parent's rate from that mean (:func:`normalised_rates`).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from govindex.eval import stats
from govindex.eval.compile import ROUND, value_col
from govindex.ir import Node, Normalise, RuleSet, keeps_value

OK = "ok"


def val_col(node: str) -> str:
    return f"val:{node}"


def value_points(rs: RuleSet) -> list[Node]:
    """The points that keep a value."""
    return [p for p in rs.points if keeps_value(p)]


def averages_values(rs: RuleSet, x: Node) -> bool:
    """Whether indicator ``x`` averages values (its children that count keep values)."""
    return not x.is_point and any(keeps_value(rs.nodes[k]) for k in x.children if k in rs.nodes)


def z_scores(x: np.ndarray, spec: Normalise) -> np.ndarray:
    """The z-scores of one set of values, every one present (see the module docstring)."""
    m, sd = stats.r_mean(x), stats.sd(x)
    if math.isnan(sd) or sd == 0:
        return np.zeros(len(x))
    return (x - m) / sd if spec.direction == "higher" else (m - x) / sd


def groups_of(rs: RuleSet, codes: list[str], by: str | None) -> np.ndarray:
    """Each row's group (an index): its unit's value of registry column ``by``, groups in sorted
    order (all one group without ``by``). Shared with :mod:`govindex.eval.stages`, which imports
    this module."""
    if by is None:
        return np.zeros(len(codes), dtype=np.int64)
    attrs = {u.code: u.attrs.get(by, "") for u in rs.units}
    keys = [attrs.get(c, "") for c in codes]
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([index[k] for k in keys], dtype=np.int64)


def point_zvalues(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    """``val:<point>`` (the z, per round and group, where the status is ok) and a null ``r:<point>``
    for every point that keeps a value."""
    points = value_points(rs)
    if not points:
        return df
    codes, rounds = df["code"].to_list(), df[ROUND].to_numpy()
    cols: list[pl.Series | pl.Expr] = []
    for p in points:
        assert p.stages is not None and p.stages.normalise is not None
        x = df[value_col(p.id)].cast(pl.Float64).fill_null(math.nan).to_numpy().copy()
        x[np.array(df[f"st:{p.id}"].to_list(), dtype=object) != OK] = math.nan
        z, groups = np.full(len(x), math.nan), groups_of(rs, codes, p.stages.normalise.by)
        for r in np.unique(rounds):
            for g in np.unique(groups):
                at = (rounds == r) & (groups == g) & ~np.isnan(x)
                if at.any():
                    z[at] = z_scores(x[at], p.stages.normalise)
        cols.append(pl.Series(val_col(p.id), [None if math.isnan(v) else float(v) for v in z.tolist()],
                              dtype=pl.Float64))
        cols.append(pl.lit(None, pl.Float64).alias(f"r:{p.id}"))
    return df.with_columns(cols)


def normalised_rates(rs: RuleSet, x: Node, rates: np.ndarray) -> pl.Series:
    """``r:<x>`` of an indicator that averages values: its ``normalise:`` rates themselves (the
    score is rate × max; the rate is never recovered from it by a division)."""
    return pl.Series(f"r:{x.id}", [None if math.isnan(v) else float(v) for v in rates.tolist()], dtype=pl.Float64)
