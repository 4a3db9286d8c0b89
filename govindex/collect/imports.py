"""What manual entry (:mod:`govindex.collect.manual`) and source adapters (:mod:`govindex.collect.adapters`) share:
the located problem, the import report, the import error and the atomic partition write.

An import either writes every row or nothing. Problems are gathered all at once, each located
where the user can find it — ``book.xlsx:录入!H17`` for a workbook cell, ``posts.jsonl:12`` for a
record — with a stable code, a message and a hint::

    book.xlsx:录入!H17 [xxgk_manual_classification 公开目录分类规范性（人工）]: error[M102 value-not-allowed]: …
      hint: enter one of 0, 0.5, 1 (the cell's dropdown lists them)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from govindex.collect.errors import ProbesError
from govindex.fsio import write_file

MAX_SHOWN = 200  # problems rendered in an error message; the rest are counted


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One problem of an import: where (``file:sheet!cell`` or ``file:line``), what, what to do."""

    code: str  # M102, A102 ... (stable; see the module docstrings of manual and adapters)
    name: str  # value-not-allowed ...
    where: str
    message: str
    hint: str = ""
    column: str = ""  # the header of the cell's column (workbooks) or the target column (records)
    severity: str = "error"  # error | warning

    def render(self) -> str:
        """``where [column]: error[M102 value-not-allowed]: message`` and the hint on a second line."""
        col = f" [{self.column}]" if self.column else ""
        out = f"{self.where}{col}: {self.severity}[{self.code} {self.name}]: {self.message}"
        return out + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "severity": self.severity, "where": self.where,
                "column": self.column, "message": self.message, "hint": self.hint}


@dataclass
class ImportReport:
    """What an import wrote: the file, its row count, and everything worth telling the user."""

    table: str
    round: int
    source: str
    path: Path | None = None  # the partition file written
    rows: int = 0
    units: int = 0  # distinct units with at least one row
    skipped: int = 0  # bad records left out (adapters with skip_bad)
    blanks: int = 0  # empty cells: not collected (manual)
    warnings: list[ImportProblem] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{self.source} → {self.path}: {self.rows} rows of `{self.table}`, round {self.round}, "
                 f"{self.units} units"]
        if self.blanks:
            lines.append(f"  {self.blanks} blank cells left out (not collected: the point stays missing)")
        if self.skipped:
            lines.append(f"  {self.skipped} bad records skipped (--skip-bad):")
        lines += ["  " + w.render().replace("\n", "\n  ") for w in self.warnings[:MAX_SHOWN]]
        if len(self.warnings) > MAX_SHOWN:
            lines.append(f"  … and {len(self.warnings) - MAX_SHOWN} more")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"table": self.table, "round": self.round, "source": self.source,
                "path": str(self.path) if self.path else None, "rows": self.rows, "units": self.units,
                "skipped": self.skipped, "blanks": self.blanks, "warnings": [w.to_json() for w in self.warnings]}


class ImportDataError(ProbesError):
    """Input data was rejected whole; ``problems`` lists every problem found, nothing was written."""

    def __init__(self, source: str, problems: list[ImportProblem], what: str = ""):
        self.source = source
        self.problems = problems
        shown = [p.render() for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            shown.append(f"… and {len(problems) - MAX_SHOWN} more")
        n_err = sum(p.severity == "error" for p in problems)
        what = what or f"{n_err} error{'s' if n_err != 1 else ''}"
        super().__init__("\n".join([f"{source}: {what}, nothing imported", *shown]))


def write_partition(df: pl.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically (:func:`govindex.fsio.write_file`: a hidden temp file in
    the same directory, fsynced, renamed over the old file, the directory fsynced) — a reader sees
    the old partition or the new, never half. The temp name does not end in ``.parquet``, so a
    crash never leaves a file the engine reads; the next write removes it. Missing directories
    are created."""
    write_file(path, lambda tmp: df.write_parquet(tmp, compression="zstd"))


def typed_frame(rows: list[dict], schema: dict[str, pl.DataType], sort_by: str) -> pl.DataFrame:
    """Rows (already converted to Python values of the declared types) as a frame, sorted by unit
    so that a unit's rows are contiguous."""
    df = pl.from_dicts(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return df.sort(sort_by, maintain_order=True)
