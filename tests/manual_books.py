"""Filled manual workbooks for tests: a template written by govindex, cells written by openpyxl
(as a collector's spreadsheet program would), parts of the saved zip rewritten where openpyxl
cannot say it (a formula's cached value, a DTD)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

from govindex.collect.manual import SHEET


def columns(ws) -> dict[str, int]:
    """Row-1 header → 1-based column."""
    return {c.value: c.column for c in ws[1] if c.value}


def rows(ws) -> dict[str, int]:
    """Unit code → 1-based row."""
    return {ws.cell(r, 1).value: r for r in range(3, ws.max_row + 1)}


def fill(template: Path, out: Path, cells: dict[tuple[str, str], object], edit=None) -> Path:
    """Copy ``template`` to ``out`` with (unit code, header) → value written, then ``edit(ws, cols, rows)``."""
    wb = openpyxl.load_workbook(template)
    ws = wb[SHEET]
    cols, where = columns(ws), rows(ws)
    for (code, header), value in cells.items():
        ws.cell(where[code], cols[header], value)
    if edit:
        edit(ws, cols, where)
    wb.save(out)
    return out


def rewrite_part(book: Path, part: str, edit: Callable[[bytes], bytes], out: Path | None = None) -> Path:
    """Copy ``book`` with one zip part's bytes passed through ``edit``."""
    out = out or book
    with zipfile.ZipFile(book) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            zout.writestr(info, edit(data) if info.filename == part else data)
    return out


def entry_part(book: Path) -> str:
    """The zip part of the entry sheet (openpyxl names sheets in order: sheet1.xml …)."""
    return "xl/worksheets/sheet1.xml"
