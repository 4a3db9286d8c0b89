"""scores.xlsx for people: the cells of a results workbook, written with xlsxwriter.

:func:`govindex.results.write_excel` decides what the sheets hold (which nodes, which headers, the
values as published); this module decides how a person sees them:

- **statuses** — a point's cell whose status is not ``ok`` (``no_data``, ``error``,
  ``not_applicable``), or whose value an override changed (``ov:<point>``), gets the fill of
  :data:`STATUS_STYLES` and a comment naming the status and its reason; the value stays the number
  scored (0 under ``missing: zero``), so sums over a column still work. The 说明 sheet carries the
  legend;
- **number formats** — scores ``0.00`` for ``rounding: 2 digits`` (as many decimals as the rule set
  rounds to, trailing zeros shown); rates as percentages with the same decimals (``0.00%``);
- **autofilter** over the whole table, the header row and the first two columns (code, name)
  frozen, on every data sheet; column widths measured in display cells, a CJK character two;
- the **来源 Provenance** sheet: the provenance dict, one key → value row each, nested values as
  JSON text (absent when there is none).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from govindex.diagnostics import display_width as _display_width

# What the manual template calls the registry's attributes (govindex/collect/manual.py,
# ATTR_LABELS; tests/test_workbook.py holds the two equal): a Chinese rule set's workbook uses the
# same headers, an English one the attribute's own name.
ATTR_LABELS = {"province": "省份", "macro_region": "区域", "region": "区域", "country": "国家"}

Kind = Literal["text", "int", "score", "rate", "any"]


@dataclass(frozen=True, slots=True)
class StatusStyle:
    fill: str  # the cell's background, #RRGGBB
    zh: str
    en: str
    meaning: str


# Distinct at a glance and readable in print: grey for nothing to score, red for an error, blue for
# a point that does not apply, amber for a value changed after collection (an override).
STATUS_STYLES: dict[str, StatusStyle] = {
    "no_data": StatusStyle("#D9D9D9", "无数据", "no data", "没有可用的数据；按缺失值规则计分 (missing:)"),
    "error": StatusStyle("#F4B6B6", "错误", "error", "数据有误 (超出取值范围、冲突)，不计分"),
    "not_applicable": StatusStyle("#BDD7EE", "不适用", "not applicable", "该指标对此单位不适用"),
    "overridden": StatusStyle("#FFE699", "已更正", "overridden", "数值经更正 (申诉、复核) 后改变"),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """How one cell is shown beyond its value: a status of :data:`STATUS_STYLES` and the comment."""

    status: str
    comment: str


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    values: list[Any]
    kind: Kind = "any"
    marks: list[Mark | None] | None = None  # per row, for a point's cells


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    columns: list[Column]
    frozen: int = 2  # the first columns kept in view (code and name)


def marks(statuses: list[str | None], reasons: list[str | None], overridden: list[bool],
          override_reasons: list[str | None]) -> list[Mark | None]:
    """Per unit, the mark of a point's cells: overridden first (whatever the status after it), then a
    status that is not ``ok``; the comment says the status in Chinese and English and why."""
    out: list[Mark | None] = []
    for st, why, ov, ov_why in zip(statuses, reasons, overridden, override_reasons):
        if ov:
            lines = [_status_line("overridden")]
            if ov_why:
                lines.append(f"更正理由 reason: {ov_why}")
            if st and st != "ok":
                lines.append(f"更正后状态 status: {_status_line(st)}")
            out.append(Mark("overridden", "\n".join(lines)))
        elif st and st != "ok":
            key = st if st in STATUS_STYLES else "error"
            lines = [_status_line(st)] + ([f"原因 reason: {why}"] if why else [])
            out.append(Mark(key, "\n".join(lines)))
        else:
            out.append(None)
    return out


def _status_line(status: str) -> str:
    s = STATUS_STYLES.get(status)
    return f"{s.zh} {s.en} ({status})" if s else status


def attr_header(attr: str, chinese: bool) -> str:
    """The header of a registry attribute: the manual template's (省份) for a Chinese rule set."""
    return ATTR_LABELS.get(attr, attr) if chinese else attr


def is_chinese(labels: list[str]) -> bool:
    """Whether a rule set speaks Chinese: most of its labels hold a CJK character."""
    cjk = sum(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in labels)
    return cjk * 2 > len(labels)


def score_format(digits: int) -> str:
    return "0." + "0" * digits if digits > 0 else "0"


def rate_format(digits: int) -> str:
    return score_format(digits) + "%"


def display_width(text: str) -> int:
    """Excel's column width of ``text`` in characters: a wide (CJK) character takes two — the
    package's one display width (:func:`govindex.diagnostics.display_width`)."""
    return _display_width(text)


_MIN_WIDTH, _MAX_WIDTH = 6, 60


def column_width(col: Column, digits: int) -> int:
    """Wide enough for the header and every value as shown (numbers at ``digits`` decimals)."""
    widest = display_width(col.header)
    for v in col.values:
        if v is None:
            continue
        if col.kind in ("score", "rate") and isinstance(v, (int, float)):
            text = f"{v * (100 if col.kind == 'rate' else 1):.{digits}f}" + ("%" if col.kind == "rate" else "")
        else:
            text = str(v)
        widest = max(widest, display_width(text))
    return min(max(widest + 2, _MIN_WIDTH), _MAX_WIDTH)


def write_book(path: Path, sheets: list[Sheet], digits: int, notes: list[tuple[str, str]],
               provenance: dict | None = None, *, english: bool = False) -> None:
    """Write the data ``sheets``, then 说明 (``notes`` and the status legend; ``Notes`` for an
    English rule set), then 来源 Provenance when ``provenance`` is given."""
    from xlsxwriter import Workbook

    with Workbook(str(path)) as wb:
        fmts = _Formats(wb, digits)
        for sheet in sheets:
            _data_sheet(wb, fmts, sheet, digits)
        _notes_sheet(wb, fmts, notes, english)
        if provenance is not None:
            _provenance_sheet(wb, fmts, provenance)


class _Formats:
    """The workbook's cell formats, one per (kind, status) as first used."""

    def __init__(self, wb: Any, digits: int) -> None:
        self.wb = wb
        self.num = {"score": score_format(digits), "rate": rate_format(digits), "int": "0", "text": "@"}
        self.cache: dict[tuple[str, str | None], Any] = {}
        self.header = wb.add_format({"bold": True, "bottom": 1, "valign": "top"})

    def get(self, kind: str, status: str | None = None) -> Any:
        key = (kind, status)
        if key not in self.cache:
            props: dict[str, Any] = {}
            if kind in self.num:
                props["num_format"] = self.num[kind]
            if status is not None:
                props |= {"bg_color": STATUS_STYLES[status].fill, "pattern": 1}
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]


def _data_sheet(wb: Any, fmts: _Formats, sheet: Sheet, digits: int) -> None:
    ws = wb.add_worksheet(sheet.name)
    rows = len(sheet.columns[0].values) if sheet.columns else 0
    for c, col in enumerate(sheet.columns):
        ws.write_string(0, c, col.header, fmts.header)
        ws.set_column(c, c, column_width(col, digits))
        for r, v in enumerate(col.values, start=1):
            mark = col.marks[r - 1] if col.marks is not None else None
            fmt = fmts.get(col.kind, mark.status if mark else None)
            _write(ws, r, c, v, fmt)
            if mark is not None and col.kind == "score":  # one comment per point: on its score
                ws.write_comment(r, c, mark.comment, {"x_scale": 2, "y_scale": 1.2})
    if sheet.columns:
        ws.autofilter(0, 0, rows, len(sheet.columns) - 1)
        ws.freeze_panes(1, min(sheet.frozen, len(sheet.columns)))


def _write(ws: Any, r: int, c: int, v: Any, fmt: Any) -> None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        ws.write_blank(r, c, None, fmt)  # blank but filled: the status still shows
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v, fmt)
    elif isinstance(v, (int, float)):
        ws.write_number(r, c, v, fmt)
    else:
        ws.write_string(r, c, str(v), fmt)


def _notes_sheet(wb: Any, fmts: _Formats, notes: list[tuple[str, str]], english: bool = False) -> None:
    ws = wb.add_worksheet("Notes" if english else "说明")
    ws.write_row(0, 0, ["Item", "Value"] if english else ["项目", "内容"], fmts.header)
    for r, (k, v) in enumerate(notes, start=1):
        ws.write_string(r, 0, k)
        ws.write_string(r, 1, v)
    at = len(notes) + 2
    ws.write_row(at, 0, ["Legend 状态图例", "Meaning"] if english else ["状态图例 Legend", "含义"], fmts.header)
    for r, (status, s) in enumerate(STATUS_STYLES.items(), start=at + 1):
        ws.write_string(r, 0, f"{s.zh} {s.en} ({status})", fmts.get("text", status))
        ws.write_string(r, 1, s.meaning)
    widths = [display_width(k) for k, _ in notes] + [display_width(f"{s.zh} {s.en} ({k})") for k, s in STATUS_STYLES.items()]
    ws.set_column(0, 0, min(max(widths) + 2, _MAX_WIDTH))
    ws.set_column(1, 1, min(max([display_width(v) for _, v in notes] + [display_width(s.meaning)
                                                                        for s in STATUS_STYLES.values()]) + 2, _MAX_WIDTH))
    ws.freeze_panes(1, 0)


PROVENANCE_SHEET = "来源 Provenance"
_CELL_MAX = 32767  # Excel's limit on a cell's text


def provenance_rows(provenance: dict) -> list[tuple[str, str | int | float | bool]]:
    """The provenance as key → value rows: a scalar as it is, a nested value as JSON text; a text
    longer than a cell holds goes on in further rows (``key (2)``, ``key (3)``…)."""
    rows: list[tuple[str, str | int | float | bool]] = []
    for key, v in provenance.items():
        if isinstance(v, (bool, int, float)) and not (isinstance(v, float) and not math.isfinite(v)):
            rows.append((str(key), v))
            continue
        text = "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        parts = [text[i:i + _CELL_MAX] for i in range(0, len(text), _CELL_MAX)] or [""]
        rows += [(str(key) if i == 0 else f"{key} ({i + 1})", part) for i, part in enumerate(parts)]
    return rows


def _provenance_sheet(wb: Any, fmts: _Formats, provenance: dict) -> None:
    ws = wb.add_worksheet(PROVENANCE_SHEET)
    ws.write_row(0, 0, ["项目 Key", "内容 Value"], fmts.header)
    rows = provenance_rows(provenance)
    for r, (k, v) in enumerate(rows, start=1):
        ws.write_string(r, 0, k)
        _write(ws, r, 1, v, None)
    ws.set_column(0, 0, min(max([display_width(k) for k, _ in rows] + [10]) + 2, _MAX_WIDTH))
    ws.set_column(1, 1, 100, fmts.wb.add_format({"text_wrap": False}))
    ws.freeze_panes(1, 1)
