"""The workbook fuzzer (issue 9): a real template, mutated the ways collectors and their programs
mutate books — cell types, blanks, numeric text, formulas without a value, dates, booleans,
over-long text, unknown units and points, duplicate rows, hidden rows, extra sheets, merged cells,
a renamed sheet — then imported over an existing round. The only allowed outcomes: an import
whose round equals the old rows merged with what the cells say, or an :class:`ImportDataError`
naming every bad cell the oracle expects, the facts directory untouched. Never another
exception, never a partial write."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.collect.imports import ImportDataError
from govindex.collect.manual import SHEET, col_letter, write_template
from govindex.collect.manual_import import import_workbook
from tests.manual_books import columns, entry_part, rewrite_part, rows

RULES = '''ruleset "fuzz" {
  units: "units.csv"
  groups: ["province"]
  rounds: {1: "2019-01-01"}
  missing: zero
}
table manual {
  unit: str
  round: int
  point: str
  value: float
  collector: str
  note: str
}
indicator m "人工" {
  max: 10
  point qa "问答（人工）" { kind: manual  max: 5  probe: entry(manual)  score: x  values: [0, 0.5, 1] }
  point rg "抽测（人工）" { kind: manual  max: 5  probe: entry(manual)  score: linear(x, cap: 5)  range: [0, 5] }
}
'''
UNITS = "code,name,province\nA1,甲市,河北\nA2,乙市,河北\nB1,丙州,四川\nB2,丁市,四川\n"
CODES = ["A1", "A2", "B1", "B2"]
LONG = "LONGTEXT"  # replaced after saving by 40,000 characters (openpyxl cuts at Excel's limit)

# What a collector may type, and what the cell says: a number (checked against the point), an
# error whatever the point, or nothing.
CELLS: list[tuple[object, str, float | None]] = [
    (1, "num", 1.0), (0.5, "num", 0.5), (0, "num", 0.0), ("0.5", "num", 0.5), (" 1 ", "num", 1.0), (-0.0, "num", 0.0),
    (0.7, "num", 0.7), (3.25, "num", 3.25), (7, "num", 7.0), (-1, "num", -1.0), (1e308, "num", 1e308),
    ("有", "bad", None), ("inf", "bad", None), ("NaN", "bad", None), ("1,5", "bad", None), ("#N/A", "bad", None),
    ("=1+0", "bad", None), (dt.datetime(2019, 1, 1), "bad", None), (True, "bad", None), (LONG, "bad", None),
    (None, "blank", None), ("", "blank", None), ("   ", "blank", None),
]
ALLOWED = {"qa": lambda v: v in (0.0, 0.5, 1.0), "rg": lambda v: 0.0 <= v <= 5.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "rules").mkdir()
    (d / "rules" / "units.csv").write_text(UNITS, encoding="utf-8")
    (d / "rules" / "fuzz.rules").write_text(RULES, encoding="utf-8")
    rs = load(d / "rules")
    tpl = write_template(rs, 1, d / "tpl.xlsx")
    base = d / "base"
    wb = openpyxl.load_workbook(tpl)
    ws = wb[SHEET]
    ws.cell(rows(ws)["A1"], columns(ws)["qa"], 1)
    ws.cell(rows(ws)["A1"], columns(ws)["collector"], "甲")
    wb.save(d / "first.xlsx")
    import_workbook(d / "first.xlsx", rs, 1, base)
    return rs, d, tpl, base


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


_GOOD = [i for i, (_, kind, v) in enumerate(CELLS) if kind == "num" and ALLOWED["qa"](v) and ALLOWED["rg"](v)]
_cell = st.tuples(st.just("cell"), st.sampled_from(CODES), st.sampled_from(["qa", "rg"]), st.integers(0, len(CELLS) - 1))
_good_cell = st.tuples(st.just("cell"), st.sampled_from(CODES), st.sampled_from(["qa", "rg"]), st.sampled_from(_GOOD))
_benign = st.one_of(  # what a careful collector does
    _good_cell, _good_cell, _good_cell,
    st.tuples(st.just("collector"), st.sampled_from(CODES), st.sampled_from(["甲", "乙", "", "  丙  "])),
    st.tuples(st.just("hide-row"), st.sampled_from(CODES)),
    st.tuples(st.just("extra-sheet")),
    st.tuples(st.just("merge"), st.sampled_from(CODES), st.just("note")),
)
_any = st.one_of(  # and everything else
    _benign, _cell, _cell, _cell,
    st.tuples(st.just("unknown-unit"), st.sampled_from(CODES)),
    st.tuples(st.just("duplicate-unit"), st.sampled_from(CODES), st.sampled_from(CODES)),
    st.tuples(st.just("unknown-point"), st.booleans()),
    st.tuples(st.just("merge"), st.sampled_from(CODES), st.sampled_from(["qa", "rg", "note"])),
)
mutations = st.one_of(st.lists(_benign, min_size=1, max_size=8), st.lists(_any, min_size=1, max_size=8))
renamed = st.sampled_from([False] * 19 + [True])  # the entry sheet renamed, now and then


class _Oracle:
    """What the mutated book says: the unit code in each row, what was typed in each point cell,
    who collected each row, and the cells that must be named as errors."""

    def __init__(self, codes: dict[int, str]) -> None:
        self.codes = codes  # row → the unit code written there
        self.names = dict(codes)  # row → the unit whose name the row shows (the template's)
        self.cells: dict[tuple[int, str], int] = {}  # (row, point) → index into CELLS
        self.collector: dict[int, str] = {}
        self.errors: set[str] = set()
        self.fatal = False

    def entries(self) -> dict[tuple[str, str], tuple[float, str]]:
        out = {}
        for (r, point), i in self.cells.items():
            _, kind, v = CELLS[i]
            if kind == "num" and ALLOWED[point](v):
                out[(self.codes[r], point)] = (v, self.collector.get(r, "").strip())
        return out

    def expected_errors(self) -> set[str]:
        errs, seen = set(self.errors), set()
        for r in sorted(self.codes):
            if self.codes[r].startswith("ZZ") or self.codes[r] in seen:
                errs.add(f"{SHEET}!A{r}")  # unknown unit, or a unit's second row
            elif self.codes[r] != self.names[r]:
                errs.add(f"{SHEET}!B{r}")  # the code of one unit beside the name of another: shifted rows?
            seen.add(self.codes[r])
        for (r, point), i in self.cells.items():
            _, kind, v = CELLS[i]
            if kind == "bad" or (kind == "num" and not ALLOWED[point](v)):
                errs.add(f"{SHEET}!{POINT_COLS[point]}{r}")
        return errs


POINT_COLS = {"qa": "F", "rg": "G"}  # after code, name, province, collector, note


def _merged(ws, r: int, c: int) -> bool:
    return type(ws.cell(r, c)).__name__ == "MergedCell" or any(
        ws.cell(r, c).coordinate in rng for rng in ws.merged_cells.ranges)


def _apply(ws, wb, m: tuple, o: _Oracle, cols: dict[str, int], where: dict[str, int]) -> None:
    kind = m[0]
    if kind == "cell" and not _merged(ws, where[m[1]], cols[m[2]]):
        o.cells[(where[m[1]], m[2])] = m[3]
        ws.cell(where[m[1]], cols[m[2]]).value = CELLS[m[3]][0]  # a blank (None) clears the cell
    elif kind == "collector":
        o.collector[where[m[1]]] = m[2]
        ws.cell(where[m[1]], cols["collector"]).value = m[2] or None  # cell(…, None) would keep the old value
    elif kind == "unknown-unit":
        o.codes[where[m[1]]] = "ZZ" + m[1]
        ws.cell(where[m[1]], 1, "ZZ" + m[1])
    elif kind == "duplicate-unit" and m[1] != m[2]:
        o.codes[where[m[2]]] = m[1]
        ws.cell(where[m[2]], 1, m[1])
    elif kind == "unknown-point":
        c = ws.max_column + 1
        ws.cell(1, c, "no_such_point")
        if m[1]:
            ws.cell(3, c, 1)
        o.errors.add(f"{SHEET}!{col_letter(c - 1)}1")
    elif kind == "hide-row":
        ws.row_dimensions[where[m[1]]].hidden = True
    elif kind == "extra-sheet" and "草稿" not in wb.sheetnames:
        wb.create_sheet("草稿").append(["随便", 1, "=1/0"])
    elif kind == "merge":
        _merge(ws, m, o, cols, where)


def _merge(ws, m: tuple, o: _Oracle, cols: dict[str, int], where: dict[str, int]) -> None:
    r, c = where[m[1]], cols[m[2]]
    if r + 1 > ws.max_row or _merged(ws, r, c) or _merged(ws, r + 1, c):
        return
    ws.merge_cells(start_row=r, start_column=c, end_row=r + 1, end_column=c)  # the second cell is cleared
    o.cells.pop((r + 1, m[2]), None)
    if m[2] != "note":  # a merge over point cells is an error; over notes it is harmless
        o.errors.add(f"{SHEET}!{col_letter(c - 1)}{r}:{col_letter(c - 1)}{r + 1}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=mutations, rename=renamed)
def test_a_mutated_workbook_imports_exactly_what_it_says_or_is_rejected_naming_cells(world, tmp_path_factory, muts,
                                                                                      rename):
    rs, d, tpl, base = world
    facts = tmp_path_factory.mktemp("f")
    for f in base.rglob("*"):
        if f.is_file():
            (facts / f.relative_to(base)).parent.mkdir(parents=True, exist_ok=True)
            (facts / f.relative_to(base)).write_bytes(f.read_bytes())
    wb = openpyxl.load_workbook(tpl)
    ws = wb[SHEET]
    cols, where = columns(ws), rows(ws)
    oracle = _Oracle({r: c for c, r in where.items()})
    for m in muts:
        _apply(ws, wb, m, oracle, cols, where)
    oracle.fatal = rename
    if oracle.fatal:
        ws.title = "录入表"
    book = d / "book.xlsx"
    wb.save(book)
    rewrite_part(book, entry_part(book), lambda x: x.replace(LONG.encode(), ("长" * 40_000).encode()))
    before = _digest(facts)
    want = oracle.expected_errors()
    # the round holds A1 × qa = 1 by 甲: another named collector's entry verifies it (same value)
    # or disagrees with it (M122: refused, recorded in the dispute register only)
    a1 = oracle.entries().get(("A1", "qa"))
    other = a1 is not None and a1[1] not in ("", "甲")
    try:
        report = import_workbook(book, rs, 1, facts)
    except ImportDataError as exc:
        after = {k: v for k, v in _digest(facts).items() if not k.endswith("_disputes.json")}
        assert after == before  # nothing written
        named = {p.where.split(".xlsx:", 1)[1] for p in exc.problems if p.severity == "error" and ".xlsx:" in p.where}
        if oracle.fatal:
            assert exc.problems[0].code == "M113" and "no sheet `录入`" in exc.problems[0].message
        elif want:
            assert want <= named, (want - named, str(exc))
        elif other and a1 is not None and a1[0] != 1.0:
            assert [p.code for p in exc.problems] == ["M122"], str(exc)
        else:  # a good book that says nothing new
            assert [p.code for p in exc.problems] in (["M117"], ["M118"]), str(exc)
            assert set(oracle.entries().items()) <= {(("A1", "qa"), (1.0, "甲"))}
        return
    assert not want and not oracle.fatal, (want, report.summary())
    assert not (other and a1 is not None and a1[0] != 1.0), report.summary()
    got = pl.read_parquet(facts / "manual" / "round=1" / "part-0.parquet")
    rows_now = {(r["unit"], r["point"]): (r["value"], r["collector"]) for r in got.to_dicts()}
    verified = {("A1", "qa"): (1.0, "甲")} if other else {}  # a verification keeps the first entry's collector
    assert rows_now == {("A1", "qa"): (1.0, "甲"), **oracle.entries(), **verified}
