"""One fetch against real loopback servers (govindex.collect.fetch, govindex.collect.charset)."""

from __future__ import annotations

import asyncio
import gzip
import re
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from govindex.collect import charset
from govindex.collect.errors import ErrorKind, FetchError
from govindex.collect.fetch import FetchConfig, Fetcher, FetchResult, Inflater, parse_retry_after
from govindex.collect.guard import AddressGuard
from govindex.collect.urls import Scope
from tests.webservers import Page, Site, html, slow_endless

TITLE = "宜宾市人民政府门户网站"
BODY = "政府信息公开目录、领导信箱、办事服务、公共服务清单、权力清单、责任清单。" * 20


def fetch_all(urls: list[str], config: FetchConfig | None = None, scope: Scope | None = None) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(config or FetchConfig(deadline=5, backoff=0.01), AddressGuard(allow_loopback=True)) as f:
            return [await f.fetch(u, scope) for u in urls]
    return asyncio.run(go())


def title(text: str | None) -> str:
    assert text is not None
    match = re.search(r"<title>(.*?)</title>", text)
    return match.group(1) if match else ""


def gbk_page(meta: str = "") -> bytes:
    return html(TITLE, body=BODY).replace("<head>", f"<head>{meta}").encode("gbk")


def test_charsets() -> None:
    routes = {
        "/gbk-header": Page(gbk_page(), headers={"Content-Type": "text/html; charset=GBK"}),
        "/gb2312-meta": Page(gbk_page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'),
                             headers={"Content-Type": "text/html"}),
        "/gbk-meta5": Page(gbk_page('<meta charset="gbk">'), headers={"Content-Type": "text/html"}),
        "/gbk-none": Page(gbk_page(), headers={"Content-Type": "text/html"}),
        "/utf8-none": Page(html(TITLE, body=BODY), headers={"Content-Type": "text/html"}),
        "/utf8-bom": Page(b"\xef\xbb\xbf" + html(TITLE).encode(), headers={"Content-Type": "text/html; charset=gbk"}),
        "/gb18030-only": Page(html("𠀀" + TITLE, body=BODY).encode("gb18030"),
                              headers={"Content-Type": "text/html; charset=gb2312"}),
    }
    with Site("127.0.0.1", routes) as site:
        results = fetch_all([site.url(p) for p in routes])
    got = {r.url.rsplit("/", 1)[1]: (title(r.text), r.charset) for r in results}
    assert got == {
        "gbk-header": (TITLE, "gb18030"), "gb2312-meta": (TITLE, "gb18030"), "gbk-meta5": (TITLE, "gb18030"),
        "gbk-none": (TITLE, "gb18030"), "utf8-none": (TITLE, "utf-8"), "utf8-bom": (TITLE, "utf-8"),
        "gb18030-only": ("𠀀" + TITLE, "gb18030")}


def test_decode_sources() -> None:
    assert charset.decode("中文".encode("gbk"), "text/html; charset=gb2312").source == "header"
    assert charset.decode(b'<meta charset="utf-8">\xe4\xb8\xad').source == "meta"
    assert charset.decode(b"\xef\xbb\xbfabc", "text/html; charset=gbk") == charset.Decoded("abc", "utf-8", "bom")
    assert charset.decode(b"abc", "text/html; charset=no-such-charset").charset == "utf-8"
    assert charset.normalise("GB_2312-80") == "gb18030" and charset.normalise("x") is None
    assert charset.is_text("application/xhtml+xml") and not charset.is_text("image/png")


def test_gzip_and_deflate_bodies() -> None:
    page = html(TITLE, body=BODY).encode("utf-8")
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    routes = {
        "/gz": Page(gzip.compress(page), headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}),
        "/zlib": Page(zlib.compress(page), headers={"Content-Type": "text/html", "Content-Encoding": "deflate"}),
        "/raw": Page(raw_deflate.compress(page) + raw_deflate.flush(),
                     headers={"Content-Type": "text/html", "Content-Encoding": "deflate"}),
        "/br": Page(b"???", headers={"Content-Type": "text/html", "Content-Encoding": "br"}),
        "/bad": Page(b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Type": "text/html",
                                                                 "Content-Encoding": "gzip"}),
    }
    with Site("127.0.0.1", routes) as site:
        gz, zl, raw, br, bad = fetch_all([site.url(p) for p in routes])
    assert gz.body == zl.body == raw.body == page and title(gz.text) == TITLE
    assert br.error is ErrorKind.DECODE and bad.error is ErrorKind.DECODE


def test_inflater_multi_member_and_cap() -> None:
    inflater = Inflater("gzip", 100)
    data = gzip.compress(b"a" * 40) + gzip.compress(b"b" * 40)
    for i in range(0, len(data), 7):
        inflater.feed(data[i : i + 7])
    assert inflater.finish() == b"a" * 40 + b"b" * 40
    with pytest.raises(FetchError) as err:
        Inflater("gzip", 1000).feed(gzip.compress(b"\0" * 100_000))
    assert err.value.kind is ErrorKind.TOO_LARGE


def test_byte_caps_hold_for_large_and_bomb_responses() -> None:
    bomb = gzip.compress(b"\0" * (50 * 2**20), 9)  # 50 MiB of zeros in ~50 KiB
    chunk = b"<p>" + b"x" * 65536 + b"</p>"

    def endless_chunks(handler) -> None:  # no Content-Length: the cap must hold on the stream
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(200):
                handler.wfile.write(chunk)
        except OSError:
            pass

    routes = {"/declared": Page(b"x" * (3 * 2**20)), "/streamed": endless_chunks,
              "/bomb": Page(bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})}
    config = FetchConfig(deadline=10, max_bytes=2**20, max_wire_bytes=2**20)
    with Site("127.0.0.1", routes) as site:
        start = time.monotonic()
        results = fetch_all([site.url(p) for p in routes], config)
    assert [r.error for r in results] == [ErrorKind.TOO_LARGE] * 3
    assert all(r.body == b"" for r in results) and time.monotonic() - start < 5
    assert len(bomb) < config.max_wire_bytes  # the bomb passed the wire cap and hit the decoded one


def test_slow_endless_response_hits_the_deadline() -> None:
    with Site("127.0.0.1", {"/slow": slow_endless}) as site:
        start = time.monotonic()
        (result,) = fetch_all([site.url("/slow")], FetchConfig(deadline=1.0, retries=2, backoff=0.01))
        spent = time.monotonic() - start
    assert result.error is ErrorKind.TIMEOUT and 0.9 < spent < 3
    assert result.attempts == 1  # a timeout is not retried: the deadline bounds the fetch


def test_retry_after_on_503_then_success() -> None:
    state = {"n": 0}

    def flaky(handler) -> None:
        state["n"] += 1
        page = Page(html("ok")) if state["n"] > 1 else Page("busy", 503, {"Retry-After": "1", "Content-Type": "text/plain"})
        body = page.raw()
        handler.send_response(page.status)
        for k, v in page.headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with Site("127.0.0.1", {"/": flaky}) as site:
        start = time.monotonic()
        (result,) = fetch_all([site.url("/")], FetchConfig(deadline=5, retries=2, backoff=0.01))
        spent = time.monotonic() - start
    assert result.ok and result.status == 200 and result.attempts == 2 and site.hits["/"] == 2
    assert spent >= 0.95  # Retry-After: 1 was honoured, not the 10 ms backoff


def test_5xx_and_429_are_retried_then_reported() -> None:
    routes = {"/500": Page("err", 500), "/429": Page("slow down", 429), "/404": Page("nope", 404)}
    with Site("127.0.0.1", routes) as site:
        r500, r429, r404 = fetch_all([site.url(p) for p in routes], FetchConfig(retries=2, backoff=0.01))
        assert (site.hits["/500"], site.hits["/429"], site.hits["/404"]) == (3, 3, 1)
    assert (r500.error, r500.status, r500.body) == (ErrorKind.HTTP_5XX, 500, b"err")
    assert (r429.error, r404.error) == (ErrorKind.HTTP_4XX, ErrorKind.HTTP_4XX)


def test_connect_error_is_retried() -> None:
    site = Site("127.0.0.1")  # bound, never started: the port refuses... once closed
    url = site.url("/")
    site.server.server_close()
    (result,) = fetch_all([url], FetchConfig(retries=1, backoff=0.01))
    assert result.error is ErrorKind.CONNECT and result.attempts == 2


def test_parse_retry_after() -> None:
    now = datetime(2019, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_redirects_hop_by_hop() -> None:
    routes = {"/a": Page(status=301, headers={"Location": "/b"}), "/b": Page(status=302, headers={"Location": "/c?x=1#f"}),
              "/c?x=1": Page(html("C")),
              "/loop1": Page(status=302, headers={"Location": "/loop2"}),
              "/loop2": Page(status=302, headers={"Location": "/loop1"}),
              "/mail": Page(status=302, headers={"Location": "mailto:x@y.cn"})}
    for i in range(12):
        routes[f"/chain{i}"] = Page(status=307, headers={"Location": f"/chain{i + 1}"})
    with Site("127.0.0.1", routes) as site, Site("127.0.0.2", {"/": Page(html("other"))}) as other:
        routes["/away"] = Page(status=302, headers={"Location": other.url("/")})
        ok, loop, chain, mail, away, away_free = fetch_all(
            [site.url(p) for p in ("/a", "/loop1", "/chain0", "/mail", "/away")] + [site.url("/away")],
            FetchConfig(max_hops=5), None)
        scoped = fetch_all([site.url("/away")], FetchConfig(), Scope.of(site.url("/")))[0]
    assert ok.ok and ok.final_url == site.url("/c?x=1") and [h.status for h in ok.hops] == [301, 302]
    assert loop.error is ErrorKind.REDIRECT_LOOP and len(loop.hops) == 2
    assert chain.error is ErrorKind.TOO_MANY_REDIRECTS and len(chain.hops) == 6
    assert mail.error is ErrorKind.BAD_SCHEME
    assert away.ok and away.final_url == other.url("/")
    assert scoped.error is ErrorKind.OUT_OF_SCOPE and other.hits["/"] == 2  # the scoped fetch never went there
