"""Cross-unit stages (§9b): denominate → impute → treat → normalise, then the tree aggregates.

On a **point** the stages act on its probe value, per round (over the units of that round):
:func:`point_values` runs denominate, impute and treat before the point's formula, and
:func:`point_rates` replaces the formula's rate by the normalised value. On an **indicator**
:func:`indicator_stages` runs impute, treat and normalise on its aggregated score, over all units
(the tree runs once, after rounds are combined), right after the node's level is computed.

Columns added: ``imp:<node>`` (true where the value was imputed) for nodes that impute,
``tv:<node>`` (the treated value) for nodes that treat. Every statistic is
:mod:`govindex.eval.stats`; the arithmetic of each stage is written in its function.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from govindex.eval import stats
from govindex.eval.compile import ROUND, value_col
from govindex.eval.stage_values import averages_values, groups_of, normalised_rates
from govindex.ir import Impute, Node, Normalise, RuleSet, Stages, Treat

OK, NO_DATA = "ok", "no_data"


def imputed_col(node: str) -> str:
    return f"imp:{node}"


def treated_col(node: str) -> str:
    return f"tv:{node}"


def _floats(df: pl.DataFrame, col: str) -> np.ndarray:
    return df[col].cast(pl.Float64).fill_null(math.nan).to_numpy().copy()


def _nullable(a: np.ndarray) -> pl.Series:
    return pl.Series([None if math.isnan(v) else float(v) for v in a.tolist()], dtype=pl.Float64)



# ------------------------------------------------------------------ points


def point_values(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    """Denominate, impute and treat the probe values ``v:<point>`` of the points that declare
    them, round by round; an imputed value's status becomes ``ok``."""
    points = [p for p in rs.points if p.stages and (p.stages.denominate or p.stages.impute or p.stages.treat)]
    if not points:
        return df
    codes = df["code"].to_list()
    rounds = df[ROUND].to_numpy()
    raw = {p.id: _floats(df, value_col(p.id)) for p in rs.points}  # as probed, before any stage
    cols: list[pl.Series] = []
    for p in points:
        assert p.stages is not None
        v, status = raw[p.id].copy(), np.array(df[f"st:{p.id}"].to_list(), dtype=object)
        if (d := p.stages.denominate) is not None:
            den = raw[d.by] if d.by_point else _numbers(rs, codes, d.by)
            v = _denominate(v, den, d.scale)
            status = np.where((status == OK) & np.isnan(v), NO_DATA, status)
        if (imp := p.stages.impute) is not None:
            v, filled = _impute(rs, imp, v, status == NO_DATA, codes, rounds)
            status = np.where(filled, OK, status)
            cols.append(pl.Series(imputed_col(p.id), filled.tolist(), dtype=pl.Boolean))
        if (t := p.stages.treat) is not None:
            for r in np.unique(rounds):
                at = (rounds == r) & ~np.isnan(v)
                v[at] = treat(v[at], t)
            cols.append(_nullable(v).alias(treated_col(p.id)))
        cols += [_nullable(v).alias(value_col(p.id)), pl.Series(f"st:{p.id}", status.tolist(), dtype=pl.String)]
    return df.with_columns(cols)


def _numbers(rs: RuleSet, codes: list[str], column: str) -> np.ndarray:
    """Each row's unit's value of the numeric registry column (checked: E232); NaN when empty."""
    text = {u.code: u.attrs.get(column, "") for u in rs.units}
    return np.array([float(text[c]) if text.get(c) else math.nan for c in codes])


def _denominate(v: np.ndarray, den: np.ndarray, scale: float) -> np.ndarray:
    """``v / den × scale`` (two roundings, in that order); no data where ``den`` is 0 or missing."""
    out = np.full(len(v), math.nan)
    ok = ~np.isnan(v) & ~np.isnan(den) & (den != 0)
    out[ok] = v[ok] / den[ok] * scale
    return out


def _impute(rs: RuleSet, imp: Impute, v: np.ndarray, missing: np.ndarray, codes: list[str],
            rounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The value of each missing row: the mean/median of its round's values (in its group), the
    latest earlier round with a value of the same unit, or the constant. Returns the values and
    where they were imputed."""
    out = v.copy()
    if imp.method == "constant":
        out[missing] = imp.value
    elif imp.method == "latest":
        order = sorted(range(len(v)), key=lambda i: (codes[i], rounds[i]))
        last: dict[str, float] = {}
        for i in order:
            if missing[i] and codes[i] in last:
                out[i] = last[codes[i]]
            elif not math.isnan(v[i]):
                last[codes[i]] = float(v[i])
    else:
        stat = stats.mean if imp.method == "mean" else stats.median
        groups = groups_of(rs, codes, imp.by)
        for r in np.unique(rounds):
            for g in np.unique(groups):
                at = (rounds == r) & (groups == g)
                out[at & missing] = stat(v[at])  # NaN when the group has no value: stays missing
    filled = missing & ~np.isnan(out)
    return out, filled


# ------------------------------------------------------------------ treatment


def treat(x: np.ndarray, t: Treat) -> np.ndarray:
    """The treated values of one round (every value present)."""
    if t.method == "caps":
        lo, hi = stats.quantile(x, t.lo, t.type), stats.quantile(x, t.hi, t.type)
        capped: np.ndarray = np.minimum(np.maximum(x, lo), hi)
        return capped
    return coinr_treat(x, t)


def _passes(x: np.ndarray, t: Treat) -> bool | None:
    """COINr's ``check_SkewKurt``: ``|skew| < skew_thresh OR kurt < kurt_thresh``; None (R's NA)
    when either cannot be computed (fewer than 4 values, all equal)."""
    sk, kt = stats.skewness(x), stats.kurtosis(x)
    if math.isnan(sk) or math.isnan(kt):
        return None
    return abs(sk) < t.skew or kt < t.kurtosis


def coinr_treat(x: np.ndarray, t: Treat) -> np.ndarray:
    """COINr's ``Treat.numeric`` with ``f1 = winsorise``, ``f2 = log_CT``, ``combine_treat = FALSE``:
    untreated when the check passes (or is NA); else Winsorised; when that still fails, ``log_CT``
    of the ORIGINAL values (``fallback: "none"`` keeps the Winsorised ones)."""
    first = _passes(x, t)
    if first is None or first:
        return x
    won = winsorise(x, t)
    if won is None:
        return x
    after = _passes(won, t)
    if after is None:
        return x
    if after or t.fallback == "none":
        return won
    logged = log_ct(x)
    return x if _passes(logged, t) is None else logged


def winsorise(x: np.ndarray, t: Treat) -> np.ndarray | None:
    """COINr's ``winsorise``: while the check fails and fewer than ``max_points`` points are
    Winsorised, the highest value(s) (skew ≥ 0) or the lowest (skew < 0) — every unit tied at it —
    take the next value inward. The count is COINr's: the size of the last high set plus the
    last low set. None where R would stop on an NA (the values all become equal)."""
    x = x.copy()
    passing = _passes(x, t)
    nwin, imax, imin = 0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    while not passing and nwin < t.max_points:
        if stats.skewness(x) >= 0:
            imax = np.flatnonzero(x == x.max())
            rest = np.delete(x, imax)
            if not len(rest):
                return None
            x[imax] = rest.max()
        else:
            imin = np.flatnonzero(x == x.min())
            rest = np.delete(x, imin)
            if not len(rest):
                return None
            x[imin] = rest.min()
        nwin = len(imax) + len(imin)
        passing = _passes(x, t)
        if passing is None:
            return None
    return x


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr's ``log_CT``: ``ln((x − min) + 0.01·(max − min))``, ln by the C library."""
    lo, hi = float(x.min()), float(x.max())
    shift = 0.01 * (hi - lo)
    return np.array([math.log(v - lo + shift) if v - lo + shift > 0 else math.nan for v in x.tolist()])


# ------------------------------------------------------------------ normalisation


def normalise(x: np.ndarray, spec: Normalise, scale: float) -> np.ndarray:
    """Rates in [0, 1] of one set of values (NaN: no value; kept NaN). ``scale`` is the node's."""
    out = np.full(len(x), math.nan)
    have = ~np.isnan(x)
    if have.any():
        out[have] = np.clip(_NORMALISERS[spec.method](x[have], spec, scale), 0.0, 1.0)
    return out


def _minmax(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        return np.ones(len(x))
    return (x - lo) / (hi - lo) if s.direction == "higher" else (hi - x) / (hi - lo)


def _zscore(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    m, sd = stats.mean(x), stats.sd(x)
    if math.isnan(sd) or sd == 0:
        z = np.zeros(len(x))
    else:
        z = (x - m) / sd if s.direction == "higher" else (m - x) / sd
    return (s.mean + s.sd * z) / scale


def _min_ranks(x: np.ndarray, s: Normalise) -> np.ndarray:
    """R's ``rank(x, ties.method = "min")``, of −x when lower is better."""
    y = x if s.direction == "higher" else -x
    ys = np.sort(y)
    return np.searchsorted(ys, y, side="left").astype(np.float64) + 1


def _rank(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    return _min_ranks(x, s) / len(x)


def _percentile(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    return (_min_ranks(x, s) - 1) / (len(x) - 1) if len(x) > 1 else np.ones(len(x))


def _goalposts(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    return (x - s.worst) / (s.best - s.worst)


def _target(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    if s.direction == "higher":
        lo = float(x.min())
        return np.ones(len(x)) if s.target == lo else (x - lo) / (s.target - lo)
    hi = float(x.max())
    return np.ones(len(x)) if s.target == hi else (hi - x) / (hi - s.target)


def _fraction(x: np.ndarray, s: Normalise, scale: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x / x.max() if s.direction == "higher" else x.min() / x
    return np.where(np.isfinite(r), r, math.nan)


_NORMALISERS: dict[str, Callable[[np.ndarray, Normalise, float], np.ndarray]] = {
    "minmax": _minmax, "zscore": _zscore, "rank": _rank, "percentile": _percentile, "goalposts": _goalposts,
    "target": _target, "fraction": _fraction,
}


def _grouped(rs: RuleSet, codes: list[str], rounds: np.ndarray | None, x: np.ndarray, spec: Normalise,
             scale: float) -> np.ndarray:
    out = np.full(len(x), math.nan)
    groups = groups_of(rs, codes, spec.by)
    keys = np.unique(rounds) if rounds is not None else [None]
    for r in keys:
        for g in np.unique(groups):
            at = (groups == g) if r is None else (groups == g) & (rounds == r)
            out[at] = normalise(x[at], spec, scale)
    return out


def point_rates(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    """``r:<point>`` of each normalised point: its value normalised across the units of its round
    (and group); null where the status is not ``ok``."""
    points = [p for p in rs.points if p.stages and p.stages.normalise and p.stages.normalise.keep == "rate"]
    if not points:
        return df
    codes, rounds = df["code"].to_list(), df[ROUND].to_numpy()
    cols = []
    for p in points:
        assert p.stages is not None and p.stages.normalise is not None
        x = _floats(df, value_col(p.id))
        x[np.array(df[f"st:{p.id}"].to_list(), dtype=object) != OK] = math.nan
        cols.append(_nullable(_grouped(rs, codes, rounds, x, p.stages.normalise, p.scale)).alias(f"r:{p.id}"))
    return df.with_columns(cols)


def unit_flags(rs: RuleSet, per_round: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """``imp:``/``tv:`` of the points in the units frame: imputed in any round; the treated value
    of the latest round that has one."""
    aggs = []
    for p in rs.points:
        if imputed_col(p.id) in per_round.columns:
            aggs.append(pl.col(imputed_col(p.id)).any().alias(imputed_col(p.id)))
        if treated_col(p.id) in per_round.columns:
            aggs.append(pl.col(treated_col(p.id)).sort_by(ROUND).drop_nulls().last().alias(treated_col(p.id)))
    if not aggs:
        return units
    flags = per_round.group_by("code").agg(aggs)
    return units.join(flags, on="code", how="left", maintain_order="left")


# ------------------------------------------------------------------ indicators


def indicator_stages(rs: RuleSet, df: pl.DataFrame, nodes: list[Node]) -> pl.DataFrame:
    """Impute, treat and normalise the scores ``s:<indicator>`` of ``nodes`` (one level of the
    tree) across all units. A normalised indicator's score is its rate × its maximum; an imputed
    or treated one keeps its value, clipped to [0, max]."""
    todo = [x for x in nodes if x.stages is not None]
    if not todo:
        return df
    codes = df["code"].to_list()
    cols: list[pl.Series] = []
    for node in todo:
        assert node.stages is not None
        s = _floats(df, f"s:{node.id}")
        if (imp := node.stages.impute) is not None:
            s, filled = _impute(rs, imp, s, np.isnan(s), codes, np.zeros(len(s), dtype=np.int64))
            cols.append(pl.Series(imputed_col(node.id), filled.tolist(), dtype=pl.Boolean))
        if (t := node.stages.treat) is not None:
            have = ~np.isnan(s)
            s[have] = treat(s[have], t)
            cols.append(_nullable(s.copy()).alias(treated_col(node.id)))
        if node.stages.normalise is not None and averages_values(rs, node):  # the mean of values → a rate
            rates = _grouped(rs, codes, None, s, node.stages.normalise, node.scale)
            cols.append(normalised_rates(rs, node, rates))
            s = rates * node.max
        elif node.stages.normalise is not None:
            s = _grouped(rs, codes, None, s, node.stages.normalise, node.scale) * node.max
        else:
            s = np.clip(s, 0.0, node.max)
        cols.append(_nullable(s).alias(f"s:{node.id}"))
    return df.with_columns(cols)


def describe(st: Stages) -> str:
    """The stages in their order, as ``explain`` shows them."""
    parts = []
    if (d := st.denominate) is not None:
        parts.append(f"denominate by {d.by}" + (f" × {d.scale:g}" if d.scale != 1 else ""))
    if (i := st.impute) is not None:
        parts.append(f"impute {i.method}" + (f" by {i.by}" if i.by else "")
                     + (f" {i.value:g}" if i.method == "constant" else ""))
    if (t := st.treat) is not None:
        parts.append(f"treat caps q{t.lo:g}–q{t.hi:g} (type {t.type})" if t.method == "caps" else
                     f"treat winsorise (|skew| < {t.skew:g} or kurtosis < {t.kurtosis:g}, ≤ {t.max_points} points, "
                     f"fallback {t.fallback})")
    if (nm := st.normalise) is not None:
        parts.append(f"normalise {nm.method} ({nm.direction} is better" + (f", by {nm.by}" if nm.by else "")
                     + (", kept as a value" if nm.keep == "value" else "") + ")")
    return " → ".join(parts)
