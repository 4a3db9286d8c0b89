"""Merging a book's entries into its round of the manual table: by unit × point, never removing
a row the book did not hold (unless asked).

The round's rows written by manual import live in ``FACTS/T/round=N/part-0.parquet``. For each
entry of the book (a filled cell):

- the round has no row for its unit × point → **added**;
- the round has one row with the same value, collector and note → **unchanged** (the row stays
  as it is);
- otherwise → **changed**, reported old → new (several old rows for the unit × point, a
  conflict, become the one new row).

Every other row of the round is **kept**: a blank cell means "not collected", not "remove".
``replace`` (``--replace``) makes the book the round's whole content and counts the rows it
**removed**. A book with no entries is refused (M117), as is one that would change nothing
(M118). Rows of the round in other files (an adapter's partition) are never touched; an entry
for a unit × point they hold is refused (M119): two rows would conflict at scoring. Who
collected what is counted per collector name and, if the table declares ``collector``, stored
per row. The read-merge-write holds a lock on the round (two imports at once never lose one's
rows); the write is one atomic rename (:func:`govindex.collect.imports.write_partition`).
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from govindex.collect.imports import Change, ImportReport, typed_frame, write_partition
from govindex.collect.manual import ManualImportError, num
from govindex.collect.manual_disputes import Dispute, Side, record, supersede
from govindex.diagnostics import Cell, Diagnostic, FactsError, File
from govindex.eval.facts import schema
from govindex.ir import RuleSet

PART = "part-0.parquet"
# Who entered each row, when, from which book and cell; who verified it; who resolved a dispute.
PROVENANCE = ("collector", "entered_at", "source_file", "source_cell", "verified_by", "verified_cell", "verified_at",
              "resolved_by", "resolution", "resolved_at")


@dataclass(frozen=True, slots=True)
class Entry:
    """One filled cell of the book: unit × point = value, who collected it, its note, and where."""

    unit: str
    point: str
    value: float
    collector: str
    note: str
    where: Cell


def merge_round(rs: RuleSet, table: str, round_no: int, facts_dir: Path, entries: list[Entry], source: str, *,
                replace: bool = False) -> ImportReport:
    """Merge ``entries`` into round ``round_no`` of ``table`` and write it; the report says what
    was added, changed (old → new), left unchanged, kept and removed. Raises
    :class:`ManualImportError` (nothing written) for a blank book, a book that changes nothing or
    an entry held by another file of the round; :class:`FactsError` if the round cannot be read."""
    round_dir = facts_dir / table / f"{rs.round_column}={round_no}"
    dest = round_dir / PART
    if not entries:
        _refuse(source, "M117", "the book has no entries: every point cell is blank",
                "a blank cell means not collected and never removes a row; fill the cells to import"
                + (f" (to clear round {round_no}, delete {dest})" if dest.exists() else ""))
    with _locked(round_dir):  # two collectors importing at once: the second merges into the first's result
        _check_elsewhere(rs, round_dir, dest, entries, source)
        existing = _existing(rs, table, round_no, dest)
        merged, report, disputes, notes = _merge(rs, table, round_no, existing, entries, replace)
        if disputes:  # recorded, then refused: the round's rows are not touched
            record(round_dir, disputes)
            raise ManualImportError(source, [_disagreement(d, entries) for d in disputes],
                                    what=f"{len(disputes)} disagreement{'s' if len(disputes) != 1 else ''} "
                                    "with another collector")
        resolved = any(n["resolved-kept"] for n in report.collectors.values())  # the import of a resolved cell passes
        if not (report.added or report.changed or report.removed or report.verified or resolved):
            _refuse(source, "M118", f"the book would change nothing: its {len(entries):,} entries equal what round "
                    f"{round_no} holds", "nothing to import; edit the cells to change the round")
        write_partition(merged, dest, {"writer": "govindex manual import", "source": Path(source).name})
        if replace:
            supersede(round_dir, entries, source)
    report.source, report.path = source, dest
    report.warnings = notes
    return report


def _disagreement(d: Dispute, entries: list[Entry]) -> Diagnostic:
    where = next(e.where for e in entries if (e.unit, e.point) == d.key)
    return Diagnostic("M122", f"{d.unit} × {d.point}: {num(d.entered.value)} here ({d.entered.collector}) but "
                      f"{num(d.held.value)} in {d.held.cell} ({d.held.collector})", where,
                      "recorded as disputed; compare the books (govindex manual compare), then decide with govindex "
                      f"manual resolve --unit {d.unit} --point {d.point} --value V --reason …; or --replace to take "
                      "this book's value")


@contextmanager
def _locked(round_dir: Path) -> Iterator[None]:
    """An exclusive lock on the round directory for the read-merge-write, released by the kernel
    if the process dies; no lock file is left among the facts."""
    round_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(round_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _refuse(source: str, code: str, message: str, hint: str) -> None:
    raise ManualImportError(source, [Diagnostic(code, message, File(source), hint)])


def _check_elsewhere(rs: RuleSet, round_dir: Path, dest: Path, entries: list[Entry], source: str) -> None:
    held = _held_elsewhere(rs, round_dir, dest)
    probs = [Diagnostic("M119", f"{e.unit} × {e.point} is also in {held[e.unit, e.point]} "
                        "(not written by manual import): two rows would conflict at scoring", e.where,
                        "remove it from one of them; this import never touches that file")
             for e in entries if (e.unit, e.point) in held]
    if probs:
        raise ManualImportError(source, probs)


def _held_elsewhere(rs: RuleSet, round_dir: Path, dest: Path) -> dict[tuple[str, str], Path]:
    """Unit × point → the other file of the table holding a row of this round for it: files of
    the round's directory, and files outside any ``round=K`` directory whose round column says so."""
    held: dict[tuple[str, str], Path] = {}
    table_dir, rcol, want = round_dir.parent, rs.round_column, round_dir.name.partition("=")[2]
    for f in sorted(table_dir.rglob("*.parquet")) if table_dir.is_dir() else []:
        hive = [p.partition("=")[2] for p in f.relative_to(table_dir).parts[:-1] if p.startswith(f"{rcol}=")]
        if f == dest or (hive and hive[-1] != want):
            continue
        df = _read(f)
        if rcol in df.columns and not hive:
            df = df.filter(pl.col(rcol).cast(pl.String) == want)
        for unit, point in df.select(rs.unit_column, "point").iter_rows():
            held.setdefault((str(unit), str(point)), f)
    return held


def _read(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, columns=columns)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FactsError(f"{path}: cannot read the round's manual facts to merge into: {first}; nothing imported"
                         ) from None


def _existing(rs: RuleSet, table: str, round_no: int, dest: Path) -> pl.DataFrame:
    """The round's rows as the declared types; a declared column an older file lacks is null,
    an undeclared one it has is kept."""
    want = schema(rs, table)
    if not dest.exists():
        return pl.DataFrame(schema=want)
    df = _read(dest)
    cols = []
    for c, t in want.items():
        if c not in df.columns:
            cols.append(pl.lit(round_no if c == rs.round_column else None, t).alias(c))
            continue
        try:
            df.select(pl.col(c).cast(t, strict=True))
        except pl.exceptions.PolarsError:
            raise FactsError(f"{dest}: column `{c}` is {df.schema[c]}, declared {t}; cannot merge into it; "
                             "nothing imported") from None
        cols.append(pl.col(c).cast(t))
    return df.select([*cols, *[c for c in df.columns if c not in want]])


def _merge(rs: RuleSet, table: str, round_no: int, existing: pl.DataFrame, entries: list[Entry],
           replace: bool) -> tuple[pl.DataFrame, ImportReport, list[Dispute], list[Diagnostic]]:
    ucol, declared = rs.unit_column, rs.tables[table].columns
    old: dict[tuple[str, str], list[dict]] = {}
    for row in existing.iter_rows(named=True):
        old.setdefault((_key(row[ucol]), _key(row["point"])), []).append(row)
    report = ImportReport(table, round_no, "", rows=len(entries), units=len({e.unit for e in entries}))
    write, disputes, notes = [], [], []
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for e in entries:
        new = _row(rs, table, round_no, e, now)
        prev = old.get((e.unit, e.point), [])
        outcome = _outcome(prev, new, declared, replace)
        report.collectors.setdefault(e.collector, Counter())[outcome] += 1
        if outcome == "disputed":
            disputes.append(_dispute(e, prev[0], now))
            continue
        if outcome in ("unchanged", "resolved-kept"):
            report.unchanged += 1
            if outcome == "resolved-kept" and prev[0]["value"] != e.value:
                notes.append(_kept(e, prev[0]))
            continue
        if outcome == "verified":
            report.verified += 1
            report.unchanged += 1
            new = {**prev[0], "verified_by": e.collector, "verified_cell": book_cell(e), "verified_at": now}
        elif outcome == "added":
            report.added += 1
        else:
            report.changed.append(_change(e, prev, new, declared))
        write.append(new)
    book = _keys(existing, ucol, [(e.unit, e.point) for e in entries])
    outside = existing.join(book, on=[ucol, "point"], how="anti")  # rows the book says nothing about
    rest = existing.join(_keys(existing, ucol, [(r[ucol], r["point"]) for r in write]), on=[ucol, "point"], how="anti")
    if replace:
        report.removed = outside.height
        rest = rest.join(book, on=[ucol, "point"], how="semi")
        report.replaced = (f"--replace: round {round_no} now holds this book's entries only; {report.removed:,} "
                           f"row{'s' if report.removed != 1 else ''} it does not hold {'were' if report.removed != 1 else 'was'}"
                           " removed")
    else:
        report.kept = outside.height
    declared_types = schema(rs, table)
    want: dict[str, pl.DataType] = {**declared_types, **{c: pl.String() for c in PROVENANCE if c not in declared_types}}
    want.update({c: t for c, t in existing.schema.items() if c not in want})
    merged = pl.concat([rest, typed_frame(write, want, ucol)], how="diagonal_relaxed")
    merged = merged.select([*declared, *[c for c in merged.columns if c not in declared]])
    report.total = merged.height
    return merged.sort([ucol, "point"], nulls_last=True, maintain_order=True), report, disputes, notes


def _outcome(prev: list[dict], new: dict, declared: dict[str, str], replace: bool) -> str:
    """What an entry does to the round: added, unchanged, verified (a second collector entered the
    same value), changed, disputed (a second collector entered another value) or resolved-kept
    (the cell was adjudicated: the resolution stands). ``--replace``: the book wins."""
    if not prev:
        return "added"
    if len(prev) > 1:
        return "changed"
    row, other = prev[0], _other(prev[0], new)
    if row.get("resolved_by") and not replace and (other or row["value"] != new["value"]):
        return "resolved-kept"  # adjudicated: another book's entry never reopens it
    if row["value"] == new["value"]:
        if not other:
            return "unchanged" if _same(row, new, declared) else "changed"
        return "unchanged" if (row.get("verified_by") or "") == new["collector"] else "verified"
    return "disputed" if other and not replace else "changed"


def _other(row: dict, new: dict) -> bool:
    """Whether ``new`` comes from another collector than ``row`` (both named, and different)."""
    was, now = (row.get("collector") or "").strip(), (new.get("collector") or "").strip()
    return bool(was and now and was != now)


def _dispute(e: Entry, row: dict, now: str) -> Dispute:
    held = Side(row["value"], row.get("collector") or "", held_cell(row))
    return Dispute(e.unit, e.point, held, Side(e.value, e.collector, book_cell(e)), now)


def book_cell(e: Entry) -> str:
    """Where an entry was read, as the round records it: ``book.xlsx:录入!G5`` (the book's name)."""
    return f"{Path(e.where.path).name}:{e.where.sheet}!{e.where.ref}"


def held_cell(row: dict) -> str:
    """Where a round's row was entered: ``book.xlsx:录入!G5`` (or what is known of it)."""
    book, cell = row.get("source_file") or "", row.get("source_cell") or ""
    return f"{book}:{cell}" if book and cell else book or "(an earlier import)"


def _kept(e: Entry, row: dict) -> Diagnostic:
    return Diagnostic("M304", f"{e.unit} × {e.point}: {num(e.value)} not imported; the cell was resolved to "
                      f"{num(row['value'])} by {row.get('resolved_by')} ({row.get('resolution') or ''})", e.where,
                      "the resolution stands; import with --replace to overrule it", "warning")


def _key(v: object) -> str:
    return "" if v is None else str(v)


def _keys(like: pl.DataFrame, ucol: str, pairs: list[tuple[str, str]]) -> pl.DataFrame:
    """Unit × point pairs as a frame of ``like``'s key types, to join on."""
    df = pl.DataFrame({ucol: [u for u, _ in pairs], "point": [p for _, p in pairs]},
                      schema={ucol: pl.String, "point": pl.String})
    return df.unique().cast({ucol: like.schema[ucol], "point": like.schema["point"]}, strict=False)


def _row(rs: RuleSet, table: str, round_no: int, e: Entry, now: str) -> dict:
    known = {rs.unit_column: e.unit, rs.round_column: round_no, "point": e.point, "value": e.value,
             "collector": e.collector, "note": e.note}
    # Columns the rule set declares beyond these stay empty: "" for text, null otherwise.
    row = {c: known.get(c, "" if t == "str" else None) for c, t in rs.tables[table].columns.items()}
    # provenance (undeclared columns, docs §17): the collector is always kept, declared or not
    return {**row, "collector": e.collector, "entered_at": now, "source_file": Path(e.where.path).name,
            "source_cell": f"{e.where.sheet}!{e.where.ref}", "verified_by": None, "verified_cell": None,
            "verified_at": None, "resolved_by": None, "resolution": None, "resolved_at": None}


def _same(old: dict, new: dict, declared: dict[str, str]) -> bool:
    return old["value"] == new["value"] and all((old.get(c) or "") == (new.get(c) or "")
                                                for c in ("collector", "note") if c in declared)


def _change(e: Entry, prev: list[dict], new: dict, declared: dict[str, str]) -> Change:
    old = _shown(prev)
    if len(prev) == 1 and prev[0]["value"] == e.value:  # the collector or the note changed: show them
        return Change(e.unit, e.point, f"{old} {_who(prev[0], declared)}", f"{num(e.value)} {_who(new, declared)}")
    return Change(e.unit, e.point, old, num(e.value), e.collector)


def _who(row: dict, declared: dict[str, str]) -> str:
    parts = [f"by {row.get('collector') or '?'}" if "collector" in declared else "",
             f"note «{row.get('note') or ''}»" if "note" in declared else ""]
    return ", ".join(p for p in parts if p)


def _shown(prev: list[dict]) -> str:
    vals = ["null" if r["value"] is None else num(r["value"]) for r in prev]
    return vals[0] if len(vals) == 1 else f"{', '.join(vals)} ({len(vals)} rows)"
