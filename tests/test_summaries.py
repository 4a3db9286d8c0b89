"""`total: none` (an index of categories without a total) and `summary` declarations (a node's
score across units as a result of its own), issue 11 item 11.

The summaries are compared bit for bit with a reference written from the definition in
docs/rules-language.md ("Indices without a total; summaries"): the values are the node's scores on
its scale (score ÷ max × scale) of the units with a score; mean = the exact mean of those values
(``fractions.Fraction``), rounded once to a double.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.check.run import check, load
from govindex.cli import app
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from govindex.results import long_table, to_json, wide_table

RULES = """ruleset "open data" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  total: none
  missing: exclude
}

table t {
  unit: str
  round: int
  a: float
  b: float
  c: float
}

indicator budget "Budget" {
  max: 1
  scale: 100

  point budget_open "Open licence" {
    kind: technical
    max: 0.4
    probe: max(t, a)
    score: x
  }

  point budget_fmt "Machine readable" {
    kind: technical
    max: 0.6
    probe: max(t, b)
    score: x
  }
}

indicator spend "Spending" {
  max: 3

  point spend_open "Open licence" {
    kind: technical
    max: 3
    probe: max(t, c)
    score: x
  }
}

summary datasets "Dataset scores" {
  of: [budget, spend]
  aggregate: mean
}

summary by_region "Dataset scores by region" {
  of: level(1)
  by: region
}

summary entries "Entries" {
  of: [budget_open, spend_open]
  aggregate: count
}
"""

UNITS = {"P1": "N", "P2": "S", "P3": "N", "P4": "S", "P5": ""}


def _dir(tmp_path: Path, text: str = RULES) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "units.csv").write_text("code,name,region\n" + "".join(f"{u},{u},{r}\n" for u, r in UNITS.items()),
                                 encoding="utf-8")
    (d / "index.rules").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory):
    return load(_dir(tmp_path_factory.mktemp("summaries")))


def _score(rs, facts: dict[str, tuple[float | None, float | None, float | None]]):
    rows = [{"unit": u, "round": 1, "a": a, "b": b, "c": c} for u, (a, b, c) in facts.items()]
    return evaluate(rs, frames_from_rows(rs, {"t": rows}))


def _mean(values: list[float]) -> float | None:
    """The definition: the exact mean (sum over n, in rationals), rounded once to a double."""
    return float(sum((Fraction(v) for v in values), Fraction(0)) / len(values)) if values else None


def _reference(rs, sc) -> list[tuple[str, str, str | None, float | None, int, int]]:
    out = []
    units = sc.units.to_dicts()
    for s in rs.summaries:
        groups = [None] if s.by is None else sorted({u[s.by] or "" for u in units})
        for ident in s.nodes:
            x = rs.nodes[ident]
            for g in groups:
                scores = [u[score_col(ident)] for u in units if s.by is None or (u[s.by] or "") == g]
                on_scale = [v if v is None or x.own_scale is None else v / x.max * x.own_scale for v in scores]
                vals = [v for v in on_scale if v is not None]
                value = float(len(vals)) if s.aggregate == "count" else _mean(vals)
                out.append((s.id, ident, g or None, value, len(vals), len(scores) - len(vals)))
    return out


FACTS = {"P1": (1.0, 0.5, 0.1), "P2": (0.3, None, 0.7), "P3": (None, None, None), "P4": (0.1, 0.2, 1 / 3),
         "P5": (0.9, 0.8, None)}


def _got(sc) -> list[tuple]:
    assert sc.summaries is not None
    return [(r["summary"], r["node"], r["group"], r["value"], r["units"], r["missing"])
            for r in sc.summaries.to_dicts()]


def test_summaries_equal_the_reference_bit_for_bit(rs) -> None:
    sc = _score(rs, FACTS)
    assert _got(sc) == _reference(rs, sc)
    by_budget = {r[2]: r for r in _got(sc) if r[0] == "by_region" and r[1] == "budget"}
    assert set(by_budget) == {None, "N", "S"} and by_budget["N"][4:] == (1, 1)  # P3 has no budget score


_v = st.one_of(st.none(), st.floats(0.0, 1.0))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_v, _v, _v), min_size=5, max_size=5))
def test_summaries_equal_the_reference_on_random_facts(rs, values) -> None:
    sc = _score(rs, dict(zip(UNITS, values)))
    assert _got(sc) == _reference(rs, sc)


def test_a_summary_with_no_scores_is_null_and_a_count_zero(rs) -> None:
    sc = _score(rs, {u: (None, None, None) for u in UNITS})
    rows = {(r[0], r[1], r[2]): r for r in _got(sc)}
    assert rows[("datasets", "budget", None)][3:] == (None, 0, 5)
    assert rows[("entries", "spend_open", None)][3:] == (0.0, 0, 5)


def test_no_total_outputs(rs) -> None:
    sc = _score(rs, FACTS)
    assert sc.units["total"].null_count() == sc.units.height and sc.units["rank"].null_count() == sc.units.height
    doc = json.loads(json.dumps(to_json(sc)))
    assert doc["has_total"] is False and doc["max_total"] is None
    assert all("total" not in u and "rank" not in u for u in doc["units"])
    assert doc["units"][0]["scores"]["budget"] == 70.0  # P1: (1 × 0.4 + 0.5 × 0.6) on a scale of 100
    assert "total" not in wide_table(sc).columns and "rank" not in wide_table(sc).columns
    assert "total" not in long_table(sc)["node"].to_list()
    assert [s["id"] for s in doc["summaries"]] == ["datasets", "by_region", "entries"]
    assert doc["summaries"][0]["rows"][0] == {"node": "budget", "label": "Budget", "group": None,
                                              "value": 50.0, "units": 4,  # (70 + 30 + 16 + 84) / 4, P3 none
                                              "missing": 1}


def test_score_writes_the_summaries_and_analyze_says_there_is_no_total(tmp_path: Path) -> None:
    d = _dir(tmp_path)
    facts = tmp_path / "facts"
    facts.mkdir()
    import polars as pl

    pl.DataFrame([{"unit": u, "round": 1, "a": a, "b": b, "c": c} for u, (a, b, c) in FACTS.items()],
                 schema={"unit": pl.String, "round": pl.Int64, "a": pl.Float64, "b": pl.Float64,
                         "c": pl.Float64}).write_parquet(facts / "t.parquet")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(d), "--facts", str(facts), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "categories only, no total" in r.output and "Dataset scores (mean across units)" in r.output
    assert (out / "summaries.csv").read_text(encoding="utf-8-sig").startswith(  # past the BOM
        "summary,aggregate,by,group,node,label,value,units,missing\ndatasets,mean,,,budget,Budget,50.0,4,1\n")
    r = CliRunner().invoke(app, ["analyze", str(out)])
    assert r.exit_code != 0 and "publishes no total" in r.output
    r = CliRunner().invoke(app, ["explain", str(d), "--facts", str(facts), "--unit", "P1"])
    assert r.exit_code == 0 and "no total (total: none)" in r.output


def _errors(tmp_path: Path, text: str) -> list[tuple[str, int, str]]:
    _, diags = check(_dir(tmp_path, text))
    return [(d.code, d.span.line, d.message) for d in diags if d.is_error]


def _line(text: str, snippet: str) -> int:
    return text[:text.index(snippet)].count("\n") + 1


def test_what_needs_a_total_is_refused(tmp_path: Path) -> None:
    text = RULES.replace("  total: none\n", "  total: none\n  max_total: 4\n") + (
        'grading "Rating" {\n  method: thresholds\n  classes: {A: "A", B: "B"}\n  cuts: {A: 2}\n}\n\n'
        'test "t" {\n  given t []\n  expect "P1" total == 1\n}\n')
    errs = _errors(tmp_path, text)
    assert [(c, line) for c, line, _ in errs] == [("E254", _line(text, "max_total")),
                                                 ("E254", _line(text, "grading")),
                                                 ("E254", _line(text, 'expect "P1" total'))]


def test_total_takes_none(tmp_path: Path) -> None:
    text = RULES.replace("total: none", "total: no")
    assert _errors(tmp_path, text) == [("E253", 4, "`total:` takes `none` (an index without a total)")]


@pytest.mark.parametrize("old,new,code,snippet", [
    ("of: [budget, spend]", "of: [budget, spending]", "E256", "spending"),
    ("of: [budget, spend]", "of: [budget, budget]", "E255", "budget]"),
    ("of: level(1)", "of: level(7)", "E255", "7)"),
    ("of: level(1)", "of: budget", "E255", "of: budget"),
    ("by: region", "by: province", "E257", "by: province"),
    ("aggregate: count", "aggregate: average", "E255", "aggregate: average"),
    ('summary entries "Entries"', 'summary datasets "Entries"', "E258", 'summary datasets "Entries"'),
])
def test_summary_mistakes_are_located(tmp_path: Path, old: str, new: str, code: str, snippet: str) -> None:
    text = RULES.replace(old, new)
    errs = _errors(tmp_path, text)
    assert [(c, line) for c, line, _ in errs] == [(code, _line(text, snippet))], errs
