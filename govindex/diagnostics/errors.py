"""govindex's error tree: every error a user can cause, with its exit code.

    GovindexError                 anything the user can cause; the CLI prints it, never a traceback
    ├── RuleError                 one or more diagnostics in rule files (exit 1)
    ├── FactsError                facts missing or not of the declared shape (exit 1)
    ├── ResultsError              a results directory is not of the ``score --out`` shape (exit 1)
    ├── OutputError               an output path cannot be written safely (exit 1)
    └── UsageError                a bad command-line value, e.g. an unknown unit (exit 2)

Collection hangs its errors under ``GovindexError`` too (:mod:`govindex.collect.errors`). An
error that lists problems of the input carries them as :class:`Diagnostic`\\ s (``diagnostics``)
and its text is their rendering.
"""

from __future__ import annotations

from govindex.diagnostics.diagnostic import Diagnostic


class GovindexError(Exception):
    """Base of every error a user can cause."""

    exit_code = 1


class RuleError(GovindexError):
    """Rule files have errors; ``diagnostics`` lists all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))


class FactsError(GovindexError):
    """Facts are missing or do not match the declared tables; ``diagnostics`` lists the problems
    found (empty when the error is about the facts directory as a whole)."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None):
        self.diagnostics = diagnostics or []
        super().__init__(message)


class ResultsError(GovindexError):
    """A results directory is missing, incomplete or not of the ``score --out`` shape."""


class OutputError(GovindexError):
    """An output cannot be written safely: its directory is missing or not writable, or the path
    is not a regular file (or a directory of ours) where one goes — ``/dev/full``, a FIFO, a link."""


class UsageError(GovindexError):
    """A command-line value is wrong (unknown unit, node, round...)."""

    exit_code = 2
