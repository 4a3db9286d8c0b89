"""The fact-table contract: where facts live on disk and how they are read.

Layout of a facts directory (what ``probes`` writes and ``score`` reads), for each declared
table ``T``, the first that exists:

- ``T/`` — parquet files, usually hive-partitioned by round: ``T/round=1/part-0.parquet``;
- ``T.parquet``;
- ``T.csv`` — UTF-8 (a BOM is fine) with a header; ``list[str]`` cells separated by ``|``;
  bool cells yes/no, true/false, 1/0, 是/否, 有/无; a blank cell is null.

Every file is validated against the declared columns and types before any scoring (see
:mod:`govindex.eval.casts` for what each type accepts): a file that lacks a declared column, a
column of the wrong type, a CSV cell that does not parse, a non-finite number — each is a
:class:`~govindex.diagnostics.Diagnostic` (F1xx), and all of them are raised at once as one
:class:`FactsError`. Columns beyond the declared ones are ignored.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from govindex.diagnostics import Diagnostic, FactsError
from govindex.eval import casts
from govindex.eval.casts import FALSE_TEXT as FALSE_TEXT  # (re-exported: part of the contract, adapters read it)
from govindex.eval.casts import TRUE_TEXT as TRUE_TEXT
from govindex.eval.csv_facts import read_csv_facts
from govindex.eval.problems import problem, problems_error
from govindex.ir import RuleSet

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
    "date": pl.Date(), "datetime": pl.Datetime("us"), "list[str]": pl.List(pl.String()),
}

# What reading a parquet data page can raise (a corrupt zstd page panics inside polars).
READ_ERRORS = (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException)


# A table as the evaluator reads it: one lazy frame, or one per partition (see :func:`partitions`).
Source = pl.LazyFrame | list[pl.LazyFrame]


class Sources(dict[str, Source]):
    """Table name → validated lazy frame (or list of frames, one per partition). ``files`` keeps
    the files each table is read from, so that a page that fails to decode while scoring can be
    traced to its file (see :func:`unreadable`)."""

    def __init__(self, frames: Mapping[str, Source], files: dict[str, list[Path]]):
        super().__init__(frames)
        self.files = files


def schema(rs: RuleSet, table: str) -> dict[str, pl.DataType]:
    """The polars schema of a declared table."""
    return {c: POLARS_TYPES[t] for c, t in rs.tables[table].columns.items()}


def locate(facts_dir: Path, table: str) -> Path | None:
    """The file or directory holding ``table`` under ``facts_dir``, or None."""
    for cand in (facts_dir / table, facts_dir / f"{table}.parquet", facts_dir / f"{table}.csv"):
        if cand.exists():
            return cand
    return None


def load(rs: RuleSet, facts_dir: Path, tables: list[str] | None = None) -> Sources:
    """Validated lazy scans of ``tables`` (default: all declared). Raises one :class:`FactsError`
    listing every problem of every file."""
    return Sources(*_load(rs, facts_dir, tables if tables is not None else list(rs.tables)))


def scan(rs: RuleSet, facts_dir: Path, table: str) -> pl.LazyFrame:
    """A validated lazy scan of one table. Raises :class:`FactsError`."""
    return _load(rs, facts_dir, [table])[0][table]


def _load(rs: RuleSet, facts_dir: Path, tables: list[str]) -> tuple[dict[str, pl.LazyFrame], dict[str, list[Path]]]:
    _require_dir(facts_dir)
    frames: dict[str, pl.LazyFrame] = {}
    files: dict[str, list[Path]] = {}
    problems: list[Diagnostic] = []
    for t in tables:
        lf, files[t], found = _load_table(rs, facts_dir, t)
        if lf is not None:  # (None comes with problems)
            frames[t] = lf
        problems += found
    if problems:
        raise problems_error(problems)
    return frames, files


def partitions(rs: RuleSet, facts_dir: Path, table: str) -> list[pl.LazyFrame]:
    """Scans of ``table`` split by partition: files named alike in every round directory
    (``round=1/part-003.parquet``, ``round=2/part-003.parquet`` …) form one partition. The
    layout's promise is that a unit never spans two partitions, so their aggregations can be
    computed apart and concatenated. Only numbered shards (``part-NNN``, as ``bench generate``
    writes them by a hash of the unit code) make that promise: files of sources
    (``part-crawl``, ``part-weibo`` …) may hold any unit, so a table with any such file is one
    partition. A table not stored as parquet files is one partition too."""
    _require_dir(facts_dir)
    where = locate(facts_dir, table)
    if where is None or not where.is_dir():
        return [scan(rs, facts_dir, table)]
    plans, problems = _plan_files(rs, table, where)
    if problems:
        raise problems_error(problems)
    if not all(SHARD.fullmatch(p.path.stem) for p in plans):
        return [_scan_plans(rs, table, plans)]
    groups: dict[str, list[_FilePlan]] = {}
    for p in plans:
        groups.setdefault(p.path.stem, []).append(p)
    return [_scan_plans(rs, table, g) for g in groups.values()]


SHARD = re.compile(r"part-\d+")


def unreadable(sources: Mapping[str, Source], exc: BaseException) -> FactsError | None:
    """After ``exc`` was raised while reading ``sources``: a :class:`FactsError` naming every
    file whose data cannot be read, or None when every file reads (then ``exc`` is a bug)."""
    problems = []
    for fs in getattr(sources, "files", {}).values():
        for f in (f for f in fs if f.suffix == ".parquet"):  # CSV files were read whole already
            try:
                pl.read_parquet(f)
            except READ_ERRORS as e:
                problems.append(problem("unreadable", str(f), None, f"cannot read its data: {_first_line(e)}",
                                        "the file is damaged: write it again from its source"))
    return problems_error(problems) if problems else None


def _require_dir(facts_dir: Path) -> None:
    if not facts_dir.is_dir():
        what = "is not a directory" if facts_dir.exists() else "does not exist"
        raise FactsError(f"facts directory {facts_dir} {what}\n  hint: pass the directory that holds one "
                         "file or directory per declared table (--facts DIR)")


def _load_table(rs: RuleSet, facts_dir: Path, table: str) -> tuple[pl.LazyFrame | None, list[Path], list[Diagnostic]]:
    where = locate(facts_dir, table)
    if where is None:
        return None, [], [problem("missing-table", str(facts_dir), None,
                                  f"no facts for table `{table}`: expected {table}/ (parquet), {table}.parquet "
                                  f"or {table}.csv")]
    declared = rs.tables[table].columns
    if where.suffix == ".csv" and where.is_file():
        df, problems = read_csv_facts(where, declared)
        return (df.lazy() if df is not None else None), [where], problems
    plans, problems = _plan_files(rs, table, where)
    if problems:
        return None, [p.path for p in plans], problems
    return _scan_plans(rs, table, plans), [p.path for p in plans], []


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ------------------------------------------------------------------ parquet, file by file


class _FilePlan:
    """How one parquet file is read: per declared column, its stored type (or "hive" when the
    directory name supplies it) and whether the declared type accepts it."""

    __slots__ = ("path", "stored")

    def __init__(self, path: Path, stored: tuple[tuple[str, str, bool], ...]):
        self.path, self.stored = path, stored


def _parquet_files(where: Path) -> list[Path]:
    return sorted(where.rglob("*.parquet")) if where.is_dir() else [where]


def _plan_files(rs: RuleSet, table: str, where: Path) -> tuple[list[_FilePlan], list[Diagnostic]]:
    files = _parquet_files(where)
    if not files:
        return [], [problem("missing-table", str(where), None, f"holds no .parquet files for table `{table}`")]
    plans, problems, checks = [], [], []
    for f in files:
        plan, found, pending = _plan_file(rs.tables[table].columns, where, f)
        plans.append(plan)
        problems += found
        checks += pending
    return plans, problems + _run_checks(checks)


def _hive_keys(where: Path, f: Path) -> dict[str, str]:
    if not where.is_dir():
        return {}
    return dict(part.split("=", 1) for part in f.relative_to(where).parts[:-1] if "=" in part)


def _plan_file(declared: dict[str, str], where: Path, f: Path
               ) -> tuple[_FilePlan, list[Diagnostic], list[tuple[Path, str, casts.Check]]]:
    """The file's plan, its schema problems, and the value checks its columns need."""
    try:
        stored = pl.read_parquet_schema(f)
    except READ_ERRORS as exc:
        return _FilePlan(f, ()), [problem("unreadable", str(f), None, f"not a readable parquet file: "
                                          f"{_first_line(exc)}")], []
    hive = _hive_keys(where, f)
    sig: list[tuple[str, str, bool]] = []
    problems: list[Diagnostic] = []
    checks: list[tuple[Path, str, casts.Check]] = []
    for col, typ in declared.items():
        if col in stored:
            # a type not accepted is refused unless every value is null: then it reads as nulls
            sig.append((col, str(stored[col]), casts.accept(typ, stored[col]) is not None))
            checks += [(f, col, chk) for chk in _column_checks(typ, stored[col])]
        elif col in hive:
            sig.append((col, "hive", True))
            problems += _hive_problem(f, col, typ, hive[col])
        else:
            problems.append(problem("missing-column", str(f), col, f"missing (declared {typ})",
                                    "every file of a table must hold every declared column"))
    return _FilePlan(f, tuple(sig)), problems, checks


def _column_checks(typ: str, dtype: pl.DataType) -> tuple[casts.Check, ...]:
    """The value checks a stored column needs; a type that is not accepted becomes a check that
    finds its first value (to show it)."""
    acc = casts.accept(typ, dtype)
    if acc is not None:
        return acc.checks
    return (casts.Check(lambda c: c.is_not_null(), "type", f"stored as {dtype}, declared {typ}",
                        casts.type_hint(typ, dtype)),)


def _hive_problem(f: Path, col: str, typ: str, text: str) -> list[Diagnostic]:
    if pl.DataFrame({col: [text]}).select(casts.text_bad(col, typ)).item():
        return [problem("bad-value", str(f), col, f"the directory name says {col}={text}, which is not "
                        f"{casts.TEXT_SHAPES.get(typ, typ)}")]
    return []


def _run_checks(checks: list[tuple[Path, str, casts.Check]]) -> list[Diagnostic]:
    """Run value checks, one query per file, all collected together; then locate the first bad
    row of each failing check (error path only)."""
    by_file: dict[Path, list[tuple[str, casts.Check]]] = {}
    for f, col, chk in checks:
        by_file.setdefault(f, []).append((col, chk))
    files = list(by_file)
    queries = [pl.scan_parquet(f).select([chk.bad(pl.col(c)).fill_null(False).sum().alias(str(i))
                                          for i, (c, chk) in enumerate(by_file[f])]) for f in files]
    problems: list[Diagnostic] = []
    for f, counts in zip(files, _collect_each(files, queries, problems)):
        if counts is None:
            continue
        for i, (col, chk) in enumerate(by_file[f]):
            n = counts[str(i)].item()
            if n:
                problems.append(_first_bad(f, col, chk, n))
    return problems


def _collect_each(files: list[Path], queries: list[pl.LazyFrame], problems: list[Diagnostic]
                  ) -> list[pl.DataFrame] | list[pl.DataFrame | None]:
    try:
        return pl.collect_all(queries)
    except READ_ERRORS:
        pass  # some file's pages do not decode: find which, one by one
    out: list[pl.DataFrame | None] = []
    for f, q in zip(files, queries):
        try:
            out.append(q.collect())
        except READ_ERRORS as exc:
            problems.append(problem("unreadable", str(f), None, f"cannot read its data: {_first_line(exc)}",
                                    "the file is damaged: write it again from its source"))
            out.append(None)
    return out


def _first_bad(f: Path, col: str, chk: casts.Check, n: int) -> Diagnostic:
    value = pl.col(col).to_physical() if chk.physical else pl.col(col)
    row = (pl.scan_parquet(f).with_row_index("__row").filter(chk.bad(pl.col(col)).fill_null(False))
           .select("__row", value).head(1).collect().row(0))
    where = f"row {row[0] + 1}"
    more = f" ({n:,} rows)" if n > 1 else ""
    if chk.kind == "type":
        return problem("type", str(f), col, f"{chk.what}; first value {_show(row[1])} ({where})", chk.hint)
    return problem(chk.kind, str(f), col, f"{where}: {_show(row[1])} {chk.what}{more}", chk.hint)


def _show(v: object) -> str:
    text = repr(v.to_list() if isinstance(v, pl.Series) else v)
    return text if len(text) <= 60 else text[:57] + "…"


def _scan_plans(rs: RuleSet, table: str, plans: list[_FilePlan]) -> pl.LazyFrame:
    """One scan per group of files stored alike (usually one for the whole table), cast to the
    declared types and concatenated."""
    want = schema(rs, table)
    groups: dict[tuple[tuple[str, str, bool], ...], list[Path]] = {}
    for p in plans:
        groups.setdefault(p.stored, []).append(p.path)
    scans = [pl.scan_parquet(fs, hive_partitioning=True, extra_columns="ignore")
             .select([pl.col(c).cast(want[c]) if ok else _nulls(c, want[c]) for c, _, ok in stored])
             for stored, fs in groups.items()]
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="vertical")


def _nulls(column: str, dtype: pl.DataType) -> pl.Expr:
    # A column of nulls of the declared type, as long as the file (a literal would be one row).
    return pl.when(pl.col(column).is_not_null()).then(pl.lit(None, dtype)).alias(column)


def with_extras(rs: RuleSet, facts_dir: Path, table: str) -> pl.LazyFrame:
    """``table`` read for display (explain): the declared columns cast as :func:`load` casts them,
    then the columns a file holds beyond the declaration (docs §17: ``collector``, ``entered_at``,
    ``source_cell`` of manual rows; ``warc_file``/``offset`` of pages) as stored. Scoring never reads
    this; call it after :func:`load` validated the files. A CSV's extra columns read as text."""
    where = locate(facts_dir, table)
    if where is None:
        return scan(rs, facts_dir, table)
    if where.suffix == ".csv" and where.is_file():
        return _csv_with_extras(rs, where, table)
    want = schema(rs, table)
    scans = []
    for f in _parquet_files(where):
        plan, _, _ = _plan_file(rs.tables[table].columns, where, f)
        hive = _hive_keys(where, f)
        stored = pl.read_parquet_schema(f)
        cols = [pl.col(c).cast(want[c]) if ok and kind != "hive" else
                pl.lit(hive[c]).cast(want[c]).alias(c) if kind == "hive" else _nulls(c, want[c])
                for c, kind, ok in plan.stored]
        extra = [pl.col(c) for c in stored if c not in want]
        scans.append(pl.scan_parquet(f, hive_partitioning=False).select(cols + extra))
    return pl.concat(scans, how="diagonal_relaxed") if scans else scan(rs, facts_dir, table)


def _csv_with_extras(rs: RuleSet, where: Path, table: str) -> pl.LazyFrame:
    declared = rs.tables[table].columns
    try:
        with where.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, OSError):  # another encoding: the declared columns, as scoring read them
        header = []
    wide = declared | {c: "str" for c in header if c and c not in declared}
    df, _ = read_csv_facts(where, wide)
    if df is None:  # not read as UTF-8 with the extras: as scoring read it
        df, _ = read_csv_facts(where, declared)
    return df.lazy() if df is not None else scan(rs, where.parent, table)


# ------------------------------------------------------------------ in memory (inline tests)


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
