"""examples/tiered-index (issue 11, example b): a tiered index rounded at every tier with R's
rounding, graded on two measures with quantile cut-offs, every pillar rated.

The reference below is written from the published definitions, in plain Python, not from the
engine: R's ``round(x, d)`` (``fround`` of R ≥ 4.0's nmath), R's ``quantile(type = 7)``, the
tree as the docs define it (a mean node's children each weigh ``max × w / Σw``; a node rounded on
its own scale is ``v' = round(s / M × S)`` and contributes ``v' × M / S``), ``rank(-x, ties.method
= "min")`` of every node's published value (``ranks: {levels: "all", on: "reported"}``: on its
scale, rounded by ``rounding:``; values tie when equal to 12 significant digits, docs §12) with
published tie labels, and the difference-trend grading of docs §14a. The engine must equal it bit
for bit (``==`` on floats) on every unit, node, rank and grade.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

import govindex.eval.facts
from govindex.check.run import load
from govindex.eval.evaluate import evaluate, score_col
from govindex.results import to_json, wide_table
from tests.conftest import ROOT as REPO

EXAMPLE = REPO / "examples" / "tiered-index"
PILLARS = {"access": (1.0, 2, ("users", "broadband")), "services": (100.0, 1, ("online", "payments")),
           "openness": (100.0, 1, ("datasets", "licences"))}  # scale, digits, indicators
COLUMN = {"users": "users", "broadband": "broadband", "online": "services", "payments": "payments",
          "datasets": "datasets", "licences": "licences"}
M_LOG10_2 = 0.301029995663981195213738894724


# ------------------------------------------------------------------ R, written out


def r_round(x: float, digits: int) -> float:
    """R ≥ 4.0 ``round(x, digits)`` for digits ≥ 1 (nmath/fround.c, ``private_rint`` not needed)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    sgn = -1.0 if x < 0 else 1.0
    x = abs(x)
    if M_LOG10_2 * (0.5 + math.frexp(x)[1] - 1) + digits > 15:  # logb(x) = exponent of x
        return sgn * x
    pow10 = float(10 ** digits)
    x10 = pow10 * x
    i10 = math.floor(x10)
    xd, xu = i10 / pow10, math.ceil(x10) / pow10
    du, dd = xu - x, x - xd
    out = xu if (du < dd or (du == dd and math.fmod(i10, 2.0) == 1)) else xd
    return sgn * out + 0.0


def r_quantile7(xs: list[float], p: float) -> float:
    """R's ``quantile(x, p, type = 7)``: index = 1 + (n − 1)p; x[lo] when it is whole or the
    neighbours are equal, else (1 − h)·x[lo] + h·x[hi]."""
    x = sorted(xs)
    index = 1 + (len(x) - 1) * p
    lo, hi = math.floor(index), math.ceil(index)
    q = x[lo - 1]
    if index > lo and x[hi - 1] != q:
        h = index - lo
        q = (1 - h) * q + h * x[hi - 1]
    return q


def tie_key(v: float, digits: int = 12) -> Decimal:
    """Docs §12 "Ranks": ``repr(v)`` rounded half-even to ``clamp(digits − 1 − e, 0, 22)``
    decimals, ``10^e ≤ |v| < 10^(e+1)`` — ``digits`` significant digits, exactly in decimal."""
    d = Decimal(repr(v))
    if d == 0:
        return Decimal(0)
    return d.quantize(Decimal(1).scaleb(-min(max(digits - 1 - d.adjusted(), 0), 22)), rounding=ROUND_HALF_EVEN)


def rank_min(values: dict[str, float]) -> dict[str, int]:
    """``rank(-x, ties.method = "min")``: 1 + the number of units strictly ahead (by tie key)."""
    keys = {c: tie_key(v) for c, v in values.items()}
    return {c: 1 + sum(1 for w in keys.values() if w > k) for c, k in keys.items()}


def tie_labels(ranks: dict[str, int]) -> dict[str, str]:
    """Published labels: "=3" for a rank shared by several units, "3" otherwise."""
    shared = {r for r in ranks.values() if list(ranks.values()).count(r) > 1}
    return {c: f"={r}" if r in shared else str(r) for c, r in ranks.items()}


# ------------------------------------------------------------------ the index, by hand


def read_example() -> tuple[dict[str, str], dict[str, dict[str, float | None]]]:
    with open(EXAMPLE / "units.csv", encoding="utf-8") as f:
        region = {r["code"]: r["region"] for r in csv.DictReader(f)}
    with open(EXAMPLE / "facts" / "obs.csv", encoding="utf-8") as f:
        obs = {r["unit"]: {k: float(v) if v else None for k, v in r.items() if k not in ("unit", "round")}
               for r in csv.DictReader(f)}
    return region, obs


def reference() -> dict[str, dict[str, float]]:
    """Per unit: ``s:<node>`` (score in the parent's terms), ``v:<node>`` (on its scale)."""
    _, obs = read_example()
    m_pillar = 100.0 * 1.0 / 3.0  # mean of three: each weighs max × 1 / 3
    m_ind = m_pillar * 1.0 / 2.0
    out = {}
    for code, row in obs.items():
        u: dict[str, float] = {}
        rates = {}  # what a parent reads from a rounded child: v′ / S (docs §5 "Means on rates")
        for pillar, (scale, digits, inds) in PILLARS.items():
            for i in inds:
                x = row[COLUMN[i]]
                s = 0.0 if x is None else min(max(x, 0.0), 1.0) * m_ind  # missing: zero
                v = r_round(s / m_ind * 100.0, 2)  # rounded on its 0–100 scale
                u["v:" + i], u["s:" + i] = v, v * m_ind / 100.0
                rates[i] = v / 100.0
            rate = math.fsum(rates[i] for i in inds) / 2  # mean on rates
            v = r_round(rate * m_pillar / m_pillar * scale, digits)
            u["v:" + pillar], u["s:" + pillar] = v, v * m_pillar / scale
            rates[pillar] = v / scale
        total = math.fsum(rates[p] for p in PILLARS) / 3 * 100.0
        u["u:total"], u["s:total"] = total, r_round(total, 1)  # unrounded, and as the method rounds it
        u["v:total"] = u["s:total"]
        out[code] = u
    return out


def reference_grades(ref: dict[str, dict[str, float]]) -> dict[str, dict[str, str]]:
    region, _ = read_example()
    x = {c: u["v:total"] for c, u in ref.items()}
    q75, q25, med = r_quantile7(list(x.values()), 0.75), r_quantile7(list(x.values()), 0.25), r_quantile7(list(x.values()), 0.5)
    med_north = r_quantile7([v for c, v in x.items() if region[c] == "north"], 0.5)
    s = {c: u["v:services"] for c, u in ref.items()}
    s80, s40 = r_quantile7(list(s.values()), 0.8), r_quantile7(list(s.values()), 0.4)
    out: dict[str, dict[str, str]] = {"total": {}, "access": {}, "services": {}}
    for c, u in ref.items():
        out["total"][c] = ("A" if x[c] >= q75 and u["v:access"] >= 2 / 3 else "B" if x[c] >= med
                           else "C" if x[c] >= q25 or x[c] >= med_north else "D")
        a = r_round(u["v:access"], 2)  # value: reported — rounding: {mode: "r", digits: 2}
        out["access"][c] = "high" if a >= 0.7 else "mid" if a >= 0.45 else "low"  # §14a: exact >=
        out["services"][c] = "high" if s[c] >= s80 else "mid" if s[c] >= s40 else "low"
    out["openness"] = difference_trend({c: u["v:openness"] for c, u in ref.items()}, ["high", "mid", "low"],
                                       window=5, min_class=5, floor=1.5)
    return out


def difference_trend(values: dict[str, float], classes: list[str], window: int, min_class: int,
                     floor: float) -> dict[str, str]:
    """Docs §14a: sort high → low; a gap's significance is gap / (mean of the ``window`` gaps on
    each side + ``floor`` × the mean gap); the k − 1 most significant gaps (ties by position)
    break, every class keeping ``min_class`` units (relaxed one by one when impossible); equal
    values are never split."""
    ranked = sorted(values.items(), key=lambda cv: (-cv[1], cv[0]))
    gaps = [ranked[i][1] - ranked[i + 1][1] for i in range(len(ranked) - 1)]
    base = floor * sum(gaps) / len(gaps)
    cand = [i for i, g in enumerate(gaps) if g > 0]  # equal values (the same double) are never split

    def sig(i: int) -> float:
        near = gaps[max(0, i - window): i] + gaps[i + 1: i + 1 + window]
        return gaps[i] / ((sum(near) / len(near) if near else 0.0) + base)

    order = sorted(cand, key=lambda i: (-sig(i), i))
    want = min(len(classes) - 1, len(cand))
    for size in range(min_class, 0, -1):
        chosen: list[int] = []
        for i in order:
            trial = sorted([*chosen, i])
            bounds = [-1, *trial, len(ranked) - 1]
            if all(b - a >= size for a, b in zip(bounds, bounds[1:])):
                chosen = trial
                if len(chosen) == want:
                    break
        if len(chosen) == want:
            break
    out, k = {}, 0
    for i, (c, _) in enumerate(ranked):
        if i - 1 in chosen:
            k += 1
        out[c] = classes[k]
    return out


# ------------------------------------------------------------------ the engine against it


@pytest.fixture(scope="module")
def scored():
    rs = load(EXAMPLE)
    sources = {t: govindex.eval.facts.scan(rs, EXAMPLE / "facts", t) for t in rs.tables}
    return evaluate(rs, sources)


def test_the_facts_are_what_make_facts_writes(tmp_path):
    copy = tmp_path / "ex"
    copy.mkdir()
    (copy / "make_facts.py").write_bytes((EXAMPLE / "make_facts.py").read_bytes())
    subprocess.run([sys.executable, str(copy / "make_facts.py")], check=True)
    for f in ("units.csv", "facts/obs.csv"):
        assert (copy / f).read_bytes() == (EXAMPLE / f).read_bytes(), f


def test_every_unit_and_node_equals_the_reference_bit_for_bit(scored):
    ref = reference()
    rows = {r["code"]: r for r in scored.units.iter_rows(named=True)}
    shown = {r["code"]: r for r in wide_table(scored).iter_rows(named=True)}
    assert set(rows) == set(ref) and len(ref) == 50
    for code, u in ref.items():
        for node in ["total", *PILLARS, *COLUMN]:
            assert rows[code][score_col(node)] == u["s:" + node], (code, node)
            # reported on the node's scale: the rounded value itself (rounding: r, 2 digits leaves it)
            assert shown[code][node] == u["v:" + node], (code, node)
        assert rows[code]["total"] == u["s:total"]


def test_ranks_and_tie_labels_of_every_node(scored):
    """``ranks: {levels: "all", on: "reported"}``: every node ranked on its published value — on
    its scale, rounded by ``rounding: {mode: "r", digits: 2}`` — R's min ties, ``=k`` labels."""
    ref = reference()
    codes = scored.units["code"].to_list()
    for node in ["total", *PILLARS, *COLUMN]:
        ranks = rank_min({c: r_round(u["v:" + node], 2) for c, u in ref.items()})
        assert dict(zip(codes, scored.units[f"k:{node}"].to_list())) == ranks, node
        assert dict(zip(codes, scored.units[f"kl:{node}"].to_list())) == tie_labels(ranks), node
        if node == "total":
            assert dict(zip(codes, scored.units["rank"].to_list())) == ranks


def test_the_rounding_makes_real_ties():
    ref = reference()
    ranks = rank_min({c: u["v:total"] for c, u in ref.items()})
    labels = tie_labels(ranks)
    assert sum(1 for lab in labels.values() if lab.startswith("=")) >= 4  # the data makes real ties
    # A tie the rounding makes: distinct unrounded totals, one published figure, one label.
    made = [(a, b) for a in ref for b in ref if a < b and ref[a]["u:total"] != ref[b]["u:total"]
            and ref[a]["v:total"] == ref[b]["v:total"]]
    assert made and all(labels[a] == labels[b] and labels[a].startswith("=") for a, b in made)
    # … which the unrounded values would have ranked apart.
    unrounded = rank_min({c: u["u:total"] for c, u in ref.items()})
    assert any(unrounded[a] != unrounded[b] for a, b in made)
    # the README's example: 60.033…, 59.966…, 60.033… all published as 60.0, rank =14
    assert {c: labels[c] for c in ("U05", "U29", "U41")} == dict.fromkeys(("U05", "U29", "U41"), "=14")
    assert ref["U29"]["u:total"] < 60 < ref["U05"]["u:total"] and ref["U29"]["v:total"] == 60


def test_every_grade_equals_the_reference(scored):
    want = reference_grades(reference())
    got = {"total": dict(zip(scored.units["code"].to_list(), scored.units["grade"].to_list()))}
    for node in ("access", "services", "openness"):
        got[node] = dict(zip(scored.units["code"].to_list(), scored.units[f"g:{node}"].to_list()))
    assert got == want
    assert len(set(want["total"].values())) == 4  # every class is reached


def test_scores_json_shows_every_grade(scored):
    doc = to_json(scored)
    u = next(x for x in doc["units"] if x["code"] == "U01")
    assert set(u["grades"]) == {"access", "services", "openness"} and u["grade"] in "ABCD"
    assert [g["node"] for g in doc["node_gradings"]] == ["access", "services", "openness"]
    assert doc["grading"]["method"] == "conditions"
