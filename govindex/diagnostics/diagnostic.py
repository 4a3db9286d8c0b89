"""The one :class:`Diagnostic` and its one renderer, for every command: rule files, manual
workbooks, adapter imports, facts files and channels registries alike::

    rules/2019/supply.rules:25:16: error[E101 unknown-table]: … there is no table `page`
      25 |     probe: any(page, where: has(markers, "portal"))
         |                ^^^^
      hint: did you mean `pages`?
    book.xlsx:录入!BC5 [adapt_manual_mobile 手机端浏览实测（人工）]: error[M102 value-not-allowed]: …
    posts.jsonl:12 [published ← created_at]: error[A102 bad-value]: expected an ISO 8601 date …
    facts/stats.csv:7 [status]: error[F104 bad-value]: '五百零三' is not an integer

The place (:mod:`govindex.diagnostics.location`), ``severity[code name]``, the message; a source
span adds its line and a caret; a hint goes on a line of its own.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import lru_cache

from govindex.diagnostics.codes import CODES, Severity, default_severity
from govindex.diagnostics.location import Location, Span, origin
from govindex.diagnostics.text import display_width


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A stable ``code`` (registered in :data:`CODES`), the message, where, what to do.

    ``severity`` defaults to the code's (:func:`default_severity`)."""

    code: str
    message: str
    location: Location
    hint: str = ""
    severity: Severity = "error"

    def __init__(self, code: str, message: str, location: Location, hint: str = "",
                 severity: Severity | None = None):
        if code not in CODES:  # a bug, not a user's mistake
            raise ValueError(f"unregistered diagnostic code {code!r}")
        for name, value in (("code", code), ("message", message), ("location", location), ("hint", hint),
                            ("severity", severity or default_severity(code))):
            object.__setattr__(self, name, value)  # frozen: the dataclass's own __setattr__ refuses

    @property
    def name(self) -> str:
        """The code's short name: ``unknown-table``."""
        return CODES[self.code]

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def span(self) -> Span:
        """The source span of a diagnostic about a rule file."""
        if not isinstance(self.location, Span):
            raise TypeError(f"{self.code} is located at a {type(self.location).__name__}, not a span")
        return self.location

    @property
    def where(self) -> str:
        """The place alone: ``path:line:col``, ``book.xlsx:录入!G5``, ``posts.jsonl:12``, ``path``."""
        return str(self.location)

    @property
    def column(self) -> str:
        """The column of a cell, record or file (``""`` for a span or none)."""
        return getattr(self.location, "column", "")

    def with_severity(self, severity: Severity) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.location, self.hint, severity)

    def to_json(self) -> dict[str, object]:
        """The diagnostic as data: code, name, severity, message, hint, ``where`` and the
        location's own fields (``location``: its kind; path, line, col …)."""
        return {"code": self.code, "name": self.name, "severity": self.severity, "message": self.message,
                "hint": self.hint, "where": self.where, **self.location.to_json()}

    def render(self, source: str | None = None) -> str:
        """``where [column]: severity[code name]: message``; for a span the source line (from
        ``source`` or the file) and a caret; then the hint."""
        col = f" [{self.column}]" if self.column else ""
        out = [f"{self.location}{col}: {self.severity}[{self.code} {self.name}]: {self.message}"]
        if isinstance(self.location, Span):
            out += _excerpt(self.location, source)
            for o in self.location.origins():  # a generated item: the metadata it was made from
                out += [f"     = generated from {origin(o)}", *_excerpt(o, None)]
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


def _excerpt(span: Span, source: str | None) -> list[str]:
    """The span's line with its number, and a caret under the span (CJK-aware)."""
    lines = _split(source) if source is not None else _lines(span.path)
    if lines is None or not 0 < span.line <= len(lines):
        return []
    line = lines[span.line - 1]
    gutter = f"{span.line:>4} | "
    if span.col == 0:  # a whole row of a metadata file: no caret
        return [gutter + line]
    width = span.end_col - span.col if span.end_line == span.line and span.end_col > span.col else 1
    pad = display_width(line[: span.col - 1])
    caret = "^" * max(1, display_width(line[span.col - 1 : span.col - 1 + width]))
    return [gutter + line, " " * (len(gutter) - 2) + "| " + " " * pad + caret]


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"))


_SHOWN_MAX = 16 * 1024 * 1024


def _lines(path: str) -> tuple[str, ...] | None:
    """The lines of the file a diagnostic points into, or None when it cannot be shown.

    Only a regular file is read (a diagnostic may be about a FIFO or ``/dev/zero``), and a
    file's lines are kept while it is unchanged: rendering N diagnostics reads it once.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > _SHOWN_MAX:
        return None
    return _cached_lines(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4)
def _cached_lines(path: str, mtime_ns: int, size: int) -> tuple[str, ...] | None:
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it must not wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            return _split(fh.read(_SHOWN_MAX).decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
