"""Exact, order-independent tree sums (issue 11, item 3).

- :func:`govindex.eval.exact.fsum_rows` is ``math.fsum`` row by row, bit for bit, on random and
  constructed rows (cancellation, near-half cases, signed zeros);
- the tree's sums are the correctly rounded exact sums, whatever the children's order: rule sets
  built with their children permuted give the same scores bit for bit on every unit and node, and
  equal a reference written from the definitions with ``math.fsum``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.exact import fsum_rows
from govindex.eval.facts import frames_from_rows
from govindex.ir import ROOT

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9).flatmap(lambda k: st.lists(st.lists(finite, min_size=k, max_size=k), min_size=1, max_size=6)))
def test_fsum_rows_is_math_fsum(rows: list[list[float]]) -> None:
    got = fsum_rows(np.array(rows))
    for row, g in zip(rows, got):
        want = math.fsum(row)
        assert g == want and math.copysign(1.0, g) == math.copysign(1.0, want), (row, g, want)


def test_fsum_rows_constructed_cases() -> None:
    rows = [[1e16, 1.0, -1e16, 0.0], [0.1, 0.2, 0.3, 0.0], [1.0, 1e-16, 1e-16, 0.0],
            [1.0, 2.0 ** -53, 2.0 ** -106, 0.0], [1.0, -(2.0 ** -53), -(2.0 ** -106), 0.0],
            [-0.0, -0.0, -0.0, -0.0], [0.0, 0.0, 0.0, 0.0],
            [875 / 13 / 3, 875 / 13 / 3, 875 / 13 / 3, 0.0]]
    got = fsum_rows(np.array(rows))
    assert [g for g in got] == [math.fsum(r) for r in rows]
    assert got[1] == 0.6 and got[2] == 1.0000000000000002  # exact sums, not 0.6000000000000001 / 1.0


# ------------------------------------------------------------------ the tree, permuted

HEAD = """ruleset "perm" {{
  units: "units.csv"
  rounds: {{1: "2024-01-01"}}
  max_total: {total}
  missing: exclude
}}

table t {{
  unit: str
  round: int
{columns}
}}
"""

SUM_MAXIMA = [0.1, 0.2, 0.3, 1.7, 2.9, 0.7]  # S = 5.9
WEIGHTS = [1.0, 2.0, 3.0, 1.0, 7.0]
MAXIMA = {"S": 5.9, "W": 10.0, "G": 7.0}


def _point(pid: str, setting: str) -> str:
    return (f'  point {pid} "{pid}" {{\n    kind: technical\n    {setting}\n'
            f"    probe: max(t, {pid})\n    score: x\n  }}\n")


def _rules(order: random.Random | None) -> str:
    s = [(f"s{i}", f"max: {m}") for i, m in enumerate(SUM_MAXIMA)]
    w = [(f"w{i}", f"weight: {x}") for i, x in enumerate(WEIGHTS)]
    g = [(f"g{i}", f"weight: {x}") for i, x in enumerate(WEIGHTS)]
    blocks = [("S", "", s), ("W", "  aggregate: wmean\n", w), ("G", "  aggregate: geomean\n", g)]
    if order is not None:
        order.shuffle(blocks)
        for _, _, kids in blocks:
            order.shuffle(kids)
    out = [HEAD.format(total=sum(MAXIMA.values()),
                       columns="\n".join(f"  {p}: float" for _, _, kids in blocks for p, _ in kids))]
    for ident, agg, kids in blocks:
        out.append(f'indicator {ident} "{ident}" {{\n  max: {MAXIMA[ident]}\n{agg}'
                   + "".join(_point(p, st_) for p, st_ in kids) + "}\n")
    return "\n".join(out)


def _score(rules: str, tmp: Path, facts: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    tmp.mkdir()
    (tmp / "units.csv").write_text("code,name\n" + "".join(f"{u},{u}\n" for u in facts), encoding="utf-8")
    (tmp / "index.rules").write_text(rules, encoding="utf-8")
    rs = load(tmp)
    rows = [{"unit": u, "round": 1, **vals} for u, vals in facts.items()]
    units = evaluate(rs, frames_from_rows(rs, {"t": rows})).units
    return {r["code"]: {x: r[score_col(x)] for x in rs.nodes} for r in units.to_dicts()}, rs  # type: ignore[return-value]


def _reference(rs, values: dict[str, float | None]) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    """The definitions: a point scores value × max (missing: excluded); a node sums exactly
    (``math.fsum``) the scores of the children present, or, with one missing, rescales by
    (Σ scores × Σ all maxima) / Σ maxima present, capped at its max; a weighted mean is defined on
    the rates, fsum(wᵢ·rᵢ) / fsum(wᵢ) over the children present, × its max (docs §5); a geometric
    mean is exp(Σ log(score/max)·max / Σ max) × its max over the children present."""
    out: dict[str, float | None] = {}
    for p in rs.points:
        v = values[p.id]
        out[p.id] = None if v is None else v * p.max
    for ident in [ROOT if False else x for x in ("S", "W", "G")] + [ROOT]:
        node = rs.nodes[ident]
        kids = [rs.nodes[c] for c in node.children]
        present = [(out[k.id], k.max) for k in kids if out[k.id] is not None]
        if ident == ROOT and len(present) < len(kids):  # an indicator's null propagates (missing: null)
            out[ident] = None
            continue
        den, total_max = math.fsum(m for _, m in present), math.fsum(k.max for k in kids)
        if den <= 0:
            out[ident] = None
        elif node.aggregate == "wmean":
            rated = [(values[k.id], k.weight) for k in kids if values[k.id] is not None]
            out[ident] = math.fsum(r * w for r, w in rated) / math.fsum(w for _, w in rated) * node.max
        elif node.aggregate == "geomean":
            out[ident] = math.exp(math.fsum(math.log(s / m) * m for s, m in present) / den) * node.max
        else:
            num = math.fsum(s for s, _ in present)
            out[ident] = min(num if den == total_max else num * total_max / den, node.max)
    return out


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_tree_sums_are_exact_and_do_not_depend_on_child_order(tmp_path_factory, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    points = [f"s{i}" for i in range(len(SUM_MAXIMA))] + [f"{k}{i}" for k in "wg" for i in range(len(WEIGHTS))]

    def value() -> float | None:
        r = rng.random()
        return None if r < 0.1 else rng.choice([0.1, 0.3, 0.7, 1 / 3, 2 / 3, 1.0]) if r < 0.4 else rng.uniform(1e-6, 1)

    facts = {f"U{i}": {p: value() for p in points} for i in range(8)}
    base, rs = _score(_rules(None), tmp_path_factory.mktemp("a") / "r", facts)
    permuted, _ = _score(_rules(random.Random(seed ^ 1)), tmp_path_factory.mktemp("b") / "r", facts)
    assert permuted == base  # bit for bit, every unit and node
    for unit, vals in facts.items():
        assert base[unit] == _reference(rs, vals), unit
