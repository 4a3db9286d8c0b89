"""Where adapter records come from: a JSONL or CSV export, or a paginated JSON API
(:mod:`govindex.collect.adapters` turns them into rows). Each record comes with where it was
found — a :class:`~govindex.diagnostics.Record`: ``posts.jsonl:12``, a CSV line, an API page's
item; a record that cannot be read comes as a :class:`Bad` in its place, so that it is reported,
never skipped silently.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from govindex.collect.imports import ImportDataError
from govindex.diagnostics import Diagnostic, File, Location, Record, UsageError

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class AdapterImportError(ImportDataError):
    """Records were rejected; ``problems`` lists every bad record. Nothing was written."""


class Bad(Exception):
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


# ------------------------------------------------------------------ sources


def open_source(source: str | Path | ApiSource) -> Iterator[tuple[Record, object]]:
    """(where, record) pairs; a record that cannot be read is a :class:`Bad` in its place."""
    if isinstance(source, str) and re.match(r"(?i)https?://", source):
        source = ApiSource(source)
    if isinstance(source, ApiSource):
        return _api_records(source)
    path = Path(source)
    kind = path.suffix.lower()
    if kind not in (".jsonl", ".ndjson", ".csv"):
        raise UsageError(f"{path}: a source is a .jsonl, .ndjson or .csv file or an http(s) URL")
    if path.exists() and not path.is_file():  # a FIFO would block the read, a directory fails it
        raise source_error(str(path), "A201", "not a regular file", "give the path of a .jsonl or .csv export")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise source_error(str(path), "A201", f"cannot read the file: {exc.strerror or exc}") from None
    return _csv_records(path, data) if kind == ".csv" else _jsonl_records(path, data)


def source_error(where: str | Location, code: str, message: str, hint: str = "") -> AdapterImportError:
    """The error of a source that cannot be read at all (``where``: a path or URL, or a record)."""
    loc = File(where) if isinstance(where, str) else where
    return AdapterImportError(str(loc), [Diagnostic(code, message, loc, hint)])


def _jsonl_records(path: Path, data: bytes) -> Iterator[tuple[Record, object]]:
    for no, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        where = Record(str(path), no)
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield where, Bad("the line is not UTF-8", "JSONL exports are UTF-8")
            continue
        except json.JSONDecodeError as exc:
            yield where, Bad(f"not JSON: {exc.msg} at column {exc.colno}", "one JSON object per line")
            continue
        yield where, rec


def _csv_records(path: Path, data: bytes) -> Iterator[tuple[Record, object]]:
    text = None
    for enc in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK; gb18030 is its superset
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise source_error(str(path), "A201", "the file is neither UTF-8 nor GBK/GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from _csv_rows(path, reader)
    except csv.Error as exc:  # a NUL byte, an unterminated quote at the end…
        raise source_error(Record(str(path), reader.line_num), "A201", f"not CSV: {exc}") from None


def _csv_rows(path: Path, reader) -> Iterator[tuple[Record, object]]:
    header, line = None, 0
    for row in reader:
        start, line = line + 1, reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        where = Record(str(path), start)
        if len(row) != len(header):
            yield where, Bad(f"the row has {len(row)} fields, the header has {len(header)}",
                              "quote fields that contain commas or line breaks")
            continue
        yield where, {h: (v if v != "" else None) for h, v in zip(header, row)}


def _api_records(src: ApiSource) -> Iterator[tuple[Record, object]]:
    with httpx.Client(timeout=httpx.Timeout(src.timeout), headers=src.headers, transport=src.transport,
                      follow_redirects=True) as client:
        url: str | None = src.url
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= src.max_pages:
                why = "the pagination comes back to" if url in seen else f"more than {src.max_pages} pages at"
                raise source_error(src.url, "A202", f"{why} {url}", "check the API's `next` links")
            seen.add(url)
            payload = _get_json(client, url, src)
            items, nxt = _page(payload, url, src)
            for k, item in enumerate(items, start=1):
                yield Record(url, item=k), item
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
                    raise source_error(url, "A202", "the response is not JSON",
                                        f"content-type {resp.headers.get('content-type', '?')}") from None
            err = f"HTTP {resp.status_code}"
            if resp.status_code not in RETRY_STATUS:
                break
            wait = _retry_after(resp) or wait
        if attempt < src.retries:
            time.sleep(min(src.max_wait, wait))
    raise source_error(url, "A201", f"fetching the page failed: {err}",
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
    raise source_error(url, "A202", f"a page must be a list or an object with a list `{src.items_key}`",
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
    raise source_error(url, "A202", f"`{src.next_key}` must be a URL, a page number or null, not {nxt!r}")


def default_name(source: str | Path | ApiSource) -> str:
    if isinstance(source, ApiSource) or (isinstance(source, str) and re.match(r"(?i)https?://", source)):
        parts = urlsplit(source.url if isinstance(source, ApiSource) else source)
        return f"{parts.hostname or 'api'}{parts.path}"
    return Path(source).stem


def slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-.") or "source"


def identity(source: str | Path | ApiSource) -> str:
    """What makes two imports the same source: a file's resolved path, or a URL without its port
    (a test server's changes) — an import replaces the rows of its own source only."""
    if isinstance(source, ApiSource) or (isinstance(source, str) and re.match(r"(?i)https?://", source)):
        parts = urlsplit(source.url if isinstance(source, ApiSource) else source)
        return urlunsplit((parts.scheme.lower(), (parts.hostname or "").lower(), parts.path, parts.query, ""))
    return str(Path(source).resolve())
