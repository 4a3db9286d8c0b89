"""Problems found in facts files, as :class:`~govindex.diagnostics.Diagnostic`\\ s (codes F1xx),
and the one :class:`FactsError` that lists them all.

A problem is located at a file (and a column of it: ``part-0.parquet [markers]``), or at the
line of a CSV file (``stats.csv:7 [status]``); the message names the first bad value and, for
parquet, its row.
"""

from __future__ import annotations

from govindex.diagnostics import Diagnostic, FactsError, File, Record

# kind (the readers' word for it) → code, and how the summary counts it
KINDS: dict[str, tuple[str, str]] = {
    "missing-table": ("F101", "missing table(s)"),
    "missing-column": ("F102", "missing column(s)"),
    "type": ("F103", "column(s) of the wrong type"),
    "bad-value": ("F104", "column(s) with values that do not parse"),
    "non-finite": ("F105", "column(s) with non-finite numbers"),
    "out-of-range": ("F106", "column(s) with values out of range"),
    "ragged": ("F107", "ragged CSV file(s)"),
    "duplicate-column": ("F108", "duplicate column(s)"),
    "encoding": ("F109", "file(s) not in UTF-8"),
    "unreadable": ("F110", "unreadable file(s)"),
}


def problem(kind: str, path: str, column: str | None, message: str, hint: str = "",
            line: int | None = None) -> Diagnostic:
    """One thing wrong with the facts: in ``path`` (at ``line`` of a CSV file), ``column``."""
    where = File(path, column or "") if line is None else Record(path, line, column=column or "")
    return Diagnostic(KINDS[kind][0], message, where, hint)


def _key(d: Diagnostic) -> tuple[str, int, str]:
    return (d.location.path, getattr(d.location, "line", 0), d.column)


def problems_error(problems: list[Diagnostic]) -> FactsError:
    """All ``problems`` in one error, in file order, each on its own line(s); then the counts."""
    problems = sorted(problems, key=_key)
    summary = ", ".join(f"{n} {what}" for code, what in KINDS.values() if (n := sum(p.code == code for p in problems)))
    files = len({p.location.path for p in problems if p.code != KINDS["missing-table"][0]})
    where = f" in {files} file(s)" if files else ""
    lines = [p.render() for p in problems]
    lines.append(f"{len(problems)} problem(s) in the facts ({summary}){where}; nothing was scored")
    return FactsError("\n".join(lines), problems)
