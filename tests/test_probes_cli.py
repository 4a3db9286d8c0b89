"""The collection commands join the CLI through the entry point; manual template/import end to end."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
from openpyxl import load_workbook

from tests.conftest import ROOT


def govindex(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govindex.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_collection_commands_are_registered():
    r = govindex("--help")
    assert r.returncode == 0
    for cmd in ("manual", "import"):
        assert cmd in r.stdout


def test_manual_template_fill_import(tmp_path):
    book = tmp_path / "m.xlsx"
    r = govindex("manual", "template", "tests/fixtures/mini", "--round", "2", "--out", str(book))
    assert r.returncode == 0, r.stderr
    wb = load_workbook(book)
    ws = wb["录入"]
    header = [c.value for c in ws[1]]
    col = header.index("qa_manual") + 1
    codes = [ws.cell(row=i, column=1).value for i in range(3, ws.max_row + 1)]
    ws.cell(row=3 + codes.index("100100"), column=col, value=0.5)
    wb.save(book)
    facts = tmp_path / "facts"
    r = govindex("manual", "import", str(book), "--rules", "tests/fixtures/mini", "--round", "2", "--facts", str(facts))
    assert r.returncode == 0, r.stderr
    rows = pl.read_parquet(facts / "manual" / "round=2" / "part-0.parquet")
    assert rows.select("unit", "point", "value").rows() == [("100100", "qa_manual", 0.5)]


def test_manual_import_rejects_bad_cell_with_exit_1(tmp_path):
    book = tmp_path / "m.xlsx"
    govindex("manual", "template", "tests/fixtures/mini", "--round", "1", "--out", str(book))
    wb = load_workbook(book)
    ws = wb["录入"]
    col = [c.value for c in ws[1]].index("qa_manual") + 1
    ws.cell(row=3, column=col, value=0.7)
    wb.save(book)
    r = govindex("manual", "import", str(book), "--rules", "tests/fixtures/mini", "--round", "1",
                 "--facts", str(tmp_path / "facts"))
    assert r.returncode == 1
    assert "nothing imported" in r.stderr and "录入!" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "facts").exists() or not any((tmp_path / "facts").rglob("*.parquet"))


def test_demo_end_to_end(tmp_path):
    r = govindex("demo", "--units", "3", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "3 units, scored in" in r.stdout and "fully collected" in r.stdout
    scores = pl.read_parquet(tmp_path / "demo" / "results" / "scores.parquet")
    assert scores.height == 3 and scores["total"].min() > 0
    assert "govindex.provenance" in pl.read_parquet_metadata(tmp_path / "demo" / "results" / "scores.parquet")


def test_extract_without_archive_is_a_clear_error(tmp_path):
    r = govindex("extract", "rules/2019", "--round", "1", "--facts", str(tmp_path))
    assert r.returncode == 1 and "no crawl archive for round 1" in r.stderr and "Traceback" not in r.stderr


def test_collect_rejects_a_bad_channels_file(tmp_path):
    bad = tmp_path / "channels.csv"
    bad.write_text("unit,kind,url,name\n999999,portal,http://x.gov.cn/,x\n130100,portal,ftp://x/,y\n", encoding="utf-8")
    r = govindex("collect", "rules/2019", "--channels", str(bad), "--round", "1", "--out", str(tmp_path / "f"))
    assert r.returncode == 1 and "channels.csv:2 [unit]: error[C104" in r.stderr
    assert "channels.csv:3 [url]: error[C106" in r.stderr
    assert not r.stderr.startswith("error:"), r.stderr  # the diagnostic says "error[C104 …]" itself
