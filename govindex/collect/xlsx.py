"""Reading an .xlsx workbook without trusting it: the cells of the sheets asked for, as text.

An .xlsx file is a zip of XML parts, and a hostile or broken one can claim anything. Before a
byte is decompressed the zip's directory is checked — at most :data:`MAX_PARTS` parts, none
over :data:`MAX_PART_BYTES` uncompressed, :data:`MAX_TOTAL_BYTES` in all, and no part over
1 MiB expanding more than :data:`MAX_RATIO` times (a 1 MB file holding a 1 GB string is refused
here, having read nothing). Parts are then streamed through expat (a DTD is refused, so no
entity expansion), never read whole; :mod:`zipfile` stops at each part's declared size and
checks its CRC. A cell's text is kept up to :data:`MAX_CELL_CHARS`, Excel's own limit: a longer
cell was not saved by Excel and is reported, not read. A sheet may hold :data:`MAX_CELLS`
non-empty cells.

What a cell says, as text (what a person sees, so that the caller can check it):

- a number as the file writes it (``0.5``, ``1E+308``) — but a number shown in a date or time
  format as that date (``2019-01-01T00:00:00``): it is not a number to whoever typed it;
- a shared or inline string (phonetic guides left out); a boolean ``TRUE``/``FALSE``; an error
  as Excel shows it (``#N/A``);
- a formula's cached value. A formula with no cached value (a program that does not calculate,
  such as openpyxl, wrote it) is an :class:`Issue`, never a blank.

Merged ranges are returned too: only their first cell holds a value, the rest look blank.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

from govindex.collect.xlsx_parts import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    Issue,
    Rels,
    SharedStrings,
    Sheet,
    SheetPart,
    Styles,
    WorkbookError,
    WorkbookPart,
    parse,
)

__all__ = ["MAX_CELL_CHARS", "MAX_CELLS", "Issue", "Sheet", "WorkbookError", "read_workbook"]

MAX_PARTS = 10_000
MAX_PART_BYTES = 256 * 2**20  # a sheet of 200,000 filled rows is ~40 MiB
MAX_TOTAL_BYTES = 512 * 2**20
MAX_RATIO = 100  # spreadsheet XML compresses 5-30×; 100× and more is a bomb, not a workbook
_RATIO_FROM = 2**20  # small parts may compress well (a run of empty rows)
_OLE2 = b"\xd0\xcf\x11\xe0"  # .xls, and .xlsx files encrypted with a password


def read_workbook(path: Path, wanted: set[str]) -> tuple[list[str], dict[str, Sheet]]:
    """The names of every sheet, in order, and the cells of the ``wanted`` ones that exist.
    Raises :class:`WorkbookError`."""
    with _open_zip(Path(path)) as zf:
        book = _Book(zf)
        names = [s[0] for s in book.sheets]
        return names, {name: book.sheet(name, rid, hidden) for name, rid, hidden in book.sheets if name in wanted}


def _open_zip(path: Path) -> zipfile.ZipFile:
    if path.exists() and not path.is_file():  # a directory, a FIFO (which would block), a device
        raise WorkbookError("not a regular file", "give the path of an .xlsx workbook")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == _OLE2:
            raise WorkbookError("an .xls (Excel 97-2003) or password-protected workbook",
                                "remove the password and save it as .xlsx (Excel 2007 or later)") from None
        raise WorkbookError("not an .xlsx workbook (not a zip file)", "save it as .xlsx (Excel 2007 or later)") from None
    except OSError as exc:
        raise WorkbookError(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        _check_sizes(zf.infolist())
    except WorkbookError:
        zf.close()
        raise
    return zf


def _check_sizes(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_PARTS:
        raise WorkbookError(f"the zip holds {len(infos):,} parts (a workbook has a few dozen; limit {MAX_PARTS:,})")
    total = 0
    for i in infos:
        if i.file_size > _RATIO_FROM and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise WorkbookError(f"part {i.filename} expands {i.file_size // max(i.compress_size, 1):,}× "
                                f"({_mib(i.compress_size)} → {_mib(i.file_size)}; limit {MAX_RATIO}×): "
                                "not a workbook Excel writes", "open the file in Excel, check it and save it again")
        if i.file_size > MAX_PART_BYTES:
            raise WorkbookError(f"part {i.filename} expands to {_mib(i.file_size)} (limit {_mib(MAX_PART_BYTES)})",
                                "split the workbook, or remove what does not belong in it")
        total += i.file_size
    if total > MAX_TOTAL_BYTES:
        raise WorkbookError(f"the workbook expands to {_mib(total)} (limit {_mib(MAX_TOTAL_BYTES)})")


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


class _Book:
    """The parts of an open workbook: its sheets, shared strings and date styles (read lazily)."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        names = set(zf.namelist())
        root = Rels()
        if "_rels/.rels" in names:
            parse(zf, "_rels/.rels", root)
        part = next((t for kind, t in root.by_id.values() if kind == "officeDocument"), "xl/workbook.xml").lstrip("/")
        self.base = posixpath.dirname(part)
        wb = WorkbookPart()
        parse(zf, part, wb)
        rels = Rels()
        rels_part = posixpath.join(self.base, "_rels", posixpath.basename(part) + ".rels")
        if rels_part in names:
            parse(zf, rels_part, rels)
        self.rels, self.sheets, self.date1904 = rels.by_id, wb.sheets, wb.date1904
        self._strings: list[str | int] | None = None
        self._dates: set[int] | None = None

    def _part(self, kind: str) -> str | None:
        target = next((t for k, t in self.rels.values() if k == kind), None)
        return None if target is None else self._resolve(target)

    def _resolve(self, target: str) -> str:
        # A target is relative to the workbook part's directory, or absolute within the package.
        return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(self.base, target))

    def strings(self) -> list[str | int]:
        if self._strings is None:
            h, part = SharedStrings(), self._part("sharedStrings")
            if part is not None:
                parse(self.zf, part, h)
            self._strings = h.items
        return self._strings

    def dates(self) -> set[int]:
        if self._dates is None:
            h, part = Styles(), self._part("styles")
            if part is not None:
                parse(self.zf, part, h)
            self._dates = h.date_styles()
        return self._dates

    def sheet(self, name: str, rid: str, hidden: bool) -> Sheet:
        kind, target = self.rels.get(rid, ("", ""))
        if kind != "worksheet":
            raise WorkbookError(f"sheet `{name}` is not a worksheet (a chart or dialog sheet?)",
                                "keep the template's sheets as they are")
        out = Sheet(name, hidden)
        parse(self.zf, self._resolve(target), SheetPart(out, self.strings(), self.dates(), self.date1904))
        return out
