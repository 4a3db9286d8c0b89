"""The ``mean`` rounds policy (§11): a point's rate over the rounds that have one, exactly.

The rate is the double nearest the exact arithmetic mean of the rounds' rates — the definition
of :func:`govindex.eval.stats.mean` (``units_mean``): the rates summed as rational numbers,
divided by their count, rounded once (to nearest, ties to even). It depends neither on the order
of the rounds nor on threads: the mean of 0.1, 0.2 and 0.3 is 0.2, where a float sum in round
order, then a division, gives 0.20000000000000004. A point with no round with a rate has none.

:func:`exact_mean` is the definition for one list (Python integers). :func:`exact_means` computes
the same doubles for whole columns at once in numpy and calls :func:`exact_mean` only on the rows
it cannot prove; :func:`fast_means` is that proof, stated on its docstring.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from govindex.eval.exact import fsum_rows


def rounds_collected(rate: pl.Expr) -> pl.Expr:
    """The aggregation of a ``mean`` point's rate in the group by unit: its rates as a list."""
    return rate.drop_nulls()


def exact_means(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``df`` with each list column of ``columns`` replaced by the exact mean of its list."""
    if not columns or df.height == 0:
        return df.with_columns([pl.Series(c, [exact_mean(v) for v in df[c].to_list()], dtype=pl.Float64)
                                for c in columns])
    width = max(int(df[c].list.len().fill_null(0).to_numpy().max()) for c in columns)
    blocks = [_padded(df[c], width) for c in columns]
    values = np.concatenate([b for b, _ in blocks]) if width else np.zeros((df.height * len(columns), 0))
    counts = np.concatenate([n for _, n in blocks])
    means, proven = fast_means(values, counts)
    for r in np.flatnonzero(~proven & (counts > 0)):  # near a tie, subnormal or huge: the definition itself
        c, row = divmod(int(r), df.height)
        means[r] = exact_mean(df[columns[c]][row])
    means[counts == 0] = np.nan
    out = []
    for i, name in enumerate(columns):
        m = pl.Series(name, means[i * df.height:(i + 1) * df.height], dtype=pl.Float64)
        out.append(m.fill_nan(None))
    return df.with_columns(out)


def _padded(col: pl.Series, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A list column as ``rows × width`` floats padded with 0, and each row's length (0 if null)."""
    counts = col.list.len().fill_null(0).to_numpy().astype(np.int64)
    frame = pl.DataFrame([col.list.get(j, null_on_oob=True).cast(pl.Float64).fill_null(0.0).alias(str(j))
                          for j in range(width)])
    return (frame.to_numpy() if width else np.zeros((len(col), 0))), counts


def fast_means(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate means of each row's first ``counts`` values (the rest are 0) and where each is proven
    the double nearest the exact mean μ = S / n (S the exact sum of the row, n its count).

    The candidate is q = fl(s / n) with s = fsum(row), the correctly rounded S, or when that is
    not proven by the second bullet below, its neighbour towards μ. The proof does not trust q:
    R′ = fsum(row, −q repeated n times) is the correctly rounded value of R = S − n·q,
    the exact distance n·(μ − q) (every term is a double, fsum rounds their exact sum once).
    Let g be the gap from q to its neighbour on R's side (``nextafter``) and h = n·g/2, a double
    exactly (g/2 a power of two, n a small integer; h is required finite and non-zero).

    * R′ = 0 ⇒ R = 0 (R is a sum of doubles, a multiple of 2⁻¹⁰⁷⁴, so R ≠ 0 ⇒ |R| ≥ 2⁻¹⁰⁷⁴, which
      rounds to a non-zero double): μ = q.
    * 0 < |R′| < h ⇒ |R| < h: were |R| ≥ h, rounding being monotone and h a double, |R′| ≥ h.
      So |μ − q| < g/2 with μ on the side of that neighbour: μ is strictly nearer q than any other
      double, i.e. q is μ rounded to nearest.
    * n a power of two 2ᵏ and |q| ≥ 2⁻¹⁰²¹: s = q·n exactly, and dividing by 2ᵏ maps the doubles
      around S one-to-one onto the doubles around μ (the same significands, none subnormal), so
      it maps their midpoints onto midpoints and the even one onto the even one: q = fl(S)/2ᵏ is
      μ rounded to nearest, ties to even included (the mean of 0.1 and 0.2, whose exact sum is a
      tie, is here).

    Every other row (|R′| ≥ h for n not a power of two: a tie or near-tie, where s/n may be the
    other neighbour; a count of 0; non-finite values or q; tiny values) is reported unproven, for
    the exact path."""
    n = counts.astype(np.float64)
    take = np.arange(values.shape[1])[None, :] < counts[:, None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        # One IEEE addition is correctly rounded: two terms need no fsum. `+ 0.0` makes a zero mean
        # +0.0 as the integer quotient of exact_mean is; a single value is its own mean, as it stands.
        s = values.sum(axis=1) if values.shape[1] <= 2 else fsum_rows(values)
        q = np.where(counts == 1, values[:, 0] if values.shape[1] else 0.0, s / n + 0.0)
        finite = (counts > 0) & np.isfinite(values).all(axis=1) & np.isfinite(q)
        binary = ((counts & (counts - 1)) == 0) & (np.abs(q) >= 2.0 ** -1021)
        proven = finite & binary
        for _ in range(2):  # s/n, then its neighbour towards μ (s/n is off by one when s was)
            rows = np.flatnonzero(finite & ~proven)
            residual = fsum_rows(np.concatenate([values[rows], np.where(take[rows], -q[rows, None], 0.0)], axis=1))
            toward = np.nextafter(q[rows], np.where(residual > 0, np.inf, -np.inf))
            half_gap = np.abs(toward - q[rows]) / 2.0
            h = n[rows] * half_gap
            proven[rows] = (residual == 0.0) | (np.isfinite(h) & (half_gap > 0) & (np.abs(residual) < h))
            q[rows] = np.where(proven[rows], q[rows], toward)
    return q, proven


def exact_mean(values: list[float] | pl.Series | None) -> float | None:
    """The double nearest the exact mean of finite ``values``; None without values.

    A double is ``m / 2^k`` exactly (``float.as_integer_ratio``), so the values are brought to
    their largest denominator ``2^K`` and summed as integers; the mean is the integer quotient
    ``N / (n · 2^K)``, which Python's ``int / int`` rounds correctly (once, to nearest, ties to
    even) — the value ``stats.mean`` computes with ``Fraction``."""
    if values is None or len(values) == 0:
        return None
    if len(values) == 1:
        return float(values[0])
    ratios = [float(v).as_integer_ratio() for v in values]
    den = max(d for _, d in ratios)  # every denominator is a power of two, so each divides this one
    return sum(n * (den // d) for n, d in ratios) / (den * len(values))
