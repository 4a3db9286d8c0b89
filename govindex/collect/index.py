"""The crawl index: one row per page the crawl decided about, pointing into the WARC archive.

Rows are committed in batches, each batch one parquet file written atomically (temporary file,
fsync, rename), named ``part-{first}-{last}.parquet`` after the batch numbers it holds. Compaction
writes one file covering a range of batches, then deletes them; a reader ignores any file whose
range lies inside another's, so a crash between the two steps never duplicates a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from govindex.collect.errors import ArchiveError
from govindex.fsio import write_file

SCHEMA: dict[str, pl.DataType] = {
    "url": pl.String(), "final_url": pl.String(), "unit": pl.String(), "site": pl.String(),
    "kind": pl.String(), "round": pl.Int64(), "depth": pl.Int64(), "status": pl.Int64(),
    "error": pl.String(), "message": pl.String(), "fetched": pl.Datetime("us"),
    "warc_file": pl.String(), "offset": pl.Int64(), "length": pl.Int64(), "content_type": pl.String(),
    "charset": pl.String(), "content_hash": pl.String(),
}
COLUMNS = tuple(SCHEMA)
_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")


def _ranges(directory: Path) -> list[tuple[int, int, Path]]:
    found = [(int(m.group(1)), int(m.group(2)), p) for p in directory.glob("part-*.parquet")
             if (m := _PART.match(p.name))]
    return sorted(found, key=lambda r: (r[0], -(r[1] - r[0])))


def part_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """The index files to read, and the files a compaction already covers (safe to delete)."""
    live: list[tuple[int, int, Path]] = []
    covered: list[Path] = []
    for lo, hi, path in _ranges(directory):
        if any(a <= lo and hi <= b for a, b, _ in live):
            covered.append(path)
        else:
            live.append((lo, hi, path))
    return [p for _, _, p in live], covered


def read_index(directory: Path) -> pl.DataFrame:
    """Every committed row of the index in ``directory`` (empty with the schema if none)."""
    files, _ = part_files(directory) if directory.exists() else ([], [])
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    try:
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed").cast(pl.Schema(SCHEMA))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ArchiveError(f"cannot read the crawl index in {directory}: {exc}") from None


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` so that readers see the whole file or none of it (:func:`govindex.fsio.write_file`)."""
    try:
        write_file(path, df.write_parquet)
    except pl.exceptions.PolarsError as exc:
        raise ArchiveError(f"cannot write {path}: {exc}") from None


class IndexWriter:
    """Buffers index rows and commits them in atomic batches.

    ``before_commit`` runs before each batch is written: the crawler flushes the WARC file and
    the journal there, so a committed row never points at bytes that are not on disk.
    """

    def __init__(self, directory: Path, before_commit: Callable[[], None] | None = None, batch: int = 500):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.before_commit = before_commit or (lambda: None)
        self.batch = batch
        self.pending: list[dict[str, Any]] = []
        ranges = _ranges(directory)
        self.next_part = max((hi for _, hi, _ in ranges), default=0) + 1
        for stale in part_files(directory)[1] + list(directory.glob("*.tmp")):  # *.tmp: before fsio
            stale.unlink(missing_ok=True)

    def add(self, row: Mapping[str, Any]) -> None:
        """Queue one row; commits a batch when ``batch`` rows are waiting."""
        self.pending.append({c: row.get(c) for c in COLUMNS})
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Commit the waiting rows as one atomic part file."""
        if not self.pending:
            return
        self.before_commit()
        df = pl.DataFrame(self.pending, schema=SCHEMA)
        name = f"part-{self.next_part:08d}-{self.next_part:08d}.parquet"
        write_parquet_atomic(df, self.directory / name)
        self.next_part += 1
        self.pending = []

    def compact(self) -> None:
        """Merge every committed part into one file, then delete the parts it covers."""
        self.flush()
        files, _ = part_files(self.directory)
        if len(files) <= 1:
            return
        ranges = _ranges(self.directory)
        lo = min(r[0] for r in ranges)
        hi = max(r[1] for r in ranges)
        write_parquet_atomic(read_index(self.directory), self.directory / f"part-{lo:08d}-{hi:08d}.parquet")
        for stale in part_files(self.directory)[1]:
            stale.unlink(missing_ok=True)
