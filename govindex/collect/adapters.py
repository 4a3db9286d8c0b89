"""Source adapters: records from exports and HTTP APIs into a declared fact table.

Weibo/WeChat posts, search-engine results — any table the rule set declares — come in from a
JSONL export, a CSV export or a paginated JSON API (:mod:`govindex.collect.adapter_sources`),
and leave as ``FACTS/<table>/round=N/part-<name>.parquet`` with exactly the declared columns and
types.

- **Mapping**: target column → source field (``{"published": "created_at", "account":
  "user.screen_name"}``; dotted paths reach into JSON objects); unmapped columns read the field
  of the same name. A column whose field no record has is null throughout, with a warning.
- **Types** per the declaration: ``int``/``float`` from numbers or numeric text (``1,234``,
  ``1.2万``); ``bool`` from true/false or the facts-CSV words (是/否 …); ``date``/``datetime`` from
  ISO 8601 or epoch seconds — aware times and epochs become wall-clock time in ``tz``;
  ``list[str]`` from a JSON array or a ``|``-separated string. Empty or absent is null.
- **Units** by code (or exact registry name); the round is the import's, and a record that
  names another round is bad.
- **All or nothing**: every bad record is reported with its line (``posts.jsonl:12``, CSV line) or
  API page and item; nothing is written unless ``skip_bad``, which leaves the bad records out
  and reports each of them (``skipped[...]``) and their count. Never silently dropped.
- **One partition per source, never another's rows**: a source's rows live in their own file,
  stamped with the source (a file's resolved path, a URL without its port). Importing the same
  source again replaces that file — its previous rows, counted as removed — and nothing else: the
  round's other files (other sources, the crawl's extraction, manual entries) are kept, and
  counted. If the file ``part-<name>.parquet`` holds rows of anything else (another source of the
  same name, another step, or an unstamped file), the import is refused (A205) unless
  ``replace`` (``--replace``), which says how many rows it removes.

Problem codes (stable; registered in :mod:`govindex.diagnostics.codes`, documented in
docs/rules-language.md §15)::

    A101 bad-record     A104 no-unit       A201 unreadable-source   A204 unknown-table
    A102 bad-value      A105 wrong-round   A202 bad-response        A205 other-rows
    A103 unknown-unit                      A203 bad-mapping         warning: A301 field-absent
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from govindex.collect.adapter_sources import (
    AdapterImportError,
    ApiSource,
    Bad,
    default_name,
    identity,
    open_source,
    slug,
)
from govindex.collect.imports import (
    ImportReport,
    ProblemLog,
    check_layout,
    read_origin,
    typed_frame,
    write_partition,
)
from govindex.diagnostics import Diagnostic, File, Record, UsageError, did_you_mean
from govindex.eval.facts import FALSE_TEXT, TRUE_TEXT, schema
from govindex.ir import RuleSet

__all__ = ["AdapterImportError", "ApiSource", "import_records"]

CHUNK = 50_000  # rows converted to a typed frame at a time, so a large export is not held as dicts
WRITER = "govindex import"
_MISSING = object()


def import_records(rs: RuleSet, table: str, round_no: int, source: str | Path | ApiSource, facts_dir: Path,
                   mapping: dict[str, str | None] | None = None, skip_bad: bool = False, *, name: str | None = None,
                   tz: str = "Asia/Shanghai", replace: bool = False) -> ImportReport:
    """Import the records of ``source`` (a .jsonl/.csv path or an http(s) URL / :class:`ApiSource`)
    as round ``round_no`` of ``table``; write ``FACTS/<table>/round=N/part-<name>.parquet``.

    ``mapping`` maps a column to a source field (dotted for nested JSON) or to None (no field:
    null, no warning). Raises :class:`AdapterImportError` listing every bad record (nothing
    written) unless ``skip_bad``; ``name`` defaults to the file's stem or the URL's host and path.
    The file replaces only a previous import of the same source, unless ``replace``."""
    label = source.url if isinstance(source, ApiSource) else str(source)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone `{tz}` (an IANA name such as Asia/Shanghai or UTC)") from None
    conv = _Converter(rs, table, round_no, mapping or {}, zone, label)
    facts_dir = Path(facts_dir)
    check_layout(facts_dir, table)
    dest = facts_dir / table / f"{rs.round_column}={round_no}" / f"part-{slug(name or default_name(source))}.parquet"
    me = identity(source)
    previous = _previous_rows(dest, me, label, replace)
    df, bad, skipped = _read_records(rs, conv, source, label, skip_bad)
    write_partition(df, dest, {"writer": WRITER, "source": me})
    kept = _rows_beside(dest)
    return ImportReport(table, round_no, label, dest, df.height, df[rs.unit_column].n_unique(), skipped=skipped,
                        warnings=[p.with_severity("skipped") for p in bad.kept if p.severity == "error"]
                        + conv.absent_fields(), total=df.height + kept, added=df.height, kept=kept, removed=previous,
                        replaced=_replaced_text(previous, replace))


def _read_records(rs: RuleSet, conv: _Converter, source, label: str, skip_bad: bool
                  ) -> tuple[pl.DataFrame, ProblemLog, int]:
    frames, rows, bad, skipped, total = [], [], ProblemLog(), 0, 0
    for where, rec in open_source(source):
        total += 1
        try:
            rows.append(conv.row(where, rec))
        except _Rejected as exc:
            for p in exc.problems:
                bad.add(p)
            skipped += 1
            continue
        if len(rows) >= CHUNK:
            frames.append(pl.from_dicts(rows, schema=conv.schema))
            rows = []
    if skipped and not skip_bad:
        raise AdapterImportError(label, bad.kept + conv.absent_fields(), f"{skipped:,} of {total:,} records are bad",
                                 counts=bad.counts)
    frames.append(typed_frame(rows, conv.schema, rs.unit_column))
    return pl.concat(frames).sort(rs.unit_column, maintain_order=True), bad, skipped  # a unit's rows together


def _previous_rows(dest: Path, me: str, label: str, replace: bool) -> int:
    """The rows the write will replace: a previous import of this source, or — only with
    ``replace`` — whatever the file holds. Anything else is refused (A205)."""
    if not dest.exists():
        return 0
    try:
        rows = pl.scan_parquet(dest).select(pl.len()).collect().item()
    except (pl.exceptions.PolarsError, OSError):
        rows = 0  # unreadable: scoring would fail on it anyway; replacing it needs --replace
    origin = read_origin(dest) or {}
    if replace or (origin.get("writer") == WRITER and origin.get("source") == me):
        return rows
    if origin.get("writer") == WRITER:
        what = f"imported from another source ({origin.get('source')})"
    elif origin:
        what = f"written by {origin.get('writer', 'another step')}"
    else:
        what = "not written by `govindex import` (the crawl's extraction, a manual import, or by hand)"
    raise AdapterImportError(label, [Diagnostic(
        "A205", f"the file already holds {rows:,} row{'s' if rows != 1 else ''} {what}; this import would replace them",
        File(str(dest)), "give this source its own partition with --name, or --replace to replace those rows")])


def _rows_beside(dest: Path) -> int:
    """Rows in the round's other files: what this import kept."""
    n = 0
    for f in sorted(dest.parent.rglob("*.parquet")):
        if f != dest:
            try:
                n += pl.scan_parquet(f).select(pl.len()).collect().item()
            except (pl.exceptions.PolarsError, OSError):
                continue  # not ours to judge here; scoring reports it
    return n


def _replaced_text(previous: int, replace: bool) -> str:
    if replace:
        return f"--replace: the partition's previous {previous:,} rows were removed"
    return f"replaced the previous import of this source ({previous:,} rows)" if previous else ""


# ------------------------------------------------------------------ records → typed rows


class _Rejected(Exception):
    def __init__(self, problems: list[Diagnostic]):
        self.problems = problems


class _Converter:
    """Turns one source record into a row of the declared columns, or raises :class:`_Rejected`."""

    def __init__(self, rs: RuleSet, table: str, round_no: int, mapping: dict[str, str | None], tz: ZoneInfo,
                 label: str):
        if table not in rs.tables:
            close = did_you_mean(table, rs.tables, n=1)
            raise UsageError(f"rule set `{rs.name}` declares no table `{table}`"
                             + (f"; {close}" if close else f" (tables: {', '.join(rs.tables)})"))
        if round_no not in rs.rounds:
            raise UsageError(f"rule set `{rs.name}` has no round {round_no}; its rounds are "
                             f"{', '.join(map(str, sorted(rs.rounds)))}")
        self.columns = rs.tables[table].columns
        if rs.round_column not in self.columns:
            raise UsageError(f"table `{table}` has no `{rs.round_column}` column: adapters write one round at a time")
        unknown = [c for c in mapping if c not in self.columns]
        if unknown:
            probs = [Diagnostic("A203", f"the mapping names `{c}`, not a column of `{table}`", File(label),
                                did_you_mean(c, self.columns, n=1) or f"columns: {', '.join(self.columns)}")
                     for c in unknown]
            raise AdapterImportError(label, probs)
        self.rs, self.table, self.round_no, self.tz = rs, table, round_no, tz
        self.fields = {c: mapping.get(c, c) for c in self.columns}
        self.schema = schema(rs, table)
        self.present = {c for c, f in self.fields.items() if f is None}  # mapped to no field on purpose
        self.codes = {u.code for u in rs.units}
        self.by_name = {u.name: u.code for u in rs.units}
        self.label = label

    def row(self, where: Record, rec: object) -> dict:
        if isinstance(rec, Bad):
            raise _Rejected([self._problem("A101", where, rec.message, rec.hint)])
        if not isinstance(rec, dict):
            raise _Rejected([self._problem("A101", where, f"a record must be an object, not {type(rec).__name__}",
                                           "one JSON object per line / per item")])
        out, probs = {}, []
        for col, typ in self.columns.items():
            raw = _lookup(rec, self.fields[col])
            if raw is not _MISSING:
                self.present.add(col)
            try:
                out[col] = self._value(col, typ, None if raw is _MISSING else raw)
            except Bad as exc:
                probs.append(self._problem(exc.code, where, exc.message, exc.hint, self._head(col)))
        if probs:
            raise _Rejected(probs)
        return out

    def _value(self, col: str, typ: str, raw: object) -> object:
        if col == self.rs.unit_column:
            return self._unit(raw)
        if col == self.rs.round_column:
            if raw is not None and _convert("int", raw, self.tz) != self.round_no:
                raise Bad(f"the record is of round {raw}, this import is round {self.round_no}",
                           f"import it with its own round, or ignore the field: mapping={{'{col}': None}}", "A105")
            return self.round_no
        if raw is None or (isinstance(raw, str) and not raw.strip() and typ != "str"):
            return None
        return _convert(typ, raw, self.tz)

    def _unit(self, raw: object) -> str:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise Bad("the record has no unit", f"map the unit column: mapping={{'{self.rs.unit_column}': 'FIELD'}}",
                       "A104")
        text = str(_convert("str", raw, self.tz)).strip()
        if text in self.codes:
            return text
        if text in self.by_name:
            return self.by_name[text]
        raise Bad(f"unknown unit `{text}`", did_you_mean(text, [*self.codes, *self.by_name], n=1) or
                  "units are the codes (or names) of the rule set's registry", "A103")

    def _head(self, col: str) -> str:
        src = self.fields[col]
        return col if src == col else f"{col} ← {src}"

    def _problem(self, code: str, where: Record, message: str, hint: str = "", column: str = "") -> Diagnostic:
        return Diagnostic(code, message, replace(where, column=column), hint)

    def absent_fields(self) -> list[Diagnostic]:
        """A warning per column whose source field no record had (all null): a mapping slip?"""
        out = []
        for col in self.columns:
            if col not in self.present and col != self.rs.round_column and col != self.rs.unit_column:
                out.append(Diagnostic("A301", f"no record has the field `{self.fields[col]}`: column `{col}` is null "
                                      "throughout", File(self.label, col),
                                      "map the column to the source's field name if it has another name"))
        return out


def _lookup(rec: dict, path: str | None) -> object:
    if path is None:
        return None
    if path in rec:
        return rec[path]
    cur: object = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


# ------------------------------------------------------------------ value conversion (a dispatch table)


def _convert(typ: str, raw: object, tz: ZoneInfo) -> object:
    return _CONVERT[typ](raw, tz)


def _what(raw: object) -> str:
    text = json.dumps(raw, ensure_ascii=False) if not isinstance(raw, str) else f"`{raw}`"
    return text if len(text) <= 60 else text[:57] + "…"


def _to_str(raw: object, tz: ZoneInfo) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Bad(f"expected text, got {_what(raw)}")
    return str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)


_UNITS = {"万": 1e4, "亿": 1e8}


def _to_float(raw: object, tz: ZoneInfo) -> float:
    if isinstance(raw, bool):
        raise Bad(f"expected a number, got {_what(raw)}")
    if isinstance(raw, int | float):
        v = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "")
        scale = _UNITS.get(text[-1:], 1.0)  # Weibo shows counts as 1.2万
        try:
            v = float(text[:-1] if scale != 1.0 else text) * scale
        except ValueError:
            raise Bad(f"expected a number, got {_what(raw)}") from None
    else:
        raise Bad(f"expected a number, got {_what(raw)}")
    if not math.isfinite(v):
        raise Bad(f"expected a finite number, got {_what(raw)}")
    return v


def _to_int(raw: object, tz: ZoneInfo) -> int:
    v = _to_float(raw, tz)
    if not v.is_integer():
        raise Bad(f"expected a whole number, got {_what(raw)}")
    return int(v)


def _to_bool(raw: object, tz: ZoneInfo) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    low = raw.strip().lower() if isinstance(raw, str) else None
    if low in TRUE_TEXT or low in FALSE_TEXT:
        return low in TRUE_TEXT
    raise Bad(f"expected true/false, got {_what(raw)}", f"true: {', '.join(TRUE_TEXT)}; false: {', '.join(FALSE_TEXT)}")


def _to_datetime(raw: object, tz: ZoneInfo) -> datetime:
    epoch = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        epoch = float(raw)
    elif isinstance(raw, str) and re.fullmatch(r"\d{9,}(\.\d+)?", raw.strip()):
        epoch = float(raw)
    if epoch is not None:
        if not math.isfinite(epoch) or abs(epoch) > 1e11:
            raise Bad(f"{_what(raw)} is not epoch seconds", "epoch milliseconds? divide by 1000 in the export")
        return datetime.fromtimestamp(epoch, UTC).astimezone(tz).replace(tzinfo=None)
    if not isinstance(raw, str):
        raise Bad(f"expected an ISO 8601 date or epoch seconds, got {_what(raw)}")
    try:
        dt = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Bad(f"expected an ISO 8601 date or epoch seconds, got {_what(raw)}",
                   "e.g. 2018-12-25, 2018-12-25T08:30:00, 2018-12-25T08:30:00+08:00 or 1545697800") from None
    return dt.astimezone(tz).replace(tzinfo=None) if dt.tzinfo else dt


def _to_date(raw: object, tz: ZoneInfo) -> date:
    return _to_datetime(raw, tz).date()


def _to_list(raw: object, tz: ZoneInfo) -> list[str]:
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                raise Bad(f"expected a JSON array or `a|b|c`, got {_what(raw)}") from None
        else:
            return [x.strip() for x in text.split("|") if x.strip()]
    if not isinstance(raw, list) or any(isinstance(x, dict | list) or x is None for x in raw):
        raise Bad(f"expected a list of texts, got {_what(raw)}", "a JSON array of strings, or `a|b|c`")
    return [_to_str(x, tz) for x in raw]


_CONVERT = {"str": _to_str, "int": _to_int, "float": _to_float, "bool": _to_bool, "date": _to_date,
            "datetime": _to_datetime, "list[str]": _to_list}
