"""Manual collection: the template for rules/2019, a filled workbook's import, its rejection whole."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
from conftest import ROOT, assert_golden

from govindex import ir
from govindex.check.run import load
from govindex.collect.manual import (
    META_SHEET,
    SHEET,
    ManualImportError,
    col_letter,
    manual_points,
    manual_table,
    write_template,
)
from govindex.collect.manual_import import import_workbook
from govindex.collect.manual_merge import PROVENANCE
from govindex.diagnostics import UsageError
from govindex.eval.evaluate import evaluate, score_col, status_col
from govindex.eval.facts import frames_from_rows, scan

N_UNITS, N_MANUAL = 334, 71


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules" / "2019")


@pytest.fixture(scope="module")
def template(rs, tmp_path_factory) -> Path:
    return write_template(rs, 1, tmp_path_factory.mktemp("tpl") / "manual-r1.xlsx")


def _columns(ws) -> dict[str, int]:
    """Row-1 header → 1-based column."""
    return {c.value: c.column for c in ws[1] if c.value}


def _rows(ws) -> dict[str, int]:
    """Unit code → 1-based row."""
    return {ws.cell(r, 1).value: r for r in range(3, ws.max_row + 1)}


def _fill(template: Path, out: Path, cells: dict[tuple[str, str], object], edit=None) -> Path:
    """Copy ``template`` to ``out`` with (unit code, header) → value written, then ``edit(ws)``."""
    wb = openpyxl.load_workbook(template)
    ws = wb[SHEET]
    cols, rows = _columns(ws), _rows(ws)
    for (code, header), value in cells.items():
        ws.cell(rows[code], cols[header], value)
    if edit:
        edit(ws, cols, rows)
    wb.save(out)
    return out


def test_manual_points_of_2019(rs):
    points = manual_points(rs)
    assert len(points) == N_MANUAL
    assert manual_table(rs) == "manual"
    assert all(p.values or p.range for p in points) and all(p.description for p in points)


def test_template_layout(rs, template):
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == [SHEET, "说明", META_SHEET]
    assert wb[META_SHEET].sheet_state == "hidden" and wb[META_SHEET].protection.sheet
    ws = wb[SHEET]
    ids = [p.id for p in manual_points(rs)]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["code", "name", "province", "macro_region", "collector", "note"]
    assert header[6:] == ids
    assert [c.value for c in ws[2]][6] == manual_points(rs)[0].label
    assert ws.max_row == 2 + N_UNITS and ws.freeze_panes == "C3"
    assert ws.cell(3, 1).value == rs.units[0].code and ws.cell(2 + N_UNITS, 2).value == rs.units[-1].name
    dvs = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert len(dvs) == N_MANUAL
    for j, p in enumerate(manual_points(rs)):
        dv = dvs[f"{col_letter(6 + j)}3:{col_letter(6 + j)}{2 + N_UNITS}"]
        assert dv.prompt and dv.promptTitle and dv.showErrorMessage and dv.errorStyle in (None, "stop")
        if p.values:
            assert dv.type == "list" and dv.formula1 == '"' + ",".join(f"{v:g}" for v in p.values) + '"'
        else:
            assert dv.type == "decimal" and (float(dv.formula1), float(dv.formula2)) == p.range
    help_ = list(wb["说明"].iter_rows(min_row=6, values_only=True))
    assert [r[1] for r in help_] == ids
    assert all(r[3] and r[5] and r[6] for r in help_)  # indicator path, allowed values, description
    meta = dict(wb[META_SHEET].iter_rows(values_only=True))
    assert meta["ruleset"] == rs.name and meta["round"] == "1" and meta["table"] == "manual"


def test_template_unknown_round(rs, tmp_path):
    with pytest.raises(UsageError, match="no round 9"):
        write_template(rs, 9, tmp_path / "x.xlsx")


GOOD = {
    ("130100", "adapt_manual_mobile"): 1,
    ("130100", "adapt_manual_browsers"): 0.5,
    ("130200", "adapt_manual_mobile"): 0,
    ("130200", "search_manual_sample"): 3.5,  # a range point: [0, 5]
    ("130300", "xxgk_manual_classification"): "0.5",  # numeric text is read as the number
    ("130100", "collector"): "张三",
    ("130100", "note"): "首页改版中",
}


def _written(facts: Path) -> pl.DataFrame:
    return pl.read_parquet(facts / "manual" / "round=1" / "part-0.parquet")


def test_import_writes_exactly_the_entries_and_scores_them(rs, template, tmp_path):
    book = _fill(template, tmp_path / "good.xlsx", GOOD)
    facts = tmp_path / "facts"
    report = import_workbook(book, rs, 1, facts)
    assert report.rows == 5 and report.units == 3 and report.blanks == N_UNITS * N_MANUAL - 5
    df = _written(facts)
    extra = [c for c in PROVENANCE if c not in rs.tables["manual"].columns]  # who, when, which book and cell
    assert df.columns == [*rs.tables["manual"].columns, *extra]
    got = {(r["unit"], r["point"]): (r["value"], r["collector"], r["note"]) for r in df.to_dicts()}
    assert got == {
        ("130100", "adapt_manual_mobile"): (1.0, "张三", "首页改版中"),
        ("130100", "adapt_manual_browsers"): (0.5, "张三", "首页改版中"),
        ("130200", "adapt_manual_mobile"): (0.0, "", ""),
        ("130200", "search_manual_sample"): (3.5, "", ""),
        ("130300", "xxgk_manual_classification"): (0.5, "", ""),
    }
    assert set(df["round"]) == {1}
    # The engine scores those points from the written facts (other tables empty).
    sources = frames_from_rows(rs, {}) | {"manual": scan(rs, facts, "manual")}
    units = evaluate(rs, sources, rounds=[1]).units
    by = {r["code"]: r for r in units.to_dicts()}
    for (code, point), (value, *_) in got.items():
        node = rs.nodes[point]
        if isinstance(node.score, ir.X):  # score: x → rate = value
            assert by[code][score_col(point)] == pytest.approx(value * node.max)
        assert by[code][status_col(point)] == "ok"
    assert by["130300"][status_col("adapt_manual_mobile")] == "no_data"  # blank: not collected, not 0


def test_reimport_changes_nothing_and_is_refused(rs, template, tmp_path):
    facts = tmp_path / "facts"
    book = _fill(template, tmp_path / "good.xlsx", GOOD)
    import_workbook(book, rs, 1, facts)
    first = _written(facts)
    with pytest.raises(ManualImportError, match="M118 no-change.*5 entries equal what round 1 holds"):
        import_workbook(book, rs, 1, facts)
    assert _written(facts).equals(first)
    assert [p.name for p in (facts / "manual" / "round=1").iterdir()] == ["part-0.parquet"]


def _bad_book(template: Path, out: Path) -> Path:
    def edit(ws, cols, rows):
        ws.cell(rows["130500"], 1, "999999")  # an unknown unit code, its row otherwise fine
        extra = ws.max_column + 1
        ws.cell(1, extra, "no_such_point")
        ws.cell(rows["130100"], extra, 1)
        ws.cell(rows["130600"], cols["adapt_manual_mobile"], "#N/A")  # an Excel error value
    return _fill(template, out, {
        ("130100", "adapt_manual_mobile"): 1,  # good, but nothing may be written
        ("130300", "adapt_manual_mobile"): 0.7,  # not one of 0, 0.5, 1
        ("130400", "adapt_manual_browsers"): "有",  # text in a number cell
        ("130200", "search_manual_sample"): 7,  # outside [0, 5]
    }, edit)


def test_bad_workbook_is_rejected_whole_naming_each_cell(rs, template, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in the message, for the golden file
    book = _bad_book(template, Path("bad.xlsx"))
    facts = tmp_path / "facts"
    with pytest.raises(ManualImportError) as exc:
        import_workbook(book, rs, 2, facts)  # the template is for round 1
    wb = openpyxl.load_workbook(book)
    cols, rows = _columns(wb[SHEET]), _rows(wb[SHEET])
    where = {p.where: p for p in exc.value.problems}
    expect = {
        f"bad.xlsx:{SHEET}!{col_letter(cols['adapt_manual_mobile'] - 1)}{rows['130300']}": "M102",
        f"bad.xlsx:{SHEET}!{col_letter(cols['adapt_manual_browsers'] - 1)}{rows['130400']}": "M101",
        f"bad.xlsx:{SHEET}!{col_letter(cols['search_manual_sample'] - 1)}{rows['130200']}": "M103",
        f"bad.xlsx:{SHEET}!A{rows['999999']}": "M104",
        f"bad.xlsx:{SHEET}!{col_letter(cols['no_such_point'] - 1)}1": "M105",
        f"bad.xlsx:{META_SHEET}!B4": "M202",
    }
    for loc, code in expect.items():
        assert where[loc].code == code, loc
    assert where[next(k for k, v in expect.items() if v == "M102")].column == "adapt_manual_mobile 手机端浏览实测（人工）"
    assert any(p.code == "M101" and "#N/A" in p.message for p in exc.value.problems)  # an Excel error cell
    assert not (facts / "manual").exists()  # nothing written
    assert_golden("manual_import_bad.txt", str(exc.value) + "\n")


def test_rejection_leaves_the_previous_import(rs, template, tmp_path):
    facts = tmp_path / "facts"
    import_workbook(_fill(template, tmp_path / "good.xlsx", GOOD), rs, 1, facts)
    before = _written(facts)
    with pytest.raises(ManualImportError):
        import_workbook(_bad_book(template, tmp_path / "bad.xlsx"), rs, 1, facts)
    assert _written(facts).equals(before)


def test_force_accepts_another_round_but_never_bad_cells(rs, template, tmp_path):
    facts = tmp_path / "facts"
    book = _fill(template, tmp_path / "good.xlsx", GOOD)
    report = import_workbook(book, rs, 2, facts, force=True)
    assert report.rows == 5 and [w.code for w in report.warnings] == ["M202"]
    assert (facts / "manual" / "round=2" / "part-0.parquet").exists()
    with pytest.raises(ManualImportError) as exc:
        import_workbook(_bad_book(template, tmp_path / "bad.xlsx"), rs, 2, facts, force=True)
    assert "M202" not in {p.code for p in exc.value.problems if p.severity == "error"}


def test_duplicates_shifted_names_and_foreign_workbooks(rs, template, tmp_path):
    def edit(ws, cols, rows):
        ws.cell(rows["130300"], 1, "130100")  # a second row for 石家庄市
        ws.cell(rows["130400"], 2, "唐山市")  # the row of 邯郸市 says 唐山市: rows shifted?
        ws.cell(1, cols["adapt_manual_browsers"], "adapt_manual_mobile")  # a duplicate column
        ws.cell(1, cols["search_manual_sample"], "xxgk_catalogue")  # a technical point
    book = _fill(template, tmp_path / "dup.xlsx", {}, edit)
    with pytest.raises(ManualImportError) as exc:
        import_workbook(book, rs, 1, tmp_path / "facts")
    codes = sorted(p.code for p in exc.value.problems if p.severity == "error")
    assert codes == ["M106", "M107", "M108", "M109"]
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.active.append(["code", "adapt_manual_mobile"])
    wb.active.append(["130100", 1])
    wb.save(plain)
    with pytest.raises(ManualImportError, match="M204 no-metadata"):
        import_workbook(plain, rs, 1, tmp_path / "facts")
    assert import_workbook(plain, rs, 1, tmp_path / "facts", force=True).rows == 1
    (tmp_path / "junk.xlsx").write_text("not a workbook")
    with pytest.raises(ManualImportError, match="M113 unreadable"):
        import_workbook(tmp_path / "junk.xlsx", rs, 1, tmp_path / "facts")
