"""govindex's error tree and diagnostics.

    GovindexError                 anything the user can cause; the CLI prints it, never a traceback
    ├── RuleError                 one or more diagnostics in rule files (exit 1)
    ├── FactsError                facts missing or not of the declared shape (exit 1)
    ├── ResultsError              a results directory is not of the ``score --out`` shape (exit 1)
    ├── OutputError               an output path cannot be written safely (exit 1)
    └── UsageError                a bad command-line value, e.g. an unknown unit (exit 2)

A :class:`Diagnostic` carries a stable code (``E101``), a short name (``unknown-table``), the
message, a source span and a hint.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import lru_cache


# A place in a rule file: ``path:line:col`` to ``end_line:end_col`` (1-based).
@dataclass(frozen=True, slots=True)
class Span:
    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


NOWHERE = Span("<builtin>", 0, 0, 0, 0)


# code → short name. Stable: documented in docs/rules-language.md, tested there.
CODES: dict[str, str] = {
    "E001": "syntax-error",
    "E002": "unreadable-file",
    "E003": "no-rule-files",
    "E101": "unknown-table",
    "E102": "unknown-column",
    "E103": "unknown-function",
    "E104": "unknown-name",
    "E105": "bad-arguments",
    "E106": "type-mismatch",
    "E107": "bad-regex",
    "E108": "expression-too-large",
    "E201": "duplicate-id",
    "E202": "maxima-mismatch",
    "E203": "point-outside-indicator",
    "E204": "unknown-parent",
    "E205": "cycle",
    "E206": "missing-setting",
    "E207": "bad-setting",
    "E208": "unknown-setting",
    "E209": "no-missing-policy",
    "E210": "empty-indicator",
    "E211": "bad-grading",
    "E301": "no-ruleset",
    "E302": "units-file",
    "E303": "duplicate-ruleset",
    "E401": "bad-test",
    "W501": "unused-declaration",
    "W502": "unused-table",
    "W503": "undeclared-marker",
    "W504": "large-expression",
    "E212": "bad-marker",
    "E213": "bad-cleaning",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: str = ""

    @property
    def name(self) -> str:
        return CODES[self.code]

    @property
    def is_error(self) -> bool:
        return self.code.startswith("E")

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": "error" if self.is_error else "warning",
            "message": self.message,
            "path": self.span.path,
            "line": self.span.line,
            "col": self.span.col,
            "hint": self.hint,
        }

    def render(self, source: str | None = None) -> str:
        """``path:line:col: error[E101 unknown-table]: message``, the line, a caret, the hint."""
        kind = "error" if self.is_error else "warning"
        out = [f"{self.span}: {kind}[{self.code} {self.name}]: {self.message}"]
        lines = _split(source) if source is not None else _lines(self.span.path)
        if lines is not None and self.span.line > 0:
            if self.span.line <= len(lines):
                line = lines[self.span.line - 1]
                gutter = f"{self.span.line:>4} | "
                out.append(gutter + line)
                width = 1
                if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
                    width = self.span.end_col - self.span.col
                pad = _display_width(line[: self.span.col - 1])
                caret = "^" * max(1, _display_width(line[self.span.col - 1 : self.span.col - 1 + width]))
                out.append(" " * (len(gutter) - 2) + "| " + " " * pad + caret)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


def _display_width(s: str) -> int:
    # CJK characters take two terminal cells; the caret must line up under them.
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in s)


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


class GovindexError(Exception):
    """Base of every error a user can cause."""

    exit_code = 1


class RuleError(GovindexError):
    """Rule files have errors; ``diagnostics`` lists all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))


class FactsError(GovindexError):
    """Facts are missing or do not match the declared tables."""


class ResultsError(GovindexError):
    """A results directory is missing, incomplete or not of the ``score --out`` shape."""


class OutputError(GovindexError):
    """An output cannot be written safely: its directory is missing or not writable, or the path
    is not a regular file (or a directory of ours) where one goes — ``/dev/full``, a FIFO, a link."""


class UsageError(GovindexError):
    """A command-line value is wrong (unknown unit, node, round...)."""

    exit_code = 2
