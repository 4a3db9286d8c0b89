"""Where a diagnostic points: one of four kinds of place, each printed the way users find it.

    Span     a place in a text file (rule files): ``path:line:col``; the renderer shows the
             line and a caret under the culprit
    Cell     a workbook cell, range, row or sheet: ``book.xlsx:录入!G5`` (``column``: the header
             of its column — a point's id and label)
    Record   a record of an input: ``posts.jsonl:12`` (a CSV/JSONL line, a facts row), or the
             ``item`` of an API page: ``https://api/…?page=2 item 3``
    File     a whole file (or a URL, a directory): ``path``, optionally one ``column`` of it

``column`` of a cell, record or file is printed after the place, in brackets:
``stats.csv:7 [status]``. ``str()`` of a location is the place alone (``where``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a rule file: ``path:line:col`` to ``end_line:end_col`` (1-based).

    ``via``: where a generated item comes from (``govindex.lang.templates``) — the metadata row
    (``col`` 0: the whole row) or cell it was made from, itself with a ``via`` for the next table
    of a cross product. Printed after the place: ``x.rules:12:5 (generated from datasets.csv:7)``.
    """

    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    via: Span | None = None

    def __str__(self) -> str:
        if self.via is None:
            return f"{self.path}:{self.line}:{self.col}"
        return f"{self.path}:{self.line}:{self.col} (generated from {', '.join(map(origin, self.origins()))})"

    def origins(self) -> tuple[Span, ...]:
        """The metadata places this span was generated from, in order (empty when written by hand)."""
        out, v = [], self.via
        while v is not None:
            out.append(v)
            v = v.via
        return tuple(out)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"location": "span", "path": self.path, "line": self.line, "col": self.col,
                                  "end_line": self.end_line, "end_col": self.end_col}
        if self.via is not None:  # only generated items carry it: other JSON is unchanged
            out["via"] = [{"path": o.path, "line": o.line, "col": o.col} for o in self.origins()]
        return out


def origin(span: Span) -> str:
    """A metadata place as printed: ``datasets.csv:7`` (a row) or ``questions.csv:7:3`` (a cell)."""
    return f"{span.path}:{span.line}" + (f":{span.col}" if span.col else "")


NOWHERE = Span("<builtin>", 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Cell:
    """A place in a workbook: ``path:sheet!ref`` — ``ref`` a cell (``G5``), a range (``A1:B2``),
    a row (``1:1``) or empty (the whole sheet)."""

    path: str
    sheet: str
    ref: str = ""
    column: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.sheet}" + (f"!{self.ref}" if self.ref else "")

    def to_json(self) -> dict[str, object]:
        return {"location": "cell", "path": self.path, "sheet": self.sheet, "cell": self.ref, "column": self.column}


@dataclass(frozen=True, slots=True)
class Record:
    """One record of an input: at ``line`` of a file (``path:line``), or ``item`` of an API page
    (``url item k``)."""

    path: str
    line: int = 0
    item: int = 0
    column: str = ""

    def __str__(self) -> str:
        return f"{self.path} item {self.item}" if self.item else f"{self.path}:{self.line}"

    def to_json(self) -> dict[str, object]:
        return {"location": "record", "path": self.path, "line": self.line, "item": self.item, "column": self.column}


@dataclass(frozen=True, slots=True)
class File:
    """A whole file, directory or URL, optionally one ``column`` of it."""

    path: str
    column: str = ""

    def __str__(self) -> str:
        return self.path

    def to_json(self) -> dict[str, object]:
        return {"location": "file", "path": self.path, "column": self.column}


Location = Span | Cell | Record | File
