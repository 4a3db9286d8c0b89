"""scores.xlsx and scores.csv as people open them (issue 13 item 5), read back with openpyxl:
statuses filled and commented on the right cells, number formats at the rule set's digits,
autofilter and frozen panes on every data sheet, CJK-aware widths, the manual template's attribute
headers, the provenance sheet; the CSV's UTF-8 byte-order mark."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

from govindex import results_book as book
from govindex.check.run import load
from govindex.cli import app
from govindex.eval.evaluate import Scores, evaluate, status_col
from govindex.eval.explain import load_sources
from govindex.results import to_json, write_excel, write_outputs
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"
HEADER_ID = re.compile(r"\(([^,()]+), /[^)]*\)$")  # "门户网站 (portal, /2)" → portal
DATA_SHEETS_SKIP = ("说明", "Notes", book.PROVENANCE_SHEET)


def scores_of(rules: Path, facts: Path) -> Scores:
    rs = load(rules)
    return evaluate(rs, load_sources(rs, facts))


@pytest.fixture(scope="module")
def y2019(tmp_path_factory) -> tuple[openpyxl.Workbook, dict]:
    """rules/2019 on the shipped facts, the workbook written and read back once (scoring ~3 s,
    writing ~3 s, openpyxl's reading ~4 s): 763 no_data and 9 error cells."""
    path = tmp_path_factory.mktemp("wb") / "scores.xlsx"
    sc = scores_of(ROOT / "rules" / "2019", ROOT / "examples" / "2019" / "facts")
    write_excel(sc, path)
    return openpyxl.load_workbook(path), to_json(sc)


def point_cells(wb) -> dict[tuple[str, str], tuple]:
    """(unit, point) → (score cell, rate cell) over the sheets of the first-level indicators."""
    cells = {}
    for ws in wb.worksheets:
        if ws.title in ("总表", *DATA_SHEETS_SKIP):
            continue
        head = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2):
            for i, h in enumerate(head):
                m = HEADER_ID.search(h or "")
                if m:
                    cells[(row[0].value, m.group(1))] = (row[i], row[i + 1])
    return cells


def fill(cell) -> str | None:
    return None if cell.fill.fill_type is None else "#" + cell.fill.fgColor.rgb[-6:]


def test_every_point_that_is_not_ok_is_filled_and_commented_on_its_cell(y2019):
    wb, doc = y2019
    cells = point_cells(wb)
    points = {p["id"]: p for p in doc["points"]}
    statuses = {(u["code"], p): s for u in doc["units"] for p, s in u["status"].items()}
    assert {"no_data", "error"} <= set(statuses.values())
    for (code, pid), (score, rate) in cells.items():
        status = statuses.get((code, pid))
        if status is None:  # ok: no fill, no comment
            assert fill(score) is None and score.comment is None, (code, pid)
            continue
        assert fill(score) == fill(rate) == book.STATUS_STYLES[status].fill, (code, pid, status)
        assert score.comment is not None and f"({status})" in score.comment.text, (code, pid)
        assert rate.comment is None  # one comment per point
        # the value is the one scored: 0 under `missing: zero`, blank where the point is left out
        unit = next(u for u in doc["units"] if u["code"] == code)
        assert score.value == unit["points"][pid], (code, pid)
        if points[pid]["missing"] == "zero" and status == "no_data":
            assert score.value == 0
    assert sum(1 for s, _ in cells.values() if s.comment is not None) == len(statuses)


def test_the_comment_gives_the_reason_when_the_rule_set_records_one(y2019):
    wb, doc = y2019
    cells = point_cells(wb)
    texts = [s.comment.text for s, _ in cells.values() if s.comment is not None]
    assert any("无数据 no data (no_data)" in t and "原因 reason: no_data → scored 0" in t for t in texts)
    assert any(t.startswith("错误 error (error)") for t in texts)


def test_an_overridden_point_is_marked_whatever_its_status(tmp_path):
    # Before the overrides slice lands, Scores has neither `ov:` columns nor `overrides_applied`:
    # build them as the contract says (a boolean column; records with to_json()).
    sc = scores_of(MINI, MINI / "facts")
    codes = sc.units["code"].to_list()
    sc.units = sc.units.with_columns((pl.col("code") == codes[0]).alias("ov:portal"))

    class Applied:
        def to_json(self) -> dict:
            return {"unit": codes[0], "point": "portal", "round": 2, "value": 1.0, "reason": "申诉 2019-07 复核"}

    sc.overrides_applied = (Applied(),)  # type: ignore[attr-defined]
    write_outputs(sc, tmp_path / "out")
    cells = point_cells(openpyxl.load_workbook(tmp_path / "out" / "scores.xlsx"))
    marked = {k for k, (s, _) in cells.items() if fill(s) == book.STATUS_STYLES["overridden"].fill}
    assert marked == {(codes[0], "portal")}
    text = cells[(codes[0], "portal")][0].comment.text
    assert text.startswith("已更正 overridden (overridden)") and "更正理由 reason: 申诉 2019-07 复核" in text


def test_marks_put_an_override_before_the_status_it_left():
    got = book.marks(["ok", "no_data", "no_data", "weird"], [None, "x", None, None], [False, False, True, False],
                     [None, None, "复核", None])
    assert got[0] is None
    assert got[1] == book.Mark("no_data", "无数据 no data (no_data)\n原因 reason: x")
    assert got[2] is not None and got[2].status == "overridden" and "更正后状态 status: 无数据" in got[2].comment
    assert got[3] is not None and got[3].status == "error"  # an unknown status is never shown as fine


@pytest.mark.parametrize(("rules", "digits"), [("tests/fixtures/mini", 2), ("examples/country-index", 1),
                                               ("examples/published/hdi", 3)])
def test_number_formats_follow_the_rule_sets_digits(tmp_path, rules, digits):
    rs_dir = ROOT / rules
    sc = scores_of(rs_dir, rs_dir / "facts")
    assert sc.rs.rounding.digits == digits
    write_outputs(sc, tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "scores.xlsx")
    wide = {r["code"]: r for r in pl.read_parquet(tmp_path / "out" / "scores.parquet").iter_rows(named=True)}
    long = {(r["code"], r["node"]): r["rate"] for r in
            pl.read_parquet(tmp_path / "out" / "scores_long.parquet").iter_rows(named=True)}
    score_fmt = "0." + "0" * digits
    seen = 0
    for ws in wb.worksheets:
        if ws.title in ("汇总", "Summaries", *DATA_SHEETS_SKIP):
            continue
        head = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2):
            code = row[0].value
            assert row[0].number_format == "@"  # codes stay text: 010100 keeps its zero
            for i, h in enumerate(head):
                m = HEADER_ID.search(h or "")
                if not m or row[i].value is None:
                    continue
                node = m.group(1)
                assert row[i].number_format == score_fmt and row[i + 1].number_format == score_fmt + "%"
                # a score as published (the CSV's figure); a rate as the evaluator carries it
                assert row[i].value == wide[code][node], (code, node)
                if row[i + 1].value is not None:
                    assert row[i + 1].value == float(f"{long[(code, node)]:.16g}"), (code, node)
                seen += 1
    assert seen > 0


def test_every_data_sheet_has_an_autofilter_over_its_table_and_frozen_headers(y2019):
    wb, doc = y2019
    n = len(doc["units"])
    data = [ws for ws in wb.worksheets if ws.title not in DATA_SHEETS_SKIP]
    assert [ws.title for ws in data] == ["总表", "服务供给能力", "服务响应能力", "服务智慧能力"]
    for ws in data:
        assert ws.auto_filter.ref == f"A1:{get_column_letter(ws.max_column)}{n + 1}", ws.title
        assert ws.freeze_panes == "C2", ws.title  # the header row, code and name
        widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}  # <col> ranges
        for i, cell in enumerate(ws[1], start=1):  # every header fits, a CJK character two wide
            assert widths[i] >= min(book.display_width(cell.value), 58), (ws.title, cell.value, widths[i])


def test_widths_count_a_cjk_character_twice():
    assert book.display_width("省份") == 4 and book.display_width("rank") == 4
    col = book.Column("名称", ["克孜勒苏柯尔克孜自治州", "A"], "text")
    assert book.column_width(col, 2) == 24
    assert book.column_width(book.Column("x", [0.123456], "rate"), 1) == len("12.3%") + 2  # as shown, plus a margin
    assert book.column_width(book.Column("x", [1.0], "score"), 0) == 6  # never narrower than 6


def test_attribute_headers_are_the_manual_templates_for_a_chinese_rule_set(y2019, tmp_path):
    from govindex.collect.manual import ATTR_LABELS

    assert book.ATTR_LABELS == ATTR_LABELS  # one mapping, two places: the template and the workbook
    wb, _ = y2019
    head = [c.value for c in wb["总表"][1]]
    assert head[:4] == ["代码", "名称", "省份", "区域"]
    # An English rule set keeps its attributes' own names (the labels' script decides).
    d = ROOT / "examples" / "country-index"
    write_outputs(scores_of(d, d / "facts"), tmp_path / "en")
    en = openpyxl.load_workbook(tmp_path / "en" / "scores.xlsx")
    head = [c.value for c in en["Overview"][1]]
    assert head[:4] == ["Code", "Name", "region", "income"]  # `language: "en"`: the fixed words in English too
    assert en.sheetnames[0] == "Overview" and en.sheetnames[-1] == "Notes"
    assert [c.value for c in en["Notes"][1]] == ["Item", "Value"]


def test_the_provenance_sheet_holds_each_key_and_nested_values_as_json(tmp_path):
    sc = scores_of(MINI, MINI / "facts")
    prov = {"govindex": "0.13.0", "ruleset_hash": "sha256:ab12", "facts": {"files": [{"path": "pages.csv",
            "rows": 12}], "hash": "sha256:cd34"}, "argv": ["govindex", "score", "规则"], "overrides": [],
            "time": "2026-12-02T05:00:00+00:00", "units": 3, "long": "x" * 40000}
    write_outputs(sc, tmp_path / "out", provenance=prov)
    wb = openpyxl.load_workbook(tmp_path / "out" / "scores.xlsx")
    assert wb.sheetnames[-1] == book.PROVENANCE_SHEET == "来源 Provenance"
    rows = list(wb[book.PROVENANCE_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("项目 Key", "内容 Value")
    got = dict(rows[1:])
    assert got["govindex"] == "0.13.0" and got["units"] == 3 and got["time"] == prov["time"]
    assert json.loads(got["facts"]) == prov["facts"] and json.loads(got["argv"]) == prov["argv"]
    assert got["overrides"] == "[]"
    assert got["long"] + got["long (2)"] == prov["long"]  # past a cell's 32,767 characters: a further row
    write_outputs(sc, tmp_path / "none")
    assert book.PROVENANCE_SHEET not in openpyxl.load_workbook(tmp_path / "none" / "scores.xlsx").sheetnames


def test_the_legend_on_the_notes_sheet_shows_each_status_in_its_fill(y2019):
    wb, _ = y2019
    ws = wb["说明"]
    legend = {c.value: fill(c) for c in ws["A"] if c.value and "(" in c.value}
    assert legend == {f"{s.zh} {s.en} ({k})": s.fill for k, s in book.STATUS_STYLES.items()}
    assert len({s.fill for s in book.STATUS_STYLES.values()}) == len(book.STATUS_STYLES)  # distinct


@pytest.mark.parametrize("bom", [True, False])
def test_the_csv_starts_with_a_bom_by_default_and_reads_back_equal(tmp_path, bom):
    out = tmp_path / "out"
    args = ["score", str(MINI), "--facts", str(MINI / "facts"), "--out", str(out)] + ([] if bom else ["--no-csv-bom"])
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    raw = (out / "scores.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    wide = pl.read_parquet(out / "scores.parquet")
    back = pl.read_csv(out / "scores.csv", schema=wide.schema)
    assert back.columns == wide.columns and back.equals(wide)  # polars reads past the BOM
    with (out / "scores.csv").open(encoding="utf-8-sig", newline="") as f:  # as Python's csv does
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == wide.columns and [r["name"] for r in rows] == wide["name"].to_list()
    assert "甲市" in raw.decode("utf-8-sig")


def test_statuses_in_the_workbook_agree_with_the_units_frame(tmp_path):
    # The mini fixture: every status the evaluator gave, and only those, marked.
    sc = scores_of(MINI, MINI / "facts")
    write_outputs(sc, tmp_path / "out")
    cells = point_cells(openpyxl.load_workbook(tmp_path / "out" / "scores.xlsx"))
    want = {(r["code"], p.id): r[status_col(p.id)] for r in sc.units.iter_rows(named=True) for p in sc.rs.points}
    for key, status in want.items():
        score, _ = cells[key]
        assert (fill(score) is None) is (status == "ok"), key


_json = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: "(" not in k), _json, max_size=6),
       st.integers(0, 3))
def test_provenance_rows_read_back_as_the_dict(prov, long):
    # Every key once (continuations aside), no cell past Excel's limit, nested values JSON text that
    # parses back; a text longer than a cell split into rows that join back.
    if long:
        prov = {**prov, "long": "长" * (32767 * long + 5)}
    rows = book.provenance_rows(prov)
    assert all(len(v) <= 32767 for _, v in rows if isinstance(v, str))
    joined: dict[str, object] = {}
    for k, v in rows:
        base = re.sub(r" \(\d+\)$", "", k) if k not in prov else k
        joined[base] = joined[base] + v if base in joined else v  # type: ignore[operator]
    assert list(joined) == [str(k) for k in prov]
    for k, v in prov.items():
        got = joined[k]
        if isinstance(v, (dict, list)):
            assert json.loads(got) == v  # type: ignore[arg-type]
        else:
            assert got == ("" if v is None else v)
