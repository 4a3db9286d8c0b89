"""`ref target { … }`: one node under several parents (issue 11, item 7).

The engine is compared bit for bit (``==`` on floats) with a reference written in plain Python
from the documented definitions (docs/rules-language.md §5 "Aggregators" and "References"):

- a point scores rate × max (here ``score: x`` on values in [0, 1], so the rate is the value);
  no value: 0 under ``missing: zero``, else no score;
- ``sum``/``mean``/``wmean``: the children's maxima are given (``sum``) or their weight's share of
  the parent's maximum; a child with ``missing: null`` and no score makes the node null; the
  others without a score are left out; with every child present the score is the exact sum of
  the children's scores rounded once (``math.fsum``); otherwise that sum of those present × Σ all
  maxima ÷ Σ maxima present (each sum exact); none present: null; capped at the node's max;
- a ref: a point target's rate × the ref's maximum; an indicator target's score × (the ref's
  maximum ÷ the target's), the ratio computed once — with the target's missing-data policy in its
  second parent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.explain import explain, render_text
from govindex.eval.facts import frames_from_rows
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_text
from govindex.results import long_table, to_json
from govindex.versions.diff import diff

RULES = """ruleset "web" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 100
  aggregate: mean
  missing: exclude
}

table t {
  unit: str
  round: int
  a: float
  b: float
  c: float
  d: float
  e: float
}

indicator perf "Performance" {
  aggregate: wmean

  point fcp "First paint" {
    kind: technical
    weight: 10
    probe: max(t, a)
    score: x
  }

  point cls "Layout shift" {
    kind: technical
    weight: 25
    probe: max(t, b)
    score: x
  }

  indicator deep "Deep" {
    weight: 5
    aggregate: mean

    point dd "D" {
      kind: technical
      missing: zero
      probe: max(t, d)
      score: x
    }
  }
}

indicator seo "SEO" {
  aggregate: wmean

  point meta "Meta" {
    kind: technical
    weight: 3
    probe: max(t, c)
    score: x
  }

  ref cls {
    weight: 1
  }

  ref deep {
    weight: 2
  }

  indicator sub "Sub" {
    weight: 2
    aggregate: mean
    missing: exclude

    ref perf {}

    point ee "E" {
      kind: technical
      probe: max(t, e)
      score: x
    }
  }
}

indicator extra "Extra" {
  point e1 "E1" {
    kind: technical
    max: 100/3 - 4
    probe: max(t, e)
    score: x
  }

  ref dd {
    max: 4
  }
}
"""

UNITS = ["U1", "U2", "U3", "U4", "U5", "U6"]


def _dir(tmp_path: Path, text: str = RULES, name: str = "rules") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "units.csv").write_text("code,name,region\n" + "".join(f"{u},{u},{'NS'[i % 2]}\n" for i, u in enumerate(UNITS)),
                                 encoding="utf-8")
    (d / "index.rules").write_text(text, encoding="utf-8")
    return d


def _fold(xs: list[float]) -> float:
    """A tree sum: the exact sum of the terms rounded once (docs §5 "Exact sums")."""
    return math.fsum(xs)


def _node(kids: list[tuple[float | None, float, str]], max_: float) -> float | None:
    """A sum node from (score, max, missing policy) of its children, in order."""
    if any(s is None and miss == "null" for s, _, miss in kids):
        return None
    present = [(s, m) for s, m, _ in kids if s is not None]
    if not present:
        return None
    num = _fold([s for s, _ in present])
    if len(present) == len(kids):
        val = num
    else:
        val = num * _fold([m for _, m, _ in kids]) / _fold([m for _, m in present])
    return min(val, max_)


def _mean(kids: list[tuple[float | None, float, str]]) -> float | None:
    """A ``mean``/``wmean`` node's rate from (rate, weight, missing policy) of its children, in
    order: fsum(wᵢ·rᵢ) / fsum(wᵢ) over those present (docs §5 "Means on rates"), all weights 1
    when they are equal; null when a ``null`` child has none or none is present."""
    if any(r is None and miss == "null" for r, _, miss in kids):
        return None
    if len({w for _, w, _ in kids}) == 1:
        kids = [(r, 1.0, miss) for r, _, miss in kids]
    present = [(r, w) for r, w, _ in kids if r is not None]
    if not present:
        return None
    return _fold([r * w for r, w in present]) / _fold([w for _, w in present])


def reference(v: dict[str, float | None]) -> dict[str, float | None]:
    """Every node's score for one unit with values ``v`` (a … e), from the definitions: means on
    rates (a node's score = its rate × its max), sums on scores, refs as the module says."""
    # maxima: the root (mean, 100) gives its three first-level children 100/3 each
    m1 = 100 * 1 / 3
    m_fcp, m_cls, m_deep = m1 * 10 / 40, m1 * 25 / 40, m1 * 5 / 40
    m_meta, m_cls_seo, m_deep_seo, m_sub = m1 * 3 / 8, m1 * 1 / 8, m1 * 2 / 8, m1 * 2 / 8
    m_perf_sub, m_ee = m_sub * 1 / 2, m_sub * 1 / 2
    out: dict[str, float | None] = {}

    def point(x: float | None, m: float, zero: bool = False) -> float | None:
        return x * m if x is not None else (0.0 if zero else None)

    def times(r: float | None, m: float) -> float | None:
        return None if r is None else r * m

    d = 0.0 if v["d"] is None else v["d"]  # dd: missing zero
    out["fcp"], out["cls"] = point(v["a"], m_fcp), point(v["b"], m_cls)
    out["dd"] = point(v["d"], m_deep, zero=True)
    r_deep = _mean([(d, 1.0, "zero")])
    out["deep"] = times(r_deep, m_deep)
    r_perf = _mean([(v["a"], 10, "exclude"), (v["b"], 25, "exclude"), (r_deep, 5, "null")])
    out["perf"] = times(r_perf, m1)
    out["meta"] = point(v["c"], m_meta)
    out["cls@seo"] = point(v["b"], m_cls_seo)  # a point target: its rate × the ref's max
    out["deep@seo"] = None if out["deep"] is None else out["deep"] * (m_deep_seo / m_deep)
    out["perf@sub"] = None if out["perf"] is None else out["perf"] * (m_perf_sub / m1)
    out["ee"] = point(v["e"], m_ee)
    # a ref's rate, as a mean reads it, is its target's rate
    r_sub = _mean([(r_perf, 1, "null"), (v["e"], 1, "exclude")])
    out["sub"] = times(r_sub, m_sub)
    r_seo = _mean([(v["c"], 3, "exclude"), (v["b"], 1, "exclude"), (r_deep, 2, "null"), (r_sub, 2, "exclude")])
    out["seo"] = times(r_seo, m1)
    out["e1"] = point(v["e"], 100 / 3 - 4)
    out["dd@extra"] = point(v["d"], 4.0, zero=True)  # the target's policy: zero
    out["extra"] = _node([(out["e1"], 100 / 3 - 4, "exclude"), (out["dd@extra"], 4.0, "zero")], m1)
    r_extra = None if out["extra"] is None else out["extra"] / m1  # a sum's rate: its score / max
    out["total"] = times(_mean([(r_perf, 1, "null"), (r_seo, 1, "null"), (r_extra, 1, "null")]), 100.0)
    return out


def _sources(rs, facts: dict[str, dict[str, float | None]]):
    return frames_from_rows(rs, {"t": [{"unit": u, "round": 1, **vals} for u, vals in facts.items()]})


def _score(rs, facts: dict[str, dict[str, float | None]]):
    return evaluate(rs, _sources(rs, facts))


def _check_against_reference(rs, facts: dict[str, dict[str, float | None]]) -> None:
    sc = _score(rs, facts)
    got = {r["code"]: r for r in sc.units.to_dicts()}
    for unit, vals in facts.items():
        want = reference(vals)
        have = {k: got[unit][score_col(k)] for k in want}
        assert have == want, (unit, vals, have, want)  # bit for bit


FACTS = {"U1": {"a": 0.3, "b": 0.7, "c": 0.1, "d": 0.9, "e": 0.55},
         "U2": {"a": 0.5, "b": None, "c": 0.2, "d": None, "e": 1 / 3},
         "U3": {"a": None, "b": None, "c": None, "d": None, "e": None},
         "U4": {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4, "e": None}}


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory):
    return load(_dir(tmp_path_factory.mktemp("refs")))


def test_refs_equal_the_reference_bit_for_bit(rs) -> None:
    assert [x.id for x in rs.nodes.values() if x.is_ref] == ["cls@seo", "deep@seo", "perf@sub", "dd@extra"]
    _check_against_reference(rs, FACTS)


_value = st.one_of(st.none(), st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.1, 1 / 3]))
# One unit with every value and one with none: every "present" condition varies across units (see
# test_a_renormalised_score_does_not_depend_on_other_units for why the engine needs that today).
_FULL = {k: 0.5 for k in "abcde"}
_EMPTY: dict[str, float | None] = {k: None for k in "abcde"}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.fixed_dictionaries({k: _value for k in "abcde"}), min_size=4, max_size=4))
def test_refs_equal_the_reference_on_random_facts(rs, values) -> None:
    _check_against_reference(rs, dict(zip(UNITS, [*values, _FULL, _EMPTY])))


def test_a_renormalised_score_does_not_depend_on_other_units(rs) -> None:
    alike = {"a": None, "b": 0.328125, "c": None, "d": None, "e": None}
    _check_against_reference(rs, {u: dict(alike) for u in UNITS})


def test_ref_node_takes_its_place_and_the_targets_policy(rs) -> None:
    seo = rs.nodes["seo"]
    assert seo.children == ("meta", "cls@seo", "deep@seo", "sub")
    ref = rs.nodes["deep@seo"]
    assert (ref.ref, ref.label, ref.missing, ref.level, ref.parent) == ("deep", "Deep", "null", 2, "seo")
    assert rs.nodes["dd@extra"].missing == "zero" and rs.nodes["cls@seo"].missing == "exclude"


def test_outputs_show_the_ref_and_what_it_refers_to(rs) -> None:
    sc = _score(rs, FACTS)
    doc = json.loads(json.dumps(to_json(sc)))
    entry = next(x for x in doc["indicators"] if x["id"] == "cls@seo")
    assert entry["refers_to"] == "cls" and entry["parent"] == "seo"
    u1 = next(u for u in doc["units"] if u["code"] == "U1")
    assert u1["scores"]["cls@seo"] == round(0.7 * (100 / 3 / 8), 2)
    long = long_table(sc).filter(node="cls@seo", code="U1").row(0, named=True)
    assert (long["kind"], long["refers_to"], long["rate"]) == ("ref", "cls", 0.7)
    text = render_text(explain(sc, rs.unit_by("U1"), "seo", _sources(rs, FACTS)), lambda v: "—" if v is None else f"{v:.2f}")
    assert "↪ cls@seo Layout shift  2.92 / 4.16667  refers to cls (computed once, under perf): rate 0.7" in text


def test_fmt_round_trips_refs() -> None:
    f = parse_text(RULES, "x.rules")
    again = format_file(f)
    assert parse_text(again, "x.rules") == f
    assert "  ref cls {\n    weight: 1\n  }\n" in again and "    ref perf {\n    }\n" in again


def test_diff_reports_refs(tmp_path: Path, rs) -> None:
    text = RULES.replace("  ref cls {\n    weight: 1\n  }\n", "  ref cls {\n    weight: 2\n  }\n")
    text = text.replace("  ref dd {\n    max: 4\n  }\n", "  ref dd {\n    max: 4\n  }\n\n  ref fcp {\n    max: 0\n  }\n")
    text = text.replace("  ref deep {\n    weight: 2\n  }\n\n", "")
    new = load(_dir(tmp_path, text.replace("ref fcp {\n    max: 0\n  }", "ref fcp {\n    max: 1\n  }")
                    .replace("    max: 100/3 - 4\n", "    max: 100/3 - 5\n")))
    edits = {(e.kind, e.node, e.field, e.scope) for e in diff(rs, new)}
    assert ("added", "fcp@extra", None, "ref") in edits
    assert ("removed", "deep@seo", None, "ref") in edits
    assert ("changed", "cls@seo", "weight", "ref") in edits
    added = next(e for e in diff(rs, new) if e.node == "fcp@extra")
    assert added.new == {"label": "First paint", "kind": "ref", "parent": "extra", "max": 1, "refers_to": "fcp",
                         "weight": None}


def _line(text: str, snippet: str) -> int:
    return text[:text.index(snippet)].count("\n") + 1


def _errors(tmp_path: Path, text: str) -> list[tuple[str, int, int, str]]:
    rs, diags = check(_dir(tmp_path, text, "bad"))
    return [(d.code, d.span.line, d.span.col, d.hint) for d in diags if d.is_error]


def test_unknown_ref_is_located_with_a_did_you_mean(tmp_path: Path) -> None:
    text = RULES.replace("  ref cls {", "  ref clss {")
    assert _errors(tmp_path, text) == [("E250", _line(text, "ref clss"), 3, "did you mean `cls`?")]


def test_ref_to_an_ancestor_is_a_cycle(tmp_path: Path) -> None:
    text = RULES.replace("    ref perf {}", "    ref seo {}")
    errs = _errors(tmp_path, text)
    assert [(c, line, col) for c, line, col, _ in errs] == [("E251", _line(text, "ref seo"), 5)]


def test_refs_that_lead_back_are_a_cycle(tmp_path: Path) -> None:
    text = RULES.replace("    ref perf {}", "    ref perf {}\n    ref extra {}").replace(
        "  ref dd {\n    max: 4\n  }", "  ref dd {\n    max: 2\n  }\n\n  ref sub {\n    max: 2\n  }")
    errs = _errors(tmp_path, text)
    assert {c for c, *_ in errs} == {"E251"} and len(errs) == 2


def test_ref_to_a_sibling_or_twice_is_a_duplicate(tmp_path: Path) -> None:
    text = RULES.replace("  ref cls {\n    weight: 1\n  }", "  ref meta {\n    weight: 1\n  }")
    assert [(c, line) for c, line, *_ in _errors(tmp_path, text)] == [("E252", _line(text, "ref meta"))]
    twice = RULES.replace("  ref deep {\n    weight: 2\n  }", "  ref cls {\n    weight: 2\n  }")
    (tmp_path / "x").mkdir()
    errs = _errors(tmp_path / "x", twice)
    assert [(c, line) for c, line, *_ in errs] == [("E252", _line(twice, "ref cls {\n    weight: 2"))]


def test_ref_settings_are_checked(tmp_path: Path) -> None:
    text = RULES.replace("  ref cls {\n    weight: 1\n  }", "  ref cls {\n    scale: 1\n  }")
    errs = _errors(tmp_path, text)
    assert [(c, line) for c, line, *_ in errs] == [("E206", _line(text, "ref cls")), ("E208", _line(text, "scale: 1"))]


def test_a_ref_follows_its_target_policy_per_reason_and_says_why(tmp_path: Path) -> None:
    """A point's ``missing: {…}`` goes with its refs: the ref reads the target's status (no data
    here → scored 0 in both parents, where the rule set's own policy would exclude it), and
    ``why:`` of a ref is its target's (a point's status and policy; an indicator's reason)."""
    text = RULES.replace('''    weight: 25
    probe: max(t, b)''', '''    weight: 25
    missing: {no_data: zero, error: null}
    probe: max(t, b)''')
    rs = load(_dir(tmp_path, text))
    assert rs.nodes["cls@seo"].missing_by == rs.nodes["cls"].missing_by != ()
    row = next(r for r in _score(rs, FACTS).units.to_dicts() if r["code"] == "U2")  # b (cls) and d missing
    assert row["s:cls"] == row["s:cls@seo"] == 0.0
    assert row["why:cls"] == row["why:cls@seo"] == "no_data → scored 0"
    assert row["why:seo"] is None  # nothing left out of SEO: cls@seo counts as 0
    assert row["why:deep@seo"] == row["why:deep"]
    assert row["why:meta"] is None and row["why:fcp"] is None
