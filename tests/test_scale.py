"""Issue 11 item 1 and its "fix on the way": a node's own scale, settings as constant
expressions, a min/max root needs `max_total`, geomean's equal default weights, Excel sheet
names from any label, the score table's total label."""

from __future__ import annotations

import shutil

import fastexcel
import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.check.run import check, load
from govindex.cli import app
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from govindex.results import sheet_names
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"


def point(pid: str, setting: str, extra: str = "") -> str:
    return (f'  point {pid} "{pid}" {{\n    kind: technical\n    {setting}\n'
            f'    probe: max(t, v, where: kind == "{pid}")\n    score: x\n{extra}  }}\n')


def codes(ruleset_dir, body: str, header: str | None = None, max_total: float | None = None) -> list[str]:
    d = ruleset_dir(body, max_total=max_total) if header is None else ruleset_dir(body, header=header)
    _, diags = check(d)
    return [x.code for x in diags if x.is_error]


def scores(ruleset_dir, body: str, vals: dict[str, float], max_total: float | None = 10) -> dict:
    rs = load(ruleset_dir(body, max_total=max_total))
    rows = [{"unit": "A1", "round": 1, "kind": k, "v": v, "tags": [], "at": None} for k, v in vals.items()]
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows}))
    return {r["code"]: r for r in sc.units.iter_rows(named=True)}["A1"]


# ------------------------------------------------------------------ fix on the way


@pytest.mark.parametrize("agg", ["min", "max"])
def test_a_min_or_max_root_needs_max_total(ruleset_dir, agg):
    from tests.conftest import HEADER

    header = HEADER.replace("missing: zero", f"missing: zero\n  aggregate: {agg}")
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "max: 1") + "}\n" + \
           'indicator j "J" {\n  max: 1\n' + point("b", "max: 1") + "}\n"
    assert "E206" in codes(ruleset_dir, body, header=header)


def test_geomean_children_default_to_equal_weights(ruleset_dir):
    body = 'indicator i "I" {\n  max: 10\n  aggregate: geomean\n' + point("a", "") + point("b", "") + "}\n"
    assert codes(ruleset_dir, body, max_total=10) == []
    out = scores(ruleset_dir, body, {"a": 0.25, "b": 1.0})
    assert out[score_col("i")] == pytest.approx(5.0)  # 10 · sqrt(0.25 · 1)


def test_sheet_names_are_sanitised_and_unique():
    names = sheet_names(["a/b", "a:b", "A?B", "x" * 40, "x" * 40, "总表", "'q'", "History", "[]"],
                        reserved=("总表", "说明"))
    assert names == ["a_b", "a_b (2)", "A_B (3)", "x" * 31, "x" * 27 + " (2)", "总表 (2)", "q", "History (2)", "__"]
    assert all(len(x) <= 31 and not set(x) & set("/\\:?*[]") for x in names)


def test_score_out_with_excel_forbidden_labels_and_total_label(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "160")
    rules = tmp_path / "mini"
    shutil.copytree(MINI, rules)
    text = (rules / "mini.rules").read_text(encoding="utf-8")
    text = text.replace('indicator web "网站"', 'indicator web "网站/平台: [A]*?"')
    text = text.replace('indicator qa "问答"', 'indicator qa "网站\\\\平台: [A]*?"')
    text = text.replace("max_total: 10", 'max_total: 10\n  total_label: "综合得分"')
    (rules / "mini.rules").write_text(text, encoding="utf-8")
    r = CliRunner().invoke(app, ["score", str(rules), "--facts", str(MINI / "facts"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "综合得分 /10" in r.stdout and "total /10" not in r.stdout
    sheets = fastexcel.read_excel(tmp_path / "out" / "scores.xlsx").sheet_names
    assert sheets == ["总表", "网站_平台_ _A___", "网站_平台_ _A___ (2)", "说明", "来源 Provenance"]


# ------------------------------------------------------------------ settings as constant expressions


def test_weights_and_maxima_take_constant_expressions(ruleset_dir):
    body = ('let third = 1/3\nlet big = 2 * 50\n'
            'indicator i "I" {\n  max: big / 10\n  aggregate: wmean\n' + point("a", "weight: third")
            + point("b", "weight: (1 - third) / 2") + point("c", "weight: -(-1/3)") + "}\n")
    rs = load(ruleset_dir(body, max_total=10))
    assert rs.nodes["i"].max == 10.0
    assert [rs.nodes[c].weight for c in "abc"] == [1 / 3, (1 - 1 / 3) / 2, 1 / 3]
    assert rs.nodes["a"].max == 10.0 * (1 / 3) / (1 / 3 + (1 - 1 / 3) / 2 + 1 / 3)


def test_a_sum_of_constant_maxima(ruleset_dir):
    body = 'indicator i "I" {\n  max: 100\n' + point("a", "max: 100/3") + point("b", "max: 200/3") + "}\n"
    rs = load(ruleset_dir(body, max_total=100))
    assert (rs.nodes["a"].max, rs.nodes["b"].max) == (100 / 3, 200 / 3)


@pytest.mark.parametrize("setting, message", [
    ("max: 1/0", "divides by zero"),
    ("max: 1 - 1", "0 is not positive"),
    ("max: 1e10 * 1e10", "above 1e15"),
    ("max: count(t)", "not arithmetic over numbers"),
    ("max: nowhere", "`nowhere` is not a let"),
])
def test_bad_constant_expressions_are_e207(ruleset_dir, setting, message):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", setting) + "}\n"
    _, diags = check(ruleset_dir(body, max_total=1))
    assert any(d.code == "E207" and message in d.message for d in diags), [str(d.message) for d in diags]


def test_a_weight_expression_is_not_reported_missing(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n  aggregate: wmean\n' + point("a", "weight: 1/3") + point("b", "weight: 2/3") + "}\n"
    _, diags = check(ruleset_dir(body, max_total=1))
    assert [d.code for d in diags] == []


def test_max_total_takes_a_constant_expression(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n' + point("a", "max: 1") + "}\n"
    d = ruleset_dir(body)
    (d / "a_header.rules").write_text((d / "a_header.rules").read_text().replace(
        "missing: zero", "missing: zero\n  max_total: 2*50\n  aggregate: mean"), encoding="utf-8")
    body2 = 'indicator i "I" {\n  aggregate: sum\n' + point("a", "max: 100") + "}\n"
    (d / "b_body.rules").write_text(body2, encoding="utf-8")
    assert load(d).nodes["total"].max == 100.0


# ------------------------------------------------------------------ a node's own scale

SCALED = ('indicator p "P" {\n  weight: 1\n  aggregate: wmean\n'
          + point("a", "weight: 1/2\n    scale: 100")
          + point("b", "weight: 1/4")
          + point("c", "weight: 1/4\n    scale: 10") + "}\n"
          + 'indicator q "Q" {\n  weight: 3\n  scale: 100\n  aggregate: mean\n' + point("d", "") + "}\n")
SCALED_HEADER_TOTAL = 4  # the root: wmean of p (weight 1 → max 1) and q (weight 3 → max 3)


def scaled_scores(ruleset_dir, body: str = SCALED):
    from tests.conftest import HEADER

    rs = load(ruleset_dir(body, header=HEADER.replace(
        "missing: zero", f"missing: zero\n  aggregate: wmean\n  max_total: {SCALED_HEADER_TOTAL}")))
    rows = [{"unit": u, "round": 1, "kind": k, "v": v, "tags": [], "at": None}
            for u in ("A1", "A2") for k, v in {"a": 0.8, "b": 0.4, "c": 0.2, "d": 0.3}.items()]
    return rs, evaluate(rs, frames_from_rows(rs, {"t": rows}))


def test_a_scale_changes_what_is_shown_not_what_is_contributed(ruleset_dir):
    rs, sc = scaled_scores(ruleset_dir)
    assert (rs.nodes["a"].max, rs.nodes["a"].scale, rs.nodes["b"].scale) == (0.5, 100.0, 0.25)
    row = sc.units.row(by_predicate=pl.col("code") == "A1", named=True)
    assert row[score_col("a")] == 0.8 * 0.5  # the contribution is unchanged
    assert row[score_col("p")] == pytest.approx(0.4 + 0.1 + 0.05)
    assert row["total"] == pytest.approx(0.55 + 0.9)
    assert row["val:a"] == 0.8 * 0.5 / 0.5 * 100  # the value as published (eval/node_values.py)
    assert row["val:b"] == row[score_col("b")]  # no scale: the score itself


def test_every_output_shows_a_node_on_its_scale(ruleset_dir, tmp_path):
    import json

    from govindex.analysis.analyze import analyze
    from govindex.analysis.load import load_results
    from govindex.eval.explain import explain, render_text
    from govindex.results import write_outputs

    rs, sc = scaled_scores(ruleset_dir)
    facts = frames_from_rows(rs, {"t": []})
    out = tmp_path / "out"
    write_outputs(sc, out)
    doc = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    unit = next(u for u in doc["units"] if u["code"] == "A1")
    assert unit["points"] == {"a": 80.0, "b": 0.1, "c": 2.0, "d": 0.9}
    assert unit["scores"] == {"p": 0.55, "q": 30.0}
    pts = {p["id"]: p for p in doc["points"]}
    assert pts["a"]["max"] == 100 and pts["a"]["max_in_parent"] == 0.5 and "max_in_parent" not in pts["b"]
    inds = {x["id"]: x for x in doc["indicators"]}
    assert inds["q"]["max"] == 100 and inds["q"]["max_in_parent"] == 3 and "max_in_parent" not in inds["p"]
    long = pl.read_parquet(out / "scores_long.parquet").filter(pl.col("code") == "A1")
    got = {r["node"]: (r["score"], r["max"], r["rate"]) for r in long.iter_rows(named=True)}
    assert got["a"] == (0.8 * 0.5 / 0.5 * 100, 100.0, 0.8 * 0.5 / 0.5)
    assert got["q"][1] == 100.0 and got["q"][0] == pytest.approx(30.0)
    wide = pl.read_parquet(out / "scores.parquet").filter(pl.col("code") == "A1")
    assert (wide["a"].item(), wide["q"].item(), wide["b"].item()) == (80.0, 30.0, 0.1)
    sheet = pl.read_excel(out / "scores.xlsx", sheet_name="总表")
    assert "Q (q, /100)" in sheet.columns and "P (p, /1)" in sheet.columns
    ex = explain(sc, rs.unit_by("A1"), "p", facts)
    a = next(c for c in ex["node"]["children"] if c["id"] == "a")
    assert (a["score"], a["max"], a["in_parent"], a["max_in_parent"]) == (80.0, 100.0, 0.4, 0.5)
    assert "a a  80.00 / 100 (in its parent 0.40 / 0.5)" in render_text(ex, lambda v: f"{v:.2f}")
    stats = {x["id"]: x for x in analyze(load_results(out))["indicators"]}
    assert stats["q"]["max"] == 100 and stats["q"]["mean"] == pytest.approx(15.0)  # A1, A2: 30; B1, B2: 0
    assert stats["q"]["rate"] == pytest.approx(0.15)


def test_inline_expectations_read_the_scale(ruleset_dir):
    from govindex.eval.inline_tests import run_tests

    test = ('test "on its scale" {\n  given t [{unit: "A1", round: 1, kind: "a", v: 0.8}]\n'
            '  expect "A1" a == 80\n  expect "A1" p == 0.4\n  expect "A1" q == 0\n}\n')
    rs, _ = scaled_scores(ruleset_dir, SCALED + test)
    assert [(o.expect.node, o.passed) for o in run_tests(rs)] == [("a", True), ("p", True), ("q", True)]


def test_a_scale_is_an_amount(ruleset_dir):
    body = 'indicator i "I" {\n  max: 1\n  scale: 0\n' + point("a", "max: 1\n    scale: 100/0") + "}\n"
    _, diags = check(ruleset_dir(body, max_total=1))
    assert sorted(d.message for d in diags if d.code == "E207") == [
        "`scale` of `a` takes a number or a constant expression: divides by zero",
        "`scale` of `i`: 0 is not positive"]


def test_diff_shows_a_change_of_scale(ruleset_dir, tmp_path):
    from govindex.versions.diff import diff

    body = 'indicator i "I" {\n  max: 10\n' + point("a", "max: 10") + "}\n"
    old = load(ruleset_dir(body, max_total=10))
    new_dir = tmp_path / "new"
    shutil.copytree(old.root_dir, new_dir)
    (new_dir / "b_body.rules").write_text(body.replace("  max: 10\n", "  max: 10\n  scale: 100\n", 1), encoding="utf-8")
    edits = [(e.node, e.field, e.old, e.new) for e in diff(old, load(new_dir)) if e.kind == "changed"]
    assert edits == [("i", "scale", None, 100)]


# ------------------------------------------------------------------ examples/pillars-on-scale

EXAMPLE = ROOT / "examples" / "pillars-on-scale"
# Transcribed by hand from the example's rules: pillar → [(point, column, lo, hi, weight)].
PILLARS = {"access": [("users", "internet_users_pct", 20, 100, 2 / 3), ("broadband", "broadband_per_100", 0, 50, 1 / 3)],
           "services": [("fully_online", "services_fully_online_pct", 0, 100, 1)],
           "openness": [("datasets", "open_datasets", 0, 50000, 1 / 2), ("languages", "portal_languages", 1, 5, 1 / 2)]}


def _reference() -> dict[str, dict[str, float | None]]:
    """Every node's value on its scale (0–100; the total on 0–1), from stats.csv in plain Python."""
    import csv

    out = {}
    with open(ROOT / "examples" / "country-index" / "facts" / "stats.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            shown: dict[str, float | None] = {}
            pillar_rates: list[float | None] = []
            for pillar, points in PILLARS.items():
                present = []
                for pid, col, lo, hi, w in points:
                    r = None if row[col] == "" else min(1.0, max(0.0, (float(row[col]) - lo) / (hi - lo)))
                    shown[pid] = None if r is None else r * 100
                    if r is not None:
                        present.append((r, w))
                # a pillar with no point left is null, and so is the total (indicators' `missing: null`)
                rate = sum(r * w for r, w in present) / sum(w for _, w in present) if present else None
                shown[pillar] = None if rate is None else rate * 100
                pillar_rates.append(rate)
            shown["total"] = None if None in pillar_rates else sum(pillar_rates) / 3
            out[row["country"]] = shown
    return out


def test_the_example_matches_a_plain_python_reference(tmp_path):
    import polars as pl

    from govindex.eval.facts import scan
    from govindex.eval.inline_tests import run_tests
    from govindex.results import write_outputs

    rs = load(EXAMPLE)
    assert all(o.passed for o in run_tests(rs))
    assert {rs.nodes[p].max for p in PILLARS} == {1 / 3} and {rs.nodes[p].scale for p in PILLARS} == {100.0}
    sc = evaluate(rs, {t: scan(rs, ROOT / "examples" / "country-index" / "facts", t) for t in rs.tables})
    write_outputs(sc, tmp_path / "out")
    long = pl.read_parquet(tmp_path / "out" / "scores_long.parquet")
    ref = _reference()
    assert len(ref) == 30
    for r in long.iter_rows(named=True):
        want = ref[r["code"]][r["node"]]
        assert r["max"] == (1.0 if r["node"] == "total" else 100.0)
        assert (r["score"] is None) == (want is None), (r["code"], r["node"])
        if want is not None:
            assert r["score"] == pytest.approx(want, rel=1e-12, abs=1e-12), (r["code"], r["node"])
