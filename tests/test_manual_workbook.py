"""Issue 9, reproducers 4 and 8 (workbooks): a formula without a cached value is a located error,
not a blank; a workbook of 200,000 unknown units is rejected fast with every bad cell counted; a
small file holding a huge string is refused before it is read whole, in bounded memory; other
cells that are not what they seem (merged, dates, booleans, over-long) are located errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from govindex.check.run import load
from govindex.collect.imports import MAX_KEPT
from govindex.collect.manual import SHEET, ManualImportError, write_template
from govindex.collect.manual_import import import_workbook
from tests.conftest import ROOT
from tests.manual_books import entry_part, fill, rewrite_part


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules" / "2019")


@pytest.fixture(scope="module")
def template(rs, tmp_path_factory):
    return write_template(rs, 1, tmp_path_factory.mktemp("tpl") / "manual-r1.xlsx")


def _problems(exc) -> dict[str, str]:
    return {p.where.split(".xlsx:", 1)[1]: p.code for p in exc.value.problems if p.severity == "error"}


def test_a_formula_without_a_cached_value_is_a_located_error(rs, template, tmp_path):
    book = fill(template, tmp_path / "f.xlsx", {("130100", "adapt_manual_mobile"): "=1+0",
                                                 ("130200", "adapt_manual_mobile"): 1})
    with pytest.raises(ManualImportError) as exc:  # before: imported as a blank (not collected)
        import_workbook(book, rs, 1, tmp_path / "facts")
    (p,) = [p for p in exc.value.problems if p.severity == "error"]
    assert p.code == "M114" and p.where.endswith(f"{SHEET}!BC3")
    assert "formula without a cached value — open and save the book in Excel" in p.message
    assert p.column.startswith("adapt_manual_mobile ")
    assert not (tmp_path / "facts").exists()


def test_a_formula_with_a_cached_value_reads_the_value(rs, template, tmp_path):
    book = fill(template, tmp_path / "f.xlsx", {("130100", "adapt_manual_mobile"): "=1/2"})
    rewrite_part(book, entry_part(book), lambda x: x.replace(b"<f>1/2</f><v></v>", b"<f>1/2</f><v>0.5</v>"))
    report = import_workbook(book, rs, 1, tmp_path / "facts")
    assert report.added == 1 and not report.changed


def test_merged_dates_booleans_and_over_long_cells_are_located_errors(rs, template, tmp_path):
    import datetime as dt

    def edit(ws, cols, where):
        c = cols["adapt_manual_browsers"]
        ws.cell(where["130500"], c, 1)
        ws.merge_cells(start_row=where["130500"], start_column=c, end_row=where["130700"], end_column=c)
    book = fill(template, tmp_path / "m.xlsx", {("130100", "adapt_manual_mobile"): dt.datetime(2019, 1, 1),
                                                ("130200", "adapt_manual_mobile"): True,
                                                ("130300", "note"): "LONGNOTE"}, edit)
    # openpyxl cuts a cell at Excel's limit; another program may not.
    rewrite_part(book, entry_part(book), lambda x: x.replace(b"LONGNOTE", ("长" * 40_000).encode()))
    with pytest.raises(ManualImportError) as exc:
        import_workbook(book, rs, 1, tmp_path / "facts")
    got = _problems(exc)
    assert got == {f"{SHEET}!BC3": "M101", f"{SHEET}!BC4": "M101", f"{SHEET}!F5": "M115", f"{SHEET}!BD7:BD9": "M116"}
    text = str(exc.value)
    assert "`2019-01-01` is not a number" in text and "`TRUE` is not a number" in text
    assert "40,000 characters; a cell holds at most 32,767" in text


def test_files_that_are_not_xlsx_are_refused_with_a_hint(rs, template, tmp_path):
    xls = tmp_path / "old.xlsx"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(ManualImportError, match="M113 unreadable.*Excel 97-2003.*\n  hint: .*save it as .xlsx"):
        import_workbook(xls, rs, 1, tmp_path / "facts")
    import os

    os.mkfifo(tmp_path / "pipe.xlsx")
    with pytest.raises(ManualImportError, match="M113 unreadable.*not a regular file"):
        import_workbook(tmp_path / "pipe.xlsx", rs, 1, tmp_path / "facts")  # a FIFO: refused, not waited on
    with pytest.raises(ManualImportError, match="M113 unreadable.*No such file"):
        import_workbook(tmp_path / "missing.xlsx", rs, 1, tmp_path / "facts")
    dtd = rewrite_part(template, entry_part(template), lambda x: x.replace(
        b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><worksheet', 1), tmp_path / "dtd.xlsx")
    with pytest.raises(ManualImportError, match="M113 unreadable.*declares a DTD"):
        import_workbook(dtd, rs, 1, tmp_path / "facts")


# ------------------------------------------------------------------ hostile sizes (reproducer 8)


def _with_rows(template: Path, out: Path, body: str) -> Path:
    """The template with its data rows replaced by ``body`` (sheet XML rows)."""
    def edit(xml: bytes) -> bytes:
        text = xml.decode()
        head = re.search(r'<row r="1".*?</row><row r="2".*?</row>', text).group(0)
        start, end = text.index("<sheetData>") + len("<sheetData>"), text.index("</sheetData>")
        return (text[:start] + head + body + text[end:]).encode()
    return rewrite_part(template, entry_part(template), edit, out)


def test_200000_unknown_units_are_rejected_fast_with_every_cell_counted(rs, template, tmp_path):
    body = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>9{r:06d}</t></is></c><c r="G{r}"><v>1</v></c></row>'
                   for r in range(3, 200_003))
    book = _with_rows(template, tmp_path / "units.xlsx", body)
    t0 = time.process_time()
    with pytest.raises(ManualImportError) as exc:
        import_workbook(book, rs, 1, tmp_path / "facts")
    took = time.process_time() - t0
    assert took < 30, took  # before: 138 s (a did-you-mean for every row)
    assert exc.value.counts[("error", "M104", "unknown-unit")] == 200_000  # every bad cell counted …
    assert len(exc.value.problems) == MAX_KEPT  # … the first 10,000 kept, the first 200 shown
    assert "… and 199,801 more (M104 unknown-unit: 200,000 errors; M301 units-not-listed: 1 warning)" in str(exc.value)
    hints = [p.hint for p in exc.value.problems]
    assert sum(h.startswith("did you mean") for h in hints) <= 20


RSS = """
import sys
from pathlib import Path
from govindex.check.run import load
from govindex.collect.manual import ManualImportError
from govindex.collect.manual_import import import_workbook
try:
    import_workbook(Path(sys.argv[1]), load(Path("rules/2019")), 1, Path(sys.argv[2]))
    print("imported")
except ManualImportError as exc:
    print(exc.problems[0].code, exc.problems[0].message)
# VmHWM, not ru_maxrss: Linux carries the parent's high-water mark across fork + exec into
# ru_maxrss, so a big pytest process would be measured instead of this one.
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) // 1024)
"""


def _big_string_book(template: Path, out: Path, chars: bytes, n: int) -> Path:
    """The template with a string of ``n`` × ``chars`` in 录入!F3 (a note), streamed into the zip."""
    with zipfile.ZipFile(template) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename != entry_part(template):
                zout.writestr(info, data)
                continue
            head, tail = data.decode().split('<row r="3"', 1)
            with zout.open(info.filename, "w", force_zip64=True) as fh:
                fh.write((head + '<row r="3"><c r="A3" t="inlineStr"><is><t>130100</t></is></c>'
                          '<c r="F3" t="inlineStr"><is><t>').encode())
                for _ in range(n):
                    fh.write(chars)
                fh.write(b'</t></is></c><c r="BC3"><v>1</v></c></row><row r="4"' + tail.encode())
    return out


@pytest.mark.parametrize("kind", ["bomb", "long"])
def test_a_huge_string_is_refused_in_bounded_memory(template, tmp_path, kind):
    if kind == "bomb":  # 128 MiB of one letter: a 130 KB file expanding 1000×
        book = _big_string_book(template, tmp_path / "bomb.xlsx", b"A" * 2**20, 128)
    else:  # 8 MiB of random letters: compresses like text, so only the cell's length gives it away
        import random
        rnd = random.Random(9)
        book = _big_string_book(template, tmp_path / "long.xlsx", bytes(rnd.choices(b"abcdefghij", k=2**20)), 8)
    r = subprocess.run([sys.executable, "-c", RSS, str(book), str(tmp_path / "facts")], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    verdict, rss = r.stdout.strip().splitlines()
    if kind == "bomb":
        assert re.match(r"M113 cannot read the workbook: part xl/worksheets/sheet1.xml expands \d{3,}× .* limit 100×",
                        verdict), verdict
    else:
        assert verdict.startswith("M115 the cell holds 8,388,608 characters")
    assert int(rss) < 300, rss  # MiB; before: the whole string read, 3-10 GB for 1 GB
    assert not (tmp_path / "facts").exists()
