"""HTML for the synthetic web: small builders, the page skeleton, encoding.

A page is rendered when it is served: the skeleton (charset declaration, title, the
《政府网站发展指引》 meta tags, the viewport) around the site's header, the page body and the
site's footer, encoded in the site's charset. GBK sites encode with ``xmlcharrefreplace`` so a
character outside GBK survives as an entity, as on real sites.
"""

from __future__ import annotations

import hashlib
import html
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govindex.synth.web.model import with_port

if TYPE_CHECKING:
    from govindex.synth.web.model import Page, Site


@dataclass(frozen=True, slots=True)
class Ctx:
    """What rendering needs beyond the page: the port every site listens on, and the web."""

    port: int
    seed: int
    hub: str = "127.0.0.1"

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def hub_url(self, path: str) -> str:
        return f"http://{self.hub}:{self.port}{path}"


def esc(s: str) -> str:
    return html.escape(s, quote=True)


def a(href: str, text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<a href="{esc(href)}"{c}>{esc(text)}</a>'


def js_link(text: str) -> str:
    """A javascript: link — what 设为首页 / 加入收藏 are on real sites; extraction skips it."""
    return f'<a href="javascript:void(0);">{esc(text)}</a>'


def ul(items: list[str], cls: str = "list") -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def table(headers: list[str], rows: list[list[str]], cls: str = "tb") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def fields(pairs: list[tuple[str, str]]) -> str:
    """A detail page's labelled fields: ``<th>索引号：</th><td>…</td>``."""
    rows = "".join(f"<tr><th>{esc(k)}：</th><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="meta">{rows}</table>'


def rng_for(ctx: Ctx, site: Site, page: Page) -> random.Random:
    """Randomness for a page's cosmetic text, stable for the page (and shared by its duplicate)."""
    return random.Random(f"{ctx.seed}:{site.host}:{page.key}")


FILLER = ["为深入贯彻落实党中央、国务院决策部署，进一步提升政务服务水平，结合我市实际，制定本方案。",
          "各地各部门要高度重视，加强组织领导，明确责任分工，确保各项任务落到实处。",
          "本次活动共有各界代表参加，与会人员围绕主题进行了深入交流。",
          "下一步，将继续坚持以人民为中心的发展思想，不断增强人民群众的获得感、幸福感、安全感。",
          "会议强调，要把握工作重点，完善工作机制，推动高质量发展取得新成效。",
          "据统计，全年累计完成投资同比增长，主要指标保持平稳增长态势。"]


def paragraphs(rng: random.Random, lead: str, n: int = 3) -> str:
    out = [f"<p>{esc(lead)}</p>"]
    out += [f"<p>{esc(rng.choice(FILLER))}</p>" for _ in range(n)]
    return "".join(out)


# What real pages carry besides their text (statistics and menu scripts): extraction drops it, a
# crawler still has to download and parse it, so pages weigh what government pages weigh.
_SCRIPT = ("<script>var _hmt=_hmt||[];(function(){var hm=document.createElement('script');"
           "hm.src='/js/stat.js';document.body.appendChild(hm);})();"
           + "".join(f"function menu{i}(e){{var m=document.getElementById('m{i}');if(m){{m.style.display="
                     f"m.style.display=='none'?'block':'none';}}return false;}}" for i in range(60))
           + "</script>")
_STYLE = ("<style>body{font-family:SimSun,serif;margin:0}.top,.nav,.foot{background:#f2f2f2;padding:4px}"
          ".container{width:1000px;margin:0 auto}table{border-collapse:collapse}td,th{border:1px solid #ccc}</style>")


def document(ctx: Ctx, site: Site, page: Page) -> str:
    """The whole HTML of ``page``."""
    head = []
    if site.declared in ("meta", "both"):
        if site.style == "trs":
            head.append(f'<meta http-equiv="Content-Type" content="text/html; charset={site.label}">')
        else:
            head.append(f'<meta charset="{site.label}">')
    head.append(f"<title>{esc(page.title)}</title>")
    if site.kind == "mobile" or site.responsive:
        head.append('<meta name="viewport" content="width=device-width, initial-scale=1.0">')
    elif site.style == "hanweb":
        head.append('<meta name="viewport" content="width=1200">')
    if site.meta and page.chrome:
        head += _standard_meta(site, page)
    head.append(_STYLE)
    body = page.render(ctx, site, page, *page.args)
    if page.chrome and site.chrome is not None:
        ch = site.chrome
        body = ch.header(ctx, site, *ch.args) + f'<div class="container">{body}</div>' + ch.footer(ctx, site, *ch.args)
    # the CMS's document id: pages of equal text stay distinct, a republished page keeps its id
    docid = hashlib.md5(f"{site.host}{page.key}".encode()).hexdigest()[:12]
    doc = ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n' + "\n".join(head) + "\n</head>\n<body>\n"
           + body + f"\n{_SCRIPT}\n<!-- docid:{docid} -->\n</body>\n</html>\n")
    return with_port(doc, ctx.port)


def _standard_meta(site: Site, page: Page) -> list[str]:
    code = hashlib.md5(site.host.encode()).hexdigest()[:10]
    out = [_meta("SiteName", site.name), _meta("SiteDomain", site.host), _meta("SiteIDCode", code.upper())]
    if page.column:
        out.append(_meta("ColumnName", page.column))
    if page.article:
        out.append(_meta("ArticleTitle", page.title.split(site.sep)[0]))
        out.append(_meta("ContentSource", site.name))
    if page.pubdate:
        out.append(_meta("PubDate", page.pubdate + " 09:00"))
    return out


def _meta(name: str, content: str) -> str:
    return f'<meta name="{name}" content="{esc(content)}">'


def encode(site: Site, text: str) -> bytes:
    return text.encode(site.charset, errors="xmlcharrefreplace")


def content_type(site: Site, page: Page) -> str:
    if page.content_type != "text/html":
        return page.content_type
    if site.declared in ("header", "both"):
        return f"text/html; charset={site.label}"
    return "text/html"


def render(ctx: Ctx, site: Site, page: Page) -> tuple[bytes, str]:
    """The bytes of ``page`` as served, and its Content-Type."""
    if page.content_type != "text/html":
        return page.render(ctx, site, page, *page.args).encode("utf-8"), page.content_type
    return encode(site, document(ctx, site, page)), content_type(site, page)
