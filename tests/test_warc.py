"""The raw archive (govindex.collect.warc) and the crawl index (govindex.collect.index)."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from warcio.archiveiterator import ArchiveIterator

from govindex.collect.errors import ArchiveError, ErrorKind
from govindex.collect.fetch import FetchResult, Hop
from govindex.collect.index import SCHEMA, IndexWriter, part_files, read_index
from govindex.collect.warc import Cut, WarcWriter, cut_uncommitted, iter_records, read_body, read_record

WHEN = datetime(2019, 1, 5, 8, 30, tzinfo=UTC)


def response(url: str, body: bytes, status: int = 200, hops: tuple[Hop, ...] = (), error: ErrorKind | None = None,
             headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=gbk"),)) -> FetchResult:
    return FetchResult(url, url, status, headers, body, None, None, error, "", 0.1, hops, WHEN, reason="OK")


def test_round_trip_by_offset(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t")
    bodies = [f"<title>第{i}页</title>".encode("gbk") * (i + 1) for i in range(20)]
    stored = [writer.write_result(response(f"http://h/{i}", b)) for i, b in enumerate(bodies)]
    writer.close()
    for s, body in zip(reversed(stored), reversed(bodies)):
        assert read_body(tmp_path / s.warc_file, s.offset) == body
    record = read_record(tmp_path / stored[3].warc_file, stored[3].offset)
    assert (record.url, record.type, record.status, record.date) == ("http://h/3", "response", 200,
                                                                     "2019-01-05T08:30:00.000000Z")
    assert ("Content-Type", "text/html; charset=gbk") in record.headers
    assert ("Content-Length", str(len(bodies[3]))) in record.headers
    with open(tmp_path / stored[0].warc_file, "rb") as fh:  # a plain WARC reader agrees
        kinds = [r.rec_type for r in ArchiveIterator(fh)]
    assert kinds == ["warcinfo"] + ["response"] * 20


def test_decoded_body_stored_with_consistent_headers(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t")
    headers = (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
               ("Content-Length", "999"))
    s = writer.write_result(response("http://h/", b"<p>plain</p>", headers=headers))
    writer.close()
    record = read_record(tmp_path / s.warc_file, s.offset)
    names = [k for k, _ in record.headers]
    assert record.body == b"<p>plain</p>" and "Content-Encoding" not in names and "Transfer-Encoding" not in names
    assert ("X-Govindex-Content-Encoding", "gzip") in record.headers and ("Content-Length", "12") in record.headers


def test_failures_and_redirect_hops(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t")
    hop = Hop("http://h/old", 301, "http://h/new", (("Location", "http://h/new"),))
    moved = writer.write_result(response("http://h/old", b"new page", hops=(hop,)))
    failed = writer.write_failure("http://h/x", ErrorKind.TIMEOUT, "no complete response within 30s", WHEN, [hop])
    robots = writer.write_result(FetchResult("http://h/p", "http://h/p", None, (), b"", None, None, ErrorKind.ROBOTS,
                                             "disallowed by robots.txt", 0.0, (), WHEN))
    writer.close()
    assert read_body(tmp_path / moved.warc_file, moved.offset) == b"new page"
    record = read_record(tmp_path / failed.warc_file, failed.offset)
    assert (record.type, record.error, record.body, record.url) == ("metadata", "timeout", b"", "http://h/x")
    assert read_record(tmp_path / robots.warc_file, robots.offset).error == "robots"
    with open(tmp_path / moved.warc_file, "rb") as fh:
        urls = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(fh)][1:]
    assert urls == [("response", "http://h/old"), ("response", "http://h/old"), ("metadata", "http://h/x"),
                    ("metadata", "http://h/p")]


def test_files_roll_by_size_and_are_never_reopened(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t", max_size=20_000)
    body = random.Random(1).randbytes(8000)  # incompressible
    stored = [writer.write_result(response(f"http://h/{i}", body)) for i in range(30)]
    writer.close()
    files = sorted({s.warc_file for s in stored})
    assert len(files) > 3 and files[0] == "t-00001.warc.gz"
    assert all((tmp_path / f).stat().st_size < 20_000 + 12_000 for f in files)
    again = WarcWriter(tmp_path, "t")
    assert again.write_result(response("http://h/new", b"x")).warc_file == f"t-{len(files) + 1:05d}.warc.gz"
    again.close()
    rows = [{"warc_file": s.warc_file, "offset": s.offset, "i": i} for i, s in enumerate(stored)]
    assert [r.body for _, r in iter_records(reversed(rows), tmp_path)] == [body] * 30


def test_a_torn_tail_does_not_hide_earlier_records(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t")
    s = writer.write_result(response("http://h/", b"kept"))
    writer.close()
    with open(tmp_path / s.warc_file, "ab") as fh:
        fh.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: resp")[:20])  # a crash mid-record
    assert read_body(tmp_path / s.warc_file, s.offset) == b"kept"
    with pytest.raises(ArchiveError):
        read_record(tmp_path / s.warc_file, s.offset + s.length)


def row(url: str, **extra: object) -> dict[str, object]:
    return {"url": url, "final_url": url, "unit": "A1", "site": "http://h/", "kind": "portal", "round": 1, "depth": 0,
            "status": 200, "fetched": datetime(2019, 1, 5), "warc_file": "t-00001.warc.gz", "offset": 0, "length": 1,
            **extra}


def test_index_batches_and_compaction(tmp_path: Path) -> None:
    calls: list[int] = []
    index = IndexWriter(tmp_path, lambda: calls.append(1), batch=3)
    for i in range(7):
        index.add(row(f"http://h/{i}"))
    assert len(calls) == 2 and read_index(tmp_path).height == 6  # the 7th waits for its batch
    index.flush()
    assert read_index(tmp_path)["url"].to_list() == [f"http://h/{i}" for i in range(7)]
    index.compact()
    live, covered = part_files(tmp_path)
    assert [p.name for p in live] == ["part-00000001-00000003.parquet"] and covered == []
    df = read_index(tmp_path)
    assert df.height == 7 and df.schema == pl.Schema(SCHEMA)
    assert df["error"].null_count() == 7


def test_a_crash_during_compaction_duplicates_nothing(tmp_path: Path) -> None:
    index = IndexWriter(tmp_path, batch=2)
    for i in range(6):
        index.add(row(f"http://h/{i}"))
    merged = read_index(tmp_path)
    merged.write_parquet(tmp_path / "part-00000001-00000003.parquet")  # compaction written, parts not yet deleted
    (tmp_path / "part-00000004-00000004.parquet.tmp").write_bytes(b"torn")
    assert read_index(tmp_path).height == 6
    again = IndexWriter(tmp_path, batch=2)  # a new run removes covered parts and temporary files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00000001-00000003.parquet"]
    again.add(row("http://h/6"))
    again.flush()
    assert read_index(tmp_path).height == 7 and again.next_part == 5


def test_empty_index(tmp_path: Path) -> None:
    assert read_index(tmp_path / "none").height == 0
    assert read_index(tmp_path / "none").columns == list(SCHEMA)


def test_cut_uncommitted_truncates_after_the_last_committed_record(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t")
    stored = [writer.write_result(response(f"http://h/{i}", b"x" * 100)) for i in range(5)]
    writer.close()
    second = WarcWriter(tmp_path, "t")  # a run that committed nothing
    second.write_result(response("http://h/late", b"y"))
    second.close()
    first, other = tmp_path / "t-00001.warc.gz", tmp_path / "t-00002.warc.gz"
    with open(first, "ab") as fh:
        fh.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: resp")[:20])  # torn by a kill
    committed = {"t-00001.warc.gz": stored[2].offset + stored[2].length}
    cut = cut_uncommitted(tmp_path, "t", committed)
    assert cut.records == 2 + 1 + 1  # two whole records and a torn one in the first file, one in the second
    assert first.stat().st_size == committed["t-00001.warc.gz"]
    with open(first, "rb") as fh:
        assert [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)][1:] == [
            "http://h/0", "http://h/1", "http://h/2"]
    with open(other, "rb") as fh:  # kept with its warcinfo only: file names are never reused
        assert [r.rec_type for r in ArchiveIterator(fh)] == ["warcinfo"]
    assert cut_uncommitted(tmp_path, "t", committed) == Cut(0, 0)  # nothing more to cut
    assert WarcWriter(tmp_path, "t").seq == 2


def test_a_fetch_and_its_redirect_hops_share_a_file(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "t", max_size=60_000)  # crossed in the middle of a fetch's records
    noise = random.Random(2).randbytes(3000).hex()  # incompressible: each hop record is ~3 KiB
    hops = tuple(Hop(f"http://h/r{i}", 302, f"http://h/r{i + 1}", (("X-Noise", noise),)) for i in range(3))
    body = random.Random(3).randbytes(5000)
    for i in range(12):
        stored = writer.write_result(response(f"http://h/{i}", body, hops=hops))
        with open(tmp_path / stored.warc_file, "rb") as fh:
            uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)]
        assert uris[-4:] == ["http://h/r0", "http://h/r1", "http://h/r2", f"http://h/{i}"]
    writer.close()
