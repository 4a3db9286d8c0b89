"""`round:` on an indicator or point: the node's score is rounded as part of the method and its
parent aggregates the rounded value. Checked against a reference computed in plain Python from
the definitions (the rounding references of tests/test_rounding.py), bit for bit, on values built
to fall on the ties of each mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from tests.test_rounding import reference

RULES = """ruleset "tiers" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 20
  missing: zero
  rounding: {mode: "r", digits: 2, at: "output"}
}

table t {
  unit: str
  round: int
  a: float
  b: float
  c: float
}

indicator A "A" {
  max: 10
  round: {digits: 1}

  point pa "a" {
    kind: technical
    max: 5
    probe: max(t, a)
    score: x
  }

  point pb "b" {
    kind: technical
    max: 5
    round: {digits: 2, mode: "decimal_half_up"}
    probe: max(t, b)
    score: x
  }
}

indicator B "B" {
  max: 10
  round: {digits: 0, mode: "floor"}

  point pc "c" {
    kind: technical
    max: 10
    probe: max(t, c)
    score: x
  }
}
"""

# a, b, c per unit: rates whose scores land on the ties (b × 5 = 0.615, 1.005, 2.675 …).
FACTS = {"U1": (0.003, 0.123, 0.25), "U2": (0.01, 0.201, 0.999), "U3": (0.029, 0.535, 0.5),
         "U4": (0.0, 0.0, 0.0), "U5": (0.415, 0.111, 0.05)}


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "units.csv").write_text("code,name\n" + "".join(f"{u},{u}\n" for u in FACTS), encoding="utf-8")
    (d / "index.rules").write_text(RULES, encoding="utf-8")
    return d


def expected(a: float, b: float, c: float) -> dict[str, float]:
    """The method written out: a point scores rate × max (`score: x`, rate = the value), rounded
    where the point says so; an indicator sums its children's (rounded) scores and is rounded by
    its own `round:`; the total sums the indicators."""
    pa = a * 5.0
    pb = reference(b * 5.0, 2, "decimal_half_up")
    ind_a = reference(pa + pb, 1, "r")  # the rule set's mode when the node names none
    pc = c * 10.0
    ind_b = reference(pc, 0, "floor")
    return {"pa": pa, "pb": pb, "A": ind_a, "pc": pc, "B": ind_b, "total": ind_a + ind_b}


def test_rounded_nodes_are_what_their_parents_aggregate(rules: Path) -> None:
    rs = load(rules)
    rows = [{"unit": u, "round": 1, "a": a, "b": b, "c": c} for u, (a, b, c) in FACTS.items()]
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}))
    got = {r["code"]: r for r in sc.units.to_dicts()}
    for unit, (a, b, c) in FACTS.items():
        want = expected(a, b, c)
        have = {k: got[unit][score_col(k) if k != "total" else "total"] for k in want}
        assert have == want, (unit, have, want)  # bit for bit


def test_bad_round_settings_are_located_errors(tmp_path: Path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    text = RULES.replace('round: {digits: 0, mode: "floor"}', 'round: {digits: 1.5, mode: "floor"}')
    text = text.replace("round: {digits: 1}", 'round: {digits: 1, mode: "nearest"}')
    (d / "index.rules").write_text(text, encoding="utf-8")
    rs, diags = check(d)
    errors = [x for x in diags if x.is_error]
    assert rs is None and [(x.code, x.span.line) for x in errors] == [("E207", 19), ("E207", 39)], \
        [x.render() for x in errors]
