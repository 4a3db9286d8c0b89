"""URL canonicalisation, scope and trap heuristics (govindex.collect.urls)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govindex.collect.links import extract_links, resolve
from govindex.collect.urls import Scope, canonicalize, in_scope, remove_dot_segments, shape, trap_reason


@pytest.mark.parametrize(("raw", "canonical"), [
    ("HTTP://Gov.CN:80/a/../b/./c?y=2&x=1&utm_source=z#top", "http://gov.cn/b/c?x=1&y=2"),
    ("https://www.gov.cn:443", "https://www.gov.cn/"),
    ("https://www.gov.cn:8443/x", "https://www.gov.cn:8443/x"),
    ("http://h/%7euser/%e4%b8%ad", "http://h/~user/%E4%B8%AD"),
    ("http://h/路径 x?q=中文", "http://h/%E8%B7%AF%E5%BE%84%20x?q=%E4%B8%AD%E6%96%87"),
    ("http://h/a%2fb", "http://h/a%2Fb"),
    ("http://h/100%", "http://h/100%25"),
    ("http://h/p?b=2&a=1&a=0&gclid=x&spm=a.b&UTM_medium=m", "http://h/p?a=0&a=1&b=2"),
    ("http://h/p?flag&x=", "http://h/p?flag&x="),
    ("http://user:pw@h/", "http://h/"),
    ("http://例子.中国/", "http://xn--fsqu00a.xn--fiqs8s/"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ("http://h.gov.cn./x", "http://h.gov.cn/x"),
    (" http://h/a\n/b ", "http://h/a/b"),
])
def test_canonicalize(raw: str, canonical: str) -> None:
    assert canonicalize(raw) == canonical


@pytest.mark.parametrize("raw", ["javascript:void(0)", "mailto:a@b.cn", "ftp://h/x", "http://", "tel:123",
                                 "http://h:99999/", "//"])
def test_not_crawlable(raw: str) -> None:
    assert canonicalize(raw) is None


def test_relative_links_resolve_against_the_base() -> None:
    assert canonicalize("../x?b=1#f", base="http://h/a/b/c.html") == "http://h/a/x?b=1"
    assert canonicalize("?page=2", base="http://h/list.html?page=1") == "http://h/list.html?page=2"
    assert canonicalize("//other.cn/p", base="https://h/") == "https://other.cn/p"


def test_remove_dot_segments() -> None:
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("/../../x") == "/x"
    assert remove_dot_segments("/a/b/..") == "/a/"


urls = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}?{query}",
    st.sampled_from(["http", "HTTPS", "Http"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}(:[0-9]{1,5})?", fullmatch=True),
    st.text(alphabet="abc/.%20中文-_~?#&=", max_size=30),
    st.text(alphabet="abc=&%2F+中", max_size=20),
)


@given(urls)
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize(url)
    if once is not None:
        assert canonicalize(once) == once


def test_scope() -> None:
    scope = Scope.of("http://www.yibin.gov.cn/", [".sc.gov.cn"])
    assert "http://WWW.yibin.gov.cn:8080/a" in scope
    assert "http://zwfw.sc.gov.cn/x" in scope and "http://sc.gov.cn/" in scope
    assert "http://yibin.gov.cn/" not in scope
    assert "http://evil.cn/?u=www.yibin.gov.cn" not in scope
    assert "http://other.cn/" in scope.with_host("other.cn")
    assert in_scope("http://h/x", "http://h/") and not in_scope("http://g/x", "http://h/", ["k"])


def test_shape_masks_digits_and_query_values() -> None:
    a = shape("http://h/cal/2019/03/05.html?view=day&x=1")
    assert a == shape("http://h/cal/2020/12/31.html?x=7&view=month")
    assert a != shape("http://h/cal/2019/03/05.html")
    assert shape("http://h/search?color=red&size=2") == shape("http://h/search?size=9&color=blue")


@pytest.mark.parametrize(("url", "reason"), [
    ("http://h/" + "a" * 2000, "long_url"),
    ("http://h/" + "/".join(f"s{i}" for i in range(20)), "deep_path"),
    ("http://h/a/b/a/b/a/b/", "repeated_segment"),
    ("http://h/p?" + "&".join(f"k{i}=1" for i in range(20)), "many_params"),
    ("http://h/art/2019/1/5/art_1229_3456.html", None),
])
def test_trap_reason(url: str, reason: str | None) -> None:
    assert trap_reason(url) == reason


def test_links_of_a_page() -> None:
    page = """<html><head><base href="http://h/base/"></head><body>
      <a href="a.html">a</a><a href="/b.html#x">b</a><a href="a.html">again</a>
      <a href="javascript:void(0)">js</a><a href="mailto:x@h">mail</a><a>none</a>
      <map><area href="area.html"></map><iframe src="/frame.html"></iframe>
      <a href="http://other.cn/?utm_source=x">other</a></body></html>"""
    assert extract_links(page, "http://h/dir/page.html") == [
        "http://h/base/a.html", "http://h/b.html", "http://h/base/area.html", "http://h/frame.html", "http://other.cn/"]
    frames = '<html><frameset><frame src="top.html"><frame src="main.html"></frameset></html>'
    assert extract_links(frames, "http://h/x/") == ["http://h/x/top.html", "http://h/x/main.html"]


bases = st.sampled_from(["http://h/", "http://h/a/b.html", "https://h:8443/a/b/?q=1", "http://h/a/b/c",
                         "http://h/%E4%B8%AD/x.html?p=2"])
hrefs = st.one_of(
    st.text(alphabet="ab/.?#=&%:中 ", max_size=16),
    st.sampled_from(["//o.cn/x", "/", "?page=3", "#top", "../up.html", "./here", "HTTP://O.CN/Y", "javascript:x()",
                     "mailto:a@b", "a/../../b", ""]),
)


@given(hrefs, bases)
def test_cached_resolution_equals_canonicalize(href: str, base: str) -> None:
    assert resolve(href, base) == canonicalize(href, base=base)
