"""Shared tools of the site builders: article and column URLs, dates, pagination, simple pages."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from govindex.synth.web.html import Ctx, a, esc, paragraphs, rng_for, ul
from govindex.synth.web.model import Page, Site, Unit, abs_url

PER_PAGE = 15


class Builder:
    """Builds the pages of one site of one unit; ``rng`` is seeded by (seed, unit, site kind)."""

    def __init__(self, seed: int, unit: Unit, site: Site, base: str = ""):
        self.unit, self.site, self.base = unit, site, base
        self.f = unit.features
        self.rng = random.Random(f"{seed}:build:{unit.code}:{site.kind}:{base}")
        self.next_id = self.rng.randrange(100_000, 900_000)
        self.next_col = self.rng.randrange(1000, 9000)

    def has(self, feature: str) -> bool:
        return feature in self.f

    def abs(self, path: str) -> str:
        """``path`` on this site as an absolute URL (port left as ``{port}``), for other sites' links."""
        return abs_url(self.site.host, path)

    # ------------------------------------------------------------------ URLs
    def col_id(self) -> int:
        self.next_col += self.rng.randrange(1, 40)
        return self.next_col

    def column_url(self, path: str, colid: int, page_no: int = 0) -> str:
        """A column (list) page: TRS ``/path/index_1.html``, Hanweb ``/col/col123/index_1.html``."""
        suffix = "index.html" if page_no == 0 else f"index_{page_no}.html"
        if self.site.style == "trs" or path.startswith(("/qzqd/", "/hdjl/")):
            return f"{self.base}{path}{suffix}"
        prefix = "/xxgk" if path.startswith("/xxgk/") else ""
        return f"{self.base}{prefix}/col/col{colid}/{suffix}"

    def article_url(self, path: str, colid: int, day: str) -> str:
        """A detail page: TRS ``/path/201812/t20181203_123456.html``, Hanweb ``/art/2018/12/3/art_123_456.html``."""
        self.next_id += self.rng.randrange(1, 300)
        y, m, d = day.split("-")
        if self.site.style == "trs":
            return f"{self.base}{path}{y}{m}/t{y}{m}{d}_{self.next_id}.html"
        prefix = "/xxgk" if path.startswith("/xxgk/") else ""
        return f"{self.base}{prefix}/art/{y}/{int(m)}/{int(d)}/art_{colid}_{self.next_id}.html"

    # ------------------------------------------------------------------ dates
    def day(self, start: str, end: str) -> str:
        a_, b_ = date.fromisoformat(start), date.fromisoformat(end)
        return (a_ + timedelta(days=self.rng.randrange((b_ - a_).days + 1))).isoformat()

    def days(self, n: int, start: str, end: str) -> list[str]:
        return sorted((self.day(start, end) for _ in range(n)), reverse=True)

    # ------------------------------------------------------------------ pages
    def page(self, path: str, title: str, marks: set[str] | frozenset[str], render: Callable[..., str],
             *args, **kw) -> Page:
        return self.site.add(Page(path, title, frozenset(marks), render, args, **kw))

    def listing(self, path: str, colid: int, name: str, items: list[tuple[str, str, str]],
                marks: set[str] | frozenset[str] = frozenset(), parents: tuple[str, ...] = (),
                side: str = "") -> list[str]:
        """A paginated column of (title, url, date) links; the first page links every other page,
        so every item is at most two clicks below the column. Returns the page URLs."""
        pages = [items[i: i + PER_PAGE] for i in range(0, len(items), PER_PAGE)] or [[]]
        urls = [self.column_url(path, colid, k) for k in range(len(pages))]
        for k, chunk in enumerate(pages):
            label = name if k == 0 else f"{name}（第{k + 1}页）"
            self.page(urls[k], self.site.title(label, *parents), marks, render_listing,
                      name, chunk, urls, k, side, column=name)
        return urls


def render_listing(ctx: Ctx, site: Site, page: Page, name: str, chunk: list, urls: list[str], k: int,
                   side: str) -> str:
    rows = [f'{a(u, t)}<span class="date">{d}</span>' for t, u, d in chunk]
    pager = ""
    if len(urls) > 1:
        nums = " ".join(a(u, str(i + 1)) for i, u in enumerate(urls) if i != k)
        nxt = a(urls[k + 1], "下一页") if k + 1 < len(urls) else ""
        pager = f'<div class="pager">共{len(urls)}页 {nums} {nxt}</div>'
    return f'{side}<h2>{esc(name)}</h2>{ul(rows) if rows else "<p>暂无信息</p>"}{pager}'


def render_text(ctx: Ctx, site: Site, page: Page, heading: str, lead: str, extra: str = "") -> str:
    """A plain page: a heading, a lead sentence, filler, and ``extra`` HTML."""
    rng = rng_for(ctx, site, page)
    return f"<h1>{esc(heading)}</h1>{paragraphs(rng, lead, 2)}{extra}"


def render_links(ctx: Ctx, site: Site, page: Page, heading: str, links: list[tuple[str, str]],
                 extra: str = "") -> str:
    """A page of links: (href, text); an href starting with ``//`` is made absolute by the caller."""
    return f"<h1>{esc(heading)}</h1>{ul([a(h, t) for h, t in links])}{extra}"


def render_file(ctx: Ctx, site: Site, page: Page, what: str) -> str:
    return f"{what} — {site.name}\n(synthetic file {page.path})\n"
