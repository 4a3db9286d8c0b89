"""互动交流 of a portal: 领导信箱 and the other letter channels, 意见征集, 常见问题, 回应关切.

Letters are listed newest first in tables (标题, 类别, 来信时间, 回复时间, 回复单位) spread over
several pages; the 回复时间 and 回复单位 cells are blank while a letter is unanswered. A replied
letter whose reply is public links to a detail page. The ground truth keeps every letter with
its dates and the page that lists it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from govindex.synth.web import vocab as V
from govindex.synth.web.build import PER_PAGE, Builder, render_text
from govindex.synth.web.html import Ctx, a, esc, fields, paragraphs, rng_for, table, ul
from govindex.synth.web.model import TODAY, Letter, Page, Site

# channel, feature, column name (None: the unit's mailbox name), path
CHANNELS = [("mailbox", "mailbox_entry", None, "/hdjl/ldxx/"), ("consult", "consult_entry", "在线咨询", "/hdjl/zxzx/"),
            ("complaint", "complaint_entry", "投诉举报", "/hdjl/tsjb/"),
            ("hotline", "hotline_12345_online", "12345热线", "/hdjl/rx12345/")]
KIND_OF = {"consult": ["咨询"], "complaint": ["投诉"], "hotline": ["咨询", "投诉", "求助"], "mailbox": V.LETTER_KINDS}


def mailbox_name(b: Builder) -> str:
    names = [V.MAILBOX_NAMES[V.unit_kind(b.unit.name)], "领导信箱", "书记信箱"]
    return names[int(b.rng.random() * 3) if b.rng.random() < 0.4 else 0]


def build_interaction(b: Builder) -> tuple[str, list[tuple[str, str, set[str]]]]:
    """Build 互动交流; return its index URL and the entry links (url, text, marks) for the home page."""
    links: list[tuple[str, str, set[str]]] = []
    box = mailbox_name(b)
    for channel, feat, name, path in CHANNELS:
        if b.has(feat):
            name = name or box
            url = _letters(b, channel, feat, name, path)
            links.append((url, name, {feat}))
    if b.has("survey_entry"):
        links.append((_articles(b, "/hdjl/yjzj/", "意见征集", set(), {"survey_entry"},
                                [f"关于《{d}（征求意见稿）》公开征求意见的公告" for d in V.SURVEY_DRAFTS]), "意见征集", set()))
    if b.has("faq_item"):
        links.append((_articles(b, "/hdjl/cjwt/", "常见问题", set(), {"faq_item"}, V.FAQ_QUESTIONS), "常见问题", set()))
    if b.has("public_opinion_response"):
        po = {"public_opinion_response"}
        links.append((_articles(b, "/hdjl/hygq/", "回应关切", po, po, V.OPINION_TOPICS), "回应关切", po))
    marks = set().union(*(m for _, _, m in links)) if links else set()
    b.page("/hdjl/index.html", b.site.title("互动交流"), marks, _render_index, [(u, t) for u, t, _ in links],
           column="互动交流")
    return "/hdjl/index.html", links


def _articles(b: Builder, path: str, column: str, list_marks: set[str], item_marks: set[str],
              titles: list[str]) -> str:
    colid = b.col_id()
    chosen = b.rng.sample(titles, b.rng.randrange(1, len(titles) + 1))
    items = []
    for title, day in zip(chosen, b.days(len(chosen), "2018-03-01", "2019-01-18")):
        url = b.article_url(path, colid, day)
        b.page(url, b.site.title(title, column), item_marks, render_text, title, title + "。",
               column=column, article=True, pubdate=day)
        items.append((title, url, day))
    return b.listing(path, colid, column, items, list_marks)[0]


def _letters(b: Builder, channel: str, feat: str, name: str, path: str) -> str:
    cap = b.unit.capability
    n = int(12 + 90 * b.rng.random() * (1.3 + math.tanh(cap))) if channel in ("mailbox", "hotline") else \
        int(6 + 40 * b.rng.random())
    reply_p = min(0.98, max(0.3, 0.75 + 0.25 * math.tanh(cap) + b.rng.gauss(0, 0.1)))
    median = max(1.0, 8 * math.exp(-0.8 * cap + b.rng.gauss(0, 0.3)))
    letters = []
    for day in b.days(n, "2018-06-01", "2019-01-18"):
        kind = b.rng.choice(KIND_OF[channel])
        title = f"关于{b.rng.choice(V.LETTER_SUBJECTS)}的{kind}"
        replied = None
        if b.rng.random() < reply_p:
            delay = max(0, round(median * math.exp(b.rng.gauss(0, 0.8))))
            when = date.fromisoformat(day) + timedelta(days=delay)
            if when <= date.fromisoformat(TODAY):
                replied = when.isoformat()
        unit = b.rng.choice(V.REPLY_UNITS) if replied else ""
        public = bool(replied) and b.rng.random() < 0.7
        letters.append(Letter(channel, title, kind, day, replied, unit, public))
    marks = {feat}
    tools = []
    if channel == "mailbox":
        for f, text, slug in [("mailbox_search", "信件查询", "cx"), ("mailbox_statistics", "信件统计", "tj")]:
            if b.has(f):
                marks.add(f)
                tools.append((f"{path}{slug}.html", text))
                b.page(f"{path}{slug}.html", b.site.title(text, name), {feat, *({f} if slug == "tj" else ())},
                       render_text, text, f"{name}{text}。")
    colid = b.col_id()
    for le in letters:
        if le.public:
            le.detail = b.article_url(path, colid, le.replied or le.submitted)
            b.page(le.detail, b.site.title(le.title, name), {feat}, _render_letter, le, column=name, article=True,
                   pubdate=le.replied or "")
    chunks = [letters[i: i + PER_PAGE] for i in range(0, len(letters), PER_PAGE)] or [[]]
    urls = [f"{path}index.html" if k == 0 else f"{path}index_{k}.html" for k in range(len(chunks))]
    for k, chunk in enumerate(chunks):
        label = name if k == 0 else f"{name}（第{k + 1}页）"
        for le in chunk:
            le.listing = urls[k]
        b.page(urls[k], b.site.title(label, "互动交流"), marks, _render_letters, name, chunk, urls, k, tools,
               column=name)
    b.unit.letters.extend(letters)
    return urls[0]


def _render_index(ctx: Ctx, site: Site, page: Page, links) -> str:
    return "<h1>互动交流</h1>" + ul([a(u, t) for u, t in links])


def _render_letters(ctx: Ctx, site: Site, page: Page, name: str, chunk, urls, k: int, tools) -> str:
    rows = []
    for le in chunk:
        title = a(le.detail, le.title) if le.detail else esc(le.title)
        rows.append([title, esc(le.category), le.submitted, le.replied or "", esc(le.reply_unit)])
    pager = ""
    if len(urls) > 1:
        nums = " ".join(a(u, str(i + 1)) for i, u in enumerate(urls) if i != k)
        nxt = a(urls[k + 1], "下一页") if k + 1 < len(urls) else ""
        pager = f'<div class="pager">共{len(urls)}页 第{k + 1}页 {nums} {nxt}</div>'
    ops = " ".join(a(u, t) for u, t in tools)
    return (f"<h1>{esc(name)}</h1><div class=\"ops\">{ops}</div>"
            + table(["标题", "类别", "来信时间", "回复时间", "回复单位"], rows, "letters") + pager)


def _render_letter(ctx: Ctx, site: Site, page: Page, le: Letter) -> str:
    rng = rng_for(ctx, site, page)
    return (f"<h1>{esc(le.title)}</h1>" + fields([("来信时间", le.submitted), ("回复时间", le.replied or ""),
                                                 ("回复单位", le.reply_unit)])
            + "<h3>来信内容</h3>" + f"<p>{esc(le.title)}，请有关部门予以解决。</p>"
            + "<h3>回复内容</h3>" + paragraphs(rng, "您好！您反映的问题已收悉，现答复如下。", 1))
