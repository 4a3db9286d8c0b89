"""A declared charset the body does not fit gives way to detection (govindex.collect.charset), and
the markers of such a page are found after a crawl (govindex.collect.pipeline)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from govindex.check.run import load
from govindex.collect import charset
from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, crawl_sync
from govindex.collect.fetch import FetchConfig
from govindex.collect.pipeline import extract_round
from tests.conftest import ROOT
from tests.webservers import Page, Site, html

TITLE = "宜宾市政府信息公开目录"
PAGE = html(TITLE, body="领导信箱、办事服务、公共服务清单。" * 10)
# (declared in the header, charset the bytes are really in, meta charset written in the page)
CASES = {
    "utf8-header-gbk-body": ("utf-8", "gbk", None),
    "gbk-header-utf8-body": ("gbk", "utf-8", None),
    "gb2312-header-utf8-body": ("gb2312", "utf-8", None),
    "utf8-header-gbk-meta-gbk-body": ("utf-8", "gbk", "gbk"),
    "utf8-header-wrong-meta-gbk-body": ("utf-8", "gbk", "utf-8"),
    "gbk-meta-utf8-body": (None, "utf-8", "gbk"),
    "utf8-header-gb18030-body": ("utf-8", "gb18030", None),
}


def body(real: str, meta: str | None, page: str = PAGE) -> bytes:
    head = f'<meta charset="{meta}">' if meta else ""
    return page.replace("<head>", f"<head>{head}").encode(real)


@pytest.mark.parametrize("case", CASES)
def test_a_wrong_label_falls_back_to_detection(case: str) -> None:
    declared, real, meta = CASES[case]
    decoded = charset.decode(body(real, meta), f"text/html; charset={declared}" if declared else "text/html")
    assert TITLE in decoded.text
    assert decoded.charset == ("utf-8" if real == "utf-8" else "gb18030")


def test_a_right_label_is_believed() -> None:
    gbk = body("gbk", None)
    assert charset.decode(gbk, "text/html; charset=GBK") == charset.Decoded(gbk.decode("gb18030"), "gb18030", "header")
    assert charset.decode(body("utf-8", "utf-8"), "text/html").source == "meta"
    # a stray bad byte or a body cut mid-character does not discredit the label
    stray = gbk[:200] + b"\xff" + gbk[200:]
    assert charset.decode(stray, "text/html; charset=gbk").source == "header"
    cut = body("utf-8", None)[:-len("</body></html>")] + "。".encode()[:2]
    assert charset.decode(cut, "text/html; charset=utf-8").source == "header"
    # pure ASCII fits every label
    assert charset.decode(b"<title>x</title>", "text/html; charset=gbk") == charset.Decoded("<title>x</title>", "gb18030",
                                                                                             "header")


def test_short_chinese_text_without_a_label_is_gb18030_not_korean() -> None:
    for text in ("政府信息公开目录", "领导信箱"):
        assert charset.decode(text.encode("gbk")) == charset.Decoded(text, "gb18030", "detected")
    assert charset.decode("안녕하세요 세계".encode("cp949")).charset == "cp949"


def test_markers_of_mislabelled_pages_are_found(tmp_path: Path) -> None:
    links = "".join(f'<a href="/{c}.html">{c}</a>' for c in CASES)
    routes = {"/": Page(html("首页", body=links)), "/robots.txt": Page("", 404)}
    for case, (declared, real, meta) in CASES.items():
        ctype = f"text/html; charset={declared}" if declared else "text/html"
        page = html(TITLE, body=f"领导信箱、办事服务、公共服务清单。({case})" * 10)  # distinct: no dedupe
        routes[f"/{case}.html"] = Page(body(real, meta, page), headers={"Content-Type": ctype})
    config = CrawlConfig(delay=0, allow_loopback=True, fetch=FetchConfig(deadline=5, retries=0))
    with Site("127.0.0.4", routes) as site:
        crawl_sync([Channel(unit="510100", kind="portal", url=site.url("/"), name="")], 1, tmp_path, config)
    extract_round(load(ROOT / "rules/2019"), 1, tmp_path)
    pages = pl.read_parquet(tmp_path / "pages" / "round=1" / "part-0.parquet").filter(pl.col("depth") == 1)
    assert pages.height == len(CASES)
    assert pages["title"].to_list() == [TITLE] * len(CASES)
    assert all("xxgk_catalogue" in m for m in pages["markers"].to_list())
