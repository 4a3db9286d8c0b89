"""What manual entry (:mod:`govindex.collect.manual_import`) and source adapters
(:mod:`govindex.collect.adapters`) share: the problem log, the import report, the import error,
the atomic partition write and the partition's origin stamp.

An import either writes every row or nothing, and never removes a row it did not read: manual
entries merge into their round, an adapter's rows live in their source's own partition. Problems
are gathered all at once, each a :class:`~govindex.diagnostics.Diagnostic` located where the
user can find it — a :class:`~govindex.diagnostics.Cell` ``book.xlsx:录入!H17``, a
:class:`~govindex.diagnostics.Record` ``posts.jsonl:12`` — with a stable code, a message and a hint::

    book.xlsx:录入!H17 [xxgk_manual_classification 公开目录分类规范性（人工）]: error[M102 value-not-allowed]: …
      hint: enter one of 0, 0.5, 1 (the cell's dropdown lists them)

However many problems there are, each is counted; the first :data:`MAX_KEPT` are kept and the
first :data:`MAX_SHOWN` rendered, then "… and N more" and the counts by code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from govindex.collect.errors import ProbesError
from govindex.diagnostics import Diagnostic, FactsError
from govindex.fsio import write_file

MAX_SHOWN = 200  # problems rendered in an error message; the rest are counted
MAX_KEPT = 10_000  # problems kept as data (JSON); the rest are only counted
ORIGIN_KEY = "govindex.origin"  # parquet key-value metadata: who wrote a partition, from what


class ProblemLog:
    """Problems as they are found: every one counted by severity and code, the first
    :data:`MAX_KEPT` kept."""

    def __init__(self) -> None:
        self.kept: list[Diagnostic] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (severity, code, name) → n

    def add(self, p: Diagnostic) -> None:
        self.counts[(p.severity, p.code, p.name)] += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(p)

    def errors(self) -> int:
        return sum(n for (sev, _, _), n in self.counts.items() if sev == "error")

    def warnings(self) -> list[Diagnostic]:
        return [p for p in self.kept if p.severity == "warning"]


@dataclass(frozen=True, slots=True)
class Change:
    """An entry whose unit × point the round held with another value (or note, or collector)."""

    unit: str
    key: str  # the point
    old: str  # as shown: "0.5", or "0.5, 1 (2 rows)"
    new: str
    collector: str = ""

    def render(self) -> str:
        who = f" ({self.collector})" if self.collector else ""
        return f"{self.unit} {self.key}: {self.old} → {self.new}{who}"


@dataclass
class ImportReport:
    """What an import wrote and what it left: the file, the counts, everything worth telling.

    ``rows`` are the rows this import read (entries, records); ``total`` the rows of the written
    partition. Manual imports merge: ``added`` + ``changed`` + ``unchanged`` = ``rows``, and
    ``kept`` rows of the round it did not touch. ``removed`` rows went away: with ``--replace``,
    or an adapter source's previous import."""

    table: str
    round: int
    source: str
    path: Path | None = None  # the partition file written
    rows: int = 0
    units: int = 0  # distinct units with at least one row read
    skipped: int = 0  # bad records left out (adapters with skip_bad)
    blanks: int = 0  # empty cells: not collected (manual)
    warnings: list[Diagnostic] = field(default_factory=list)
    total: int = 0
    added: int = 0
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0
    kept: int = 0
    removed: int = 0
    replaced: str = ""  # what the write replaced, in words ("" when it replaced nothing)
    collectors: dict[str, Counter] = field(default_factory=dict)  # name → Counter(added=, changed=, unchanged=)
    verified: int = 0  # manual: entries equal to another collector's (double entry; counted in unchanged too)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{self.source} → {self.path}: round {self.round} of `{self.table}` now holds {_n(self.total, 'row')}"]
        lines += self._merge_lines()
        if self.blanks:
            lines.append(f"  {self.blanks:,} blank cells: not collected (the point stays missing; a row already "
                         "there is kept)")
        if self.skipped:
            lines.append(f"  {self.skipped} bad records skipped (--skip-bad):")
        lines += ["  " + w.render().replace("\n", "\n  ") for w in self.warnings[:MAX_SHOWN]]
        if len(self.warnings) > MAX_SHOWN:
            lines.append(f"  … and {len(self.warnings) - MAX_SHOWN} more")
        return "\n".join(lines)

    def _merge_lines(self) -> list[str]:
        verified = f", {self.verified:,} verified (the same value from another collector)" if self.verified else ""
        lines = [f"  read {_n(self.rows, 'row')} for {_n(self.units, 'unit')}: {self.added:,} added, "
                 f"{len(self.changed):,} changed, {self.unchanged:,} unchanged{verified}; {_n(self.kept, 'row')} kept, "
                 f"{self.removed:,} removed"]
        if self.replaced:
            lines.append(f"  {self.replaced}")
        lines += [f"  changed {c.render()}" for c in self.changed[:MAX_SHOWN]]
        if len(self.changed) > MAX_SHOWN:
            lines.append(f"  … and {len(self.changed) - MAX_SHOWN} more changes")
        for name, n in sorted(self.collectors.items()):
            kinds = ("added", "changed", "unchanged", "verified", "resolved-kept")
            lines.append(f"  collector {name or '(unnamed)'}: " + ", ".join(f"{n[k]:,} {k}" for k in kinds if n[k]))
        return lines

    def to_json(self) -> dict[str, object]:
        return {"table": self.table, "round": self.round, "source": self.source,
                "path": str(self.path) if self.path else None, "rows": self.rows, "units": self.units,
                "skipped": self.skipped, "blanks": self.blanks, "total": self.total, "added": self.added,
                "changed": [{"unit": c.unit, "point": c.key, "old": c.old, "new": c.new, "collector": c.collector}
                            for c in self.changed],
                "unchanged": self.unchanged, "verified": self.verified, "kept": self.kept, "removed": self.removed,
                "replaced": self.replaced,
                "collectors": {k: dict(v) for k, v in self.collectors.items()},
                "warnings": [w.to_json() for w in self.warnings]}


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class ImportDataError(ProbesError):
    """Input data was rejected whole; ``problems`` (also ``diagnostics``) lists the problems found
    (the first :data:`MAX_KEPT`), ``counts`` counts all of them by (severity, code, name). Nothing
    was written."""

    def __init__(self, source: str, problems: list[Diagnostic], what: str = "",
                 counts: Counter | None = None):
        self.source = source
        self.problems = self.diagnostics = problems
        self.counts = counts or Counter((p.severity, p.code, p.name) for p in problems)
        total = sum(self.counts.values())
        shown = [p.render() for p in problems[:MAX_SHOWN]]
        if total > len(shown):
            by = "; ".join(f"{c} {name}: {n:,} {sev}{'s' if n != 1 else ''}"
                           for (sev, c, name), n in sorted(self.counts.items(), key=lambda kv: kv[0][1]))
            shown.append(f"… and {total - len(shown):,} more ({by})")
        n_err = sum(n for (sev, _, _), n in self.counts.items() if sev == "error")
        what = what or f"{n_err:,} error{'s' if n_err != 1 else ''}"
        super().__init__("\n".join([f"{source}: {what}, nothing imported", *shown]))


# ------------------------------------------------------------------ partitions on disk


def write_partition(df: pl.DataFrame, path: Path, origin: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` atomically (:func:`govindex.fsio.write_file`: a hidden temp file in
    the same directory, fsynced, renamed over the old file, the directory fsynced) — a reader (or a
    kill -9 at any point) sees the old partition or the new, never half. The temp name does not end
    in ``.parquet``, so a crash never leaves a file the engine reads; the next write removes it.
    ``origin`` (who wrote the rows, from what) is stamped in the file's metadata
    (:func:`read_origin`). Missing directories are created."""
    meta = {ORIGIN_KEY: json.dumps(origin, ensure_ascii=False, sort_keys=True)} if origin else None
    write_file(path, lambda tmp: df.write_parquet(tmp, compression="zstd", metadata=meta))


def read_origin(path: Path) -> dict[str, str] | None:
    """The origin stamp :func:`write_partition` left in a partition, or None (no stamp, or not
    readable as parquet)."""
    try:
        raw = pl.read_parquet_metadata(path).get(ORIGIN_KEY)
        return json.loads(raw) if raw else None
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None


def check_layout(facts_dir: Path, table: str) -> None:
    """Refuse to import into a table kept as one file: the partitioned directory an import
    writes would hide it from scoring (a directory wins; see :func:`govindex.eval.facts.locate`)."""
    for single in (facts_dir / f"{table}.parquet", facts_dir / f"{table}.csv"):
        if single.exists() and not (facts_dir / table).is_dir():
            raise FactsError(f"{single} holds table `{table}` as one file; an import writes {facts_dir / table}/"
                             f"round=N/…, which would hide that file from scoring. Nothing imported.\n"
                             f"  hint: move its rows into {facts_dir / table}/round=N/part-0.parquet (one directory "
                             f"per round), or import into another facts directory")


def typed_frame(rows: list[dict], schema: dict[str, pl.DataType], sort_by: str | list[str]) -> pl.DataFrame:
    """Rows (already converted to Python values of the declared types) as a frame, sorted by unit
    so that a unit's rows are contiguous."""
    df = pl.from_dicts(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return df.sort(sort_by, maintain_order=True)
