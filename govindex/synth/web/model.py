"""The synthetic web as data: units, their sites, and the pages of each site.

Pages are kept as specifications — a title, the markers the page is built to show, and a render
function with its arguments — and rendered to HTML only when served, so a web of 334 units
(≈ 90,000 pages) fits in a few tens of megabytes. Everything is deterministic for a seed.

Addresses. Every site has its own loopback address, so that a crawler sees one host per site
without /etc/hosts or DNS: ``127.K.A.B`` where K is the site kind (1 portal, 2 service
platform, 3 open-data portal, 4 mobile site) and A.B number the unit (its row in the units
registry). All sites listen on one port; the hub (channels, ground truth and the JSON APIs for
posts, search results and apps) is on the address ``serve`` is given, 127.0.0.1 by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KIND_OCTET = {"portal": 1, "service": 2, "opendata": 3, "mobile": 4}
TODAY = "2019-01-20"  # the synthetic web is as of the end of the 2019 collection


PORT = "{port}"  # stands for the port in URLs until a server binds one


def abs_url(host: str, path: str = "/") -> str:
    """An absolute URL on ``host`` with the port left as ``{port}``."""
    return f"http://{host}:{PORT}{path}"


def with_port(text: str, port: int | None) -> str:
    """``text`` with every ``:{port}/`` of a URL filled in (unchanged when ``port`` is None)."""
    return text if port is None else text.replace(f":{PORT}/", f":{port}/")


def site_address(kind: str, index: int) -> str:
    """The loopback address of the ``kind`` site of the unit at registry row ``index``."""
    n = index + 1
    return f"127.{KIND_OCTET[kind]}.{n // 250}.{n % 250 + 1}"


@dataclass(slots=True)
class Page:
    """One HTML page (or file) of a site, built to show exactly ``marks`` (plus its site's chrome)."""

    path: str
    title: str
    marks: frozenset[str]
    render: Callable[..., str]
    args: tuple = ()
    column: str = ""          # <meta name="ColumnName">
    article: bool = False     # a detail page: <meta name="ArticleTitle">
    pubdate: str = ""
    chrome: bool = True       # the site's header and footer around the body
    key: str = ""             # seeds cosmetic text; a duplicate shares its original's
    junk: str = ""            # harmful | ads | non_government | duplicate: planted for cleaning
    disallowed: bool = False  # under a robots.txt Disallow of its site
    content_type: str = "text/html"

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.path


@dataclass(slots=True)
class Chrome:
    """The header and footer every page of a site shares, and the markers they show."""

    header: Callable[..., str]
    footer: Callable[..., str]
    marks: frozenset[str]
    args: tuple = ()


@dataclass(slots=True)
class Site:
    unit: str
    kind: str                 # portal | service | opendata | mobile
    host: str
    name: str                 # 成都市人民政府
    root: str                 # the start URL's path: "/" or "/m/"
    charset: str              # utf-8 | gbk (the bytes)
    label: str                # the label as declared: utf-8, UTF-8, gbk, GBK, gb2312
    declared: str             # header | meta | both
    gzip: bool                # compresses responses for clients that accept gzip
    style: str                # trs | hanweb (URL scheme of articles and columns)
    meta: bool                # writes the 《政府网站发展指引》 meta tags (ColumnName, ArticleTitle …)
    responsive: bool
    sep: str                  # title separator: "_" " - " "|"
    chrome: Chrome | None = None
    pages: dict[str, Page] = field(default_factory=dict)
    robots: str | None = None  # robots.txt body; None: 404
    disallow: tuple[str, ...] = ()
    traps: list[dict] = field(default_factory=list)

    def title(self, *parts: str) -> str:
        """``文章标题_栏目名_网站名`` with this site's separator."""
        return self.sep.join([*parts, self.name])

    def add(self, page: Page) -> Page:
        if page.path in self.pages:
            raise ValueError(f"{self.host}: page {page.path} built twice")
        page.disallowed = any(page.path.startswith(p) for p in self.disallow)
        self.pages[page.path] = page
        return page

    def expected(self, page: Page) -> frozenset[str]:
        """The markers extraction must set on ``page`` (its own, its chrome's, the viewport's)."""
        marks = page.marks
        if page.chrome and self.chrome is not None:
            marks = marks | self.chrome.marks
        if self.responsive and self.kind != "mobile" and page.content_type == "text/html":
            marks = marks | {"responsive_layout"}
        return marks


@dataclass(slots=True)
class Letter:
    """A letter to the mayor's mailbox (or a consultation, complaint, 12345 ticket)."""

    channel: str              # mailbox | consult | complaint | hotline
    title: str
    category: str
    submitted: str            # YYYY-MM-DD
    replied: str | None
    reply_unit: str
    public: bool              # the reply is published on a detail page
    listing: str = ""         # path of the listing page that shows it
    detail: str | None = None


@dataclass(slots=True)
class Unit:
    code: str
    name: str
    province: str
    region: str
    index: int
    capability: float
    features: frozenset[str]
    sites: dict[str, Site] = field(default_factory=dict)
    letters: list[Letter] = field(default_factory=list)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # weibo | wechat | douyin
    apps: list[dict[str, Any]] = field(default_factory=list)
    traps: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        from govindex.synth.web.vocab import short_name
        return short_name(self.name)
