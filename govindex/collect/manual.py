"""Manual collection (人工采集): the manual points, and the Excel template collectors fill.

The template's sheet ``录入`` has one row per unit and one column per manual point (the wide
layout): a collector works down a column to test one point across units, or along a row to do
one unit, with the unit frozen on the left and the point's id and label frozen on top. Every
point cell carries a dropdown (``values:``) or a decimal range (``range:``) and the point's
``description:`` as its input message. ``说明`` describes every point; the hidden, protected
``_meta`` sheet names the rule set, the round and a fingerprint of the manual points.

:mod:`govindex.collect.manual_import` reads a filled template back, checks every cell and merges
its entries into the round's rows of the rule set's manual table (the one read by ``entry(T)``).

Problem codes of the import (stable; registered in :mod:`govindex.diagnostics.codes`, documented
in docs/rules-language.md §15)::

    M101 not-a-number      M106 not-manual        M111 unnamed-column      M116 merged-cells
    M102 value-not-allowed M107 duplicate-unit    M112 no-code-column      M117 blank-book
    M103 out-of-range      M108 duplicate-column  M113 unreadable          M118 no-change
    M104 unknown-unit      M109 name-mismatch     M114 formula-no-value    M119 held-elsewhere
    M105 unknown-point     M110 no-unit           M115 cell-too-long
    M120 unknown-assigned-unit, M121 unknown-assigned-point (manual template --units/--points)
    M122 disagreement (another collector entered another value)
    M123 resolution-no-reason, M124 bad-resolution (manual resolve)
    M201 wrong-ruleset  M202 wrong-round  M203 points-changed  M204 no-metadata   (M2xx: --force allows)
    warnings: M301 units-not-listed, M302 points-not-listed (not collected: missing, not zero),
              M303 note-without-entry (a note on a row with no entry is not imported),
              M304 resolved-kept (a book's other value for a resolved cell is not imported)

A team: :mod:`govindex.collect.manual_assign` (one collector's units and points),
:mod:`~govindex.collect.manual_compare` (double entry), :mod:`~govindex.collect.manual_disputes`
(the round's dispute register), :mod:`~govindex.collect.manual_resolve`,
:mod:`~govindex.collect.manual_progress`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import xlsxwriter

from govindex.collect.imports import ImportDataError
from govindex.diagnostics import UsageError
from govindex.eval.compile import ENTRY_EPS, entry_allowed
from govindex.fsio import write_file
from govindex.ir import ROOT, Expr, RuleSet, Unit, aggregates

SHEET, HELP_SHEET, META_SHEET = "录入", "说明", "_meta"
FORMAT = "govindex-manual-template/1"
HEADER_ROWS = 2  # row 1: machine ids (what import reads), row 2: Chinese labels
ATTR_LABELS = {"province": "省份", "macro_region": "区域", "region": "区域", "country": "国家"}
CODE, NAME, COLLECTOR, NOTE = ("code", "单位代码"), ("name", "单位名称"), ("collector", "采集人"), ("note", "备注")


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
        """Whether ``v`` may be entered: the rule of :func:`govindex.eval.compile.entry_ok`, which
        scoring applies again to whatever reaches the facts."""
        return math.isfinite(v) and self.in_values(v) and self.in_range(v)

    def in_values(self, v: float) -> bool:
        return self.values is None or any(abs(v - a) <= ENTRY_EPS * max(1.0, abs(a)) for a in self.values)

    def in_range(self, v: float) -> bool:
        return self.range is None or self.range[0] - ENTRY_EPS <= v <= self.range[1] + ENTRY_EPS

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
        values, rng = entry_allowed(p.settings)
        out.append(ManualPoint(
            id=p.id, label=p.label, path=_path(rs, p.parent), max=p.max, values=values, range=rng,
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


def num(v: float) -> str:
    """A number as a person writes it: ``1``, ``0.5``."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def check_round(rs: RuleSet, round_no: int) -> None:
    """A usage error unless ``round_no`` is one of the rule set's rounds."""
    if round_no not in rs.rounds:
        raise UsageError(f"rule set `{rs.name}` has no round {round_no}; its rounds are "
                         f"{', '.join(map(str, sorted(rs.rounds)))}")


# ------------------------------------------------------------------ the template


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one collector's book holds: a subset of the units and of the manual points (None:
    all of them), and who collects it (written in ``_meta``, shown on both sheets)."""

    units: tuple[Unit, ...] | None = None
    points: tuple[str, ...] | None = None
    collector: str = ""


def write_template(rs: RuleSet, round_no: int, path: Path, assign: Assignment | None = None) -> Path:
    """Write the collection workbook of ``round_no`` to ``path`` (atomically) and return it;
    ``assign`` restricts it to one collector's units and points."""
    check_round(rs, round_no)
    table = manual_table(rs)
    every = [p for p in manual_points(rs) if p.table == table]
    a = assign or Assignment()
    points = [p for p in every if a.points is None or p.id in a.points]
    units = list(a.units) if a.units is not None else list(rs.units)

    def fill(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False})
        title = f"{rs.name} 人工采集 第{round_no}轮" + (f"（采集人：{a.collector}）" if a.collector else "")
        wb.set_properties({"title": title, "author": a.collector, "comments": FORMAT})
        fmt = _formats(wb)
        _entry_sheet(wb.add_worksheet(SHEET), rs, units, points, fmt, a.collector)
        _help_sheet(wb.add_worksheet(HELP_SHEET), rs, round_no, (units, points), fmt, a.collector)
        _meta_sheet(wb.add_worksheet(META_SHEET), rs, round_no, table, every, (units, points, a))
        wb.close()

    write_file(Path(path), fill)  # govindex.fsio: atomic, durable, never over a device or a link
    return Path(path)


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


def _entry_sheet(ws, rs: RuleSet, units: list[Unit], points: list[ManualPoint], fmt: dict, collector: str) -> None:
    fixed = _fixed_columns(rs)
    first, last_row = len(fixed), HEADER_ROWS + len(units) - 1
    who = next(c for c, (key, _, _) in enumerate(fixed) if key == COLLECTOR[0])
    for c, (key, label, width) in enumerate(fixed):
        ws.write_string(0, c, key, fmt["id"])
        ws.write_string(1, c, label, fmt["label"])
        ws.set_column(c, c, width, fmt["text"] if c < 2 + len(rs.unit_attrs) else None)
    for r, u in enumerate(units, start=HEADER_ROWS):
        ws.write_string(r, 0, u.code, fmt["unit"])
        ws.write_string(r, 1, u.name, fmt["unit"])
        for c, a in enumerate(rs.unit_attrs, start=2):
            ws.write_string(r, c, u.attrs.get(a, ""), fmt["unit"])
        if collector:  # each row says who collects it: the import records it per entry
            ws.write_string(r, who, collector)
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
        lo, hi = p.range or (min(p.values or ()), max(p.values or ()))  # (values: not empty here)
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


def _help_sheet(ws, rs: RuleSet, round_no: int, held: tuple[list[Unit], list[ManualPoint]], fmt: dict,
                collector: str) -> None:
    units, points = held
    first = len(_fixed_columns(rs))
    who = f"　采集人：{collector}" if collector else ""
    ws.write_string(0, 0, f"{rs.name} — 人工采集 第 {round_no} 轮（{rs.rounds[round_no].isoformat()}）{who}",
                    fmt["title"])
    ws.write_string(1, 0, "在「录入」表中每个单位一行、每个点位一列填写数值：从下拉列表选择或输入范围内的数。"
                          "空白表示未采集（该点位记为缺失，不是 0）。请勿修改第 1 行的点位 ID 和单位代码。")
    ws.write_string(2, 0, f"共 {len(points)} 个人工点位、{len(units)} 个单位。导入：govindex manual import "
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


def _meta_sheet(ws, rs: RuleSet, round_no: int, table: str, every: list[ManualPoint],
                held: tuple[list[Unit], list[ManualPoint], Assignment]) -> None:
    units, points, a = held
    # the fingerprint is of every manual point (what the import checks); `points` those of this book
    rows = [("key", "value"), ("format", FORMAT), ("ruleset", rs.name), ("round", str(round_no)), ("table", table),
            ("fingerprint", fingerprint(every)), ("points", ",".join(p.id for p in points)),
            ("units", str(len(units))), ("generated", datetime.now().isoformat(timespec="seconds")),
            ("collector", a.collector), ("assigned_units", "" if a.units is None else ",".join(u.code for u in units)),
            ("assigned_points", "" if a.points is None else ",".join(p.id for p in points))]
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
