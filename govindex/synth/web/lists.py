"""The 政务公开 lists of a portal: 政府信息公开目录, 责任清单, 权力清单, 公共服务事项清单.

Each list is a column page with its items as detail pages (articles) whose labelled fields are
what markers read (索引号：, 责任主体：, 实施主体：, 服务对象： …). A field a unit's feature set lacks
never appears; a field it has appears on the first item and on most others.
"""

from __future__ import annotations

from govindex.synth.web import vocab as V
from govindex.synth.web.build import Builder, render_text
from govindex.synth.web.html import Ctx, a, esc, fields, paragraphs, rng_for, ul
from govindex.synth.web.model import Page, Site

XXGK_SIDE = [("xxgk_by_topic", "按主题分类", "zt"), ("xxgk_by_org", "按机构分类", "jg"),
             ("xxgk_by_genre", "按体裁分类", "tc"), ("xxgk_by_audience", "按服务对象分类", "fwdx")]
ZRQD_FIELDS = [("zrqd_main_duty", "主要职责"), ("zrqd_matter", "责任事项"), ("zrqd_basis", "职责依据"),
               ("zrqd_supervision", "事中事后监管制度"), ("zrqd_public_service", "公共服务事项"),
               ("zrqd_coordination", "职责边界")]


def _share(b: Builder, first: bool, p: float = 0.8) -> bool:
    return first or b.rng.random() < p


def build_xxgk(b: Builder) -> str:
    """政府信息公开目录 at /xxgk/: catalogue, classification pages, category lists, items."""
    side = [(f, text, f"/xxgk/fl_{slug}.html") for f, text, slug in XXGK_SIDE if b.has(f)]
    side_marks = {"xxgk_catalogue"} | {f for f, _, _ in side}
    cats = b.rng.sample(V.XXGK_CATEGORIES, b.rng.randrange(3, len(V.XXGK_CATEGORIES) + 1))
    cat_links = []
    n_items = int(8 + 40 * b.rng.random() * (1 + max(0.0, b.unit.capability)))
    first = True
    for slug, cat in cats:
        colid = b.col_id()
        items = []
        for _ in range(max(1, n_items // len(cats))) if b.has("xxgk_item") else ():
            items.append(_xxgk_item(b, slug, colid, cat, first))
            first = False
        urls = b.listing(f"/xxgk/{slug}/", colid, cat, items, side_marks, ("政府信息公开目录",),
                         side=_side_html(side))
        cat_links.append((urls[0], cat))
    for _, text, path in side:
        b.page(path, b.site.title(text, "政府信息公开目录"), side_marks, _render_catalogue, text, side, cat_links)
    b.page("/xxgk/index.html", b.site.title("政府信息公开目录"), side_marks, _render_catalogue,
           "政府信息公开目录", side, cat_links, column="政府信息公开目录")
    return "/xxgk/index.html"


def _xxgk_item(b: Builder, slug: str, colid: int, cat: str, first: bool) -> tuple[str, str, str]:
    show = {f: b.has(f) and _share(b, first) for f in ("xxgk_index_code", "xxgk_issue_date", "xxgk_issuer")}
    recent = show["xxgk_issue_date"] and b.has("xxgk_recent_item") and _share(b, first, 0.3)
    day = b.day("2018-12-01", "2019-01-15") if recent else b.day("2016-01-01", "2018-10-31")
    doc = b.rng.choice(V.XXGK_DOCS).format(y=day[:4], n=b.rng.randrange(2, 9))
    url = b.article_url(f"/xxgk/{slug}/", colid, day)
    pairs = []
    if show["xxgk_index_code"]:
        pairs.append(("索引号", f"{b.unit.code}00-{day[:4]}-{b.rng.randrange(1, 999):05d}"))
    pairs.append(("主题分类", cat))
    if show["xxgk_issuer"]:
        pairs.append(("发布机构", f"{b.site.name}办公室"))
    if show["xxgk_issue_date"]:
        pairs.append(("成文日期", day))
    pairs.append(("发布日期", day))
    marks = {"xxgk_catalogue", "xxgk_item"} | {f for f, on in show.items() if on}
    marks |= {"xxgk_recent_item"} if recent else set()
    b.page(url, b.site.title(doc, cat), marks, _render_xxgk_item, doc, pairs, column=cat, article=True, pubdate=day)
    return doc, url, day


def _side_html(side) -> str:
    if not side:
        return ""
    return '<div class="side">' + " ".join(a(p, t) for _, t, p in side) + "</div>"


def _render_catalogue(ctx: Ctx, site: Site, page: Page, heading: str, side, cat_links) -> str:
    return (_side_html(side) + f"<h1>{esc(heading)}</h1>"
            + ul([a(u, t) for u, t in cat_links]) + "<p>本目录收录本级政府及部门主动公开的政府信息。</p>")


def _render_xxgk_item(ctx: Ctx, site: Site, page: Page, doc: str, pairs) -> str:
    rng = rng_for(ctx, site, page)
    crumb = '<div class="crumb">当前位置：' + a("/xxgk/index.html", "政府信息公开目录") + "</div>"
    return crumb + fields(pairs) + f"<h1>{esc(doc)}</h1>" + paragraphs(rng, doc + "。", 3)


# ---------------------------------------------------------------------------- 责任清单
def build_zrqd(b: Builder) -> str:
    prefix = V.unit_kind(b.unit.name)
    depts = b.rng.sample(V.DEPARTMENTS, b.rng.randrange(3, 9))
    first, links = True, []
    for i, dept in enumerate(depts):
        dname = prefix + dept
        parent = f"{dname}责任清单" if b.has("zrqd_dept") else "责任清单"
        colid = b.col_id()
        items = []
        for _ in range(b.rng.randrange(1, 6)) if b.has("zrqd_item") else ():
            items.append(_zrqd_item(b, f"/qzqd/zrqd/{i + 1}/", colid, dname, parent, first))
            first = False
        if b.has("zrqd_dept"):
            url = f"/qzqd/zrqd/{i + 1}/index.html"
            b.page(url, b.site.title(parent, "责任清单"), {"zrqd_list", "zrqd_dept"}, _render_list,
                   parent, [(u, t) for t, u, _ in items], column="责任清单")
            links.append((url, parent))
        else:
            links += [(u, t) for t, u, _ in items]
    extra = []
    if b.has("zrqd_query"):
        b.page("/qzqd/zrqd/cx.html", b.site.title("责任清单查询"), {"zrqd_list", "zrqd_query"}, render_text,
               "责任清单查询", "输入部门或事项名称查询。")
        extra.append(("/qzqd/zrqd/cx.html", "责任清单查询"))
    marks = {"zrqd_list"} | ({"zrqd_query"} if b.has("zrqd_query") else set())
    b.page("/qzqd/zrqd/index.html", b.site.title("责任清单"), marks, _render_list, "责任清单", links + extra,
           column="责任清单")
    return "/qzqd/zrqd/index.html"


def _zrqd_item(b: Builder, path: str, colid: int, dname: str, parent: str, first: bool) -> tuple[str, str, str]:
    day = b.day("2017-03-01", "2018-12-20")
    matter = b.rng.choice(V.DUTY_MATTERS)
    got = [(f, label) for f, label in ZRQD_FIELDS if b.has(f) and _share(b, first)]
    pairs = [("责任主体", dname)] + [(label, f"{matter}（{label}）") for _, label in got]
    url = b.article_url(path, colid, day)
    b.page(url, b.site.title(matter, parent), {"zrqd_list", "zrqd_item", *(f for f, _ in got)}, _render_item,
           matter, pairs, [], column=parent, article=True, pubdate=day)
    return matter, url, day


# ---------------------------------------------------------------------------- 权力清单
def build_qlqd(b: Builder, online: list[str]) -> str:
    cats = b.rng.sample(V.POWER_CATEGORIES, b.rng.randrange(2, len(V.POWER_CATEGORIES) + 1))
    first, links = True, []
    for i, cat in enumerate(cats):
        colid = b.col_id()
        items = []
        for _ in range(b.rng.randrange(1, 7)) if b.has("qlqd_item") else ():
            items.append(_qlqd_item(b, f"/qzqd/qlqd/{i + 1}/", colid, cat, first, online))
            first = False
        url = f"/qzqd/qlqd/{i + 1}/index.html"
        b.page(url, b.site.title(cat, "权力清单"), {"qlqd_list"}, _render_list, cat, [(u, t) for t, u, _ in items],
               column="权力清单")
        links.append((url, cat))
    b.page("/qzqd/qlqd/index.html", b.site.title("权力清单"), {"qlqd_list"}, _render_list, "权力清单", links,
           column="权力清单")
    return "/qzqd/qlqd/index.html"


def _qlqd_item(b: Builder, path: str, colid: int, cat: str, first: bool, online: list[str]) -> tuple[str, str, str]:
    day = b.day("2017-03-01", "2018-12-20")
    matter = b.rng.choice(V.POWER_MATTERS)
    marks = {"qlqd_list", "qlqd_item"}
    pairs = [("实施主体", b.rng.choice(V.REPLY_UNITS)), ("权力类别", cat)]
    if b.has("qlqd_basis") and _share(b, first):
        pairs.append(("设定依据", "《中华人民共和国行政许可法》等"))
        marks.add("qlqd_basis")
    links = []
    url = b.article_url(path, colid, day)
    if b.has("qlqd_flowchart") and _share(b, first, 0.6):
        chart = url.replace(".html", "_lct.html")
        b.page(chart, b.site.title(f"{matter}运行流程图", "权力清单"), {"qlqd_list"}, render_text,
               f"{matter}运行流程图", "受理、审查、决定、送达。")
        links.append((chart, "查看流程图"))
        marks.add("qlqd_flowchart")
    if online and _share(b, first, 0.5):
        links.append((b.rng.choice(online), "在线办理"))
        marks.add("svc_online_entry")
    b.page(url, b.site.title(f"{cat}：{matter}", "权力清单"), marks, _render_item, f"{cat}：{matter}", pairs, links,
           column="权力清单", article=True, pubdate=day)
    return f"{cat}：{matter}", url, day


# ---------------------------------------------------------------------------- 公共服务事项清单
def build_ggfw(b: Builder, guides: list[str]) -> str:
    prefix = V.unit_kind(b.unit.name)
    aud = [(f, t, p) for f, t, p in [("ggfw_for_person", "面向个人", "/qzqd/ggfw/gr.html"),
                                      ("ggfw_for_enterprise", "面向企业", "/qzqd/ggfw/fr.html")] if b.has(f)]
    aud_marks = {"ggfw_list"} | {f for f, _, _ in aud}
    side = '<div class="side">' + " ".join(a(p, t) for _, t, p in aud) + "</div>" if aud else ""
    domains = b.rng.sample(V.PUBLIC_SERVICE_DOMAINS, b.rng.randrange(2, len(V.PUBLIC_SERVICE_DOMAINS) + 1))
    first, entries = True, []
    colid = b.col_id()
    for dom in domains if b.has("ggfw_item") else ():
        for name in V.PUBLIC_SERVICES[dom][: b.rng.randrange(1, 3)]:
            entries.append(_ggfw_item(b, colid, dom, name, first, guides))
            first = False
    links = [(u, t) for t, u, _ in entries]
    if b.has("ggfw_dept"):
        for i, dept in enumerate(b.rng.sample(V.DEPARTMENTS, b.rng.randrange(2, 6))):
            url = f"/qzqd/ggfw/bm{i + 1}.html"
            title = f"{prefix}{dept}公共服务事项清单"
            b.page(url, b.site.title(title, "公共服务事项清单"), {"ggfw_list", "ggfw_dept"}, _render_list, title,
                   links[i::4], column="公共服务事项清单")
            links.append((url, title))
    for _, text, path in aud:
        b.page(path, b.site.title(text, "公共服务事项清单"), aud_marks, _render_list, text, links[:6], side)
    b.page("/qzqd/ggfw/index.html", b.site.title("公共服务事项清单"), aud_marks, _render_list, "公共服务事项清单", links,
           side, column="公共服务事项清单")
    return "/qzqd/ggfw/index.html"


def _ggfw_item(b: Builder, colid: int, dom: str, name: str, first: bool, guides: list[str]) -> tuple[str, str, str]:
    day = b.day("2017-03-01", "2018-12-20")
    marks = {"ggfw_list", "ggfw_item"}
    links = []
    if b.has("ggfw_guide_link") and guides and _share(b, first, 0.6):
        links.append((b.rng.choice(guides), "查看办事指南"))
        marks.add("ggfw_guide_link")
    pairs = [("服务对象", "本市居民"), ("服务领域", dom), ("实施机构", b.rng.choice(V.REPLY_UNITS))]
    url = b.article_url("/qzqd/ggfw/", colid, day)
    b.page(url, b.site.title(f"{dom}：{name}", "公共服务事项清单"), marks, _render_item, f"{dom}：{name}", pairs, links,
           column="公共服务事项清单", article=True, pubdate=day)
    return f"{dom}：{name}", url, day


def _render_list(ctx: Ctx, site: Site, page: Page, heading: str, links, side: str = "") -> str:
    body = ul([a(u, t) for u, t in links]) if links else "<p>暂无事项</p>"
    return f"{side}<h1>{esc(heading)}</h1>{body}"


def _render_item(ctx: Ctx, site: Site, page: Page, heading: str, pairs, links) -> str:
    rng = rng_for(ctx, site, page)
    ops = ('<div class="ops">' + " ".join(a(u, t) for u, t in links) + "</div>") if links else ""
    return f"<h1>{esc(heading)}</h1>" + fields(pairs) + ops + paragraphs(rng, heading + "。", 1)
