"""Source adapters: records from exports and HTTP APIs into a declared fact table.

Weibo/WeChat posts, search-engine results — any table the rule set declares — come in from a
JSONL export, a CSV export or a paginated JSON API, and leave as
``FACTS/<table>/round=N/part-<source>.parquet`` with exactly the declared columns and types.

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

Problem codes (stable)::

    A101 bad-record     A104 no-unit       A201 unreadable-source   A204 unknown-table
    A102 bad-value      A105 wrong-round   A202 bad-response
    A103 unknown-unit                      A203 bad-mapping         warning: A301 field-absent
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import polars as pl

from govindex.collect.imports import ImportDataError, ImportProblem, ImportReport, typed_frame, write_partition
from govindex.diagnostics import UsageError
from govindex.eval.facts import FALSE_TEXT, TRUE_TEXT, schema
from govindex.ir import RuleSet

NAMES = {"A101": "bad-record", "A102": "bad-value", "A103": "unknown-unit", "A104": "no-unit", "A105": "wrong-round",
         "A201": "unreadable-source", "A202": "bad-response", "A203": "bad-mapping", "A204": "unknown-table",
         "A301": "field-absent"}
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK = 50_000  # rows converted to a typed frame at a time, so a large export is not held as dicts
_MISSING = object()


class AdapterImportError(ImportDataError):
    """Records were rejected; ``problems`` lists every bad record. Nothing was written."""


class _Bad(Exception):
    """A value or record that cannot be read: message, hint and problem code."""

    def __init__(self, message: str, hint: str = "", code: str = "A102"):
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


@dataclass(frozen=True)
class ApiSource:
    """A paginated JSON endpoint: each page is ``{"items": [...], "next": ...}`` (or a bare list, the
    last page). ``next`` is a URL (absolute or relative), a page number (sent as ``page_param``)
    or null at the end."""

    url: str
    page_param: str = "page"
    items_key: str = "items"
    next_key: str = "next"
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0  # seconds, per connect/read/write
    retries: int = 3  # for transport errors, timeouts and 408/429/5xx
    backoff: float = 0.5  # seconds, doubled per retry; Retry-After wins (capped at max_wait)
    max_wait: float = 30.0
    max_pages: int = 10_000
    transport: httpx.BaseTransport | None = None


def import_records(rs: RuleSet, table: str, round_no: int, source: str | Path | ApiSource, facts_dir: Path,
                   mapping: dict[str, str | None] | None = None, skip_bad: bool = False, *, name: str | None = None,
                   tz: str = "Asia/Shanghai") -> ImportReport:
    """Import the records of ``source`` (a .jsonl/.csv path or an http(s) URL / :class:`ApiSource`)
    as round ``round_no`` of ``table``; write ``FACTS/<table>/round=N/part-<name>.parquet``.

    ``mapping`` maps a column to a source field (dotted for nested JSON) or to None (no field:
    null, no warning). Raises :class:`AdapterImportError` listing every bad record (nothing
    written) unless ``skip_bad``; ``name`` defaults to the file's stem or the URL's host and path."""
    label = source.url if isinstance(source, ApiSource) else str(source)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone `{tz}` (an IANA name such as Asia/Shanghai or UTC)") from None
    conv = _Converter(rs, table, round_no, mapping or {}, zone, label)
    records = _open(source)
    frames, rows, bad, skipped, total = [], [], [], 0, 0
    for where, rec in records:
        total += 1
        try:
            rows.append(conv.row(where, rec))
        except _Rejected as exc:
            bad += exc.problems
            skipped += 1
            continue
        if len(rows) >= CHUNK:
            frames.append(pl.from_dicts(rows, schema=conv.schema))
            rows = []
    warnings = conv.absent_fields()
    if bad and not skip_bad:
        raise AdapterImportError(label, bad + warnings, f"{skipped} of {total} records are bad")
    frames.append(typed_frame(rows, conv.schema, rs.unit_column))
    df = pl.concat(frames).sort(rs.unit_column, maintain_order=True)  # a unit's rows together
    dest = Path(facts_dir) / table / f"{rs.round_column}={round_no}" / f"part-{_slug(name or _default_name(source))}.parquet"
    write_partition(df, dest)
    return ImportReport(table, round_no, label, dest, df.height, df[rs.unit_column].n_unique(), skipped=skipped,
                        warnings=[replace(p, severity="skipped") for p in bad] + warnings)


# ------------------------------------------------------------------ sources


def _open(source: str | Path | ApiSource) -> Iterator[tuple[str, object]]:
    """(where, record) pairs; a record that cannot be read is a :class:`_Bad` in its place."""
    if isinstance(source, str) and re.match(r"(?i)https?://", source):
        source = ApiSource(source)
    if isinstance(source, ApiSource):
        return _api_records(source)
    path = Path(source)
    kind = path.suffix.lower()
    if kind not in (".jsonl", ".ndjson", ".csv"):
        raise UsageError(f"{path}: a source is a .jsonl, .ndjson or .csv file or an http(s) URL")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _source_error(str(path), "A201", f"cannot read the file: {exc.strerror or exc}") from None
    return _csv_records(path, data) if kind == ".csv" else _jsonl_records(path, data)


def _source_error(where: str, code: str, message: str, hint: str = "") -> AdapterImportError:
    return AdapterImportError(where, [ImportProblem(code, NAMES[code], where, message, hint)])


def _jsonl_records(path: Path, data: bytes) -> Iterator[tuple[str, object]]:
    for no, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        where = f"{path}:{no}"
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield where, _Bad("the line is not UTF-8", "JSONL exports are UTF-8")
            continue
        except json.JSONDecodeError as exc:
            yield where, _Bad(f"not JSON: {exc.msg} at column {exc.colno}", "one JSON object per line")
            continue
        yield where, rec


def _csv_records(path: Path, data: bytes) -> Iterator[tuple[str, object]]:
    text = None
    for enc in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK; gb18030 is its superset
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise _source_error(str(path), "A201", "the file is neither UTF-8 nor GBK/GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from _csv_rows(path, reader)
    except csv.Error as exc:  # a NUL byte, an unterminated quote at the end…
        raise _source_error(f"{path}:{reader.line_num}", "A201", f"not CSV: {exc}") from None


def _csv_rows(path: Path, reader) -> Iterator[tuple[str, object]]:
    header, line = None, 0
    for row in reader:
        start, line = line + 1, reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        where = f"{path}:{start}"
        if len(row) != len(header):
            yield where, _Bad(f"the row has {len(row)} fields, the header has {len(header)}",
                              "quote fields that contain commas or line breaks")
            continue
        yield where, {h: (v if v != "" else None) for h, v in zip(header, row)}


def _api_records(src: ApiSource) -> Iterator[tuple[str, object]]:
    with httpx.Client(timeout=httpx.Timeout(src.timeout), headers=src.headers, transport=src.transport,
                      follow_redirects=True) as client:
        url, seen = src.url, set()
        while url is not None:
            if url in seen or len(seen) >= src.max_pages:
                why = "the pagination comes back to" if url in seen else f"more than {src.max_pages} pages at"
                raise _source_error(src.url, "A202", f"{why} {url}", "check the API's `next` links")
            seen.add(url)
            payload = _get_json(client, url, src)
            items, nxt = _page(payload, url, src)
            for k, item in enumerate(items, start=1):
                yield f"{url} item {k}", item
            url = _next_url(url, nxt, src)


def _get_json(client: httpx.Client, url: str, src: ApiSource) -> object:
    err = ""
    for attempt in range(src.retries + 1):
        wait = src.backoff * 2**attempt
        try:
            resp = client.get(url)
        except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
            err = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if resp.status_code < 400:
                try:
                    return resp.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise _source_error(url, "A202", "the response is not JSON",
                                        f"content-type {resp.headers.get('content-type', '?')}") from None
            err = f"HTTP {resp.status_code}"
            if resp.status_code not in RETRY_STATUS:
                break
            wait = _retry_after(resp) or wait
        if attempt < src.retries:
            time.sleep(min(src.max_wait, wait))
    raise _source_error(url, "A201", f"fetching the page failed: {err}",
                        f"after {src.retries} retries; check the URL, the API token (headers) and the server")


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "")))
    except ValueError:
        return None


def _page(payload: object, url: str, src: ApiSource) -> tuple[list, object]:
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict) and isinstance(payload.get(src.items_key), list):
        return payload[src.items_key], payload.get(src.next_key)
    raise _source_error(url, "A202", f"a page must be a list or an object with a list `{src.items_key}`",
                        "set ApiSource(items_key=..., next_key=...) to the API's names")


def _next_url(url: str, nxt: object, src: ApiSource) -> str | None:
    if nxt is None or nxt is False or nxt == "":
        return None
    if isinstance(nxt, int) and not isinstance(nxt, bool):
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != src.page_param]
        return urlunsplit(parts._replace(query=urlencode([*query, (src.page_param, str(nxt))])))
    if isinstance(nxt, str):
        return urljoin(url, nxt)
    raise _source_error(url, "A202", f"`{src.next_key}` must be a URL, a page number or null, not {nxt!r}")


def _default_name(source: str | Path | ApiSource) -> str:
    if isinstance(source, ApiSource) or (isinstance(source, str) and re.match(r"(?i)https?://", source)):
        parts = urlsplit(source.url if isinstance(source, ApiSource) else source)
        return f"{parts.hostname or 'api'}{parts.path}"
    return Path(source).stem


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-.") or "source"


# ------------------------------------------------------------------ records → typed rows


class _Rejected(Exception):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems


class _Converter:
    """Turns one source record into a row of the declared columns, or raises :class:`_Rejected`."""

    def __init__(self, rs: RuleSet, table: str, round_no: int, mapping: dict[str, str | None], tz: ZoneInfo,
                 label: str):
        if table not in rs.tables:
            close = difflib.get_close_matches(table, list(rs.tables), n=1)
            raise UsageError(f"rule set `{rs.name}` declares no table `{table}`"
                             + (f"; did you mean `{close[0]}`?" if close else f" (tables: {', '.join(rs.tables)})"))
        if round_no not in rs.rounds:
            raise UsageError(f"rule set `{rs.name}` has no round {round_no}; its rounds are "
                             f"{', '.join(map(str, sorted(rs.rounds)))}")
        self.columns = rs.tables[table].columns
        if rs.round_column not in self.columns:
            raise UsageError(f"table `{table}` has no `{rs.round_column}` column: adapters write one round at a time")
        unknown = [c for c in mapping if c not in self.columns]
        if unknown:
            probs = [ImportProblem("A203", NAMES["A203"], label, f"the mapping names `{c}`, not a column of `{table}`",
                                   _did_you_mean(c, self.columns) or f"columns: {', '.join(self.columns)}")
                     for c in unknown]
            raise AdapterImportError(label, probs)
        self.rs, self.table, self.round_no, self.tz = rs, table, round_no, tz
        self.fields = {c: mapping.get(c, c) for c in self.columns}
        self.schema = schema(rs, table)
        self.present = {c for c, f in self.fields.items() if f is None}  # mapped to no field on purpose
        self.codes = {u.code for u in rs.units}
        self.by_name = {u.name: u.code for u in rs.units}
        self.label = label

    def row(self, where: str, rec: object) -> dict:
        if isinstance(rec, _Bad):
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
            except _Bad as exc:
                probs.append(self._problem(exc.code, where, exc.message, exc.hint, self._head(col)))
        if probs:
            raise _Rejected(probs)
        return out

    def _value(self, col: str, typ: str, raw: object) -> object:
        if col == self.rs.unit_column:
            return self._unit(raw)
        if col == self.rs.round_column:
            if raw is not None and _convert("int", raw, self.tz) != self.round_no:
                raise _Bad(f"the record is of round {raw}, this import is round {self.round_no}",
                           f"import it with its own round, or ignore the field: mapping={{'{col}': None}}", "A105")
            return self.round_no
        if raw is None or (isinstance(raw, str) and not raw.strip() and typ != "str"):
            return None
        return _convert(typ, raw, self.tz)

    def _unit(self, raw: object) -> str:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise _Bad("the record has no unit", f"map the unit column: mapping={{'{self.rs.unit_column}': 'FIELD'}}",
                       "A104")
        text = _convert("str", raw, self.tz).strip()
        if text in self.codes:
            return text
        if text in self.by_name:
            return self.by_name[text]
        close = difflib.get_close_matches(text, [*self.codes, *self.by_name], n=1)
        raise _Bad(f"unknown unit `{text}`", f"did you mean `{close[0]}`?" if close else
                   "units are the codes (or names) of the rule set's registry", "A103")

    def _head(self, col: str) -> str:
        src = self.fields[col]
        return col if src == col else f"{col} ← {src}"

    def _problem(self, code: str, where: str, message: str, hint: str = "", column: str = "") -> ImportProblem:
        return ImportProblem(code, NAMES[code], where, message, hint, column)

    def absent_fields(self) -> list[ImportProblem]:
        """A warning per column whose source field no record had (all null): a mapping slip?"""
        out = []
        for col in self.columns:
            if col not in self.present and col != self.rs.round_column and col != self.rs.unit_column:
                out.append(ImportProblem("A301", NAMES["A301"], self.label, f"no record has the field "
                                         f"`{self.fields[col]}`: column `{col}` is null throughout",
                                         "map the column to the source's field name if it has another name",
                                         col, "warning"))
        return out


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean `{close[0]}`?" if close else ""


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
        raise _Bad(f"expected text, got {_what(raw)}")
    return str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)


_UNITS = {"万": 1e4, "亿": 1e8}


def _to_float(raw: object, tz: ZoneInfo) -> float:
    if isinstance(raw, bool):
        raise _Bad(f"expected a number, got {_what(raw)}")
    if isinstance(raw, int | float):
        v = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "")
        scale = _UNITS.get(text[-1:], 1.0)  # Weibo shows counts as 1.2万
        try:
            v = float(text[:-1] if scale != 1.0 else text) * scale
        except ValueError:
            raise _Bad(f"expected a number, got {_what(raw)}") from None
    else:
        raise _Bad(f"expected a number, got {_what(raw)}")
    if not math.isfinite(v):
        raise _Bad(f"expected a finite number, got {_what(raw)}")
    return v


def _to_int(raw: object, tz: ZoneInfo) -> int:
    v = _to_float(raw, tz)
    if not v.is_integer():
        raise _Bad(f"expected a whole number, got {_what(raw)}")
    return int(v)


def _to_bool(raw: object, tz: ZoneInfo) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    low = raw.strip().lower() if isinstance(raw, str) else None
    if low in TRUE_TEXT or low in FALSE_TEXT:
        return low in TRUE_TEXT
    raise _Bad(f"expected true/false, got {_what(raw)}", f"true: {', '.join(TRUE_TEXT)}; false: {', '.join(FALSE_TEXT)}")


def _to_datetime(raw: object, tz: ZoneInfo) -> datetime:
    epoch = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        epoch = float(raw)
    elif isinstance(raw, str) and re.fullmatch(r"\d{9,}(\.\d+)?", raw.strip()):
        epoch = float(raw)
    if epoch is not None:
        if not math.isfinite(epoch) or abs(epoch) > 1e11:
            raise _Bad(f"{_what(raw)} is not epoch seconds", "epoch milliseconds? divide by 1000 in the export")
        return datetime.fromtimestamp(epoch, UTC).astimezone(tz).replace(tzinfo=None)
    if not isinstance(raw, str):
        raise _Bad(f"expected an ISO 8601 date or epoch seconds, got {_what(raw)}")
    try:
        dt = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _Bad(f"expected an ISO 8601 date or epoch seconds, got {_what(raw)}",
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
                raise _Bad(f"expected a JSON array or `a|b|c`, got {_what(raw)}") from None
        else:
            return [x.strip() for x in text.split("|") if x.strip()]
    if not isinstance(raw, list) or any(isinstance(x, dict | list) or x is None for x in raw):
        raise _Bad(f"expected a list of texts, got {_what(raw)}", "a JSON array of strings, or `a|b|c`")
    return [_to_str(x, tz) for x in raw]


_CONVERT = {"str": _to_str, "int": _to_int, "float": _to_float, "bool": _to_bool, "date": _to_date,
            "datetime": _to_datetime, "list[str]": _to_list}
