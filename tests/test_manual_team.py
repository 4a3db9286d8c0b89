"""Issue 13, item 1: manual collection by a team, end to end through the CLI.

Per-collector templates (``manual template --units --points --collector``) filled with openpyxl
as a collector's spreadsheet program would; imports that record who entered each value, when,
from which book and cell; double entry (``manual compare``) listing every disagreement by cell;
a disagreement refused at import and recorded, then resolved (``manual resolve``) and scored;
``manual progress`` per point and per collector."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest
from conftest import ROOT, assert_golden
from typer.testing import CliRunner

from govindex.cli import app
from tests.manual_books import fill

TEAM = ROOT / "tests" / "fixtures" / "team"


def _cli(*args: object, cwd: Path) -> SimpleNamespace:
    """Run the CLI in-process (as tests/test_cli.py does) in ``cwd``: exit code, stdout, stderr."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def _template(tmp: Path, name: str, *opts: str) -> Path:
    r = _cli("manual", "template", TEAM, "--round", "1", "--out", tmp / name, *opts, cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp / name


def _import(tmp: Path, book: Path, *opts: str) -> SimpleNamespace:
    return _cli("manual", "import", book, "--rules", TEAM, "--round", "1", "--facts", tmp / "facts", *opts, cwd=tmp)


def _rows(tmp: Path) -> dict[tuple[str, str], dict]:
    df = pl.read_parquet(tmp / "facts" / "manual" / "round=1" / "part-0.parquet")
    return {(r["unit"], r["point"]): r for r in df.to_dicts()}


def test_two_collectors_books_merge_into_one_round_with_who_when_and_where(tmp_path):
    zhang = _template(tmp_path, "zhang.xlsx", "--units", "province=河北", "--collector", "张三")
    li = _template(tmp_path, "li.xlsx", "--units", "200100,丁州", "--points", "qa_manual,guide_manual",
                   "--collector", "李四")
    ws = openpyxl.load_workbook(li)["录入"]
    assert [c.value for c in ws[1]] == ["code", "name", "province", "collector", "note", "qa_manual", "guide_manual"]
    assert [(ws.cell(r, 1).value, ws.cell(r, 4).value) for r in (3, 4)] == [("200100", "李四"), ("200200", "李四")]
    assert ws.max_row == 4  # two units only
    meta = {r[0].value: r[1].value for r in openpyxl.load_workbook(li)["_meta"].iter_rows()}
    assert (meta["collector"], meta["assigned_units"], meta["assigned_points"]) == (
        "李四", "200100,200200", "qa_manual,guide_manual")

    fill(zhang, zhang, {("100100", "qa_manual"): 1, ("100100", "guide_manual"): 1.5, ("100100", "mobile_manual"): 1,
                        ("100200", "qa_manual"): 0.5})
    fill(li, li, {("200100", "qa_manual"): 0, ("200100", "guide_manual"): 2, ("200200", "guide_manual"): 0.5})
    before = datetime.now().astimezone().replace(microsecond=0)
    for book in (zhang, li):
        r = _import(tmp_path, book)
        assert r.returncode == 0, r.stderr
        assert "M301" not in r.stdout and "M302" not in r.stdout  # a collector's book lacks no unit nor point
    rows = _rows(tmp_path)
    got = {k: (v["value"], v["collector"], v["source_file"], v["source_cell"]) for k, v in rows.items()}
    assert got == {
        ("100100", "qa_manual"): (1.0, "张三", "zhang.xlsx", "录入!F3"),
        ("100100", "guide_manual"): (1.5, "张三", "zhang.xlsx", "录入!G3"),
        ("100100", "mobile_manual"): (1.0, "张三", "zhang.xlsx", "录入!H3"),
        ("100200", "qa_manual"): (0.5, "张三", "zhang.xlsx", "录入!F4"),
        ("200100", "qa_manual"): (0.0, "李四", "li.xlsx", "录入!F3"),
        ("200100", "guide_manual"): (2.0, "李四", "li.xlsx", "录入!G3"),
        ("200200", "guide_manual"): (0.5, "李四", "li.xlsx", "录入!G4"),
    }
    assert all(datetime.fromisoformat(v["entered_at"]) >= before for v in rows.values())
    # progress per collector: what each book asked for (河北's 2 units × 3 points; 2 units × 2 points)
    # and how much of it the round still lacks, computed here from the assignments and the rows
    doc = json.loads(_cli("manual", "progress", TEAM, "--round", "1", "--facts", "facts", "--format", "json",
                          cwd=tmp_path).stdout)
    who = {c["collector"]: (c["expected"], c["entered"], c["missing"]) for c in doc["collectors"]}
    asked = {"张三": {(u, p) for u in ("100100", "100200") for p in ("qa_manual", "guide_manual", "mobile_manual")},
             "李四": {(u, p) for u in ("200100", "200200") for p in ("qa_manual", "guide_manual")}}
    assert who == {n: (len(c), sum(1 for k in rows if rows[k]["collector"] == n), len(c - set(rows)))
                   for n, c in asked.items()} == {"张三": (6, 4, 2), "李四": (4, 3, 1)}
    register = json.loads((tmp_path / "facts" / "manual" / "round=1" / "_assignments.json").read_text(encoding="utf-8"))
    assert [(a["collector"], a["book"]) for a in register["assignments"]] == [("张三", "zhang.xlsx"), ("李四", "li.xlsx")]


def test_bad_unit_and_point_names_are_located_with_a_did_you_mean(tmp_path):
    r = _cli("manual", "template", TEAM, "--round", "1", "--out", tmp_path / "x.xlsx", "--units", "100100,甲,100201",
             "--points", "qa_manul,service", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "x.xlsx").exists()
    assert "--units [100201]: error[M120 unknown-assigned-unit]: no unit `100201` in rule set `team`" in r.stderr
    assert "did you mean `100200` or `200200`?" in r.stderr
    assert "--units [甲]: error[M120" in r.stderr
    (tmp_path / "mine.txt").write_text("code\n100100\n# 四川\n2001OO\n", encoding="utf-8")
    r = _cli("manual", "template", TEAM, "--round", "1", "--out", tmp_path / "x.xlsx", "--units", "mine.txt",
             "--points", "qa_manul,service", cwd=tmp_path)
    assert "mine.txt:4: error[M120 unknown-assigned-unit]: no unit `2001OO`" in r.stderr
    assert "--points [qa_manul]: error[M121 unknown-assigned-point]: no manual point `qa_manul`" in r.stderr
    assert "hint: did you mean `qa_manual`" in r.stderr
    assert "--points [service]: error[M121 unknown-assigned-point]: `service` is an indicator" in r.stderr


ZHANG = {("100100", "qa_manual"): 1, ("100200", "qa_manual"): 0.5, ("200100", "qa_manual"): 0,
         ("100100", "guide_manual"): 1.5}
WANG = {("100100", "qa_manual"): 1, ("100200", "qa_manual"): 1, ("200100", "qa_manual"): 0,
        ("200200", "qa_manual"): 0.5}


def _score(tmp: Path, unit: str, point: str) -> float:
    r = _cli("score", TEAM, "--facts", tmp / "facts", "--format", "json", cwd=tmp)
    assert r.returncode == 0, r.stderr
    (u,) = [u for u in json.loads(r.stdout)["units"] if u["code"] == unit]
    return u["points"][point]


def _norm(text: str, tmp: Path) -> str:
    return text.replace(f"{tmp}/", "")


def test_double_entry_disagreement_is_listed_by_cell_refused_resolved_and_scored(tmp_path):
    tpl = _template(tmp_path, "all.xlsx", "--points", "qa_manual,guide_manual")
    a = fill(tpl, tmp_path / "zhang.xlsx", {**ZHANG, **{(u, "collector"): "张三" for u, _ in ZHANG}})
    b = fill(tpl, tmp_path / "wang.xlsx", {**WANG, **{(u, "collector"): "王五" for u, _ in WANG}})

    r = _cli("manual", "compare", "zhang.xlsx", "wang.xlsx", "--rules", TEAM, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert_golden("manual_team/compare.txt", r.stdout)
    r = _cli("manual", "compare", "zhang.xlsx", "wang.xlsx", "--rules", TEAM, "--format", "json", cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert doc["agree"] == 2 and [(d["unit"], d["a"]["value"], d["b"]["value"], d["b"]["cell"])
                                  for d in doc["disagree"]] == [("100200", 0.5, 1.0, "录入!F4")]
    assert _cli("manual", "compare", "zhang.xlsx", "zhang.xlsx", "--rules", TEAM, cwd=tmp_path).returncode == 0
    bad = fill(tpl, tmp_path / "bad.xlsx", {("100100", "qa_manual"): 0.7})
    r = _cli("manual", "compare", "zhang.xlsx", bad.name, "--rules", TEAM, cwd=tmp_path)
    assert r.returncode == 1 and "bad.xlsx: 1 error, nothing compared" in r.stderr and "M102" in r.stderr

    assert _import(tmp_path, a).returncode == 0
    r = _import(tmp_path, b)
    assert r.returncode == 1 and "Traceback" not in r.stderr  # refused: 王五's 1 is not written over 张三's 0.5
    assert_golden("manual_team/import_disagreement.txt", _norm(r.stderr, tmp_path))
    assert _rows(tmp_path)[("100200", "qa_manual")]["value"] == 0.5
    r = _cli("manual", "progress", TEAM, "--round", "1", "--facts", "facts", cwd=tmp_path)
    assert_golden("manual_team/progress_disputed.txt", r.stdout)

    resolve = ["manual", "resolve", "--rules", TEAM, "--round", "1", "--facts", "facts", "--unit", "100200",
               "--point", "qa_manual", "--value", "1", "--by", "李四"]
    r = _cli(*resolve, cwd=tmp_path)
    assert r.returncode == 1 and "--reason: error[M123 resolution-no-reason]" in r.stderr
    r = _cli(*resolve, "--reason", "复核截图：5 题答对 5 题", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "resolved 100200 × qa_manual = 1 by 李四 (复核截图：5 题答对 5 题); was 0.5"
    row = _rows(tmp_path)[("100200", "qa_manual")]
    assert (row["value"], row["collector"], row["source_file"], row["source_cell"], row["resolved_by"],
            row["resolution"]) == (1.0, "王五", "wang.xlsx", "录入!F4", "李四", "复核截图：5 题答对 5 题")

    r = _import(tmp_path, b)  # the disputed cell now goes through: the rest of 王五's book is imported
    assert r.returncode == 0, r.stderr
    assert "1 added, 0 changed, 3 unchanged, 2 verified" in r.stdout
    rows = _rows(tmp_path)
    assert rows[("100100", "qa_manual")]["verified_by"] == "王五"
    assert rows[("100100", "qa_manual")]["verified_cell"].endswith("wang.xlsx:录入!F3")
    r = _cli("manual", "progress", TEAM, "--round", "1", "--facts", "facts", cwd=tmp_path)
    assert_golden("manual_team/progress.txt", r.stdout)
    doc = json.loads(_cli("manual", "progress", TEAM, "--round", "1", "--facts", "facts", "--format", "json",
                          cwd=tmp_path).stdout)
    assert doc["total"] == {"expected": 12, "entered": 5, "verified": 3, "disputed": 0, "missing": 7}
    assert _score(tmp_path, "100200", "qa_manual") == pytest.approx(4.0)  # the resolved value, scored


def test_a_resolutions_file_is_checked_line_by_line(tmp_path):
    (tmp_path / "res.csv").write_text("unit,point,value,reason,by\n100100,qa_manual,1,复核,李四\n"
                                      "100200,qa_manual,0.7,,李四\n100300,mobile,1,看过,\n", encoding="utf-8")
    r = _cli("manual", "resolve", "--rules", TEAM, "--round", "1", "--facts", "facts", "--file", "res.csv",
             cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr and not (tmp_path / "facts" / "manual").exists()
    assert_golden("manual_team/resolve_file_errors.txt", r.stderr)


def test_a_resolved_cell_stands_and_replace_closes_the_dispute(tmp_path):
    """Through the API (fast): after a resolution, a book with the losing value imports with an
    M304 warning and leaves the cell as resolved; --replace overrules and closes the dispute."""
    from govindex.check.run import load
    from govindex.collect.manual import ManualImportError, write_template
    from govindex.collect.manual_disputes import read_register
    from govindex.collect.manual_import import import_workbook
    from govindex.collect.manual_resolve import Resolution, resolve
    from govindex.diagnostics import File

    rs, facts = load(TEAM), tmp_path / "facts"
    tpl = write_template(rs, 1, tmp_path / "t.xlsx")
    a = fill(tpl, tmp_path / "a.xlsx", {("100100", "qa_manual"): 0.5, ("100100", "collector"): "张三"})
    b = fill(tpl, tmp_path / "b.xlsx", {("100100", "qa_manual"): 1, ("100200", "qa_manual"): 1,
                                        ("100100", "collector"): "王五", ("100200", "collector"): "王五"})
    import_workbook(a, rs, 1, facts)
    with pytest.raises(ManualImportError, match="M122 disagreement"):
        import_workbook(b, rs, 1, facts)
    with pytest.raises(ManualImportError, match="M122 disagreement"):  # refused again: recorded once
        import_workbook(b, rs, 1, facts)
    round_dir = facts / "manual" / "round=1"
    assert [(d.key, d.status) for d in read_register(round_dir)] == [(("100100", "qa_manual"), "open")]
    resolve(rs, 1, facts, [Resolution("100100", "qa_manual", "0.5", "截图为准", "李四", File("x"))], "x")
    assert read_register(round_dir)[0].status == "resolved"
    report = import_workbook(b, rs, 1, facts)
    (w,) = [w for w in report.warnings if w.code == "M304"]
    assert "100100 × qa_manual: 1 not imported; the cell was resolved to 0.5 by 李四 (截图为准)" in w.message
    assert _rows(tmp_path)[("100100", "qa_manual")]["value"] == 0.5 and report.added == 1

    c = fill(tpl, tmp_path / "c.xlsx", {("100200", "qa_manual"): 0, ("100200", "collector"): "赵六"})
    with pytest.raises(ManualImportError, match="M122"):
        import_workbook(c, rs, 1, facts)
    import_workbook(c, rs, 1, facts, replace=True)
    assert [d.status for d in read_register(round_dir)] == ["resolved", "replaced"]
    assert _rows(tmp_path)[("100200", "qa_manual")]["value"] == 0.0
