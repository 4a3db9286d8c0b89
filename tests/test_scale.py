"""Issue 11 item 1 and its "fix on the way": a node's own scale, settings as constant
expressions, a min/max root needs `max_total`, geomean's equal default weights, Excel sheet
names from any label, the score table's total label."""

from __future__ import annotations

import shutil

import fastexcel
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
    assert sheets == ["总表", "网站_平台_ _A___", "网站_平台_ _A___ (2)", "说明"]


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
