"""Importing a filled manual template: read it safely, check every cell, merge into the round.

The workbook is read by :mod:`govindex.collect.xlsx` (size limits, formulas without a cached
value, over-long cells, merged ranges); every cell is checked against its point (problem codes
in :mod:`govindex.collect.manual`), and every problem is gathered before anything is decided:
one error and nothing is written. The entries then merge into the round
(:mod:`govindex.collect.manual_merge`): a blank cell is "not collected" and never removes a row.

Speed with a hostile book: every unknown unit code is an error, but a did-you-mean is computed
for the first :data:`SUGGEST` distinct codes only (the rest get the general hint); problems past
:data:`govindex.collect.imports.MAX_KEPT` are only counted.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from govindex.collect.imports import ImportReport, ProblemLog, check_layout
from govindex.collect.manual import (
    ATTR_LABELS,
    CODE,
    COLLECTOR,
    FORMAT,
    HEADER_ROWS,
    META_SHEET,
    NAME,
    NOTE,
    SHEET,
    ManualImportError,
    ManualPoint,
    check_round,
    col_letter,
    fingerprint,
    manual_points,
    manual_table,
    num,
)
from govindex.collect.manual_assignments import record_assignment
from govindex.collect.manual_merge import Entry, _locked, merge_round
from govindex.collect.xlsx import MAX_CELL_CHARS, Sheet, WorkbookError, read_workbook
from govindex.diagnostics import Cell, Diagnostic, File, Severity, did_you_mean
from govindex.ir import RuleSet, Unit

SUGGEST = 20  # distinct unknown unit codes that get a did-you-mean (difflib is slow)


def import_workbook(path: Path, rs: RuleSet, round_no: int, facts_dir: Path, *, force: bool = False,
                    replace: bool = False, collector: str = "") -> ImportReport:
    """Check a filled template and merge its entries into round ``round_no`` of the manual table.

    Every problem is gathered; if any is an error, :class:`ManualImportError` is raised and
    nothing is written. ``force`` turns a metadata mismatch (another rule set, round or set of
    points) into a warning; bad cells are never forced. ``replace`` makes the book the round's
    whole content (rows it does not hold are removed, and counted). ``collector`` names who
    collected rows whose ``collector`` cell is blank."""
    check_round(rs, round_no)
    facts_dir = Path(facts_dir)
    check_layout(facts_dir, manual_table(rs))
    book = read_book(path, rs, round_no, force=force, collector=collector)
    report = merge_round(rs, book.table, round_no, facts_dir, book.entries, str(path), replace=replace)
    report.blanks, report.warnings = book.blanks, book.warnings + report.warnings
    if book.collector and book.assigned is not None:  # a collector's book: what they were asked for
        round_dir = facts_dir / book.table / f"{rs.round_column}={round_no}"
        with _locked(round_dir):
            record_assignment(round_dir, book.collector, path.name, *book.assigned)
    return report


@dataclass
class Book:
    """A filled template, checked: its entries (one per filled cell), blank cells, warnings."""

    path: Path
    table: str
    round: int
    collector: str  # the collector named in the book's metadata ("" for a book of all units)
    entries: list[Entry]
    blanks: int
    warnings: list[Diagnostic]
    assigned: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # units, points the book asked for (empty: all)


def read_book(path: Path, rs: RuleSet, round_no: int | None = None, *, force: bool = False,
              collector: str = "") -> Book:
    """Read and check every cell of a filled template; :class:`ManualImportError` if any is bad.
    ``round_no`` None: the round the book's metadata names (``manual compare``)."""
    table, path = manual_table(rs), Path(path)
    sheets = _read(path)
    meta = _meta(sheets.get(META_SHEET))
    if round_no is None:
        found = meta.get("round", ("",))[0]
        round_no = int(found) if found.isdigit() and int(found) in rs.rounds else max(rs.rounds)
    imp = _Import(rs, round_no, table, path, force, collector.strip())
    imp.check_meta(sheets.get(META_SHEET))
    if SHEET not in sheets:
        imp.problem("M113", File(str(path)), f"the workbook has no sheet `{SHEET}`",
                    f"import a template made by `govindex manual template` (sheets: {', '.join(sheets) or 'none'})")
    else:
        imp.read_entries(sheets[SHEET])
    if imp.log.errors():
        raise ManualImportError(str(path), imp.log.kept, counts=imp.log.counts)
    assigned = None
    if imp.assigned_units is not None or imp.assigned_points is not None:
        assigned = (tuple(sorted(imp.assigned_units or ())), tuple(sorted(imp.assigned_points or ())))
    return Book(path, table, round_no, imp.meta_collector, imp.entries, imp.blanks, imp.log.warnings(), assigned)


def _meta(sheet: Sheet | None) -> dict[str, tuple[str, int]]:
    """The ``_meta`` sheet: key → (value, row)."""
    if sheet is None:
        return {}
    return {_text(r.get(0)): (_text(r.get(1)), i) for i, r in sheet.cells.items() if _text(r.get(0))}


def _read(path: Path) -> dict[str, Sheet]:
    try:
        _, sheets = read_workbook(path, {SHEET, META_SHEET})
    except WorkbookError as exc:
        prob = Diagnostic("M113", f"cannot read the workbook: {exc.message}", File(str(path)),
                          exc.hint or "save it as .xlsx (Excel 2007 or later) and try again")
        raise ManualImportError(str(path), [prob]) from None
    return sheets


def _text(v: str | None) -> str:
    return unicodedata.normalize("NFKC", v).strip() if v else ""


def _count(items: list, one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def _some(items: list[str], n: int = 10) -> str:
    return ", ".join(items[:n]) + (" …" if len(items) > n else "")


def _expect(p: ManualPoint) -> str:
    if p.values is not None:
        return f"enter one of {', '.join(num(v) for v in p.values)} (the cell's dropdown lists them)"
    if p.range is not None:
        return f"enter a number from {num(p.range[0])} to {num(p.range[1])}"
    return "enter a number"


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@dataclass
class _Layout:
    code: int  # column of the unit codes
    roles: dict[str, int]  # name / collector / note → column
    points: dict[int, str]  # column → point id


_ISSUES = {
    "formula": ("M114", "formula without a cached value — open and save the book in Excel",
                "a program that does not calculate wrote the formula; Excel or WPS stores its value on save "
                "(or type the value instead)"),
    "too-long": ("M115", "the cell holds {detail}; a cell holds at most " f"{MAX_CELL_CHARS:,} characters "
                 "(Excel's limit)", "shorten the text"),
    "bad-string": ("M113", "the cell cannot be read: {detail}", "save the book again in Excel"),
}


class _Import:
    """The state of one import: the problems found and the entries accepted so far."""

    def __init__(self, rs: RuleSet, round_no: int, table: str, path: Path, force: bool, collector: str):
        self.rs, self.round_no, self.table, self.path, self.force = rs, round_no, table, path, force
        self.collector = collector
        self.points = {p.id: p for p in manual_points(rs) if p.table == table}
        self.units = {u.code: u for u in rs.units}
        self.by_name: dict[str, Unit] = {}
        for u in rs.units:
            self.by_name.setdefault(u.name, u)
        self.log = ProblemLog()
        self.entries: list[Entry] = []
        self.blanks = 0
        self.seen_units: dict[str, int] = {}
        self.seen_points: set[str] = set()
        self.layout: _Layout | None = None
        self.suggested: dict[str, str] = {}
        self.lost_notes: list[str] = []
        self.meta_collector = ""
        self.assigned_units: set[str] | None = None  # a collector's book: only these were asked for
        self.assigned_points: set[str] | None = None

    def problem(self, code: str, where: Cell | File, message: str, hint: str = "", column: str = "",
                severity: Severity | None = None) -> None:
        """Log a problem at ``where``; ``column``: the header of the cell's column (its point)."""
        self.log.add(Diagnostic(code, message, replace(where, column=column) if column else where, hint, severity))

    def at(self, sheet: str, col: int, row: int) -> Cell:
        return Cell(str(self.path), sheet, f"{col_letter(col)}{row + 1}")

    def sheet(self, name: str = SHEET, ref: str = "") -> Cell:
        return Cell(str(self.path), name, ref)

    # -- metadata

    def check_meta(self, sheet: Sheet | None) -> None:
        sev: Severity = "warning" if self.force else "error"
        meta = _meta(sheet)
        self.meta_collector = meta.get("collector", ("",))[0]
        self.collector = self.collector or self.meta_collector  # --collector, else the book's collector
        for key, attr in (("assigned_units", "assigned_units"), ("assigned_points", "assigned_points")):
            listed = meta.get(key, ("",))[0]
            setattr(self, attr, set(listed.split(",")) if listed else None)
        if meta.get("format", ("",))[0] != FORMAT:
            self.problem("M204", self.sheet(META_SHEET), "no govindex template metadata (sheet `_meta`)",
                         "enter the values into a template from `govindex manual template`, or use --force", "", sev)
            return
        want = {"ruleset": (self.rs.name, "M201"), "round": (str(self.round_no), "M202"),
                "fingerprint": (fingerprint(list(self.points.values())), "M203")}
        for key, (expected, code) in want.items():
            found, row = meta.get(key, ("", 0))
            if found != expected:
                msg, hint = self._meta_message(key, found, expected)
                self.problem(code, self.at(META_SHEET, 1, row), msg, hint + " (or --force)", "", sev)

    def _meta_message(self, key: str, found: str, expected: str) -> tuple[str, str]:
        if key == "round":
            return (f"the template is for round {found}, this import is for round {expected}",
                    f"import with --round {found}, or fill a template made for round {expected}")
        if key == "ruleset":
            return (f"the template is for rule set `{found}`, not `{expected}`",
                    "import with the rule set the template was made from")
        return ("the manual points (ids, allowed values or ranges) changed since the template was made",
                "make a new template and copy the entries over")

    # -- the entry sheet

    def read_entries(self, sheet: Sheet) -> None:
        rows = sheet.cells
        if not rows:
            self.problem("M112", self.sheet(), f"sheet `{SHEET}` is empty")
            return
        self.layout = self._header(rows.get(0, {}), rows)
        if self.layout is None:
            return
        self._issues(sheet)
        self._merged(sheet)
        second = _text(rows.get(1, {}).get(self.layout.code))
        start = HEADER_ROWS if second == CODE[1] else 1
        for r in sorted(rows):
            if r >= start:
                self._row(r, rows[r])
        self._unlisted()

    def _unlisted(self) -> None:
        missing = [u for u in self.units if u not in self.seen_units
                   and (self.assigned_units is None or u in self.assigned_units)]
        if missing:
            self.problem("M301", self.sheet(), f"{_count(missing, 'unit has', 'units have')} no row: "
                         f"not collected ({_some(missing)})", severity="warning")
        if self.lost_notes:
            self.problem("M303", self.sheet(), f"{_count(self.lost_notes, 'row has', 'rows have')} a note but "
                         f"no entry: the note is not imported ({_some(self.lost_notes)})",
                         "a note is kept with the row's entries; enter the values it comments on", severity="warning")
        absent = [p for p in self.points if p not in self.seen_points
                  and (self.assigned_points is None or p in self.assigned_points)]
        if absent:
            self.problem("M302", self.sheet(), f"{_count(absent, 'manual point has', 'manual points have')}"
                         f" no column: not collected ({_some(absent)})", severity="warning")

    def _issues(self, sheet: Sheet) -> None:
        for i in sheet.issues:
            code, message, hint = _ISSUES[i.kind]
            self.problem(code, self.at(SHEET, i.col, i.row), message.format(detail=i.detail), hint, self._head(i.col))

    def _merged(self, sheet: Sheet) -> None:
        # Only a merged range's first cell holds a value: the units under the rest would look "not collected".
        watched = {self.lay.code, *self.lay.points}
        for r0, c0, r1, c1 in sheet.merged:
            if any(c0 <= c <= c1 for c in watched):
                self.problem("M116", self.sheet(ref=f"{col_letter(c0)}{r0 + 1}:{col_letter(c1)}{r1 + 1}"),
                             "merged cells: only the first holds a value, the others read as blank",
                             "unmerge them and fill every cell (or leave it blank: not collected)")

    def _header(self, header: dict[int, str], rows: dict[int, dict[int, str]]) -> _Layout | None:
        roles: dict[str, int] = {}
        points: dict[int, str] = {}
        first_at: dict[str, int] = {}
        aliases = {a: key for key, label in (CODE, NAME, COLLECTOR, NOTE) for a in (key, label)}
        for c in sorted(header):
            h, where = _text(header[c]), self.at(SHEET, c, 0)
            if not h:
                continue
            if h in first_at:
                self.problem("M108", where, f"column `{h}` appears twice (first in column {col_letter(first_at[h])})",
                             "keep one column per point", h)
                continue
            first_at[h] = c
            if h in aliases:
                roles[aliases[h]] = c
            elif h in self.points:
                points[c] = h
                self.seen_points.add(h)
            elif h not in self.rs.unit_attrs and h not in ATTR_LABELS.values():
                self._unknown_column(h, where, c, rows)
        self._unnamed_columns({c for c in header if _text(header[c])}, rows)
        if "code" not in roles:
            self.problem("M112", self.sheet(ref="1:1"), "no unit code column (`code` or `单位代码` in row 1)",
                         "keep column A of the template: the unit codes")
            return None
        return _Layout(roles.pop("code"), roles, points)

    def _unnamed_columns(self, named: set[int], rows: dict[int, dict[int, str]]) -> None:
        for r in sorted(rows):
            for c, v in rows[r].items():
                if r > 0 and c not in named and _text(v):
                    self.problem("M111", self.at(SHEET, c, r), "a value in a column without a point id in row 1",
                                 "put the point id in row 1, or move the value into its column")

    def _unknown_column(self, h: str, where: Cell, c: int, rows: dict[int, dict[int, str]]) -> None:
        n = sum(1 for r, row in rows.items() if r >= HEADER_ROWS and _text(row.get(c)))
        filled = f"{n} value{'s' if n != 1 else ''} in the column"
        node = self.rs.nodes.get(h)
        if node is not None:
            what = "an indicator" if node.kind == "indicator" else f"a {node.kind} point"
            self.problem("M106", where, f"`{h}` is {what}, not a manual point ({filled})",
                         "only manual points are entered by hand; remove the column", h)
            return
        hint = did_you_mean(h, self.points, n=1) or "the point ids are listed in sheet 说明"
        self.problem("M105", where, f"unknown point `{h}` ({filled})", hint, h)

    def _row(self, r: int, row: dict[int, str]) -> None:
        lay = self.lay
        texts = {c: t for c, v in row.items() if c in lay.points and (t := _text(v))}  # the filled point cells
        code = _text(row.get(lay.code)).removesuffix(".0")
        if not code:
            for c, t in texts.items():
                self.problem("M110", self.at(SHEET, c, r), f"a value ({_short(t)}) in a row without a unit code",
                             f"put the unit code in column {col_letter(lay.code)}", self._head(c))
            return
        unit = self._unit(code, r, row)
        self.blanks += len(lay.points) - len(texts)  # blank: not collected
        if unit is not None and not texts and self._role(row, "note"):
            self.lost_notes.append(code)  # a note is stored with an entry: this one has none to go with
        for c in sorted(texts):
            self._cell(r, c, texts[c], unit, code, row)

    def _unit(self, code: str, r: int, row: dict[int, str]) -> Unit | None:
        where = self.at(SHEET, self.lay.code, r)
        name_col = self.lay.roles.get("name")
        name = _text(row.get(name_col)) if name_col is not None else ""
        unit = self.units.get(code)
        if unit is None:
            self.problem("M104", where, f"unknown unit code `{code}`", self._unit_hint(code, name), CODE[1])
            return None
        if code in self.seen_units:
            self.problem("M107", where, f"unit {code} {unit.name} has a second row (first in row "
                         f"{self.seen_units[code] + 1})", "keep one row per unit", CODE[1])
            return None
        self.seen_units[code] = r
        if name_col is not None and name and name != unit.name and not unit.name.startswith(name):
            self.problem("M109", self.at(SHEET, name_col, r), f"unit {code} is {unit.name}, but the row says {name}",
                         "rows may have shifted: check the code and the entries", NAME[1])
        return unit

    def _unit_hint(self, code: str, name: str) -> str:
        if name in self.by_name:
            return f"{name} is {self.by_name[name].code}"
        if code not in self.suggested and len(self.suggested) < SUGGEST:
            self.suggested[code] = did_you_mean(code, self.units, n=1)
        return self.suggested.get(code) or "the unit codes are those of the rule set's registry"

    def _cell(self, r: int, c: int, text: str, unit: Unit | None, code: str, row: dict[int, str]) -> None:
        p = self.points[self.lay.points[c]]
        where, who = self.at(SHEET, c, r), f"{code} {unit.name if unit else '?'}"
        v = _number(text)
        if v is None:
            self.problem("M101", where, f"`{_short(text)}` is not a number ({who})",
                         f"{_expect(p)}; leave the cell empty if it was not collected", self._head(c))
        elif p.range is not None and not p.in_range(v):  # (no range: every number is in range)
            lo, hi = p.range
            self.problem("M103", where, f"{num(v)} is outside the range [{num(lo)}, {num(hi)}] ({who})",
                         _expect(p), self._head(c))
        elif not p.in_values(v):
            self.problem("M102", where, f"{num(v)} is not an allowed value ({who})", _expect(p), self._head(c))
        elif unit is not None:
            self.entries.append(Entry(code, p.id, v, self._role(row, "collector") or self.collector,
                                      self._role(row, "note"), where))

    def _role(self, row: dict[int, str], role: str) -> str:
        c = self.lay.roles.get(role)
        return (row.get(c) or "").strip() if c is not None else ""

    @property
    def lay(self) -> _Layout:
        """The entry sheet's layout, known once its header is read (rows are read after it)."""
        assert self.layout is not None
        return self.layout

    def _head(self, c: int) -> str:
        pid = self.layout.points.get(c) if self.layout else None
        if pid is None:
            return ""
        return f"{pid} {self.points[pid].label}"


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
