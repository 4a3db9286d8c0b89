"""An oversized robots.txt (govindex.collect.robots, govindex.collect.fetch): parsed on its first
500 KiB (RFC 9309 §2.5), never downloaded whole, never a reason to close the site."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, crawl_sync, round_dir
from govindex.collect.errors import ErrorKind, FetchError
from govindex.collect.fetch import FetchConfig, FetchResult, Inflater
from govindex.collect.index import read_index
from govindex.collect.robots import MAX_BYTES, policy_from
from tests.webservers import Page, Site, html

HEAD = b"User-agent: *\nDisallow: /private\n"
FILLER = b"# " + b"x" * 77 + b"\n"  # 80 bytes a line
SIZE = 11 * 10**6  # over the 10 MB that used to block the whole site
TAIL = b"Disallow: /late\n"  # past 500 KiB: not parsed


def big_robots(declare_length: bool):
    """A handler writing an 11 MB robots.txt line by line (never held in memory whole)."""
    lines = (SIZE - len(HEAD) - len(TAIL)) // len(FILLER)
    total = len(HEAD) + lines * len(FILLER) + len(TAIL)

    def route(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        if declare_length:
            handler.send_header("Content-Length", str(total))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        try:
            handler.wfile.write(HEAD)
            for _ in range(lines // 1000):
                handler.wfile.write(FILLER * 1000)
            handler.wfile.write(FILLER * (lines % 1000) + TAIL)
        except OSError:
            pass  # the crawler hung up after the head: expected
    return route


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "streamed"])
def test_an_oversized_robots_txt_is_parsed_on_its_head(tmp_path: Path, declare_length: bool) -> None:
    routes = {"/": Page(html("首页", "/private/a.html", "/late/b.html", "/c.html")), "/c.html": Page(html("C")),
              "/private/a.html": Page(html("A")), "/late/b.html": Page(html("B")), "/robots.txt": big_robots(declare_length)}
    config = CrawlConfig(delay=0, allow_loopback=True, fetch=FetchConfig(deadline=10, retries=0))
    with Site("127.0.0.6", routes) as site:
        tracemalloc.start()
        try:
            crawl_sync([Channel(unit="U1", kind="portal", url=site.url("/"), name="")], 1, tmp_path, config)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    rows = read_index(round_dir(tmp_path, 1) / "index").sort("url")
    got = dict(zip((u.removeprefix(site.origin) for u in rows["url"]), rows["error"].fill_null("ok")))
    assert got == {"/": "ok", "/c.html": "ok", "/late/b.html": "ok", "/private/a.html": "robots"}
    assert site.hits["/private/a.html"] == 0
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MiB: the robots.txt was held whole"
    ((truncated, body),) = robots_records(round_dir(tmp_path, 1) / "warc")
    assert truncated == "length" and body.startswith(HEAD) and len(body) == MAX_BYTES


def robots_records(warc_dir: Path) -> list[tuple[str | None, bytes]]:
    """The ``WARC-Truncated`` field and the body of every robots.txt response record in the archive."""
    found = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response" and rec.rec_headers.get_header("WARC-Target-URI").endswith("/robots.txt"):
                    found.append((rec.rec_headers.get_header("WARC-Truncated"), rec.content_stream().read()))
    return found


def result(body: bytes, truncated: bool) -> FetchResult:
    from datetime import UTC, datetime
    return FetchResult("http://h/robots.txt", "http://h/robots.txt", 200, (), body, body.decode(), "utf-8", None, "",
                       0.0, (), datetime.now(UTC), truncated=truncated)


def test_a_rule_cut_at_the_boundary_is_dropped() -> None:
    body = b"User-agent: *\nDisallow: /private\nDisallow: /adm"  # "/admin" cut short
    cut = policy_from("http://h", result(body, truncated=True))
    assert cut.allowed("http://h/adm", "govindex-crawler") and not cut.allowed("http://h/private", "govindex-crawler")
    whole = policy_from("http://h", result(body, truncated=False))
    assert not whole.allowed("http://h/adm", "govindex-crawler")


def test_the_inflater_keeps_the_head_when_asked() -> None:
    data = gzip.compress(b"a" * (3 * MAX_BYTES))
    head = Inflater("gzip", MAX_BYTES, truncate=True)
    for i in range(0, len(data), 1000):
        head.feed(data[i : i + 1000])
    assert head.truncated and head.finish() == b"a" * MAX_BYTES
    with pytest.raises(FetchError) as err:
        Inflater("gzip", MAX_BYTES).feed(data)
    assert err.value.kind is ErrorKind.TOO_LARGE
