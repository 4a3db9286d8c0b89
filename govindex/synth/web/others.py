"""The other sites of a unit (open-data portal, mobile site), and what is planted on its portal:
traps, pages cleaning must drop, a robots.txt-disallowed section."""

from __future__ import annotations

from govindex.synth.web import vocab as V
from govindex.synth.web.build import Builder, render_links, render_text
from govindex.synth.web.html import Ctx, a, esc, paragraphs, rng_for, ul
from govindex.synth.web.model import Chrome, Page, Site, abs_url

# kind, link text, path (on the portal), what a crawler must do
TRAPS = {
    "calendar": ("活动日历", "/calendar?date=2019-01-20", "every day links to the next one, forever: stop at the page cap"),
    "redirect_loop": ("专题专栏", "/redirect/a.html", "302 to /redirect/b.html and back: stop at the hop limit"),
    "redirect_private": ("政务云平台", "/go?url=http://169.254.169.254/latest/meta-data/",
                         "302 to the metadata address: refuse the hop"),
    "private_links": ("内部办公", "http://10.0.0.1/oa/", "links to 10.0.0.1, 192.168.1.1, 169.254.169.254: never fetch"),
    "slow": ("历史档案", "/slow/archive.html", "headers only after the server's slow delay: time out"),
    "drip": ("统计数据", "/slow/drip.html", "one byte a second: the total deadline ends it"),
    "oversized": ("统计年鉴全文", "/big/yearbook.html", "a huge declared Content-Length: stop at the byte cap"),
    "endless": ("视频专区", "/big/stream.html", "chunked, no length, huge: stop at the byte cap"),
    "gzip_bomb": ("图片新闻", "/big/bomb.html", "small gzip body that inflates hugely: cap after decompression"),
    "broken": ("往期专题", "/old/zt2015.html", "404 (and /error/db.html: 500)"),
    "flaky": ("最新动态", "/flaky/news.html", "503 with Retry-After: 1 on the first request, then 200"),
}
TRAP_RATES = {"calendar": 0.35, "redirect_loop": 0.3, "redirect_private": 0.2, "private_links": 0.4, "slow": 0.05,
              "drip": 0.04, "oversized": 0.08, "endless": 0.05, "gzip_bomb": 0.06, "broken": 0.6, "flaky": 0.15}
PRIVATE_LINKS = [("http://10.0.0.1/oa/", "内部办公"), ("http://192.168.1.1/", "内网门户"),
                 ("http://169.254.169.254/latest/meta-data/", "云管理平台")]
ROBOTS = {
    "open": "User-agent: *\nDisallow:\n",
    "private": "User-agent: *\nDisallow: /private/\n",
    "calendar": "User-agent: *\nDisallow: /calendar\nDisallow: /private/\n",
    "badbot": "User-agent: BadSpider\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n",
}


def trap_links(traps: list[str]) -> list[tuple[str, str]]:
    out = []
    for t in traps:
        text, path, _ = TRAPS[t]
        if t == "private_links":
            out += [(u, x) for u, x in PRIVATE_LINKS]
        else:
            out.append((path, text))
        if t == "broken":
            out.append(("/error/db.html", "数据查询"))
    return out


def robots_for(b: Builder, traps: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """A portal's robots.txt and the prefixes it disallows to every crawler."""
    r = b.rng.random()
    if r < 0.1:
        return None, ()
    if "calendar" in traps and r < 0.5:
        return ROBOTS["calendar"], ("/calendar", "/private/")
    if r < 0.35:
        return ROBOTS["open"], ()
    return (ROBOTS["badbot"] if r < 0.55 else ROBOTS["private"]), ("/private/",)


# ---------------------------------------------------------------------------- planted pages
def plant_junk(b: Builder) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, list[str]]]:
    """Ads, harmful and non-government pages; return (visible links, hidden links, paths by reason)."""
    visible, hidden = [], []
    planted: dict[str, list[str]] = {"harmful": [], "ads": [], "non_government": []}
    if b.rng.random() < 0.2:
        for i, t in enumerate(b.rng.sample(V.HARMFUL_TITLES, b.rng.randrange(1, 3))):
            p = f"/uploads/2018/{b.rng.randrange(10**5, 10**6)}.html"
            b.page(p, t, set(), _render_junk, t, "点击进入", chrome=False, junk="harmful")
            hidden.append((p, f"link{i}"))
            planted["harmful"].append(p)
    if b.rng.random() < 0.35:
        for i, t in enumerate(b.rng.sample(V.AD_TITLES, b.rng.randrange(1, 4))):
            p = f"/adv/{i + 1}.html"
            b.page(p, t, set(), _render_junk, t, "广告投放热线：400-000-0000", chrome=False, junk="ads")
            visible.append((p, "推广"))
            planted["ads"].append(p)
    if b.rng.random() < 0.45:
        for t in b.rng.sample(V.FORUM_TITLES, b.rng.randrange(1, 3)):
            p = f"/bbs/thread-{b.rng.randrange(1000, 9999)}-1-1.html"
            b.page(p, f"{t}_{b.unit.short}论坛", set(), _render_junk, t, "回复 楼主", chrome=False, junk="non_government")
            visible.append((p, "市民论坛"))
            planted["non_government"].append(p)
        for i, t in enumerate(b.rng.sample(V.SHOP_TITLES, b.rng.randrange(0, 2))):
            p = f"/mall/goods-{i + 1}.html"
            b.page(p, f"{t}_{b.unit.short}特产商城", set(), _render_junk, t, "立即购买", chrome=False,
                   junk="non_government")
            visible.append((p, "特产商城"))
            planted["non_government"].append(p)
    return visible, hidden, planted


def plan_duplicates(b: Builder) -> int:
    """How many news articles the portal publishes twice (0 for half of the units)."""
    return 0 if b.rng.random() >= 0.5 else b.rng.randrange(1, 4)


def plant_duplicates(b: Builder, n: int) -> list[str]:
    """The same news article published a second time in 工作动态: identical bytes, another URL."""
    if not n:
        return []
    news = [p for p in b.site.pages.values() if p.column == "新闻中心" and p.article]
    copies = []
    for orig in b.rng.sample(news, min(len(news), n)):
        path = orig.path.replace("/xwzx/", "/zwgk/gzdt/") if "/xwzx/" in orig.path else \
            orig.path.replace("/art_", "/art_9").replace(".html", "9.html")
        b.site.add(Page(path, orig.title, orig.marks, orig.render, orig.args, orig.column, orig.article,
                        orig.pubdate, orig.chrome, orig.key, "duplicate"))
        copies.append(path)
    b.page("/zwgk/gzdt/index.html", b.site.title("工作动态"), set(), render_links, "工作动态",
           [(p, b.site.pages[p].title.split(b.site.sep)[0]) for p in copies])
    return copies


def build_private(b: Builder) -> None:
    links = []
    for i, t in enumerate(["内部通讯录", "值班安排", "会议纪要"]):
        b.page(f"/private/{i + 1}.html", b.site.title(t, "内部资料"), set(), render_text, t, f"{t}（内部）。")
        links.append((f"/private/{i + 1}.html", t))
    b.page("/private/index.html", b.site.title("内部资料"), set(), render_links, "内部资料", links)


def _render_junk(ctx: Ctx, site: Site, page: Page, title: str, line: str) -> str:
    return f"<h1>{esc(title)}</h1><p>{esc(line)}</p><p>{esc(site.name)} {page.path}</p>"


# ---------------------------------------------------------------------------- open data
def build_opendata(b: Builder) -> None:
    site = b.site
    site.chrome = Chrome(_od_header, _od_footer, frozenset())
    links = [("/dataset/index.html", "数据目录")]
    if b.has("opendata_dataset"):
        rows, first = [], True
        for dom in b.rng.sample(V.OPENDATA_DOMAINS, b.rng.randrange(2, len(V.OPENDATA_DOMAINS) + 1)):
            for ds in V.DATASETS[dom][: b.rng.randrange(1, 3)]:
                rows.append(_dataset(b, dom, ds, first))
                first = False
        b.page("/dataset/index.html", site.title("数据目录"), set(), render_links, "数据目录", rows)
    else:
        b.page("/dataset/index.html", site.title("数据目录"), set(), render_text, "数据目录", "数据整理中。")
    if b.has("opendata_api"):
        apis = []
        for i, ds in enumerate(b.rng.sample([d for v in V.DATASETS.values() for d in v], b.rng.randrange(1, 6))):
            b.page(f"/api/{i + 1}.html", site.title(f"{ds}数据接口", "接口服务"), {"opendata_api"}, render_text,
                   f"{ds}数据接口", "调用方式：HTTP GET，返回JSON。")
            apis.append((f"/api/{i + 1}.html", ds))
        b.page("/api/index.html", site.title("接口服务"), set(), render_links, "接口服务", apis)
        links.append(("/api/index.html", "接口服务"))
    if b.has("opendata_app"):
        apps = []
        for i, app in enumerate(b.rng.sample(V.DATA_APPS, b.rng.randrange(1, len(V.DATA_APPS) + 1))):
            b.page(f"/apps/{i + 1}.html", site.title(app, "应用成果"), {"opendata_app"}, render_text, app,
                   f"{app}利用开放数据开发。")
            apps.append((f"/apps/{i + 1}.html", app))
        b.page("/apps/index.html", site.title("应用成果"), {"opendata_app"}, render_links, "应用成果", apps)
        links.append(("/apps/index.html", "应用成果"))
    marks = set()
    if b.has("opendata_license"):
        b.page("/about/license.html", site.title("开放授权协议"), {"opendata_license"}, render_text, "开放授权协议",
               "用户可以免费获取和使用平台开放的数据。")
        links.append(("/about/license.html", "开放授权协议"))
        marks.add("opendata_license")
    b.page("/", site.name, marks, render_links, site.name, links)


def _dataset(b: Builder, dom: str, ds: str, first: bool) -> tuple[str, str]:
    formats = [(f, t) for f, t in [("format_csv", "CSV"), ("format_xlsx", "XLSX"), ("format_json", "JSON"),
                                   ("format_xml", "XML")] if b.has(f) and (first or b.rng.random() < 0.7)]
    download = b.has("opendata_download") and (first or b.rng.random() < 0.8)
    i = b.rng.randrange(10_000, 99_999)
    marks = {"opendata_dataset", *(f for f, _ in formats)} | ({"opendata_download"} if download else set())
    path = f"/dataset/{i}.html"
    if download:
        b.page(f"/files/{i}.csv", ds, set(), lambda c, s, p: "id,name\n1,sample\n", chrome=False,
               content_type="text/csv")
    b.page(path, b.site.title(ds, f"{dom}类"), marks, _render_dataset, ds, dom, [t for _, t in formats],
           f"/files/{i}.csv" if download else "")
    return path, ds


def _render_dataset(ctx: Ctx, site: Site, page: Page, ds: str, dom: str, formats, download: str) -> str:
    out = f"<h1>{esc(ds)}</h1><p>数据领域：{esc(dom)}</p>"
    out += f"<p>数据格式：{'、'.join(formats)}</p>" if formats else "<p>数据格式：暂无</p>"
    out += f"<p>{a(download, '数据下载')}</p>" if download else ""
    return out + paragraphs(rng_for(ctx, site, page), f"{ds}由相关部门提供，按月更新。", 1)


def _od_header(ctx: Ctx, site: Site) -> str:
    return f'<div class="top"><h2>{esc(site.name)}</h2>{a("/", "首页")} {a("/dataset/index.html", "数据目录")}</div>'


def _od_footer(ctx: Ctx, site: Site) -> str:
    return f'<div class="foot">主办：{esc(site.name)}</div>'


# ---------------------------------------------------------------------------- mobile
def build_mobile(b: Builder, portal: str, news: list[str]) -> None:
    site = b.site
    site.chrome = Chrome(_m_header, _m_footer, frozenset(), (portal,))
    links = []
    for i, t in enumerate(news):
        b.page(f"/m/news/{i + 1}.html", site.title(t), set(), render_text, t, t + "。")
        links.append((f"/m/news/{i + 1}.html", t))
    if b.has("tablet_layout"):
        b.page("/m/pad.html", site.title("平板首页"), set(), render_text, "平板首页", "欢迎访问。")
        links.append(("/m/pad.html", "平板首页"))
    b.page("/m/", site.name, set(), render_links, site.name, links)


def _m_header(ctx: Ctx, site: Site, portal: str) -> str:
    return f'<div class="top">{esc(site.name)} {a(portal, "电脑版")}</div>'


def _m_footer(ctx: Ctx, site: Site, portal: str) -> str:
    return '<div class="foot">' + ul([a("/m/", "首页")]) + "</div>"


__all__ = ["TRAPS", "abs_url", "build_mobile", "build_opendata", "build_private", "plan_duplicates",
           "plant_duplicates", "plant_junk", "robots_for", "trap_links"]
