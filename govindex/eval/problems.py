"""Problems found in facts files, located, and the one :class:`FactsError` that lists them all."""

from __future__ import annotations

from dataclasses import dataclass

from govindex.diagnostics import FactsError

# kind → how the summary counts it
KINDS = {
    "missing-table": "missing table(s)",
    "missing-column": "missing column(s)",
    "type": "column(s) of the wrong type",
    "bad-value": "column(s) with values that do not parse",
    "non-finite": "column(s) with non-finite numbers",
    "out-of-range": "column(s) with values out of range",
    "ragged": "ragged CSV file(s)",
    "duplicate-column": "duplicate column(s)",
    "encoding": "file(s) not in UTF-8",
    "unreadable": "unreadable file(s)",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the facts: in ``path`` (at ``line`` of a CSV file), ``column``;
    ``message`` names the row and the first bad value where there is one."""

    kind: str
    path: str
    column: str | None
    message: str
    hint: str = ""
    line: int | None = None

    @property
    def where(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def __str__(self) -> str:
        col = f"column {self.column}: " if self.column else ""
        text = f"{self.where}: {col}{self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


def problems_error(problems: list[Problem]) -> FactsError:
    """All ``problems`` in one error, in file order, each on its own line(s); then the counts."""
    problems = sorted(problems, key=lambda p: (p.path, p.line or 0, p.column or ""))
    counts = {k: sum(p.kind == k for p in problems) for k in KINDS}
    summary = ", ".join(f"{n} {KINDS[k]}" for k, n in counts.items() if n)
    files = len({p.path for p in problems if p.kind != "missing-table"})
    where = f" in {files} file(s)" if files else ""
    lines = [str(p) for p in problems]
    lines.append(f"{len(problems)} problem(s) in the facts ({summary}){where}; nothing was scored")
    return FactsError("\n".join(lines))
