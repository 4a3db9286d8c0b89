"""The portal (门户网站) of a unit: chrome, home page, 政务公开, news, special pages, planted junk.

The header and footer are shared by every page, so the features they show (无障碍, 手机版,
政务微博, 高级搜索, the browser sentence …) are markers of every portal page. The home page adds
the entry links of 政务公开 and 互动交流 and the links to the traps and planted pages.
"""

from __future__ import annotations

from govindex.synth.web import vocab as V
from govindex.synth.web.build import Builder, render_links, render_text
from govindex.synth.web.html import Ctx, a, esc, js_link, paragraphs, rng_for, ul
from govindex.synth.web.interact import build_interaction
from govindex.synth.web.lists import build_ggfw, build_qlqd, build_xxgk, build_zrqd
from govindex.synth.web.model import Chrome, Page, Site, abs_url
from govindex.synth.web.service import ServiceInfo

HEADER = [("accessible_link", "无障碍", "/wza/index.html"), ("mobile_version", "手机版", "@mobile/m/"),
          ("tablet_layout", "平板版", "@mobile/m/pad.html"), ("weibo_link", "政务微博", "@weibo"),
          ("wechat_qrcode", "政务微信", "/wx/qrcode.html"), ("app_download_link", "客户端下载", "/app/index.html"),
          ("miniprogram_qrcode", "小程序", "/wx/mini.html"), ("site_search", "高级搜索", "/search/index.html"),
          ("smart_qa_widget", "智能问答", "/znwd/index.html")]
FOOTER = [("site_cluster_nav", "部门网站", "/wzq/index.html"), ("site_cluster_nav", "区县网站", "/wzq/qx.html"),
          ("rss_feed", "RSS订阅", "/dy/index.html"), ("email_subscribe", "邮件订阅", "/dy/yj.html"),
          ("sms_subscribe", "短信订阅", "/dy/dx.html"), ("wechat_subscribe", "微信订阅", "/dy/wx.html")]
# the pages the header and footer link to (titles that mark nothing by themselves)
PAGES = {"/wza/index.html": "无障碍浏览", "/wx/qrcode.html": "政务微信公众号", "/app/index.html": "移动客户端",
         "/wx/mini.html": "政务服务小程序", "/wzq/index.html": "部门网站导航", "/wzq/qx.html": "区县网站导航",
         "/dy/index.html": "信息订阅", "/dy/yj.html": "订阅设置", "/dy/dx.html": "手机订阅", "/dy/wx.html": "扫码订阅"}
A11Y = {"a11y_screen_reader": "语音朗读", "a11y_font_resize": "文字放大", "a11y_high_contrast": "高对比度",
        "a11y_large_cursor": "大鼠标", "a11y_reading_guide": "阅读线"}
SEARCH = {"search_suggest": "搜索建议", "search_correction": "您是不是要找", "search_category": "按栏目筛选",
          "search_sort": "按时间排序", "search_pinyin": "支持拼音搜索", "search_service_direct": "服务直达",
          "search_unified": "全市政府网站统一搜索"}
QA = {"qa_voice_input": "支持语音输入", "qa_hot_questions": "猜你想问", "qa_human_handoff": "转人工服务"}


def site_name(unit_name: str) -> str:
    return f"{unit_name}行政公署" if V.unit_kind(unit_name) in ("地区", "盟") else f"{unit_name}人民政府"


def build_portal(b: Builder, svc: ServiceInfo, ctx_links: dict) -> None:
    """Build the portal; ``ctx_links`` holds the other sites' URLs (service, mobile, weibo, sisters)."""
    news, news_col, notice_col = _news(b)
    _chrome(b, svc, ctx_links, news_col)
    zwgk = _zwgk(b, svc)
    hdjl_url, hdjl = build_interaction(b)
    _special_pages(b, svc)
    _zjxx(b)
    specials = [(news_col, "新闻中心"), (notice_col, "通知公告")] + ctx_links.get("specials", [])
    _home(b, svc, specials, zwgk, hdjl, news)


def _chrome(b: Builder, svc: ServiceInfo, links: dict, news_col: str) -> None:
    head = [(f, t, _resolve(p, links)) for f, t, p in HEADER if b.has(f)]
    foot = [(f, t, p) for f, t, p in FOOTER if b.has(f)]
    marks = {f for f, _, _ in head} | {f for f, _, _ in foot}
    browsers = [f for f in V.BROWSERS if b.has(f)]
    marks |= set(browsers)
    sentence = ""
    if browsers:
        names = [V.BROWSER_CN[f] if f in V.BROWSER_CN and b.rng.random() < 0.4 else V.BROWSERS[f] for f in browsers]
        sentence = f"建议使用{'、'.join(names)}浏览器访问本网站，最佳分辨率1366×768"
    claim = ""
    if b.has("img_alt_complete"):
        marks.add("img_alt_complete")
        claim = "本网站按照GB/T 29799-2013《网站设计无障碍技术要求》建设"
    prov = V.province_full(b.unit.province)
    friends = [("https://www.gov.cn/", "中国政府网"), (f"http://www.{b.unit.code[:2]}.gov.cn.example/", f"{prov}人民政府")]
    if b.has("province_platform_link"):
        marks.add("province_platform_link")
        friends.append((f"http://zwfw.{b.unit.code[:2]}.gov.cn.example/", f"{prov}政务服务网"))
    friends += links["sisters"]
    nav = [("/", "首页"), ("/zwgk/index.html", "政务公开"), (svc.home, "政务服务"), ("/hdjl/index.html", "互动交流"),
           (news_col, "新闻中心"), ("/zjxx/index.html", f"走进{b.unit.short}")]
    b.site.chrome = Chrome(_render_header, _render_footer, frozenset(marks),
                           (head, nav, foot, sentence, claim, friends, links.get("hidden", []), links.get("private")))
    for path, title in PAGES.items():
        if any(p == path for _, _, p in head + foot):
            if path == "/wza/index.html":
                tools = {f: t for f, t in A11Y.items() if b.has(f)}
                b.page(path, b.site.title(title), {"accessible_link", *tools}, render_text, title,
                       "欢迎使用无障碍浏览。", "<p>无障碍工具条：" + " | ".join(tools.values()) + " | 重置 | 退出</p>")
            else:
                b.page(path, b.site.title(title), set(), render_text, title, f"{title}。")


def _resolve(p: str, links: dict) -> str:
    if p.startswith("@mobile"):
        return links["mobile"] + p[len("@mobile/"):]
    if p == "@weibo":
        return links["weibo"]
    return p


def _render_header(ctx: Ctx, site: Site, head, nav, foot, sentence, claim, friends, hidden, private) -> str:
    top = " ".join([js_link("设为首页"), js_link("加入收藏")] + [a(p, t) for _, t, p in head])
    return (f'<div class="top">{top}</div><div class="banner"><h2>{esc(site.name)}</h2></div>'
            + '<div class="nav">' + " ".join(a(u, t) for u, t in nav) + "</div>")


def _render_footer(ctx: Ctx, site: Site, head, nav, foot, sentence, claim, friends, hidden, private) -> str:
    parts = ['<div class="foot">', '<div class="links">友情链接：' + " ".join(a(u, t) for u, t in friends) + "</div>"]
    if foot:
        parts.append("<div>" + " ".join(a(p, t) for _, t, p in foot) + "</div>")
    if private:
        parts.append(a("/private/index.html", "内部资料"))
    parts.append(f"<p>主办：{esc(site.name)}办公室 网站标识码：{site.unit}0001</p>")
    if sentence:
        parts.append(f"<p>{esc(sentence)}</p>")
    if claim:
        parts.append(f"<p>{esc(claim)}</p>")
    if hidden:
        parts.append('<div style="display:none">' + " ".join(a(u, t) for u, t in hidden) + "</div>")
    return "".join(parts) + "</div>"


# ---------------------------------------------------------------------------- 政务公开
def _zwgk(b: Builder, svc: ServiceInfo) -> list[tuple[str, str, set[str]]]:
    """Build the 政务公开 sections; return their entry links (url, text, marks of the link)."""
    links: list[tuple[str, str, set[str]]] = []
    if b.has("xxgk_catalogue"):
        links.append((build_xxgk(b), "政府信息公开目录", {"xxgk_catalogue"}))
    if b.has("xxgk_guide"):
        b.page("/zwgk/xxgkzn/index.html", b.site.title("政府信息公开指南"), {"xxgk_guide"}, render_text,
               "政府信息公开指南", "为保障公民、法人和其他组织依法获取政府信息，编制本指南。")
        links.append(("/zwgk/xxgkzn/index.html", "政府信息公开指南", {"xxgk_guide"}))
    if b.has("xxgk_annual_report"):
        links.append((_annual_reports(b), "政府信息公开年度报告", set()))
    if b.has("xxgk_apply_form") or b.has("xxgk_apply_online"):
        links.append((_apply(b), "依申请公开", set()))
    if b.has("policy_interpretation"):
        titles = [f"{d}政策解读" for d in V.POLICY_DOCS]
        links.append((_article_column(b, "/zcjd/", "政策解读", titles, {"policy_interpretation"}), "政策解读", set()))
    if b.has("zrqd_list"):
        links.append((build_zrqd(b), "责任清单", {"zrqd_list"}))
    if b.has("qlqd_list"):
        links.append((build_qlqd(b, svc.online), "权力清单", {"qlqd_list"}))
    if b.has("ggfw_list"):
        links.append((build_ggfw(b, svc.guides), "公共服务事项清单", {"ggfw_list"}))
    marks = set().union(*(m for _, _, m in links)) if links else set()
    b.page("/zwgk/index.html", b.site.title("政务公开"), marks, _render_link_page, "政务公开",
           [(u, t) for u, t, _ in links], column="政务公开")
    return links


def _annual_reports(b: Builder) -> str:
    years = sorted(b.rng.sample(range(2012, 2018), b.rng.randrange(1, 7)), reverse=True)
    titles = [f"{b.site.name}{y}年政府信息公开工作年度报告" for y in years]
    days = [f"{y + 1}-03-{b.rng.randrange(10, 29)}" for y in years]
    return _article_column(b, "/zwgk/ndbg/", "政府信息公开年度报告", titles, {"xxgk_annual_report"}, days)


def _apply(b: Builder) -> str:
    links, marks = [], set()
    if b.has("xxgk_apply_form"):
        b.page("/zwgk/ysqgk/sqb.doc", "申请表", set(), lambda c, s, p: "政府信息公开申请表\n", chrome=False,
               content_type="application/msword")
        links.append(("/zwgk/ysqgk/sqb.doc", "政府信息公开申请表"))
        marks.add("xxgk_apply_form")
    if b.has("xxgk_apply_online"):
        b.page("/zwgk/ysqgk/zxsq.html", b.site.title("依申请公开在线申请"), {"xxgk_apply_online"}, render_text,
               "依申请公开在线申请", "请如实填写申请人信息和所需信息的内容描述。")
        links.append(("/zwgk/ysqgk/zxsq.html", "在线申请公开"))
        marks.add("xxgk_apply_online")
    b.page("/zwgk/ysqgk/index.html", b.site.title("依申请公开"), marks, render_links, "依申请公开", links)
    return "/zwgk/ysqgk/index.html"


def _article_column(b: Builder, path: str, column: str, titles: list[str], marks: set[str],
                    days: list[str] | None = None, share: bool = False) -> str:
    colid = b.col_id()
    n = len(titles) if days else b.rng.randrange(1, len(titles) + 1)
    chosen = titles if days else b.rng.sample(titles, n)
    days = days or b.days(n, "2017-01-01", "2019-01-18")
    items = []
    for title, day in zip(chosen, days):
        url = b.article_url(path, colid, day)
        b.page(url, b.site.title(title, column), marks, render_article, title, share, column=column, article=True,
               pubdate=day)
        items.append((title, url, day))
    return b.listing(path, colid, column, items)[0]


def render_article(ctx: Ctx, site: Site, page: Page, title: str, share: bool) -> str:
    rng = rng_for(ctx, site, page)
    out = f"<h1>{esc(title)}</h1><p class=\"info\">发布时间：{page.pubdate} 来源：{esc(site.name)}</p>"
    out += paragraphs(rng, title + "。", 3)
    if share:
        out += '<div class="share">分享到：<span>微信</span> <span>微博</span> <span>QQ空间</span></div>'
    return out


# ---------------------------------------------------------------------------- news
def _news(b: Builder) -> tuple[list[tuple[str, str]], str, str]:
    share = b.has("share_button")
    marks = {"share_button"} if share else set()
    colid = b.col_id()
    titles = b.rng.sample(V.NEWS, b.rng.randrange(10, len(V.NEWS) + 1))
    items = []
    for title, day in zip(titles, b.days(len(titles), "2018-06-01", "2019-01-18")):
        url = b.article_url("/xwzx/", colid, day)
        b.page(url, b.site.title(title, "新闻中心"), marks, render_article, title, share, column="新闻中心",
               article=True, pubdate=day)
        items.append((title, url, day))
    news_col = b.listing("/xwzx/", colid, "新闻中心", items)[0]
    notices = [t.format(y=2019, n=b.rng.randrange(3, 5)) for t in V.NOTICES]
    if b.has("zrqd_update_notice"):
        notices.append("关于动态调整市级部门责任清单的公告")
    colid2 = b.col_id()
    nitems = []
    for title, day in zip(notices, b.days(len(notices), "2018-09-01", "2019-01-18")):
        url = b.article_url("/xwzx/tzgg/", colid2, day)
        nm = marks | ({"zrqd_list", "zrqd_update_notice"} if "责任清单" in title else set())
        b.page(url, b.site.title(title, "通知公告"), nm, render_article, title, share, column="通知公告",
               article=True, pubdate=day)
        nitems.append((title, url, day))
    notice_col = b.listing("/xwzx/tzgg/", colid2, "通知公告", nitems)[0]
    return [(u, t) for t, u, _ in items[:8]] + [(u, t) for t, u, _ in nitems[:5]], news_col, notice_col


# ---------------------------------------------------------------------------- special pages
def _special_pages(b: Builder, svc: ServiceInfo) -> None:
    if b.has("site_search"):
        feats = {f: t for f, t in SEARCH.items() if b.has(f)}
        extra = "<p>" + " ".join(f"<span>{esc(t)}</span>" for t in feats.values()) + "</p>"
        b.page("/search/index.html", b.site.title("站内搜索"), {"site_search", *feats}, render_text, "站内搜索",
               "请输入关键词进行检索。", extra)
    if b.has("smart_qa_widget"):
        feats = {f: t for f, t in QA.items() if b.has(f)}
        extra = "<p>" + " ".join(f"<span>{esc(t)}</span>" for t in feats.values()) + "</p>"
        if b.has("qa_guide_link"):
            feats["qa_guide_link"] = ""
            target = svc.guides[0] if svc.guides else svc.home
            extra += f"<p>{a(target, '相关办事指南')}</p>"
        b.page("/znwd/index.html", b.site.title("智能问答"), {"smart_qa_widget", *feats}, render_text, "智能问答",
               "您好，我是智能客服小政，请问有什么可以帮您？", extra)


def _zjxx(b: Builder) -> None:
    links = []
    for i, t in enumerate(["市情概况", "历史沿革", "行政区划", "领导信息"]):
        b.page(f"/zjxx/{i + 1}.html", b.site.title(t, f"走进{b.unit.short}"), set(), render_text, t,
               f"{b.unit.name}{t}。")
        links.append((f"/zjxx/{i + 1}.html", t))
    if b.has("medical_institution"):
        hosp = [f"{b.unit.short}{h}" for h in b.rng.sample(V.HOSPITALS, b.rng.randrange(1, len(V.HOSPITALS) + 1))]
        hl = []
        for i, h in enumerate(hosp):
            u = f"/zjxx/yljg/{i + 1}.html"
            b.page(u, b.site.title(f"{h}简介", "医疗机构"), {"medical_institution"}, render_text, f"{h}简介",
                   f"{h}是一所综合性医疗机构。")
            hl.append((u, h))
        b.page("/zjxx/yljg/index.html", b.site.title("医疗机构"), set(), render_links, "医疗机构", hl)
        links.append(("/zjxx/yljg/index.html", "医疗机构"))
    b.page("/zjxx/index.html", b.site.title(f"走进{b.unit.short}"), set(), render_links, f"走进{b.unit.short}", links)


# ---------------------------------------------------------------------------- home
def _home(b: Builder, svc: ServiceInfo, specials: list[tuple[str, str]], zwgk, hdjl, news) -> None:
    marks = set().union(*(m for _, _, m in zwgk + hdjl)) if zwgk + hdjl else set()
    blocks = [("政务公开", [(u, t) for u, t, _ in zwgk]), ("互动交流", [(u, t) for u, t, _ in hdjl])]
    service = []
    if b.has("portal_service_link"):
        service.append((svc.home, "网上办事大厅"))
        marks.add("portal_service_link")
    service.append((svc.home, "政务服务"))
    blocks.append(("政务服务", service))
    blocks.append(("专题专栏", specials))
    b.page("/", b.site.name, marks, _render_home, news, blocks)


def _render_home(ctx: Ctx, site: Site, page: Page, news, blocks) -> str:
    out = ['<div class="news"><h3>要闻动态</h3>' + ul([a(u, t) for u, t in news]) + "</div>"]
    for name, links in blocks:
        if links:
            out.append(f'<div class="block"><h3>{esc(name)}</h3>' + ul([a(u, t) for u, t in links]) + "</div>")
    return "".join(out)


def _render_link_page(ctx: Ctx, site: Site, page: Page, heading: str, links) -> str:
    return f"<h1>{esc(heading)}</h1>" + ul([a(u, t) for u, t in links])


__all__ = ["abs_url", "build_portal", "render_article", "site_name"]
