"""End to end through the CLI: every command, exit codes, golden text for user-facing output."""

from __future__ import annotations

import json
import subprocess
import sys

import fastexcel
import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.cli import app
from tests.conftest import ROOT, assert_golden

MINI = "tests/fixtures/mini"
FACTS = "tests/fixtures/mini/facts"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_check_summary():
    r = run("check", MINI)
    assert r.exit_code == 0, r.output
    assert "3 (2 technical, 1 manual)" in r.output


def test_check_json_contract():
    r = run("check", MINI, "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["levels"] == [2] and doc["points"] == {"total": 3, "technical": 2, "manual": 1}
    assert doc["max_total"] == 10 and doc["diagnostics"] == []


def test_check_reports_every_error_golden():
    r = run("check", "tests/fixtures/broken/semantic")
    assert r.exit_code == 1
    assert_golden("check_semantic.txt", r.stderr)


def test_check_syntax_error_golden():
    r = run("check", "tests/fixtures/broken/syntax")
    assert r.exit_code == 1
    assert "tests/fixtures/broken/syntax/bad.rules:6:7" in r.stderr
    assert_golden("check_syntax.txt", r.stderr)


def test_check_json_diagnostics():
    r = run("check", "tests/fixtures/broken/semantic", "--format", "json")
    assert r.exit_code == 1
    codes = [d["code"] for d in json.loads(r.stdout)["diagnostics"]]
    assert {"E101", "E102", "E103", "E106", "E201", "E202", "E203", "E208", "W501"} <= set(codes)


def test_score_text_and_files(tmp_path):
    r = run("score", MINI, "--facts", FACTS, "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert "甲市" in r.stdout
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["generation.json", "integrity.json", "provenance.json", "scores.csv", "scores.json", "scores.parquet",
                     "scores.xlsx", "scores_long.parquet"]
    xlsx = tmp_path / "out" / "scores.xlsx"
    assert fastexcel.read_excel(xlsx).sheet_names == ["总表", "网站", "问答", "说明", "来源 Provenance"]
    assert pl.read_excel(xlsx, sheet_name="总表")["总分"].to_list() == [8.0, 3.0, 0.0]
    assert "门户网站 (portal, /2)" in pl.read_excel(xlsx, sheet_name="网站").columns
    wide = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert wide.sort("code")["total"].to_list() == [8.0, 3.0, 0.0]
    assert pl.read_csv(tmp_path / "out" / "scores.csv").height == 3


def test_score_json_contract():
    r = run("score", MINI, "--facts", FACTS, "--format", "json")
    doc = json.loads(r.stdout)
    assert [i["id"] for i in doc["indicators"]] == ["web", "qa"]
    assert {"id", "name", "level", "parent", "max"} <= set(doc["indicators"][0])
    u = doc["units"][0]
    assert {"code", "name", "province", "macro_region", "total", "rank", "scores"} <= set(u)
    assert (u["code"], u["total"], u["rank"], u["scores"]) == ("100100", 8.0, 1, {"web": 4.0, "qa": 4.0})
    assert doc["units"][2]["status"] == {"portal": "no_data", "pages_n": "no_data", "qa_manual": "no_data"}


def test_score_one_round():
    r = run("score", MINI, "--facts", FACTS, "--round", "1", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["rounds"] == [1]
    assert {u["code"]: u["total"] for u in doc["units"]}["100100"] == 4.0  # portal 2 + 2 pages → 2; no manual


def test_score_unknown_round_is_usage_error():
    r = run("score", MINI, "--facts", FACTS, "--round", "9")
    assert r.exit_code == 2 and "no round 9" in r.stderr


def test_score_missing_facts_dir():
    r = run("score", MINI, "--facts", "nowhere")
    assert r.exit_code == 1 and "facts directory nowhere does not exist" in r.stderr  # like a missing rules dir


def test_score_facts_without_declared_column(tmp_path):
    (tmp_path / "pages.csv").write_text("unit,round,url\n100100,1,x\n", encoding="utf-8")
    (tmp_path / "manual.csv").write_text("unit,round,point,value,note\n", encoding="utf-8")
    r = run("score", MINI, "--facts", str(tmp_path))
    assert r.exit_code == 1 and "pages.csv:1 [status]: error[F102 missing-column]: missing (declared int)" in r.stderr
    assert "pages.csv:1 [markers]: error[F102 missing-column]: missing (declared list[str])" in r.stderr
    assert "Traceback" not in r.output


def test_explain_golden():
    r = run("explain", MINI, "--facts", FACTS, "--unit", "乙市", "--full")
    assert r.exit_code == 0, r.output
    assert_golden("explain_mini.txt", r.stdout)


def test_explain_whole_unit_is_compact_by_default():
    r = run("explain", MINI, "--facts", FACTS, "--unit", "乙市")
    assert r.exit_code == 0, r.output
    assert_golden("explain_mini_compact.txt", r.stdout)


def test_explain_json():
    r = run("explain", MINI, "--facts", FACTS, "--unit", "100100", "--node", "qa_manual", "--format", "json")
    doc = json.loads(r.stdout)
    node = doc["node"]
    assert node["id"] == "qa_manual" and node["score"] == 4.0
    assert node["facts"][0]["rows"][0]["note"] == "抽测5题全部答对"


def test_explain_unknown_unit_and_node():
    r = run("explain", MINI, "--facts", FACTS, "--unit", "甲")
    assert r.exit_code == 2 and "did you mean `甲市`" in r.stderr
    r = run("explain", MINI, "--facts", FACTS, "--unit", "甲市", "--node", "webb")
    assert r.exit_code == 2 and "did you mean `web`" in r.stderr


def test_inline_tests_pass_and_fail(tmp_path):
    r = run("test", MINI)
    assert r.exit_code == 0 and "3 passed, 0 failed" in r.stdout
    broken = tmp_path / "mini"
    broken.mkdir()
    for f in (ROOT / MINI).glob("*.*"):
        text = f.read_text(encoding="utf-8").replace('expect "100100" portal == 2', 'expect "100100" portal == 1.5')
        (broken / f.name).write_text(text, encoding="utf-8")
    r = run("test", str(broken))
    assert r.exit_code == 1
    assert "mini.rules:63:3: FAIL test \"门户得分\": 100100 portal == 1.5 (got 2)" in r.stderr


def test_fmt_check_and_rewrite(tmp_path):
    f = tmp_path / "x.rules"
    f.write_text('ruleset "x" {units: "u.csv"   max_total: 1}  # 注释\n', encoding="utf-8")
    assert run("fmt", str(f), "--check").exit_code == 1
    assert run("fmt", str(f)).exit_code == 0
    assert f.read_text(encoding="utf-8") == 'ruleset "x" {  # 注释\n  units: "u.csv"\n  max_total: 1\n}\n'
    assert run("fmt", str(f), "--check").exit_code == 0


def test_console_script_exit_codes_and_no_traceback():
    exe = [sys.executable, "-m", "govindex.cli"]
    r = subprocess.run([*exe, "check", "tests/fixtures/broken/syntax"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "bad.rules:6:7" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*exe, "score"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    r = subprocess.run([*exe, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "explain" in r.stdout
