"""The fact-table contract: where facts live on disk and how they are read.

Layout of a facts directory (what ``probes`` writes and ``score`` reads), for each declared
table ``T``, the first that exists:

- ``T/`` — parquet files, usually hive-partitioned by round: ``T/round=1/part-0.parquet``;
- ``T.parquet``;
- ``T.csv`` — UTF-8 with a header; ``list[str]`` cells separated by ``|``; bool cells
  yes/no, true/false, 1/0, 是/否 (anything else is null).

Columns are those the rule set declares for ``T``, cast to the declared types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from govindex.diagnostics import FactsError
from govindex.ir import RuleSet

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
    "date": pl.Date(), "datetime": pl.Datetime("us"), "list[str]": pl.List(pl.String()),
}


TRUE_TEXT = ("1", "true", "yes", "y", "是", "有")
FALSE_TEXT = ("0", "false", "no", "n", "否", "无")


def schema(rs: RuleSet, table: str) -> dict[str, pl.DataType]:
    """The polars schema of a declared table."""
    return {c: POLARS_TYPES[t] for c, t in rs.tables[table].columns.items()}


def locate(facts_dir: Path, table: str) -> Path | None:
    """The file or directory holding ``table`` under ``facts_dir``, or None."""
    for cand in (facts_dir / table, facts_dir / f"{table}.parquet", facts_dir / f"{table}.csv"):
        if cand.exists():
            return cand
    return None


def scan(rs: RuleSet, facts_dir: Path, table: str) -> pl.LazyFrame:
    """A lazy scan of one table, columns checked and cast. Raises :class:`FactsError`."""
    where = locate(facts_dir, table)
    if where is None:
        raise FactsError(f"no facts for table `{table}` in {facts_dir}: expected {table}/ (parquet), "
                         f"{table}.parquet or {table}.csv")
    want = schema(rs, table)
    if where.suffix == ".csv":
        return _scan_csv(where, want, rs.tables[table].columns)
    try:
        if where.is_dir():
            files = sorted(where.rglob("*.parquet"))
            if not files:
                raise FactsError(f"{where} holds no .parquet files")
            lf = pl.scan_parquet(files, hive_partitioning=True, missing_columns="insert")
        else:
            lf = pl.scan_parquet(where)
        have = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FactsError(f"cannot read {where}: {exc}") from None
    missing = [c for c in want if c not in have]
    if missing:
        raise FactsError(f"{where}: table `{table}` lacks declared column(s) {', '.join(missing)}")
    return lf.select([pl.col(c).cast(t) for c, t in want.items()])


def _scan_csv(path: Path, want: dict[str, pl.DataType], declared: dict[str, str]) -> pl.LazyFrame:
    try:
        header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FactsError(f"cannot read {path}: {exc}") from None
    missing = [c for c in want if c not in header]
    if missing:
        raise FactsError(f"{path}: lacks declared column(s) {', '.join(missing)}")
    lf = pl.scan_csv(path, infer_schema=False)
    exprs = []
    for c, t in declared.items():
        col = pl.col(c)
        if t == "list[str]":
            exprs.append(pl.when(col.is_null() | (col == "")).then(pl.lit([], pl.List(pl.String())))
                         .otherwise(col.str.split("|")).alias(c))
        elif t == "bool":
            low = col.str.strip_chars().str.to_lowercase()
            exprs.append(pl.when(low.is_in(list(TRUE_TEXT))).then(True).when(low.is_in(list(FALSE_TEXT))).then(False)
                         .otherwise(None).alias(c))  # anything else (blank, "n/a") is unknown, not "no"
        elif t in ("date", "datetime"):
            exprs.append(col.str.to_datetime(strict=False).cast(want[c]).alias(c))
        else:
            exprs.append(col.cast(want[c], strict=False).alias(c))
    return lf.select(exprs)


def frames_from_rows(rs: RuleSet, rows: dict[str, list[dict[str, Any]]]) -> dict[str, pl.LazyFrame]:
    """In-memory tables (inline tests): every declared table, empty unless rows are given."""
    out = {}
    for t in rs.tables:
        sch = schema(rs, t)
        data = [{c: r.get(c) for c in sch} for r in rows.get(t, [])]
        df = pl.DataFrame(data, schema={c: (pl.String() if isinstance(tp, (pl.Datetime, pl.Date)) else tp)
                                        for c, tp in sch.items()}, orient="row")
        for c, tp in sch.items():
            if isinstance(tp, (pl.Datetime, pl.Date)):
                df = df.with_columns(pl.col(c).str.to_datetime(strict=False).cast(tp))
        out[t] = df.lazy()
    return out


def partitions(rs: RuleSet, facts_dir: Path, table: str) -> list[pl.LazyFrame]:
    """Scans of ``table`` split by partition: files named alike in every round directory
    (``round=1/part-003.parquet``, ``round=2/part-003.parquet`` …) form one partition. The
    layout's promise is that a unit never spans two partitions, so their aggregations can be
    computed apart and concatenated. A table not stored as parquet files is one partition."""
    where = locate(facts_dir, table)
    if where is None or not where.is_dir():
        return [scan(rs, facts_dir, table)]
    groups: dict[str, list[Path]] = {}
    for f in sorted(where.rglob("*.parquet")):
        groups.setdefault(f.stem, []).append(f)
    want = schema(rs, table)
    out = []
    for files in groups.values():
        lf = pl.scan_parquet(files, hive_partitioning=True, missing_columns="insert")
        out.append(lf.select([pl.col(c).cast(t) for c, t in want.items()]))
    return out
