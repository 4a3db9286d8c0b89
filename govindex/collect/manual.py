"""Manual collection (人工采集): an Excel template per round, and its validated import.

The template's sheet ``录入`` has one row per unit and one column per manual point (the wide
layout): a collector works down a column to test one point across units, or along a row to do
one unit, with the unit frozen on the left and the point's id and label frozen on top. Every
point cell carries a dropdown (``values:``) or a decimal range (``range:``) and the point's
``description:`` as its input message. ``说明`` describes every point; the hidden, protected
``_meta`` sheet names the rule set, the round and a fingerprint of the manual points.

Import reads the workbook back, checks every cell and imports all or nothing: the rows of the
rule set's manual table (the one read by ``entry(T)``) go to ``FACTS/T/round=N/part-0.parquet``,
replacing that round. A blank cell is "not collected": no row, so the point stays missing.

Problem codes (stable)::

    M101 not-a-number      M105 unknown-point     M109 name-mismatch     M201 wrong-ruleset
    M102 value-not-allowed M106 not-manual        M110 no-unit           M202 wrong-round
    M103 out-of-range      M107 duplicate-unit    M111 unnamed-column    M203 points-changed
    M104 unknown-unit      M108 duplicate-column  M112 no-code-column    M204 no-metadata
                                                  M113 unreadable        (M2xx: --force allows)
    warnings: M301 units-not-listed, M302 points-not-listed (not collected: missing, not zero)
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import fastexcel
import xlsxwriter

from govindex.collect.imports import ImportDataError, ImportProblem, ImportReport, typed_frame, write_partition
from govindex.diagnostics import UsageError
from govindex.eval.facts import schema
from govindex.ir import ROOT, Expr, RuleSet, aggregates

SHEET, HELP_SHEET, META_SHEET = "录入", "说明", "_meta"
FORMAT = "govindex-manual-template/1"
HEADER_ROWS = 2  # row 1: machine ids (what import reads), row 2: Chinese labels
ATTR_LABELS = {"province": "省份", "macro_region": "区域", "region": "区域", "country": "国家"}
CODE, NAME, COLLECTOR, NOTE = ("code", "单位代码"), ("name", "单位名称"), ("collector", "采集人"), ("note", "备注")
NAMES = {"M101": "not-a-number", "M102": "value-not-allowed", "M103": "out-of-range", "M104": "unknown-unit",
         "M105": "unknown-point", "M106": "not-manual", "M107": "duplicate-unit", "M108": "duplicate-column",
         "M109": "name-mismatch", "M110": "no-unit", "M111": "unnamed-column", "M112": "no-code-column",
         "M113": "unreadable", "M201": "wrong-ruleset", "M202": "wrong-round", "M203": "points-changed",
         "M204": "no-metadata", "M301": "units-not-listed", "M302": "points-not-listed"}
_EPS = 1e-9
_EXCEL_ERRORS = {"Div0": "#DIV/0!", "NA": "#N/A", "Ref": "#REF!", "Value": "#VALUE!", "Name": "#NAME?",
                 "Null": "#NULL!", "Num": "#NUM!", "GettingData": "#GETTING_DATA"}


class ManualImportError(ImportDataError):
    """A workbook was rejected whole; ``problems`` names every bad cell. Nothing was written."""


@dataclass(frozen=True, slots=True)
class ManualPoint:
    """A manual point as collectors see it."""

    id: str
    label: str
    path: tuple[str, ...]  # indicator labels from the first level down to the parent
    max: float
    values: tuple[float, ...] | None
    range: tuple[float, float] | None
    description: str
    table: str  # the table its ``entry(T)`` probe reads

    def allows(self, v: float) -> bool:
        in_values = self.values is None or any(abs(v - a) <= _EPS * max(1.0, abs(a)) for a in self.values)
        in_range = self.range is None or self.range[0] - _EPS <= v <= self.range[1] + _EPS
        return in_values and in_range

    def allowed_text(self) -> str:
        if self.values is not None:
            return "、".join(num(v) for v in self.values)
        if self.range is not None:
            return f"{num(self.range[0])} – {num(self.range[1])}"
        return "任意数值"


# ------------------------------------------------------------------ the manual points


def manual_points(rs: RuleSet) -> list[ManualPoint]:
    """The manual points whose probe reads an ``entry(T)`` table, in rule-set order."""
    out = []
    for p in rs.points:
        tables = _entry_tables(p.probe)
        if p.kind != "manual" or not tables:
            continue
        out.append(ManualPoint(
            id=p.id, label=p.label, path=_path(rs, p.parent), max=p.max,
            values=_floats(p.settings.get("values")), range=_pair(p.settings.get("range")),
            description=str(getattr(p.settings.get("description"), "value", "") or ""), table=tables[0]))
    return out


def manual_table(rs: RuleSet) -> str:
    """The table manual entries go to: the one every ``entry(T)`` probe of a manual point reads."""
    tables = sorted({p.table for p in manual_points(rs)})
    if len(tables) != 1:
        found = ", ".join(f"`{t}`" for t in tables) or "none"
        raise UsageError(f"rule set `{rs.name}`: manual points must read one table with `entry(T)`; found {found}")
    return tables[0]


def fingerprint(points: list[ManualPoint]) -> str:
    """A short hash of what a filled template depends on: ids, allowed values, ranges, table."""
    data = [[p.id, p.table, p.values, p.range] for p in points]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:16]


def _entry_tables(expr: Expr | None) -> list[str]:
    return [a.table for a in aggregates(expr) if a.fn == "entry"]


def _path(rs: RuleSet, parent: str | None) -> tuple[str, ...]:
    labels = []
    while parent is not None and parent != ROOT:
        node = rs.nodes[parent]
        labels.append(node.label)
        parent = node.parent
    return tuple(reversed(labels))


def _floats(e: object) -> tuple[float, ...] | None:
    items = getattr(e, "items", None)
    return None if items is None else tuple(float(x.value) for x in items)


def _pair(e: object) -> tuple[float, float] | None:
    vals = _floats(e)
    return (vals[0], vals[1]) if vals is not None and len(vals) == 2 else None


def num(v: float) -> str:
    """A number as a person writes it: ``1``, ``0.5``."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _check_round(rs: RuleSet, round_no: int) -> None:
    if round_no not in rs.rounds:
        raise UsageError(f"rule set `{rs.name}` has no round {round_no}; its rounds are "
                         f"{', '.join(map(str, sorted(rs.rounds)))}")


# ------------------------------------------------------------------ the template


def write_template(rs: RuleSet, round_no: int, path: Path) -> Path:
    """Write the collection workbook of ``round_no`` to ``path`` (atomically) and return it."""
    _check_round(rs, round_no)
    table = manual_table(rs)
    points = [p for p in manual_points(rs) if p.table == table]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False})
        wb.set_properties({"title": f"{rs.name} 人工采集 第{round_no}轮", "comments": FORMAT})
        fmt = _formats(wb)
        _entry_sheet(wb.add_worksheet(SHEET), rs, points, fmt)
        _help_sheet(wb.add_worksheet(HELP_SHEET), rs, round_no, points, fmt)
        _meta_sheet(wb.add_worksheet(META_SHEET), rs, round_no, table, points)
        wb.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _formats(wb: xlsxwriter.Workbook) -> dict[str, object]:
    return {
        "id": wb.add_format({"font_size": 8, "font_color": "#808080", "bg_color": "#F2F2F2", "text_wrap": True,
                             "valign": "top", "border": 1, "border_color": "#D9D9D9"}),
        "label": wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                "border": 1, "border_color": "#9BC2E6"}),
        "text": wb.add_format({"num_format": "@"}),
        "unit": wb.add_format({"num_format": "@", "bg_color": "#F2F2F2"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }


def _fixed_columns(rs: RuleSet) -> list[tuple[str, str, int]]:
    attrs = [(a, ATTR_LABELS.get(a, a), 8) for a in rs.unit_attrs]
    return [(*CODE, 9), (*NAME, 16), *attrs, (*COLLECTOR, 10), (*NOTE, 24)]


def _entry_sheet(ws, rs: RuleSet, points: list[ManualPoint], fmt: dict) -> None:
    fixed = _fixed_columns(rs)
    first, last_row = len(fixed), HEADER_ROWS + len(rs.units) - 1
    for c, (key, label, width) in enumerate(fixed):
        ws.write_string(0, c, key, fmt["id"])
        ws.write_string(1, c, label, fmt["label"])
        ws.set_column(c, c, width, fmt["text"] if c < 2 + len(rs.unit_attrs) else None)
    for r, u in enumerate(rs.units, start=HEADER_ROWS):
        ws.write_string(r, 0, u.code, fmt["unit"])
        ws.write_string(r, 1, u.name, fmt["unit"])
        for c, a in enumerate(rs.unit_attrs, start=2):
            ws.write_string(r, c, u.attrs.get(a, ""), fmt["unit"])
    for j, p in enumerate(points):
        c = first + j
        ws.write_string(0, c, p.id, fmt["id"])
        ws.write_string(1, c, p.label, fmt["label"])
        ws.set_column(c, c, 13)
        ws.data_validation(HEADER_ROWS, c, last_row, c, _validation(p))
    ws.set_row(0, 24)
    ws.set_row(1, 64)
    ws.freeze_panes(HEADER_ROWS, 2)  # unit code and name on the left, point id and label on top
    ws.autofilter(1, 0, last_row, first + len(points) - 1)


def _validation(p: ManualPoint) -> dict[str, object]:
    listed = [num(v) for v in p.values or ()]
    if p.values and len(",".join(listed)) <= 255:  # Excel's limit for a literal list
        dv: dict[str, object] = {"validate": "list", "source": listed}
    elif p.values or p.range:
        lo, hi = p.range or (min(p.values), max(p.values))
        dv = {"validate": "decimal", "criteria": "between", "minimum": lo, "maximum": hi}
    else:
        dv = {"validate": "any"}
    allowed = f"允许值：{p.allowed_text()}。" if p.values or p.range else ""
    dv.update(input_title=_cut(p.label, 32), input_message=_cut(allowed + p.description, 255),
              error_title=_cut(p.label, 32), error_type="stop",
              error_message=_cut(f"输入无效。{allowed}未采集的请留空（空白不是 0）。", 255))
    return dv


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _help_sheet(ws, rs: RuleSet, round_no: int, points: list[ManualPoint], fmt: dict) -> None:
    first = len(_fixed_columns(rs))
    ws.write_string(0, 0, f"{rs.name} — 人工采集 第 {round_no} 轮（{rs.rounds[round_no].isoformat()}）", fmt["title"])
    ws.write_string(1, 0, "在「录入」表中每个单位一行、每个点位一列填写数值：从下拉列表选择或输入范围内的数。"
                          "空白表示未采集（该点位记为缺失，不是 0）。请勿修改第 1 行的点位 ID 和单位代码。")
    ws.write_string(2, 0, f"共 {len(points)} 个人工点位、{len(rs.units)} 个单位。导入：govindex manual import "
                          f"FILE.xlsx --rules RULES --round {round_no} --facts FACTS_DIR")
    heads = [("录入列", 7), ("点位 ID", 30), ("名称", 28), ("指标路径", 36), ("满分", 6), ("允许值", 14),
             ("说明", 80)]
    for c, (h, width) in enumerate(heads):
        ws.write_string(4, c, h, fmt["label"])
        ws.set_column(c, c, width, fmt["wrap"])
    for i, p in enumerate(points, start=5):
        row = [col_letter(first + i - 5), p.id, p.label, " › ".join(p.path), p.max, p.allowed_text(), p.description]
        ws.write_row(i, 0, row)
    ws.freeze_panes(5, 0)


def _meta_sheet(ws, rs: RuleSet, round_no: int, table: str, points: list[ManualPoint]) -> None:
    rows = [("key", "value"), ("format", FORMAT), ("ruleset", rs.name), ("round", str(round_no)), ("table", table),
            ("fingerprint", fingerprint(points)), ("points", ",".join(p.id for p in points)),
            ("units", str(len(rs.units))), ("generated", datetime.now().isoformat(timespec="seconds"))]
    for r, (k, v) in enumerate(rows):
        ws.write_string(r, 0, k)
        ws.write_string(r, 1, v)
    ws.hide()
    ws.protect()


def col_letter(idx: int) -> str:
    """0 → ``A``, 27 → ``AB``."""
    out = ""
    idx += 1
    while idx:
        idx, rem = divmod(idx - 1, 26)
        out = chr(65 + rem) + out
    return out


# ------------------------------------------------------------------ the import


def import_workbook(path: Path, rs: RuleSet, round_no: int, facts_dir: Path, *, force: bool = False) -> ImportReport:
    """Validate a filled template and write its entries as round ``round_no`` of the manual table.

    Every problem is gathered; if any is an error, :class:`ManualImportError` is raised and
    nothing is written. ``force`` turns a metadata mismatch (another rule set, round or set of
    points) into a warning; bad cells are never forced."""
    _check_round(rs, round_no)
    table = manual_table(rs)
    path = Path(path)
    sheets = _read(path)
    ws = _Import(rs, round_no, table, path, force)
    ws.check_meta(sheets.get(META_SHEET))
    if SHEET not in sheets:
        ws.problem("M113", f"{path}", f"the workbook has no sheet `{SHEET}`",
                   f"import a template made by `govindex manual template` (sheets: {', '.join(sheets) or 'none'})")
    else:
        ws.read_entries(*sheets[SHEET])
    if any(p.severity == "error" for p in ws.problems):
        raise ManualImportError(str(path), ws.problems)
    return ws.write(Path(facts_dir))


Grid = tuple[list[list[str | None]], list[int]]  # rows of cell texts; the absolute column of each


def _read(path: Path) -> dict[str, Grid]:
    try:
        book = fastexcel.read_excel(path)
        out = {}
        for name in book.sheet_names:
            sheet = book.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            cols = [c.absolute_index for c in sheet.selected_columns]
            batch, errors = sheet.to_arrow_with_errors()
            data = list(batch.to_pydict().values())
            for err in (errors.errors if errors else ()):  # #N/A, #DIV/0!…: kept, so never read as blanks
                r, c = err.position
                data[c][r] = _EXCEL_ERRORS.get(err.detail.rsplit("Error(", 1)[-1].rstrip(")'"), "#ERROR")
            out[name] = ([list(row) for row in zip(*data)], cols)
        return out
    except (fastexcel.FastExcelError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        prob = ImportProblem("M113", NAMES["M113"], str(path), f"cannot read the workbook: {first}",
                             "save it as .xlsx (Excel 2007 or later) and try again")
        raise ManualImportError(str(path), [prob]) from None


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


class _Import:
    """The state of one import: the problems found and the rows accepted so far."""

    def __init__(self, rs: RuleSet, round_no: int, table: str, path: Path, force: bool):
        self.rs, self.round_no, self.table, self.path, self.force = rs, round_no, table, path, force
        self.points = {p.id: p for p in manual_points(rs) if p.table == table}
        self.units = {u.code: u for u in rs.units}
        self.problems: list[ImportProblem] = []
        self.rows: list[dict] = []
        self.blanks = 0
        self.seen_units: dict[str, int] = {}
        self.seen_points: set[str] = set()
        self.layout_points: dict[int, str] = {}

    def problem(self, code: str, where: str, message: str, hint: str = "", column: str = "",
                severity: str = "error") -> None:
        self.problems.append(ImportProblem(code, NAMES[code], where, message, hint, column, severity))

    def at(self, sheet: str, col: int, row: int) -> str:
        return f"{self.path}:{sheet}!{col_letter(col)}{row + 1}"

    # -- metadata

    def check_meta(self, grid: Grid | None) -> None:
        sev = "warning" if self.force else "error"
        meta = {}
        if grid is not None:
            rows, cols = grid
            if len(cols) >= 2:
                meta = {_text(r[0]): (_text(r[1]), i) for i, r in enumerate(rows) if r[0]}
        if meta.get("format", ("",))[0] != FORMAT:
            self.problem("M204", f"{self.path}:{META_SHEET}", "no govindex template metadata (sheet `_meta`)",
                         "enter the values into a template from `govindex manual template`, or use --force", "", sev)
            return
        points = [p for p in self.points.values()]
        want = {"ruleset": (self.rs.name, "M201"), "round": (str(self.round_no), "M202"),
                "fingerprint": (fingerprint(points), "M203")}
        for key, (expected, code) in want.items():
            found, row = meta.get(key, ("", 0))
            if found == expected:
                continue
            where = self.at(META_SHEET, grid[1][1], row)
            if key == "round":
                msg, hint = (f"the template is for round {found}, this import is for round {expected}",
                             f"import with --round {found}, or fill a template made for round {expected}")
            elif key == "ruleset":
                msg, hint = (f"the template is for rule set `{found}`, not `{expected}`",
                             "import with the rule set the template was made from")
            else:
                msg, hint = ("the manual points (ids, allowed values or ranges) changed since the template was made",
                             "make a new template and copy the entries over")
            self.problem(code, where, msg, hint + " (or --force)", "", sev)

    # -- the entry sheet

    def read_entries(self, rows: list[list[str | None]], cols: list[int]) -> None:
        if not rows:
            self.problem("M112", f"{self.path}:{SHEET}", f"sheet `{SHEET}` is empty")
            return
        layout = self._header(rows[0], cols, rows)
        if layout is None:
            return
        start = HEADER_ROWS if len(rows) > 1 and _text(rows[1][layout["code"]]) == CODE[1] else 1
        for r in range(start, len(rows)):
            self._row(r, rows[r], cols, layout)
        missing = [u for u in self.units if u not in self.seen_units]
        if missing:
            self.problem("M301", f"{self.path}:{SHEET}", f"{_count(missing, 'unit has', 'units have')} no row: "
                         f"not collected ({_some(missing)})", severity="warning")
        absent = [p for p in self.points if p not in self.seen_points]
        if absent:
            self.problem("M302", f"{self.path}:{SHEET}", f"{_count(absent, 'manual point has', 'manual points have')}"
                         f" no column: not collected ({_some(absent)})", severity="warning")

    def _header(self, header: list[str | None], cols: list[int], rows: list) -> dict | None:
        roles: dict[str, int] = {}
        points: dict[int, str] = {}
        first_at: dict[str, int] = {}
        aliases = {a: key for key, label in (CODE, NAME, COLLECTOR, NOTE) for a in (key, label)}
        for i, raw in enumerate(header):
            h = _text(raw)
            where = self.at(SHEET, cols[i], 0)
            if not h:
                for r, row in enumerate(rows[1:], start=1):
                    if _text(row[i]):
                        self.problem("M111", self.at(SHEET, cols[i], r), "a value in a column without a point id "
                                     "in row 1", "put the point id in row 1, or move the value into its column")
                continue
            if h in first_at:
                self.problem("M108", where, f"column `{h}` appears twice (first in column "
                             f"{col_letter(cols[first_at[h]])})", "keep one column per point", h)
                continue
            first_at[h] = i
            if h in aliases:
                roles[aliases[h]] = i
            elif h in self.points:
                points[i] = h
                self.seen_points.add(h)
            elif h in self.rs.unit_attrs or h in ATTR_LABELS.values():
                continue
            else:
                self._unknown_column(h, where, i, rows)
        if "code" not in roles:
            self.problem("M112", f"{self.path}:{SHEET}!1:1", "no unit code column (`code` or `单位代码` in row 1)",
                         "keep column A of the template: the unit codes")
            return None
        self.layout_points = points
        return {**roles, "points": points}

    def _unknown_column(self, h: str, where: str, i: int, rows: list) -> None:
        n = sum(1 for row in rows[HEADER_ROWS:] if _text(row[i]))
        filled = f"{n} value{'s' if n != 1 else ''} in the column"
        node = self.rs.nodes.get(h)
        if node is not None:
            what = "an indicator" if node.kind == "indicator" else f"a {node.kind} point"
            self.problem("M106", where, f"`{h}` is {what}, not a manual point ({filled})",
                         "only manual points are entered by hand; remove the column", h)
            return
        close = difflib.get_close_matches(h, list(self.points), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "the point ids are listed in sheet 说明"
        self.problem("M105", where, f"unknown point `{h}` ({filled})", hint, h)

    def _row(self, r: int, row: list[str | None], cols: list[int], layout: dict) -> None:
        texts = {i: _text(row[i]) for i in layout["points"]}
        code_i = layout["code"]
        code = _text(row[code_i]).removesuffix(".0")
        if not code:
            for i, t in texts.items():
                if t:
                    self.problem("M110", self.at(SHEET, cols[i], r), f"a value ({t}) in a row without a unit code",
                                 f"put the unit code in column {col_letter(cols[code_i])}", self._head(i))
            return
        unit = self._unit(code, r, row, cols, layout)
        for i, t in texts.items():
            self._cell(r, i, t, cols, unit, code, row, layout)

    def _unit(self, code: str, r: int, row: list, cols: list[int], layout: dict):
        where = self.at(SHEET, cols[layout["code"]], r)
        name = _text(row[layout["name"]]) if "name" in layout else ""
        unit = self.units.get(code)
        if unit is None:
            by_name = [u for u in self.rs.units if name and u.name == name]
            close = difflib.get_close_matches(code, list(self.units), n=1)
            hint = (f"{name} is {by_name[0].code}" if by_name else f"did you mean {close[0]}?" if close
                    else "the unit codes are those of the rule set's registry")
            self.problem("M104", where, f"unknown unit code `{code}`", hint, CODE[1])
            return None
        if code in self.seen_units:
            self.problem("M107", where, f"unit {code} {unit.name} has a second row (first in row "
                         f"{self.seen_units[code] + 1})", "keep one row per unit", CODE[1])
            return None
        self.seen_units[code] = r
        if name and name != unit.name and not unit.name.startswith(name):
            self.problem("M109", self.at(SHEET, cols[layout["name"]], r), f"unit {code} is {unit.name}, "
                         f"but the row says {name}", "rows may have shifted: check the code and the entries", NAME[1])
        return unit

    def _cell(self, r: int, i: int, text: str, cols: list[int], unit, code: str, row: list, layout: dict) -> None:
        if not text:
            self.blanks += 1
            return
        p = self.points[layout["points"][i]]
        where, who = self.at(SHEET, cols[i], r), f"{code} {unit.name if unit else '?'}"
        v = _number(text)
        if v is None:
            self.problem("M101", where, f"`{text}` is not a number ({who})",
                         f"{_expect(p)}; leave the cell empty if it was not collected", self._head(i))
        elif not p.allows(v):
            in_range = p.range is None or p.range[0] - _EPS <= v <= p.range[1] + _EPS
            if p.values is not None and in_range:
                self.problem("M102", where, f"{num(v)} is not an allowed value ({who})", _expect(p), self._head(i))
            else:
                lo, hi = p.range
                self.problem("M103", where, f"{num(v)} is outside the range [{num(lo)}, {num(hi)}] ({who})",
                             _expect(p), self._head(i))
        elif unit is not None:
            self.rows.append(self._fact(code, p.id, v, row, layout))

    def _head(self, i: int) -> str:
        p = self.points[self.layout_points[i]]
        return f"{p.id} {p.label}"

    def _fact(self, code: str, point: str, v: float, row: list, layout: dict) -> dict:
        known = {self.rs.unit_column: code, self.rs.round_column: self.round_no, "point": point, "value": v,
                 **{k: ((row[layout[k]] or "").strip() if k in layout else "") for k in ("collector", "note")}}
        # Columns the rule set declares beyond these stay empty: "" for text, null otherwise.
        return {c: known.get(c, "" if t == "str" else None) for c, t in self.rs.tables[self.table].columns.items()}

    def write(self, facts_dir: Path) -> ImportReport:
        sch = schema(self.rs, self.table)
        df = typed_frame(self.rows, sch, self.rs.unit_column)
        dest = facts_dir / self.table / f"{self.rs.round_column}={self.round_no}" / "part-0.parquet"
        write_partition(df, dest)
        return ImportReport(self.table, self.round_no, str(self.path), dest, len(self.rows),
                            len({r[self.rs.unit_column] for r in self.rows}), blanks=self.blanks,
                            warnings=[p for p in self.problems if p.severity == "warning"])
