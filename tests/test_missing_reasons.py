"""Missing data by reason (issue 11, item 6): statuses ``not_applicable`` and ``error`` declared
by conditions on the facts, a policy per reason, the rule set's defaults for points and for
indicators, ``weight: 0``, gates, ``why:<node>``, the null-propagating ``strict_*`` forms, and
the exact ``lognormal``. Each checked against a reference written from the definitions in
docs/rules-language.md §10, bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check, load
from govindex.eval import curves
from govindex.eval.evaluate import evaluate
from govindex.eval.facts import frames_from_rows
from govindex.ir import RuleSet

RULES = """ruleset "reasons" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 30
  missing: {no_data: zero, not_applicable: exclude, error: null}
  missing_indicators: exclude
}

table t {
  unit: str
  round: int
  item: str
  v: float
  na: bool
  bad: bool
}

indicator A "a sum" {
  max: 10

  point a1 "a1" {
    kind: technical
    max: 4
    probe: max(t, v, where: item == "a1")
    score: x
    not_applicable: any(t, where: item == "a1" and na)
    error: any(t, where: item == "a1" and bad)
  }

  point a2 "a2" {
    kind: technical
    max: 6
    missing: {error: zero}
    probe: max(t, v, where: item == "a2")
    score: x
    not_applicable: any(t, where: item == "a2" and na)
    error: any(t, where: item == "a2" and bad)
  }
}

indicator B "a weighted average" {
  max: 10
  aggregate: wavg

  point b1 "b1" {
    kind: technical
    weight: 3
    probe: max(t, v, where: item == "b1")
    score: x
    not_applicable: any(t, where: item == "b1" and na)
  }

  point b2 "b2" {
    kind: technical
    weight: 1
    probe: max(t, v, where: item == "b2")
    score: x
    not_applicable: any(t, where: item == "b2" and na)
  }

  point b3 "b3, shown only" {
    kind: technical
    weight: 0
    probe: max(t, v, where: item == "b3")
    score: x
    error: any(t, where: item == "b3" and bad)
  }
}

indicator G "gated" {
  max: 10
  gate: {condition: g1 == 0, score: null, reason: "not assessed"}

  point g1 "g1" {
    kind: technical
    max: 5
    probe: max(t, v, where: item == "g1")
    score: x
  }

  point g2 "g2" {
    kind: technical
    max: 5
    probe: max(t, v, where: item == "g2")
    score: x
  }
}
"""

# unit → item → (v, na, bad); an item absent has no row (no data)
FACTS: dict[str, dict[str, tuple[float | None, bool, bool]]] = {
    "U1": {"a1": (0.3, False, False), "a2": (0.7, False, False), "b1": (0.1, False, False), "b2": (0.9, False, False),
           "b3": (0.5, False, False), "g1": (0.2, False, False), "g2": (0.6, False, False)},
    "U2": {"a1": (0.3, True, False), "a2": (None, False, True), "b1": (0.33, False, False), "b2": (0.77, False, False),
           "b3": (0.1, False, False), "g1": (0.15, False, False), "g2": (0.35, False, False)},
    "U3": {"a1": (None, False, True), "a2": (0.1, False, False), "b1": (0.7, False, False), "b2": (0.13, True, False),
           "b3": (0.9, False, False), "g1": (1.0, False, False), "g2": (0.05, False, False)},
    "U4": {"a2": (0.45, False, False), "b1": (0.2, True, False), "b2": (0.61, False, False),
           "b3": (0.4, False, False), "g1": (0.0, False, False), "g2": (0.9, False, False)},
    "U5": {"a1": (0.8, False, False), "a2": (0.25, False, False), "b1": (0.2, True, False), "b2": (0.6, True, False),
           "b3": (None, False, True), "g1": (0.5, False, False), "g2": (0.5, False, False)},
}
MAXIMA = {"a1": 4.0, "a2": 6.0, "g1": 5.0, "g2": 5.0}
POLICY = {"no_data": "zero", "not_applicable": "exclude", "error": "null"}  # the rule set's


# the conditions each point declares: `na` → not_applicable:, `bad` → error:
DECLARED = {"a1": {"na", "bad"}, "a2": {"na", "bad"}, "b1": {"na"}, "b2": {"na"}, "b3": {"bad"}, "g1": set(), "g2": set()}


def _status(point: str, item: tuple[float | None, bool, bool] | None) -> str:
    """Error first, then not applicable, then no data (§10); a flag the point does not read is ignored."""
    if item is None:
        return "no_data"
    v, na, bad = item
    if bad and "bad" in DECLARED[point]:
        return "error"
    if na and "na" in DECLARED[point]:
        return "not_applicable"
    return "no_data" if v is None else "ok"


def _sum(kids: list[tuple[float | None, str, float]], node_max: float) -> float | None:
    """A `sum` node from its children (score or None, policy, max): zero counts 0, exclude drops
    the child and rescales by the maxima present, null makes the node null. Both sums are exact
    (the real sum rounded once, §5 Exact sums), as the engine's are: three scores added left to
    right can be an ulp away (9.437528545861333 for 9.437528545861335)."""
    scores, maxima = [], []
    for s, policy, m in kids:
        if s is None and policy == "null":
            return None
        if s is None and policy == "exclude":
            continue
        scores.append(0.0 if s is None else s)
        maxima.append(m)
    num, den = math.fsum(scores), math.fsum(maxima)
    if den <= 0:
        return None
    return min(num if den == node_max else num * node_max / den, node_max)


def reference(f: dict[str, tuple[float | None, bool, bool]]) -> dict[str, object]:
    """Every status and score of one unit with facts ``f`` (item → (v, na, bad)), from the definitions."""
    st = {p: _status(p, f.get(p)) for p in DECLARED}
    rate = {p: (f[p][0] if st[p] == "ok" else None) for p in st}
    out: dict[str, object] = {f"st:{p}": s for p, s in st.items()}
    policy = {p: POLICY[st[p]] if st[p] != "ok" else "" for p in st}
    policy["a2"] = "zero" if st["a2"] == "error" else policy["a2"]
    score = {p: (rate[p] * MAXIMA[p] if rate[p] is not None else 0.0 if policy[p] == "zero" else None)
             for p in MAXIMA}
    a = _sum([(score["a1"], policy["a1"], 4.0), (score["a2"], policy["a2"], 6.0)], 10.0)
    num, den = 0.0, 0.0  # B: wavg over b1 (3), b2 (1); b3 has weight 0
    for p, w in (("b1", 3.0), ("b2", 1.0)):
        if rate[p] is not None or policy[p] == "zero":
            num, den = num + (rate[p] or 0.0) * w, den + w
    b = num / den * 10.0 if den > 0 else 0.0  # nothing present: 0, as Lighthouse's `Σ/Σ || 0`
    # the gate reads g1's rate as its parent sees it: score ÷ max after its policy (no data → 0 → gated)
    g1_rate = None if score["g1"] is None else score["g1"] / 5.0
    g = None if g1_rate == 0 else _sum([(score["g1"], policy["g1"], 5.0), (score["g2"], policy["g2"], 5.0)], 10.0)
    total = _sum([(a, "exclude", 10.0), (b, "exclude", 10.0), (g, "exclude", 10.0)], 30.0)
    b3 = rate["b3"] * 10.0 if rate["b3"] is not None else 0.0 if policy["b3"] == "zero" else None
    out.update({"s:A": a, "s:B": b, "s:G": g, "total": total, "s:b3": b3})
    return out


def _score(rs: RuleSet, facts: dict[str, dict[str, tuple[float | None, bool, bool]]]) -> dict[str, dict]:
    rows = [{"unit": u, "round": 1, "item": i, "v": v, "na": na, "bad": bad}
            for u, items in facts.items() for i, (v, na, bad) in items.items()]
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}))
    return {r["code"]: r for r in sc.units.to_dicts()}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    d = tmp_path_factory.mktemp("reasons")
    (d / "units.csv").write_text("code,name\n" + "".join(f"{u},{u}\n" for u in FACTS), encoding="utf-8")
    (d / "index.rules").write_text(RULES, encoding="utf-8")
    return load(d)


@pytest.fixture(scope="module")
def units(rules: RuleSet) -> dict[str, dict]:
    return _score(rules, FACTS)


_ITEM = st.one_of(st.none(), st.tuples(st.one_of(st.none(), st.floats(0.0, 1.0)), st.booleans(), st.booleans()))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.fixed_dictionaries({i: _ITEM for i in ("a1", "a2", "b1", "b2", "b3", "g1", "g2")}),
                min_size=len(FACTS), max_size=len(FACTS)))
def test_random_facts_follow_the_definitions(rules: RuleSet, drawn: list[dict]) -> None:
    """Any mix of values, no rows, not-applicable and errors: the engine equals the reference."""
    facts = {u: {i: item for i, item in d.items() if item is not None} for u, d in zip(FACTS, drawn)}
    got = _score(rules, facts)
    for unit, f in facts.items():
        want = reference(f)
        assert {k: got[unit][k] for k in want} == want, (unit, f)


def test_statuses_policies_weights_and_gates_follow_their_definitions(units: dict[str, dict]) -> None:
    for unit in FACTS:
        want = reference(FACTS[unit])
        have = {k: units[unit][k] for k in want}
        assert have == want, (unit, have, want)  # bit for bit


def test_why_says_what_happened(units: dict[str, dict]) -> None:
    assert units["U1"]["why:A"] is None and units["U1"]["why:a1"] is None
    assert units["U2"]["why:a1"] == "not_applicable → excluded"
    assert units["U2"]["why:a2"] == "error → scored 0"
    assert units["U2"]["why:A"] == "excluded: a1"
    assert units["U3"]["why:A"] == "null: a1 is null"
    assert units["U3"]["why:total"] == "excluded: A"
    assert units["U4"]["why:a1"] == "no_data → scored 0"
    assert units["U4"]["why:G"] == "not assessed"
    assert units["U5"]["why:b3"] == "error → null (weight 0)"  # and B does not care
    assert units["U5"]["s:B"] == 0.0  # wavg with no child present: 0, and why says so
    assert units["U5"]["why:B"] == "excluded: b1, b2 → 0 (wavg: no child present, as Lighthouse)"


def test_a_weight_0_child_changes_nothing(tmp_path: Path, units: dict[str, dict]) -> None:
    """The same rule set without b3 scores every other node the same, bit for bit."""
    d = tmp_path / "without"
    d.mkdir()
    (d / "units.csv").write_text("code,name\n" + "".join(f"{u},{u}\n" for u in FACTS), encoding="utf-8")
    start = RULES.index('  point b3 "b3')
    end = RULES.index("indicator G")
    (d / "index.rules").write_text(RULES[:start] + "}\n\n" + RULES[end:], encoding="utf-8")
    rs = load(d)
    rows = [{"unit": u, "round": 1, "item": i, "v": v, "na": na, "bad": bad}
            for u, items in FACTS.items() for i, (v, na, bad) in items.items() if i != "b3"]
    got = {r["code"]: r for r in evaluate(rs, frames_from_rows(rs, {"t": rows})).units.to_dicts()}
    for unit in FACTS:
        assert {k: got[unit][k] for k in ("s:A", "s:B", "s:G", "total")} == \
               {k: units[unit][k] for k in ("s:A", "s:B", "s:G", "total")}


WEIGHT_0 = """ruleset "w0" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 10
  aggregate: wmean
  missing: exclude
}

table t {
  unit: str
  round: int
  v: float
}

indicator A "weighted" {
  weight: 1
  aggregate: mean

  point p1 "p1" {
    kind: technical
    weight: 0
    probe: max(t, v)
    score: x
  }
}

indicator B "the other" {
  weight: 0

  point p2 "p2" {
    kind: technical
    max: 10
    probe: max(t, v)
    score: x
  }
}
"""


def test_all_weights_0_is_null_and_says_so(tmp_path: Path) -> None:
    d = tmp_path / "w0"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    (d / "index.rules").write_text(WEIGHT_0, encoding="utf-8")
    rs = load(d)
    row = evaluate(rs, frames_from_rows(rs, {"t": [{"unit": "U1", "round": 1, "v": 0.25}]})).units.row(0, named=True)
    assert rs.nodes["p1"].max == rs.nodes["A"].max == 10.0  # weight 0: on the parent's whole scale
    assert row["s:p1"] == 2.5 and row["s:B"] == 2.5  # computed and shown …
    assert row["s:A"] is None and row["why:A"] == "no child with a weight above 0"  # … not counted
    assert row["total"] is None and row["why:total"] == "null: A is null"  # B, weight 0, does not stand in


NULLS = """ruleset "nulls" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 3
  missing: exclude
}

table t {
  unit: str
  round: int
  a: float
  b: float
}

indicator A "A" {
  max: 3

  point skip "nulls skipped" {
    kind: technical
    max: 1
    probe: max(0.5, min(0.7, max(t, b)))
    score: x
  }

  point strict "nulls propagated" {
    kind: technical
    max: 1
    probe: strict_max(0.5, strict_min(0.7, max(t, b)))
    score: x
  }

  point mean "strict_avg" {
    kind: technical
    max: 1
    probe: strict_avg(max(t, a), 0.5)
    score: x
  }
}
"""


def test_min_max_avg_skip_nulls_and_strict_forms_propagate_them(tmp_path: Path) -> None:
    d = tmp_path / "nulls"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    (d / "index.rules").write_text(NULLS, encoding="utf-8")
    rs = load(d)
    row = evaluate(rs, frames_from_rows(rs, {"t": [{"unit": "U1", "round": 1, "a": 0.25, "b": None}]})) \
        .units.row(0, named=True)
    assert row["r:skip"] == 0.7 and row["st:skip"] == "ok"
    assert row["r:strict"] is None and row["st:strict"] == "no_data"
    assert row["r:mean"] == (0.25 + 0.5) / 2


def exact_reference(x: float, p10: float, median: float) -> float | None:
    """½·erfc(c·(ln x − ln median)/(ln median − ln p10)), c = erfc⁻¹(1/5) (docs §9)."""
    if x <= 0:
        return 1.0 if p10 < median else 0.0
    lm, lp = math.log(median), math.log(p10)
    return 0.5 * math.erfc((math.log(x) - lm) * 0.9061938024368232 / (lm - lp))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-5.0, max_value=1e9, allow_nan=False), min_size=1, max_size=30),
       st.sampled_from([(1500.0, 400.0), (0.8, 0.4), (2.0, 7.0), (1800.0, 3000.0)]))
def test_lognormal_is_the_exact_cdf(values: list[float], curve: tuple[float, float]) -> None:
    p10, median = curve
    xs = [*values, p10, median]
    got = pl.DataFrame({"x": xs}).select(curves.exact(pl.col("x"), p10, median)).to_series().to_list()
    assert got == [exact_reference(x, p10, median) for x in xs]
    assert got[-1] == 0.5 and abs(got[-2] - 0.9) <= 2.3e-16


BAD = [
    ('missing: {no_data: zero, not_applicable: exclude, error: null}', 'missing: {no_data: zero, n_a: exclude}', "E240"),
    ('missing: {no_data: zero, not_applicable: exclude, error: null}', 'missing: {no_data: zero}', "E241"),
    ('    not_applicable: any(t, where: item == "a1" and na)', '    not_applicable: max(t, v)', "E242"),
    ('gate: {condition: g1 == 0, score: null, reason: "not assessed"}', 'gate: {condition: g1 == 0, score: 1}', "E243"),
    ('gate: {condition: g1 == 0, score: null, reason: "not assessed"}', 'gate: {condition: a1 == 0, score: null}', "E244"),
]


@pytest.mark.parametrize(("old", "new", "code"), BAD)
def test_bad_settings_are_located_diagnostics(tmp_path: Path, old: str, new: str, code: str) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    assert old in RULES
    text = RULES.replace(old, new, 1)
    (d / "index.rules").write_text(text, encoding="utf-8")
    rs, diags = check(d)
    errors = [x for x in diags if x.is_error]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new.strip().split("\n")[0] in t)
    assert rs is None and [(x.code, x.span.line) for x in errors] == [(code, line)], [x.render() for x in errors]
    assert all(x.hint for x in errors)


@pytest.mark.parametrize("curve", ['curve: "js"', 'curve: "lighthouse"'])
def test_a_bad_curve_is_E245(tmp_path: Path, curve: str) -> None:
    d = tmp_path / "curve"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    # higher is better (p10 > median): Lighthouse's curve refuses it
    text = RULES.replace('    score: x\n    not_applicable: any(t, where: item == "a1" and na)',
                         f'    score: lognormal(x, p10: 0.8, median: 0.4, {curve})\n'
                         '    not_applicable: any(t, where: item == "a1" and na)', 1)
    (d / "index.rules").write_text(text, encoding="utf-8")
    rs, diags = check(d)
    errors = [x for x in diags if x.is_error]
    assert rs is None and [(x.code, x.span.line) for x in errors] == [("E245", 25)], [x.render() for x in errors]


def test_wavg_with_no_child_present_is_0_and_says_why(tmp_path: Path) -> None:
    """``wavg`` is Lighthouse's ``arithmeticMean``: with every weight 0 (or every child left out)
    Σ/Σ is NaN and ``|| 0`` makes it 0 — not null, as a ``mean`` is (test above)."""
    d = tmp_path / "w0"
    d.mkdir()
    (d / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    (d / "index.rules").write_text(WEIGHT_0.replace("aggregate: mean", "aggregate: wavg"), encoding="utf-8")
    rs = load(d)
    row = evaluate(rs, frames_from_rows(rs, {"t": [{"unit": "U1", "round": 1, "v": 0.25}]})).units.row(0, named=True)
    assert row["s:p1"] == 2.5 and row["s:A"] == 0.0
    assert row["why:A"] == "no child with a weight above 0 → 0 (wavg: no child present, as Lighthouse)"
    assert row["total"] == 0.0 and row["why:total"] is None
