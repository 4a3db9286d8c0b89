"""Diagnostics for the whole package: one :class:`Diagnostic`, one code registry, one renderer.

A :class:`Diagnostic` carries a stable code (``E101``) with a short name (``unknown-table``), a
severity, the message, a location and a hint. The location is one of four kinds
(:mod:`~govindex.diagnostics.location`): a source :class:`Span` (``path:line:col`` and a caret),
a workbook :class:`Cell` (``book.xlsx:录入!G5``), a :class:`Record` (``posts.jsonl:12``) or a
:class:`File`. Every code is registered in :data:`CODES` (:mod:`~govindex.diagnostics.codes`)
and documented in docs/rules-language.md §15. :meth:`Diagnostic.render` is the text every
command prints, :meth:`Diagnostic.to_json` the data.

    location    Span, Cell, Record, File: where
    codes       CODES (code → name), WARNINGS, default_severity
    diagnostic  Diagnostic: render, to_json
    text        did_you_mean, display_width: what every message shares
    errors      the error tree (GovindexError and its subclasses, exit codes)
"""

from __future__ import annotations

from govindex.diagnostics.codes import CODES, WARNINGS, Severity, default_severity
from govindex.diagnostics.diagnostic import Diagnostic
from govindex.diagnostics.errors import (
    FactsError,
    GovindexError,
    OutputError,
    ResultsError,
    RuleError,
    UsageError,
)
from govindex.diagnostics.location import NOWHERE, Cell, File, Location, Record, Span
from govindex.diagnostics.text import did_you_mean, display_width

__all__ = [
    "CODES", "NOWHERE", "WARNINGS", "Cell", "Diagnostic", "FactsError", "File", "GovindexError", "Location",
    "OutputError", "Record", "ResultsError", "RuleError", "Severity", "Span", "UsageError", "default_severity",
    "did_you_mean", "display_width",
]
