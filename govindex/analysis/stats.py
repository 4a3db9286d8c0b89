"""The numbers behind ``analyze``: standard deviations (population or sample), group means, strict
comparisons with a tolerance, rounding as published, and a deterministic k-means (k-means++
initialisation, fixed seed).

Everything here takes numpy arrays of unrounded scores and returns plain Python numbers, so the
callers can put the results straight into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Literal

import numpy as np

# Two scores closer than this (relative to their size) count as equal: a mean of equal scores
# can differ from each of them in the last bit, and "above the mean" must not see that.
TOLERANCE = 1e-9


SdKind = Literal["population", "sample"]
SD_KINDS: tuple[SdKind, ...] = ("population", "sample")


def sd(values: np.ndarray, kind: SdKind = "population") -> float | None:
    """Standard deviation: ``population`` divides by n, ``sample`` by n − 1.

    None for no values, and for a sample SD of one value (it has no n − 1).
    """
    ddof = 0 if kind == "population" else 1
    return float(np.std(values, ddof=ddof)) if len(values) > ddof else None


def psd(values: np.ndarray) -> float | None:
    """Population standard deviation (divide by n, not n − 1); None for no values."""
    return sd(values, "population")


def mean(values: np.ndarray) -> float | None:
    """Arithmetic mean; None for no values."""
    return float(np.mean(values)) if len(values) else None


def above(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values > threshold``, where a difference within the tolerance counts as equal."""
    return values > threshold + TOLERANCE * max(1.0, abs(threshold))


def is_zero(values: np.ndarray) -> np.ndarray:
    """Scores of exactly 0 (up to float noise of sums)."""
    return np.abs(values) <= TOLERANCE


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, or None when either is missing or the denominator is 0."""
    if num is None or den is None or abs(den) <= TOLERANCE:
        return None
    return num / den


@dataclass(frozen=True, slots=True)
class Group:
    """One value of a unit attribute (a province, a region): its units' count, mean and SD."""

    name: str
    n: int
    mean: float
    sd: float | None  # None: a sample SD of one unit


def groups(values: np.ndarray, keys: list[str], order: list[str], kind: SdKind = "population") -> list[Group]:
    """Mean and SD of ``values`` per key, in ``order`` (keys absent from it are skipped)."""
    arr = np.asarray(keys, dtype=object)
    out = []
    for k in order:
        v = values[arr == k]
        if len(v):
            out.append(Group(k, len(v), float(np.mean(v)), sd(v, kind)))
    return out


# --- rounding: once, from the exact value ----------------------------------------------------

_EXACT = Context(prec=400)  # enough digits for any finite double's rounded value: quantize never rounds twice


def rounded(v: float, digits: int) -> Decimal:
    """``v`` rounded half up (away from zero) at ``digits`` decimals, from the exact binary value.

    ``Decimal(v)`` is the double's exact value (2.67499999999999982236431605997495353221893310546875
    for the literal 2.675, so 2.67), and a figure is rounded once, from what was computed, never
    from an already rounded copy: 0.5764496 gives 0.5764, not 0.5765 via 0.576450. A double can sit
    exactly halfway (0.125 at 2 decimals, 2.5 at 0): half up takes it away from zero (0.13, 3),
    where Python's ``f"{x:.2f}"`` and ``round`` take the even neighbour (0.12, 2).
    """
    return Decimal(v).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_EXACT)


def half_up(v: float, digits: int) -> float:
    """:func:`rounded` as a float (the nearest double to the rounded decimal)."""
    return float(rounded(v, digits)) + 0.0


@dataclass(frozen=True, slots=True)
class Published:
    """What a derived figure is computed from: the exact value (``digits`` None, the default), or
    the value as published, rounded half up at ``digits`` decimals (``analyze --from-published``).

    A score, mean or SD is published at ``digits`` decimals; a rate or share (a fraction, printed
    as a percentage) at ``digits`` decimals of its percentage (``digits + 2`` of the fraction).
    """

    digits: int | None = None

    def value(self, v: float | None) -> float | None:
        """A score, mean or SD as published."""
        return v if v is None or self.digits is None else half_up(v, self.digits)

    def fraction(self, v: float | None) -> float | None:
        """A rate or share as published (its percentage at ``digits`` decimals)."""
        return v if v is None or self.digits is None else half_up(v, self.digits + 2)


# --- k-means ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KMeans:
    labels: np.ndarray  # cluster index per row, 0 … k−1
    centers: np.ndarray  # k × features
    inertia: float  # sum of squared distances to the assigned centres


def _sqdist(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    # Explicit differences rather than a BLAS dot product: the same bits on every machine.
    return ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = _sqdist(x, np.array(centers)).min(axis=1)
        total = d2.sum()
        i = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centers.append(x[i])
    return np.array(centers, dtype=float)


def _lloyd(x: np.ndarray, centers: np.ndarray, max_iter: int) -> KMeans:
    labels = np.full(len(x), -1)
    for _ in range(max_iter):
        d2 = _sqdist(x, centers)
        new = d2.argmin(axis=1)  # ties go to the lower cluster index
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(len(centers)):
            members = x[labels == j]
            if len(members):
                centers[j] = members.mean(axis=0)
            else:  # an empty cluster takes the row farthest from its centre
                far = int(d2[np.arange(len(x)), labels].argmax())
                centers[j], labels[far] = x[far], j
    d2 = _sqdist(x, centers)
    return KMeans(labels, centers, float(d2[np.arange(len(x)), labels].sum()))


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 10, max_iter: int = 300) -> KMeans:
    """Cluster the rows of ``x`` into ``k`` groups: the best (least inertia) of ``n_init`` runs of
    Lloyd's algorithm from k-means++ starts drawn with ``numpy.random.default_rng(seed)``.

    Deterministic for a given input, ``k`` and ``seed``. ``k`` is clamped to the number of rows.
    """
    x = np.asarray(x, dtype=float)
    k = max(1, min(k, len(x)))
    rng = np.random.default_rng(seed)
    best: KMeans | None = None
    for _ in range(n_init):
        run = _lloyd(x, _plus_plus(x, k, rng), max_iter)
        if best is None or run.inertia < best.inertia - TOLERANCE:
            best = run
    assert best is not None
    return best
