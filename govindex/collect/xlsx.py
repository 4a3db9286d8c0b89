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
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from xml.parsers import expat

from govindex.collect.errors import ProbesError

MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
MAX_PARTS = 10_000
MAX_PART_BYTES = 256 * 2**20  # a sheet of 200,000 filled rows is ~40 MiB
MAX_TOTAL_BYTES = 512 * 2**20
MAX_RATIO = 100  # spreadsheet XML compresses 5-30×; 100× and more is a bomb, not a workbook
MAX_CELLS = 2_000_000  # non-empty cells per sheet read
_RATIO_FROM = 2**20  # small parts may compress well (a run of empty rows)
_CHUNK = 2**20
_OLE2 = b"\xd0\xcf\x11\xe0"  # .xls, and .xlsx files encrypted with a password
_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_DATE_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}  # built-in date/time formats


class WorkbookError(ProbesError):
    """The file is not a readable .xlsx workbook, or exceeds a limit; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True, slots=True)
class Issue:
    """A cell that cannot be read as what it says: ``kind`` is ``formula`` (no cached value),
    ``too-long`` (over :data:`MAX_CELL_CHARS`) or ``bad-string`` (a dangling shared string)."""

    kind: str
    row: int  # 0-based
    col: int  # 0-based
    detail: str = ""


@dataclass
class Sheet:
    """The non-empty cells of one sheet (``cells[row][col]``, 0-based) and what could not be read."""

    name: str
    hidden: bool
    cells: dict[int, dict[int, str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # first row, col, last row, col


def read_workbook(path: Path, wanted: set[str]) -> tuple[list[str], dict[str, Sheet]]:
    """The names of every sheet, in order, and the cells of the ``wanted`` ones that exist.
    Raises :class:`WorkbookError`."""
    with _open_zip(Path(path)) as zf:
        book = _Book(zf)
        names = [s[0] for s in book.sheets]
        return names, {name: book.sheet(name, rid, hidden) for name, rid, hidden in book.sheets if name in wanted}


def _open_zip(path: Path) -> zipfile.ZipFile:
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
        if i.file_size > MAX_PART_BYTES:
            raise WorkbookError(f"part {i.filename} expands to {_mib(i.file_size)} (limit {_mib(MAX_PART_BYTES)})",
                                "split the workbook, or remove what does not belong in it")
        if i.file_size > _RATIO_FROM and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise WorkbookError(f"part {i.filename} expands {i.file_size // max(i.compress_size, 1):,}× "
                                f"({_mib(i.compress_size)} → {_mib(i.file_size)}; limit {MAX_RATIO}×): "
                                "not a workbook Excel writes", "open the file in Excel, check it and save it again")
        total += i.file_size
    if total > MAX_TOTAL_BYTES:
        raise WorkbookError(f"the workbook expands to {_mib(total)} (limit {_mib(MAX_TOTAL_BYTES)})")


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


# ------------------------------------------------------------------ streaming XML


def _local(name: str) -> str:
    return name.rpartition(" ")[2]  # expat gives "namespace local" with namespace_separator=" "


def _attr(attrs: dict[str, str], local: str) -> str | None:
    for k, v in attrs.items():
        if _local(k) == local:
            return v
    return None


def _no_dtd(*_args) -> None:
    raise WorkbookError("a part of the workbook declares a DTD (entities): not a workbook Excel writes")


def _parse(zf: zipfile.ZipFile, part: str, handler) -> None:
    """Stream ``part`` through expat into ``handler`` (start/end/text methods)."""
    p = expat.ParserCreate(namespace_separator=" ")
    p.StartDoctypeDeclHandler = _no_dtd
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = handler.start, handler.end, handler.text
    p.buffer_text = True
    try:
        with zf.open(part) as fh:
            while chunk := fh.read(_CHUNK):
                p.Parse(chunk, False)
        p.Parse(b"", True)
    except KeyError:
        raise WorkbookError(f"the workbook has no part {part}", "save it again in Excel") from None
    except expat.ExpatError as exc:
        raise WorkbookError(f"part {part} is not well-formed XML ({expat.errors.messages[exc.code]}, "
                            f"line {exc.lineno})", "save it again in Excel") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, NotImplementedError,
            ValueError) as exc:  # a bad CRC, an encrypted part, an unknown compression method
        raise WorkbookError(f"part {part} cannot be read: {exc}", "save it again in Excel") from None


class _Handler:
    def start(self, name: str, attrs: dict[str, str]) -> None: ...

    def end(self, name: str) -> None: ...

    def text(self, data: str) -> None: ...


class _Rels(_Handler):
    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str, str]] = {}  # id → (type's last segment, target)

    def start(self, name, attrs):
        if _local(name) == "Relationship":
            self.by_id[attrs.get("Id", "")] = (attrs.get("Type", "").rpartition("/")[2], attrs.get("Target", ""))


class _WorkbookPart(_Handler):
    def __init__(self) -> None:
        self.sheets: list[tuple[str, str, bool]] = []  # name, relationship id, hidden
        self.date1904 = False

    def start(self, name, attrs):
        local = _local(name)
        if local == "sheet":
            self.sheets.append((attrs.get("name", ""), _attr(attrs, "id") or "", attrs.get("state", "visible") != "visible"))
        elif local == "workbookPr":
            self.date1904 = attrs.get("date1904", "0") in ("1", "true")


class _Text:
    """Character data kept up to :data:`MAX_CELL_CHARS`, and the full length counted."""

    __slots__ = ("parts", "n")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0

    def add(self, data: str) -> None:
        self.n += len(data)
        if self.n <= MAX_CELL_CHARS:
            self.parts.append(data)

    def value(self) -> str | int:
        """The text, or its length when it is too long to keep."""
        return "".join(self.parts) if self.n <= MAX_CELL_CHARS else self.n


class _SharedStrings(_Handler):
    def __init__(self) -> None:
        self.items: list[str | int] = []  # an int: the length of a string too long to keep
        self.cur: _Text | None = None
        self.in_t = False
        self.phonetic = 0

    def start(self, name, attrs):
        local = _local(name)
        if local == "si":
            self.cur = _Text()
        elif local == "rPh":
            self.phonetic += 1
        elif local == "t":
            self.in_t = self.cur is not None and not self.phonetic

    def end(self, name):
        local = _local(name)
        if local == "si" and self.cur is not None:
            self.items.append(self.cur.value())
            self.cur = None
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "t":
            self.in_t = False

    def text(self, data):
        if self.in_t:
            self.cur.add(data)  # type: ignore[union-attr]


class _Styles(_Handler):
    def __init__(self) -> None:
        self.formats: dict[int, str] = {}
        self.xf_formats: list[int] = []
        self.in_xfs = False

    def start(self, name, attrs):
        local = _local(name)
        if local == "numFmt":
            self.formats[_int(attrs.get("numFmtId"))] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            self.in_xfs = True
        elif local == "xf" and self.in_xfs:
            self.xf_formats.append(_int(attrs.get("numFmtId")))

    def end(self, name):
        if _local(name) == "cellXfs":
            self.in_xfs = False

    def date_styles(self) -> set[int]:
        """The cell style indexes (``s``) whose number format shows a date or a time."""
        return {i for i, f in enumerate(self.xf_formats) if f in _DATE_IDS or (f in self.formats and
                                                                           _is_date_format(self.formats[f]))}


def _int(text: str | None, default: int = -1) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def _is_date_format(code: str) -> bool:
    # Quoted text, escaped and padding characters, colours and locales say nothing; [h] [mm] [ss] do.
    code = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)
    code = re.sub(r"\[(?![hms]+\])[^\]]*\]", "", code, flags=re.I)
    return bool(re.search(r"[dmyhs]", code.split(";")[0], flags=re.I)) and code.lower() != "general"


class _SheetPart(_Handler):
    """One worksheet's cells: text per cell, issues, merged ranges."""

    def __init__(self, sheet: Sheet, strings: list[str | int], dates: set[int], date1904: bool):
        self.sheet, self.strings, self.dates, self.date1904 = sheet, strings, dates, date1904
        self.row, self.col, self.count = -1, -1, 0
        self.t, self.style, self.formula = "n", 0, False
        self.v: _Text | None = None
        self.inline: _Text | None = None
        self.target: _Text | None = None
        self.phonetic = 0

    def start(self, name, attrs):
        local = _local(name)
        if local == "row":
            self.row, self.col = _int(attrs.get("r"), self.row + 2) - 1, -1
        elif local == "c":
            self.row, self.col = _ref(attrs.get("r"), self.row, self.col + 1)
            self.t, self.style, self.formula = attrs.get("t", "n"), _int(attrs.get("s"), 0), False
            self.v = self.inline = None
        elif local == "f":
            self.formula = True
        elif local == "v":
            self.v = self.target = _Text()
        elif local == "is":
            self.inline = _Text()
        elif local == "rPh":
            self.phonetic += 1
        elif local == "t" and self.inline is not None and not self.phonetic:
            self.target = self.inline
        elif local == "mergeCell":
            self._merge(attrs.get("ref", ""))

    def end(self, name):
        local = _local(name)
        if local in ("v", "t"):
            self.target = None
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "c":
            self._cell()

    def text(self, data):
        if self.target is not None:
            self.target.add(data)

    def _cell(self) -> None:
        v = self.v.value() if self.v is not None else None
        if self.formula and not v and self.t not in ("str", "inlineStr"):
            return self._issue("formula")
        if self.t == "s" and isinstance(v, str):
            i = _int(v)
            if not 0 <= i < len(self.strings):
                return self._issue("bad-string", f"shared string #{v} does not exist")
            v = self.strings[i]
        elif self.t == "inlineStr":
            v = self.inline.value() if self.inline is not None else v
        elif self.t == "b" and isinstance(v, str):
            v = "TRUE" if v.strip() in ("1", "true") else "FALSE"
        elif self.t == "n" and isinstance(v, str) and v and self.style in self.dates:
            v = self._date(v)
        if isinstance(v, int):
            return self._issue("too-long", f"{v:,} characters")
        if v:
            self.sheet.cells.setdefault(self.row, {})[self.col] = v
            self.count += 1
            if self.count > MAX_CELLS:
                raise WorkbookError(f"sheet `{self.sheet.name}` has more than {MAX_CELLS:,} non-empty cells",
                                    "split the workbook")

    def _issue(self, kind: str, detail: str = "") -> None:
        self.sheet.issues.append(Issue(kind, self.row, self.col, detail))

    def _date(self, v: str) -> str:
        # A number shown as a date or time is not a number to whoever typed it: read it as shown.
        base = datetime(1904, 1, 1) if self.date1904 else datetime(1899, 12, 30)
        try:
            dt = base + timedelta(days=float(v))
        except (ValueError, OverflowError):
            return f"{v} (shown as a date)"
        return dt.date().isoformat() if dt.time() == datetime.min.time() else dt.isoformat(sep=" ", timespec="seconds")

    def _merge(self, ref: str) -> None:
        first, _, last = ref.partition(":")
        if last:
            (r0, c0), (r1, c1) = _ref(first, -1, -1), _ref(last, -1, -1)
            if min(r0, c0, r1, c1) >= 0:
                self.sheet.merged.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))


def _ref(ref: str | None, row: int, col: int) -> tuple[int, int]:
    """``AB12`` → (11, 27); without a reference, (``row``, ``col``)."""
    m = _REF.match(ref or "")
    if m is None:
        return max(row, 0), max(col, 0)
    c = 0
    for ch in m.group(1):
        c = c * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, c - 1


class _Book:
    """The parts of an open workbook: its sheets, shared strings and date styles (read lazily)."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        names = set(zf.namelist())
        root = _Rels()
        if "_rels/.rels" in names:
            _parse(zf, "_rels/.rels", root)
        part = next((t for kind, t in root.by_id.values() if kind == "officeDocument"), "xl/workbook.xml").lstrip("/")
        self.base = posixpath.dirname(part)
        wb = _WorkbookPart()
        _parse(zf, part, wb)
        rels = _Rels()
        rels_part = posixpath.join(self.base, "_rels", posixpath.basename(part) + ".rels")
        if rels_part in names:
            _parse(zf, rels_part, rels)
        self.rels, self.sheets, self.date1904 = rels.by_id, wb.sheets, wb.date1904
        self._strings: list[str | int] | None = None
        self._dates: set[int] | None = None

    def _part(self, kind: str) -> str | None:
        target = next((t for k, t in self.rels.values() if k == kind), None)
        if target is None:
            return None
        return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(self.base, target))

    def strings(self) -> list[str | int]:
        if self._strings is None:
            h, part = _SharedStrings(), self._part("sharedStrings")
            if part is not None:
                _parse(self.zf, part, h)
            self._strings = h.items
        return self._strings

    def dates(self) -> set[int]:
        if self._dates is None:
            h, part = _Styles(), self._part("styles")
            if part is not None:
                _parse(self.zf, part, h)
            self._dates = h.date_styles()
        return self._dates

    def sheet(self, name: str, rid: str, hidden: bool) -> Sheet:
        kind, target = self.rels.get(rid, ("", ""))
        if kind != "worksheet":
            raise WorkbookError(f"sheet `{name}` is not a worksheet (a chart or dialog sheet?)",
                                "keep the template's sheets as they are")
        out = Sheet(name, hidden)
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(self.base, target))
        _parse(self.zf, path, _SheetPart(out, self.strings(), self.dates(), self.date1904))
        return out
