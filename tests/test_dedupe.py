"""Cross-unit ``dedupe`` is deterministic (govindex.collect.extract): which row of a group of
duplicates is kept depends on the rows, never on the order the crawl reached them — so a resumed
crawl, or a crawl where another server happened to be slower, gives the same facts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, CrawlProgress, crawl_sync
from govindex.collect.extract import extract, raw_frame
from govindex.collect.fetch import FetchConfig
from govindex.collect.pipeline import extract_round
from tests.conftest import ROOT
from tests.webservers import Page, Site, html

SHARED = html("政府信息公开目录", body="全省统一的政府信息公开目录页。")


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules/2019")


def raw_row(unit: str, url: str, content: str, depth: int = 1) -> dict:
    return {"unit": unit, "round": 1, "site": "portal", "url": url, "final_url": url, "depth": depth, "status": 200,
            "error": "", "title": content, "text": content, "link_texts": [], "link_urls": [], "meta": "",
            "headings": [], "fetched": datetime(2019, 5, 1), "content_hash": content}


ROWS = [raw_row("511500", "http://b.gov.cn/x.html", "h1"), raw_row("510100", "http://z.gov.cn/s.html", "h1"),
        raw_row("510100", "http://a.gov.cn/s.html", "h1"), raw_row("511500", "http://b.gov.cn/", "h2", 0),
        raw_row("513400", "http://c.gov.cn/", "h2", 0), raw_row("510100", "http://a.gov.cn/", "h3", 0)]


@settings(max_examples=40, deadline=None)
@given(st.permutations(ROWS))
def test_the_kept_row_does_not_depend_on_row_order(rs, rows: list[dict]) -> None:
    ex = extract(rs, raw_frame(rs, "page_content", rows), "page_content")
    kept = sorted(ex.rows.select("unit", "url").rows())
    assert kept == [("510100", "http://a.gov.cn/"), ("510100", "http://a.gov.cn/s.html"), ("511500", "http://b.gov.cn/")]
    assert ex.counts["duplicates"] == 3
    # the rows keep the order they came in; only the choice is made in the stable order
    assert ex.rows["url"].to_list() == [r["url"] for r in rows if (r["unit"], r["url"]) in kept]


def slow_shared(delay: dict[str, float], host: str):
    def route(handler) -> None:
        time.sleep(delay.get(host, 0.0))
        body = SHARED.encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return route


DELAY: dict[str, float] = {}


@pytest.fixture(scope="module")
def sites() -> Iterator[list[Site]]:
    """Two units' portals, each linking to the same shared page (same bytes, same content hash);
    ``DELAY`` makes one of them slow to serve it."""
    started = []
    for i, host in enumerate(("127.0.0.2", "127.0.0.3")):
        routes = {"/": Page(html(f"门户{i}", "/a.html", "/shared.html")), "/a.html": Page(html(f"栏目{i}")),
                  "/shared.html": slow_shared(DELAY, host), "/robots.txt": Page("", 404)}
        started.append(Site(host, routes).__enter__())
    yield started
    for s in started:
        s.__exit__()


def channels(sites: list[Site]) -> list[Channel]:
    return [Channel(unit=code, kind="portal", url=s.url("/"), name="") for code, s in zip(("510100", "511500"), sites)]


CONFIG = CrawlConfig(delay=0, allow_loopback=True, concurrency=4, index_batch=2, fetch=FetchConfig(deadline=5, retries=0))


def pages(rs, out: Path) -> pl.DataFrame:
    extract_round(rs, 1, out)
    frame = pl.read_parquet(out / "pages" / "round=1" / "part-0.parquet")
    return frame.drop("fetched").with_columns(pl.col("url").str.replace(r"^http://[^/]+", "")).sort("unit", "url")


class Stop(Exception):
    pass


def stop_after(n: int):
    def progress(event: CrawlProgress) -> None:
        if event.fetched == n:
            raise Stop
    return progress


def test_a_resumed_or_reordered_crawl_keeps_the_same_rows(rs, sites: list[Site], tmp_path: Path) -> None:
    DELAY.clear()
    DELAY[sites[0].host] = 0.4  # the first unit's copy of the shared page arrives last
    crawl_sync(channels(sites), 1, tmp_path / "slow-first", CONFIG)
    DELAY.clear()
    DELAY[sites[1].host] = 0.4  # … now the second unit's
    crawl_sync(channels(sites), 1, tmp_path / "slow-second", CONFIG)
    with pytest.raises(Stop):  # … and a crawl stopped half-way, resumed while the first is slow
        crawl_sync(channels(sites), 1, tmp_path / "resumed", CONFIG, progress=stop_after(2))
    DELAY.clear()
    DELAY[sites[0].host] = 0.4
    crawl_sync(channels(sites), 1, tmp_path / "resumed", CONFIG)
    DELAY.clear()
    first = pages(rs, tmp_path / "slow-first")
    assert pages(rs, tmp_path / "slow-second").equals(first) and pages(rs, tmp_path / "resumed").equals(first)
    shared = first.filter(pl.col("url") == "/shared.html")
    assert shared["unit"].to_list() == ["510100"]  # the lower unit code keeps it, whoever came first
