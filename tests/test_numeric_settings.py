"""Non-finite and overflowing settings (issue 9, reproducer 5): `check` rejects them, located, so that
`score` can never emit NaN totals, bare `NaN` in JSON, all-rank-1 rankings or a crashing
workbook; and every JSON govindex prints parses under a strict parser (no NaN, no Infinity)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.check.run import check, load
from govindex.check.settings import AMOUNT_FLOOR, LIMIT
from govindex.cli import app
from govindex.diagnostics import ResultsError
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.explain import load_sources
from govindex.results import assert_finite, strict_json, to_json, write_excel
from tests.conftest import ROOT, assert_golden

MINI = ROOT / "tests" / "fixtures" / "mini"
MINI_TEXT = (MINI / "mini.rules").read_text(encoding="utf-8")
COUNTRY = ROOT / "examples" / "country-index"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (Python's default accepts them)."""
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def mini_with(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    d = tmp_path / "mini"
    shutil.copytree(MINI, d)
    text = MINI_TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (d / "mini.rules").write_text(text, encoding="utf-8")
    return d


WEB, QA = 'indicator web "网站" {\n  max: 6', 'indicator qa "问答" {\n  max: 4'
WMEAN = ("max_total: 10", "max_total: 10\n  aggregate: wmean")

# (id, edits, code, fragment, line, errors): each was accepted before and scored into NaN or
# nonsense; `errors` is how many errors there are — one per wrong value written, no cascade.
CASES = [
    ("max-total-1e308", [("max_total: 10", "max_total: 1e308")], "E207", "above 1e15", 6, 1),
    ("max-total-1e400", [("max_total: 10", "max_total: 1e400")], "E001", "too large", 6, 1),
    ("max-total-0", [("max_total: 10", "max_total: 0")], "E207", "is not positive", 6, 1),
    ("max-total-negative", [("max_total: 10", "max_total: -5")], "E207", "is not positive", 6, 1),
    ("max-total-text", [("max_total: 10", 'max_total: "10"')], "E207", "takes a number", 6, 1),
    ("max-1e308-capped", [(WEB, 'indicator web "网站" {\n  aggregate: capped_sum\n  max: 1e308'),
                          ("max: 2", "max: 1e308"), ("max: 4\n    probe", "max: 1e308\n    probe")],
     "E207", "above 1e15", 29, 3),
    ("max-tiny", [("max: 2", "max: 1e-12"), ("max: 4\n    probe", "max: 6\n    probe")], "E207", "below 1e-9", 32, 1),
    ("implied-total-overflow", [("  max_total: 10\n", ""), (WEB, 'indicator web "网站" {\n  max: 9e14'),
                                ("max: 2", "max: 5e14"), ("max: 4\n    probe", "max: 4e14\n    probe"),
                                (QA, 'indicator qa "问答" {\n  max: 9e14'),
                                ("max: 4\n    probe: entry", "max: 9e14\n    probe: entry")],
     "E207", "sum of the first-level maxima", 2, 1),
    ("weight-1e308", [WMEAN, (WEB, 'indicator web "网站" {\n  weight: 1e308'), (QA, 'indicator qa "问答" {\n  weight: 4')],
     "E207", "above 1e15", 29, 1),
    # weight 0 is allowed (computed, shown, not counted: tests/test_missing_reasons.py); below 0 is not
    ("weight-negative", [WMEAN, (WEB, 'indicator web "网站" {\n  weight: -1'), (QA, 'indicator qa "问答" {\n  weight: 4')],
     "E207", "is not positive", 29, 1),
    ("weight-share-underflows", [WMEAN, (WEB, 'indicator web "网站" {\n  weight: 1e-9'),
                                 (QA, 'indicator qa "问答" {\n  weight: 1e6')], "E207", "the maximum of `web`", 29, 2),
    ("ramp-1e308", [("score: linear(x, cap: 4)", "score: ramp(x, lo: -1e308, hi: 1e308)")], "E105", "beyond", 41, 2),
    ("zscore-span-1e308", [("score: linear(x, cap: 4)", "score: zscore(x, span: 1e308)")], "E105", "beyond", 41, 1),
    ("cap-1e400", [("score: linear(x, cap: 4)", "score: linear(x, cap: 1e400)")], "E001", "too large", 41, 1),
]


# The red team's reproducers, exactly: `check` accepted each, and `score` gave NaN (or 1e308)
# totals, every unit rank 1, a bare NaN in JSON and a TypeError in the xlsx writer.
_NO_MAX = [(f'point {p} "{label}" {{\n    kind: {kind}\n    max: {m}', f'point {p} "{label}" {{\n    kind: {kind}')
           for p, label, kind, m in (("portal", "门户网站", "technical", 2), ("pages_n", "页面数量", "technical", 4),
                                     ("qa_manual", "智能问答（人工）", "manual", 4))]
_MEANS = [(WEB, 'indicator web "网站" {\n  aggregate: mean'), (QA, 'indicator qa "问答" {\n  aggregate: mean'), *_NO_MAX]
REPRODUCERS = [
    ("wmean-max-total-1e400", [("max_total: 10", "max_total: 1e400\n  aggregate: wmean"),
                               (WEB, 'indicator web "网站" {\n  weight: 6'), (QA, 'indicator qa "问答" {\n  weight: 4')],
     [("E001", 6)]),
    ("wmean-weights-1e308", [WMEAN, (WEB, 'indicator web "网站" {\n  weight: 1e308'),
                             (QA, 'indicator qa "问答" {\n  weight: 1e308')],
     [("E207", 29), ("E207", 49)]),
    ("mean-max-total-0", [("max_total: 10", "max_total: 0\n  aggregate: mean"), *_MEANS], [("E207", 6)]),
    ("mean-max-total-1e308", [("max_total: 10", "max_total: 1e308\n  aggregate: mean"), *_MEANS], [("E207", 6)]),
    ("capped-sum-1e308", [("max_total: 10", "max_total: 1e308"),
                          (WEB, 'indicator web "网站" {\n  max: 1e308\n  aggregate: capped_sum'),
                          ("max: 2", "max: 1e308"), ("max: 4\n    probe", "max: 1e308\n    probe"),
                          (QA, 'indicator qa "问答" {\n  max: 0.0000001\n  aggregate: capped_sum')],
     [("E207", 6), ("E207", 28), ("E207", 33), ("E207", 40)]),
]


@pytest.mark.parametrize("edits,expected", [r[1:] for r in REPRODUCERS], ids=[r[0] for r in REPRODUCERS])
def test_reproducers_are_located_errors(tmp_path, edits, expected):
    d = mini_with(tmp_path, *edits)
    rs, diags = check(d)
    assert rs is None and [(x.code, x.span.line) for x in diags if x.is_error] == expected, \
        "\n".join(x.render() for x in diags)
    r = run("score", d, "--facts", MINI / "facts", "--format", "json", "--out", tmp_path / "out")
    assert r.exit_code == 1 and r.stdout == "" and not (tmp_path / "out").exists()
    assert f"mini.rules:{expected[0][1]}:" in r.stderr


@pytest.mark.parametrize("edits,code,fragment,line,errors", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_rejects_non_finite_and_overflowing_settings(tmp_path, edits, code, fragment, line, errors):
    rs, diags = check(mini_with(tmp_path, *edits))
    assert rs is None
    mine = [d for d in diags if d.code == code and fragment in d.message]
    assert mine, "\n".join(d.render() for d in diags)
    assert mine[0].span.line == line and mine[0].span.col >= 1 and mine[0].hint
    assert len([d for d in diags if d.is_error]) == errors, "\n".join(d.render() for d in diags)


def test_bounds_themselves_are_accepted_and_score_finitely(tmp_path):
    # The largest maxima allowed and the smallest weight share: finite totals, strict JSON, a workbook.
    d = mini_with(tmp_path, ("max_total: 10", f"max_total: {LIMIT:g}"), (WEB, f'indicator web "网站" {{\n  max: {LIMIT / 2:g}'),
                  ("max: 2", f"max: {LIMIT / 4:g}"), ("max: 4\n    probe", f"max: {LIMIT / 4:g}\n    probe"),
                  (QA, f'indicator qa "问答" {{\n  max: {LIMIT / 2:g}'),
                  ("max: 4\n    probe: entry", f"max: {LIMIT / 2:g}\n    probe: entry"))
    rs = load(d)
    sc = evaluate(rs, load_sources(rs, d / "facts"))
    assert all(math.isfinite(t) for t in sc.units["total"].to_list())
    assert sc.units["rank"].n_unique() > 1  # not every unit rank 1
    strict_loads(strict_json(to_json(sc)))
    write_excel(sc, tmp_path / "s.xlsx")
    assert AMOUNT_FLOOR > 0


def test_a_rule_set_without_indicators_is_e210_not_a_polars_error(tmp_path):
    # Its total's maximum is 0: check accepted it and score died in polars ("empty fold").
    d = tmp_path / "empty"
    d.mkdir()
    shutil.copy(MINI / "units.csv", d)
    (d / "r.rules").write_text('ruleset "空" {\n  units: "units.csv"\n  missing: zero\n}\n'
                               "table pages {\n  unit: str\n  round: int\n}\n", encoding="utf-8")
    rs, diags = check(d)
    assert rs is None and [(x.code, x.span.line) for x in diags if x.is_error] == [("E210", 1)]
    (d / "facts").mkdir()
    (d / "facts" / "pages.csv").write_text("unit,round\n100100,1\n", encoding="utf-8")
    r = run("score", d, "--facts", d / "facts")
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit) and "E210" in r.stderr


# ---------------------------------------------------------------- the last line: results never hold NaN


def _scores(tmp_path):
    rs = load(MINI)
    return evaluate(rs, load_sources(rs, MINI / "facts"))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_score_names_unit_and_node(tmp_path, bad):
    sc = _scores(tmp_path)
    sc.units = sc.units.with_columns(pl.when(pl.col("code") == "100200").then(bad)
                                     .otherwise(pl.col(score_col("web"))).alias(score_col("web")))
    with pytest.raises(ResultsError, match="unit 100200 at `web`"):
        assert_finite(sc)
    with pytest.raises(ResultsError, match="unit 100200 at `web`"):
        to_json(sc)
    with pytest.raises(ResultsError, match="unit 100200 at `web`"):  # not an xlsxwriter crash
        write_excel(sc, tmp_path / "s.xlsx")


def test_strict_json_names_the_path_of_a_non_finite_value():
    doc = {"units": [{"code": "100100", "scores": {"web": 1.0}}, {"code": "100200", "scores": {"web": math.nan}}]}
    with pytest.raises(ResultsError, match=r"units\[100200\]\.scores\.web is nan"):
        strict_json(doc)
    doc = {"node": {"id": "total", "children": [{"id": "web", "per_round": [{"round": 2, "value": math.inf}]}]}}
    with pytest.raises(ResultsError, match=r"node\.children\[web\]\.per_round\[2\]\.value is inf"):
        strict_json(doc)
    assert strict_loads(strict_json({"a": [1.5, None, "NaN"]})) == {"a": [1.5, None, "NaN"]}


# ---------------------------------------------------------------- every JSON output parses strictly


@pytest.mark.parametrize("rules,facts,unit", [(MINI, MINI / "facts", "100100"), (COUNTRY, COUNTRY / "facts", None)],
                         ids=["mini", "country-index"])
def test_every_json_output_is_strict_json(tmp_path, rules, facts, unit):
    outputs = {}
    outputs["check"] = run("check", rules, "--format", "json")
    outputs["score"] = run("score", rules, "--facts", facts, "--format", "json", "--out", tmp_path / "out")
    doc = strict_loads(outputs["score"].stdout)
    unit = unit or doc["units"][0]["code"]
    outputs["explain"] = run("explain", rules, "--facts", facts, "--unit", unit, "--format", "json")
    outputs["analyze"] = run("analyze", tmp_path / "out", "--format", "json")
    for name, r in outputs.items():
        assert r.exit_code == 0, (name, r.output)
        strict_loads(r.stdout)
    strict_loads((tmp_path / "out" / "scores.json").read_text(encoding="utf-8"))
    assert all(math.isfinite(u["total"]) for u in doc["units"] if u["total"] is not None)


def test_diff_json_is_strict_json():
    r = run("diff", ROOT / "rules" / "2018", ROOT / "rules" / "2019", "--format", "json")
    assert r.exit_code == 0, r.output
    strict_loads(r.stdout)


# ---------------------------------------------------------------- --top


@pytest.mark.parametrize("top", ["-5", "-1"])
def test_score_top_negative_is_a_usage_error(top):
    r = run("score", MINI, "--facts", MINI / "facts", "--top", top)
    assert r.exit_code == 2 and "--top" in r.output


def test_score_top_zero_shows_all():
    r = run("score", MINI, "--facts", MINI / "facts", "--top", "0")
    assert r.exit_code == 0 and "more (use --top 0" not in r.output


def test_check_numbers_golden(monkeypatch):
    """Every kind of number check has one ✗ line in the fixture and one diagnostic in the golden file."""
    monkeypatch.chdir(ROOT)
    r = run("check", "tests/fixtures/broken/numbers")
    assert r.exit_code == 1
    marked = (ROOT / "tests/fixtures/broken/numbers/numbers.rules").read_text(encoding="utf-8").count("# ✗")
    assert r.stderr.count(": error[") == marked == 6
    assert_golden("check_numbers.txt", r.stderr)
