"""The crawler against real loopback sites (govindex.collect.crawl): depth, scope, robots, traps, charsets,
politeness, the archive round trip and the summary."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import threading
import time
from pathlib import Path

import pytest

from govindex.collect import charset
from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, CrawlProgress, CrawlSummary, crawl_sync, round_dir
from govindex.collect.fetch import FetchConfig
from govindex.collect.index import read_index
from govindex.collect.warc import iter_records, read_body
from tests.webservers import Page, Site, html, slow_endless

FAST = CrawlConfig(delay=0, allow_loopback=True, fetch=FetchConfig(deadline=2, retries=1, backoff=0.01))


def portal(site: Site, unit: str = "A1", path: str = "/") -> Channel:
    return Channel(unit=unit, kind="portal", url=site.url(path), name="")


def run(channels: list[Channel], out: Path, config: CrawlConfig = FAST, **kw) -> CrawlSummary:
    return crawl_sync(channels, 1, out, config, **kw)


def index(out: Path):
    return read_index(round_dir(out, 1) / "index")


def by_path(out: Path) -> dict[str, dict]:
    return {re.sub(r"^http://[^/]+", "", r["url"]): r for r in index(out).iter_rows(named=True)}


def test_breadth_first_to_max_depth_within_scope(tmp_path: Path) -> None:
    with Site("127.0.0.3", {"/": Page(html("elsewhere"))}) as other:
        routes = {f"/p{i}.html": Page(html(f"P{i}", f"/p{i + 1}.html", "/")) for i in range(1, 10)}
        routes["/"] = Page(html("首页", "/p1.html", "/p3.html#frag", other.url("/"), "mailto:x@y.cn",
                                "/p1.html?utm_source=weibo"))
        with Site("127.0.0.2", routes) as site:
            summary = run([portal(site)], tmp_path, FAST.model_copy(update={"max_depth": 3}))
    rows = by_path(tmp_path)
    assert {p: r["depth"] for p, r in rows.items()} == {"/": 0, "/p1.html": 1, "/p3.html": 1, "/p2.html": 2,
                                                        "/p4.html": 2, "/p5.html": 3}
    assert other.hits["/"] == 0 and max(site.page_hits().values()) == 1
    assert summary.pages == 6 and summary.by_status == {200: 6} and summary.collection_rate == {"A1": 1.0}


def test_robots_rules_delay_and_failures(tmp_path: Path) -> None:
    robots = "User-agent: *\nDisallow: /private\nCrawl-delay: 0.3\n"
    routes = {"/": Page(html("home", "/private/a.html", "/public.html", "/public2.html")),
              "/public.html": Page(html("pub")), "/public2.html": Page(html("pub2")),
              "/robots.txt": Page(robots, headers={"Content-Type": "text/plain"})}
    with Site("127.0.0.2", routes) as site, \
            Site("127.0.0.3", {"/": Page(html("x")), "/robots.txt": Page("down", 503)}) as down, \
            Site("127.0.0.4", {"/": Page(html("y", "/a.html")), "/a.html": Page(html("a"))}) as missing:
        start = time.monotonic()
        summary = run([portal(site), portal(down, "B1"), portal(missing, "C1")], tmp_path)
        spent = time.monotonic() - start
        assert site.hits["/private/a.html"] == 0 and down.hits["/"] == 0 and missing.hits["/a.html"] == 1
    rows = index(tmp_path)
    robots_rows = rows.filter(rows["error"] == "robots")["url"].to_list()
    assert sorted(robots_rows) == sorted([site.url("/private/a.html"), down.url("/")])
    assert spent >= 0.6  # three requests to the first host, 0.3 s apart (its Crawl-delay)
    assert summary.by_error == {"robots": 2} and summary.collection_rate == {"A1": 1.0, "B1": 0.0, "C1": 1.0}


def calendar(path: str) -> Page | None:
    match = re.fullmatch(r"/cal/(\d+)/(\d+)\.html(\?day=\d+)?", path)
    if not match:
        return None
    y, m = int(match.group(1)), int(match.group(2))
    nxt = f"/cal/{y + m // 12}/{m % 12 + 1}.html"
    prev = f"/cal/{y - (m == 1)}/{(m - 2) % 12 + 1}.html"
    days = [f"/cal/{y}/{m}.html?day={d}" for d in range(1, 4)]
    return Page(html(f"{y}-{m}", nxt, prev, *days, "/a/b/a/b/a/b/x.html"))


def test_traps_terminate_within_their_caps(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (20 * 2**20), 9)
    routes = {
        "/": Page(html("home", "/cal/2019/1.html", "/loop1", "/slow", "/big", "/bomb", "/private", "/news.html",
                       "http://10.0.0.1/intranet")),
        "/news.html": Page(html("news")),
        "/loop1": Page(status=302, headers={"Location": "/loop2"}),
        "/loop2": Page(status=302, headers={"Location": "/loop1"}),
        "/slow": slow_endless,
        "/big": Page(b"<p>" + b"x" * (2 * 2**20)),
        "/bomb": Page(bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}),
        "/private": Page(status=302, headers={"Location": "http://10.0.0.1/"}),
    }
    config = CrawlConfig(delay=0, allow_loopback=True, max_per_shape=8, max_pages=40, extra_hosts=("10.0.0.1",),
                         fetch=FetchConfig(deadline=1, retries=0, max_bytes=2**20, max_wire_bytes=2**20))
    with Site("127.0.0.2", routes, fallback=calendar) as site:
        start = time.monotonic()
        summary = run([portal(site)], tmp_path, config)
        spent = time.monotonic() - start
    rows = by_path(tmp_path)
    errors = {p: r["error"] for p, r in rows.items() if r["error"]}
    assert errors == {"/loop1": "redirect_loop", "/slow": "timeout", "/big": "too_large", "/bomb": "too_large",
                      "/private": "blocked_address", "/intranet": "blocked_address"}  # 10.0.0.1 is in scope here
    months = [p for p in rows if re.fullmatch(r"/cal/\d+/\d+\.html", p)]
    days = [p for p in rows if "?day=" in p]
    assert len(months) <= 8 and len(days) <= 8 and rows["/news.html"]["error"] is None
    assert summary.skipped["shape_cap"] > 0 and summary.skipped.get("repeated_segment", 0) >= 1
    assert spent < 10
    with Site("127.0.0.3", {}, fallback=calendar) as cal:  # an endless calendar alone hits the page cap
        summary = run([portal(cal, "B1", "/cal/2019/1.html")], tmp_path / "cap",
                      config.model_copy(update={"max_per_shape": 1000, "max_pages": 25}))
    assert summary.pages == 25 and summary.skipped["page_cap"] > 0


GBK_TITLE = "益阳市人民政府"
TEXT = "政府信息公开，领导信箱，公共服务清单。" * 30


def test_gbk_and_utf8_pages_come_back_right_from_the_archive(tmp_path: Path) -> None:
    def gbk(meta: str) -> bytes:
        return html(GBK_TITLE, body=TEXT).replace("<head>", f"<head>{meta}").encode("gbk")

    routes = {
        "/": Page(html("首页", "/h.html", "/m.html", "/n.html", "/u.html", "/z.html", "/doc.pdf")),
        "/h.html": Page(gbk(""), headers={"Content-Type": "text/html; charset=gbk"}),
        "/m.html": Page(gbk('<meta charset="gb2312">'), headers={"Content-Type": "text/html"}),
        "/n.html": Page(gbk(""), headers={"Content-Type": "text/html"}),
        "/u.html": Page(html(GBK_TITLE, body=TEXT), headers={"Content-Type": "text/html"}),
        "/z.html": Page(gzip.compress(gbk("")), headers={"Content-Type": "text/html; charset=GB2312",
                                                         "Content-Encoding": "gzip"}),
        "/doc.pdf": Page(b"%PDF-1.4 binary", headers={"Content-Type": "application/pdf"}),
    }
    with Site("127.0.0.2", routes) as site:
        run([portal(site)], tmp_path)
    warc_dir = round_dir(tmp_path, 1) / "warc"
    rows = index(tmp_path).rows(named=True)
    sent = {p: (gbk("") if p == "/z.html" else r.raw()) for p, r in routes.items()}
    for row, record in iter_records(rows, warc_dir):
        path = re.sub(r"^http://[^/]+", "", row["url"])
        assert record.body == sent[path] == read_body(warc_dir / row["warc_file"], row["offset"])
        assert row["content_hash"] == hashlib.sha256(sent[path]).hexdigest()
        if path.endswith(".html"):
            text = charset.decode(record.body, row["content_type"]).text
            assert re.search(r"<title>(.*?)</title>", text).group(1) == GBK_TITLE
            assert row["charset"] == ("utf-8" if path == "/u.html" else "gb18030")
    assert len(rows) == 7


def test_politeness_per_host_and_concurrency_across_hosts(tmp_path: Path) -> None:
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    overall = {"now": 0, "peak": 0}

    def slow_page(host: str, links: list[str]):
        def handle(handler) -> None:
            with lock:
                in_flight[host] = in_flight.get(host, 0) + 1
                peak[host] = max(peak.get(host, 0), in_flight[host])
                overall["now"] += 1
                overall["peak"] = max(overall["peak"], overall["now"])
            time.sleep(0.05)
            body = html(host, *links).encode()
            with lock:
                in_flight[host] -= 1
                overall["now"] -= 1
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        return handle

    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    sites = [Site(h, {"/": slow_page(h, [f"/{i}" for i in range(6)]),
                      **{f"/{i}": slow_page(h, []) for i in range(6)}}) for h in hosts]
    events: list[CrawlProgress] = []
    for s in sites:
        s.__enter__()
    try:
        summary = run([portal(s, f"U{i}") for i, s in enumerate(sites)], tmp_path, progress=events.append)
    finally:
        for s in sites:
            s.__exit__()
    assert peak == dict.fromkeys(hosts, 1) and overall["peak"] > 1
    assert summary.pages == 21 and summary.fetched_now == 21 and summary.sites == 3
    assert events[-1].sites_done == 3 and events[-1].pages == 21 and max(e.pages for e in events) == 21


def test_start_page_redirect_widens_scope_and_dead_channels_count(tmp_path: Path) -> None:
    with Site("127.0.0.3", {"/home": Page(html("new home", "/about.html")), "/about.html": Page(html("about"))}) as new:
        old = {"/": Page(status=301, headers={"Location": new.url("/home")})}
        with Site("127.0.0.2", old) as site:
            dead = Site("127.0.0.5")
            dead_url = dead.url("/")
            dead.server.server_close()
            summary = run([portal(site), Channel(unit="A1", kind="service", url=dead_url, name="")], tmp_path)
    rows = index(tmp_path)
    assert sorted(rows["final_url"].to_list()) == sorted([new.url("/home"), new.url("/about.html"), dead_url])
    assert summary.by_error == {"connect": 1} and summary.collection_rate == {"A1": 0.5}


def test_non_web_channels_are_not_crawled(tmp_path: Path) -> None:
    summary = run([Channel(unit="A1", kind="weibo", url="宜宾发布", name="")], tmp_path)
    assert summary.pages == 0 and summary.sites == 0 and summary.collection_rate == {}


def test_progress_exception_propagates_unwrapped(tmp_path: Path) -> None:
    def stop(event: CrawlProgress) -> None:
        raise KeyError("stop")

    with Site("127.0.0.2", {"/": Page(html("x"))}) as site, pytest.raises(KeyError):
        run([portal(site)], tmp_path, progress=stop)
    assert index(tmp_path).height == 1  # the page in hand was committed


def test_async_api(tmp_path: Path) -> None:
    from govindex.collect.crawl import crawl

    with Site("127.0.0.2", {"/": Page(html("x"))}) as site:
        summary = asyncio.run(crawl([portal(site)], 2, tmp_path, FAST))
    assert summary.round == 2 and summary.out == tmp_path / "crawl" / "round=2" and summary.pages_per_second > 0


def test_robots_outcomes() -> None:
    from datetime import UTC, datetime

    from govindex.collect.errors import ErrorKind
    from govindex.collect.fetch import FetchResult
    from govindex.collect.robots import policy_from

    def result(status: int | None, error: ErrorKind | None, body: bytes = b"") -> FetchResult:
        return FetchResult("http://h/robots.txt", "http://h/robots.txt", status, (), body, body.decode(), None, error,
                           "", 0.0, (), datetime.now(UTC))

    agent = "govindex-crawler"
    parsed = policy_from("http://h", result(200, None, b"User-agent: govindex-crawler\nDisallow: /x\nCrawl-delay: 5\n"))
    assert not parsed.allowed("http://h/x/1", agent) and parsed.allowed("http://h/y", agent)
    assert parsed.delay(agent) == 5 and parsed.refusal("http://h/x", agent)[0] is ErrorKind.ROBOTS
    assert policy_from("http://h", result(404, ErrorKind.HTTP_4XX)).allowed("http://h/x", agent)
    assert policy_from("http://h", result(302, ErrorKind.REDIRECT_LOOP)).allowed("http://h/x", agent)
    for status, error in ((429, ErrorKind.HTTP_4XX), (500, ErrorKind.HTTP_5XX), (None, ErrorKind.TIMEOUT)):
        assert not policy_from("http://h", result(status, error)).allowed("http://h/", agent)
    assert policy_from("http://h", result(None, ErrorKind.DNS)).refusal("http://h/", agent)[0] is ErrorKind.DNS


def test_the_network_is_a_swappable_transport(tmp_path: Path) -> None:
    import httpx

    pages = {"/": html("首页", "/a.html"), "/a.html": html("A"), "/robots.txt": ""}

    def handler(request: httpx.Request) -> httpx.Response:
        body = pages.get(request.url.path)
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, headers={"Content-Type": "text/html; charset=gbk"}, content=body.encode("gbk"))

    # an IP literal needs no DNS; the guard still checks it (loopback allowed here)
    summary = run([Channel(unit="A1", kind="portal", url="http://127.0.0.9/", name="")], tmp_path,
                  transport=httpx.MockTransport(handler))
    assert summary.pages == 2 and summary.by_status == {200: 2}
    assert sorted(index(tmp_path)["charset"].to_list()) == ["gb18030", "gb18030"]
