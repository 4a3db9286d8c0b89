"""The XML parts of an .xlsx workbook, streamed through expat (see :mod:`govindex.collect.xlsx`).

Each part has a handler: element starts and ends dispatch through a table by local name
(``c``, and ``x:c`` from writers that prefix the main namespace), character data goes to the
:class:`Text` being read, kept up to :data:`MAX_CELL_CHARS`. No DTD is allowed, so no entity
is ever expanded.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from xml.parsers import expat

from govindex.collect.errors import ProbesError

MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
MAX_CELLS = 2_000_000  # non-empty cells per sheet read
_CHUNK = 2**20
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


def parse(zf: zipfile.ZipFile, part: str, handler: Handler) -> None:
    """Stream ``part`` through expat into ``handler``; raises :class:`WorkbookError`."""
    p = expat.ParserCreate()
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


def _no_dtd(*_args) -> None:
    raise WorkbookError("a part of the workbook declares a DTD (entities): not a workbook Excel writes")


def _attr(attrs: dict[str, str], local: str) -> str | None:
    """An attribute by local name, whatever its prefix (``r:id``)."""
    for k, v in attrs.items():
        if k.rpartition(":")[2] == local:
            return v
    return None


def _int(text: str | None, default: int = -1) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


class Text:
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


class Handler:
    """Dispatch by local element name through ``starts``/``ends``; text into ``target``."""

    def __init__(self) -> None:
        self.starts: dict[str, Callable[[dict], None]] = {}
        self.ends: dict[str, Callable[[], None]] = {}
        self.target: Text | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        fn = self.starts.get(name) or (self.starts.get(name.rpartition(":")[2]) if ":" in name else None)
        if fn is not None:
            fn(attrs)

    def end(self, name: str) -> None:
        fn = self.ends.get(name) or (self.ends.get(name.rpartition(":")[2]) if ":" in name else None)
        if fn is not None:
            fn()

    def text(self, data: str) -> None:
        if self.target is not None:
            self.target.add(data)


class Rels(Handler):
    """A relationships part: id → (the type's last segment, target)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, tuple[str, str]] = {}
        self.starts["Relationship"] = lambda a: self.by_id.__setitem__(
            a.get("Id", ""), (a.get("Type", "").rpartition("/")[2], a.get("Target", "")))


class WorkbookPart(Handler):
    """``xl/workbook.xml``: the sheets (name, relationship id, hidden) and the date system."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[tuple[str, str, bool]] = []
        self.date1904 = False
        self.starts["sheet"] = lambda a: self.sheets.append(
            (a.get("name", ""), _attr(a, "id") or "", a.get("state", "visible") != "visible"))
        self.starts["workbookPr"] = lambda a: setattr(self, "date1904", a.get("date1904", "0") in ("1", "true"))


class SharedStrings(Handler):
    """``xl/sharedStrings.xml``: each string's text (phonetic guides left out), or its length
    when longer than :data:`MAX_CELL_CHARS`."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[str | int] = []
        self.cur: Text | None = None
        self.phonetic = 0
        self.starts.update(si=self._si, rPh=self._ph, t=self._t)
        self.ends.update(si=self._end_si, rPh=self._end_ph, t=self._end_t)

    def _si(self, _a) -> None:
        self.cur = Text()

    def _ph(self, _a) -> None:
        self.phonetic += 1

    def _end_ph(self) -> None:
        self.phonetic -= 1

    def _t(self, _a) -> None:
        self.target = self.cur if not self.phonetic else None

    def _end_t(self) -> None:
        self.target = None

    def _end_si(self) -> None:
        self.items.append(self.cur.value() if self.cur is not None else "")
        self.cur = None


class Styles(Handler):
    """``xl/styles.xml``: which cell styles show a number as a date or a time."""

    def __init__(self) -> None:
        super().__init__()
        self.formats: dict[int, str] = {}
        self.xf_formats: list[int] = []
        self.in_xfs = False
        self.starts.update(numFmt=lambda a: self.formats.__setitem__(_int(a.get("numFmtId")), a.get("formatCode", "")),
                           cellXfs=lambda a: setattr(self, "in_xfs", True), xf=self._xf)
        self.ends["cellXfs"] = lambda: setattr(self, "in_xfs", False)

    def _xf(self, a: dict) -> None:
        if self.in_xfs:
            self.xf_formats.append(_int(a.get("numFmtId")))

    def date_styles(self) -> set[int]:
        """The cell style indexes (``s``) whose number format shows a date or a time."""
        return {i for i, f in enumerate(self.xf_formats)
                if f in _DATE_IDS or (f in self.formats and _is_date_format(self.formats[f]))}


def _is_date_format(code: str) -> bool:
    # Quoted text, escaped and padding characters, colours and locales say nothing; [h] [mm] [ss] do.
    code = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)
    code = re.sub(r"\[(?![hms]+\])[^\]]*\]", "", code, flags=re.I)
    return bool(re.search(r"[dmyhs]", code.split(";")[0], flags=re.I)) and code.lower() != "general"


class SheetPart(Handler):
    """One worksheet: the text of every non-empty cell, the cells that cannot be read, merged ranges."""

    def __init__(self, sheet: Sheet, strings: list[str | int], dates: set[int], date1904: bool):
        super().__init__()
        self.sheet, self.strings, self.dates, self.date1904 = sheet, strings, dates, date1904
        self.row, self.col, self.count = -1, -1, 0
        self.t, self.style, self.formula = "n", 0, False
        self.v: Text | None = None
        self.inline: Text | None = None
        self.phonetic = 0
        self.starts.update(row=self._row, c=self._c, f=self._f, v=self._v, rPh=self._ph, mergeCell=self._merge,
                           t=self._t, **{"is": self._is})
        self.ends.update(v=self._end_text, t=self._end_text, rPh=self._end_ph, c=self._cell)

    def _row(self, a: dict) -> None:
        self.row, self.col = _int(a.get("r"), self.row + 2) - 1, -1

    def _c(self, a: dict) -> None:
        self.row, self.col = ref(a.get("r"), self.row, self.col + 1)
        self.t, self.style, self.formula = a.get("t", "n"), _int(a.get("s"), 0), False
        self.v = self.inline = None

    def _f(self, _a) -> None:
        self.formula = True

    def _v(self, _a) -> None:
        self.v = self.target = Text()

    def _is(self, _a) -> None:
        self.inline = Text()

    def _t(self, _a) -> None:
        if self.inline is not None and not self.phonetic:
            self.target = self.inline

    def _ph(self, _a) -> None:
        self.phonetic += 1

    def _end_ph(self) -> None:
        self.phonetic -= 1

    def _end_text(self) -> None:
        self.target = None

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
        # A number shown as a date or a time is not a number to whoever typed it: read it as shown.
        base = datetime(1904, 1, 1) if self.date1904 else datetime(1899, 12, 30)
        try:
            dt = base + timedelta(days=float(v))
        except (ValueError, OverflowError):
            return f"{v} (shown as a date)"
        return dt.date().isoformat() if dt.time() == datetime.min.time() else dt.isoformat(sep=" ", timespec="seconds")

    def _merge(self, a: dict) -> None:
        first, _, last = a.get("ref", "").partition(":")
        if last:
            (r0, c0), (r1, c1) = ref(first, -1, -1), ref(last, -1, -1)
            if min(r0, c0, r1, c1) >= 0:
                self.sheet.merged.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))


def ref(text: str | None, row: int, col: int) -> tuple[int, int]:
    """``AB12`` → (11, 27), 0-based; without a reference, (``row``, ``col``)."""
    m = _REF.match(text or "")
    if m is None:
        return max(row, 0), max(col, 0)
    c = 0
    for ch in m.group(1):
        c = c * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, c - 1
