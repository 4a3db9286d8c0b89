"""The raw archive: every fetch kept in gzip WARC files, found again by offset.

Each record is its own gzip member, so a reader seeks to an index row's ``offset`` and reads one
record without scanning the file: that is how extraction re-derives facts after a rule change
without crawling again. Files roll over at ``max_size`` (between fetches: a page's redirect hops
and its record share a file) and are never appended to after a restart: a resumed crawl opens a
new file.

The commit protocol: a record is written when its page is fetched, flushed before the index batch
that points at it is committed, and only a committed record is stored. A killed crawl leaves
records past its last committed one (and maybe a torn one); :func:`cut_uncommitted`, run when the
crawl resumes, truncates every file after its last committed byte, so those pages, fetched again,
are stored once.

What is stored:

- a ``response`` record per HTTP response, redirect hops included. The payload is the body as
  delivered to the crawler, i.e. **after** content decoding: ``Content-Encoding`` is kept as
  ``X-Govindex-Content-Encoding``, ``Transfer-Encoding`` dropped and ``Content-Length`` set to the
  stored length, so the record is self-consistent for any WARC reader; a body kept only in part
  (robots.txt beyond 500 KiB) carries the standard ``WARC-Truncated: length``;
- a ``metadata`` record (JSON: error kind, message, redirect hops) per failure without a response
  — timeouts, refused addresses, robots.txt exclusions, oversized bodies.
"""

from __future__ import annotations

import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from govindex.collect.errors import ArchiveError, ErrorKind
from govindex.collect.fetch import FetchResult, Hop

DEFAULT_MAX_SIZE = 1 << 30
_DROPPED = {"transfer-encoding", "content-length"}


@dataclass(frozen=True, slots=True)
class Stored:
    """Where one record landed: file name (relative to the WARC directory), offset, length."""

    warc_file: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back: a response (status, headers, body) or a failure (error, message)."""

    url: str
    type: str
    date: str
    status: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: str | None = None
    message: str = ""
    truncated: bool = False  # ``WARC-Truncated``: the body is the head of a longer one


class WarcWriter:
    """Appends records to ``{prefix}-{seq}.warc.gz`` files in ``directory``, rolling by size."""

    def __init__(self, directory: Path, prefix: str, max_size: int = DEFAULT_MAX_SIZE):
        self.directory = directory
        self.prefix = prefix
        self.max_size = max_size
        directory.mkdir(parents=True, exist_ok=True)
        self.seq = max((seq for seq, _ in warc_files(directory, prefix)), default=0)
        self.builder = RecordBuilder(warc_version="1.1")
        self.fh: BinaryIO | None = None
        self.writer: WARCWriter | None = None
        self.name = ""

    def _roll(self) -> None:
        if self.fh is not None and self.fh.tell() < self.max_size:
            return
        self.close()
        self.seq += 1
        self.name = f"{self.prefix}-{self.seq:05d}.warc.gz"
        self.fh = open(self.directory / self.name, "xb")  # noqa: SIM115 - kept open across records
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="1.1")
        info = {"software": "govindex", "format": "WARC File Format 1.1"}
        self.writer.write_record(self.writer.create_warcinfo_record(self.name, info))

    def _write(self, record: Any, roll: bool = True) -> Stored:
        try:
            if roll or self.fh is None:
                self._roll()
            assert self.fh is not None and self.writer is not None
            offset = self.fh.tell()
            self.writer.write_record(record)
            return Stored(self.name, offset, self.fh.tell() - offset)
        except OSError as exc:
            raise ArchiveError(f"cannot write the WARC archive in {self.directory}: {exc}") from None

    def write_result(self, result: FetchResult) -> Stored:
        """Store a fetch: its redirect hops, then its response or its failure, all in one file;
        where the last went."""
        self._roll()
        for hop in result.hops:
            self._write(self._response(hop.url, hop.status, "", hop.headers, b"", result.fetched), roll=False)
        if result.status is not None and result.error not in _NO_RESPONSE:
            return self._write(self._response(result.final_url, result.status, result.reason, result.headers,
                                              result.body, result.fetched, result.http_version, result.truncated),
                               roll=False)
        record = self._failure(result.final_url, result.error or ErrorKind.DECODE, result.message, result.fetched,
                               result.hops)
        return self._write(record, roll=False)

    def write_failure(self, url: str, error: ErrorKind | str, message: str, when: datetime,
                      hops: Iterable[Hop] = ()) -> Stored:
        """Store a failure with no response as a JSON ``metadata`` record."""
        return self._write(self._failure(url, error, message, when, hops))

    def _failure(self, url: str, error: ErrorKind | str, message: str, when: datetime, hops: Iterable[Hop]) -> Any:
        doc = {"error": str(error), "message": message,
               "hops": [{"url": h.url, "status": h.status, "location": h.location} for h in hops]}
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        return self.builder.create_warc_record(url, "metadata", payload=io.BytesIO(payload),
                                              warc_content_type="application/json",
                                              warc_headers_dict={"WARC-Date": _iso(when)})

    def _response(self, url: str, status: int, reason: str, headers: Iterable[tuple[str, str]], body: bytes,
                  when: datetime, version: str = "HTTP/1.1", truncated: bool = False) -> Any:
        kept = [(("X-Govindex-Content-Encoding" if k.lower() == "content-encoding" else k), v)
                for k, v in headers if k.lower() not in _DROPPED]
        kept.append(("Content-Length", str(len(body))))
        status_line = f"{status} {reason}".strip() if reason else str(status)
        http = StatusAndHeaders(status_line, kept, protocol=version or "HTTP/1.1")
        warc_headers = {"WARC-Date": _iso(when), **({"WARC-Truncated": "length"} if truncated else {})}
        return self.builder.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                              warc_headers_dict=warc_headers)

    def flush(self) -> None:
        """Push written records to disk (fsync): call before committing index rows that point at them."""
        if self.fh is not None:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            except OSError as exc:
                raise ArchiveError(f"cannot write the WARC archive in {self.directory}: {exc}") from None

    def close(self) -> None:
        """Flush and close the current file."""
        if self.fh is not None:
            self.flush()
            self.fh.close()
            self.fh, self.writer = None, None


_NO_RESPONSE = frozenset({ErrorKind.TOO_LARGE, ErrorKind.DECODE, ErrorKind.TIMEOUT, ErrorKind.CONNECT,
                          ErrorKind.REDIRECT_LOOP, ErrorKind.TOO_MANY_REDIRECTS, ErrorKind.BLOCKED_ADDRESS,
                          ErrorKind.BAD_SCHEME, ErrorKind.OUT_OF_SCOPE, ErrorKind.DNS, ErrorKind.ROBOTS})


def warc_files(directory: Path, prefix: str) -> list[tuple[int, Path]]:
    """The ``{prefix}-{seq}.warc.gz`` files in ``directory``, by sequence number."""
    pattern = re.compile(re.escape(prefix) + r"-(\d{5,})\.warc\.gz")
    found = [(int(m.group(1)), p) for p in directory.glob(f"{prefix}-*.warc.gz") if (m := pattern.fullmatch(p.name))]
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Cut:
    """What :func:`cut_uncommitted` removed: records begun past the committed end (the last one
    may have been torn), and bytes."""

    records: int = 0
    bytes: int = 0


def cut_uncommitted(directory: Path, prefix: str, committed: Mapping[str, int]) -> Cut:
    """Truncate each WARC file of ``prefix`` after its last committed byte (``committed``: file
    name → end of the last record an index row points at; a file absent from it keeps only its
    ``warcinfo``). Files are truncated, never deleted, so that no file name is ever reused."""
    records = cut = 0
    for _, path in warc_files(directory, prefix) if directory.exists() else []:
        try:
            size = path.stat().st_size
            end = max(committed.get(path.name, 0), next(iter(_record_ends(path, 0)), 0))
            if size <= end:
                continue
            tail = _record_ends(path, end)
            records += len(tail) + ((tail[-1] if tail else end) < size)  # whole ones, and a torn one
            with open(path, "r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
            cut += size - end
        except OSError as exc:
            raise ArchiveError(f"cannot cut the uncommitted tail of {path}: {exc}") from None
    return Cut(records, cut)


def _record_ends(path: Path, start: int) -> list[int]:
    """Where each whole record from ``start`` on ends (a torn last record is left out)."""
    ends: list[int] = []
    with open(path, "rb") as fh:
        fh.seek(start)
        records = ArchiveIterator(fh)
        try:
            for record in records:
                records.read_to_end(record)
                ends.append(records.get_record_offset() + records.get_record_length())
        except (ArchiveLoadFailed, EOFError, ValueError, zlib.error):
            pass  # a torn record: the end of what can be read
    return ends


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_record(path: Path, offset: int) -> Record:
    """The record at ``offset`` of the WARC file ``path``, read without scanning the file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return _parse(next(iter(ArchiveIterator(fh))))
    except (OSError, StopIteration, ArchiveLoadFailed, ValueError) as exc:
        raise ArchiveError(f"{path}@{offset}: cannot read a WARC record: {exc}") from None


def read_body(path: Path, offset: int) -> bytes:
    """The stored body of the response at ``offset`` (empty for a failure record)."""
    return read_record(path, offset).body


def iter_records(rows: Iterable[Mapping[str, Any]], warc_dir: Path) -> Iterator[tuple[Mapping[str, Any], Record]]:
    """Each index row with its record, opening each WARC file once and seeking in offset order."""
    ordered = sorted(rows, key=lambda r: (r["warc_file"], r["offset"]))
    current: tuple[str, BinaryIO] | None = None
    try:
        for row in ordered:
            if current is None or current[0] != row["warc_file"]:
                if current is not None:
                    current[1].close()
                current = (row["warc_file"], open(warc_dir / row["warc_file"], "rb"))  # noqa: SIM115
            current[1].seek(row["offset"])
            try:
                yield row, _parse(next(iter(ArchiveIterator(current[1]))))
            except (StopIteration, ArchiveLoadFailed, ValueError) as exc:
                raise ArchiveError(f"{row['warc_file']}@{row['offset']}: cannot read a WARC record: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"cannot read the WARC archive in {warc_dir}: {exc}") from None
    finally:
        if current is not None:
            current[1].close()


def _parse(record: Any) -> Record:
    if record.rec_type not in ("response", "metadata", "resource", "request", "warcinfo", "revisit"):
        raise ValueError(f"not a complete WARC record (type {record.rec_type!r})")
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    date = record.rec_headers.get_header("WARC-Date") or ""
    if record.rec_type == "response" and record.http_headers is not None:
        status = int(record.http_headers.get_statuscode())
        headers = tuple((k, v) for k, v in record.http_headers.headers)
        truncated = bool(record.rec_headers.get_header("WARC-Truncated"))
        return Record(url, "response", date, status, headers, record.raw_stream.read(), truncated=truncated)
    payload = record.raw_stream.read()
    doc = json.loads(payload) if record.rec_type == "metadata" and payload else {}
    return Record(url, record.rec_type, date, None, (), b"", doc.get("error"), doc.get("message", ""))
