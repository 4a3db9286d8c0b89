"""The ground truth of a generated web, and its channels registry.

Ground truth (``ground_truth.json``), per unit:

- ``features``: what the unit has (feature ids of probes/synthweb/features.py: mostly marker ids,
  plus ``service_site``/``opendata_site``, ``svc_items`` = svc_item + svc_guide, ``svc_online`` =
  svc_online_entry + svc_online_apply);
- ``markers``: every marker of rules/2019 that extraction must set on some crawlable page of the
  unit — and no other; ``marker_pages``: on how many such pages, per site (planted junk,
  duplicates and robots-disallowed pages not counted);
- ``sites``: per kind its start URL, host, charset (and how it is declared), robots.txt,
  disallowed prefixes and page count;
- ``letters``: every letter with channel, category, submitted/replied dates (replied null when
  unanswered), reply unit, whether the reply is public, the listing page and detail page;
- ``traps`` (URL and what a crawler must do), ``offsite`` links, ``cleaning`` (the URLs planted
  for each cleaning reason), ``accounts`` (posts per platform and topic), ``apps``, ``search``.

URLs carry ``{port}`` until a server binds one (``Server.ground_truth()`` fills it in).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from govindex.synth.web.features import FEATURES, MARKERS
from govindex.synth.web.model import PORT, TODAY, Site, Unit, with_port
from govindex.synth.web.others import PRIVATE_LINKS
from govindex.synth.web.social import draw_apps, posts, search_results

if TYPE_CHECKING:
    from govindex.synth.web.web import Web

VERSION = 1


def ground_truth(web: Web, port: int | None = None, hub: str = "127.0.0.1") -> dict:
    out = {"version": VERSION, "seed": web.seed, "today": TODAY, "port": port, "traps_mode": web.traps,
           "hub": f"http://{hub}:{port if port is not None else PORT}/",
           "markers": sorted(MARKERS),
           "features": {f.id: {"markers": list(f.markers), "requires": list(f.requires)} for f in FEATURES.values()},
           "units": {u.code: _unit(web, u, hub) for u in web.units}}
    return _fill(out, port)


def _fill(obj, port: int | None):
    if port is None:
        return obj
    if isinstance(obj, dict):
        return {k: _fill(v, port) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, port) for v in obj]
    return with_port(obj, port) if isinstance(obj, str) else obj


def _url(site: Site, path: str) -> str:
    return f"http://{site.host}:{PORT}{path}"


def _unit(web: Web, u: Unit, hub: str) -> dict:
    marker_pages: dict[str, Counter] = {}
    for site in u.sites.values():
        for page in site.pages.values():
            if page.content_type != "text/html" or page.junk or page.disallowed:
                continue
            for m in site.expected(page):
                marker_pages.setdefault(m, Counter())[site.kind] += 1
    portal = u.sites["portal"]
    return {
        "name": u.name, "province": u.province, "macro_region": u.region, "capability": round(u.capability, 4),
        "features": sorted(u.features), "markers": sorted(marker_pages),
        "marker_pages": {m: dict(sorted(c.items())) for m, c in sorted(marker_pages.items())},
        "sites": {k: _site(s) for k, s in u.sites.items()},
        "letters": [{"channel": le.channel, "title": le.title, "category": le.category, "submitted": le.submitted,
                     "replied": le.replied, "reply_unit": le.reply_unit or None, "public": le.public,
                     "listing": _url(portal, le.listing), "detail": _url(portal, le.detail) if le.detail else None}
                    for le in u.letters],
        "traps": [{"kind": t["kind"], "url": t["path"] if t["path"].startswith("http") else _url(portal, t["path"]),
                   "expect": t["expect"]} for t in portal.traps],
        "offsite": _offsite(u),
        "cleaning": _cleaning(u),
        "accounts": _accounts(web, u, hub),
        "apps": u.apps,
        "search": _search(web, u, hub),
    }


def _site(s: Site) -> dict:
    html = [p for p in s.pages.values() if p.content_type == "text/html"]
    return {"url": _url(s, s.root), "host": s.host, "name": s.name, "charset": s.charset, "label": s.label,
            "declared": s.declared, "gzip": s.gzip, "style": s.style, "meta": s.meta, "responsive": s.responsive,
            "pages": len(html), "files": len(s.pages) - len(html), "robots": s.robots, "disallow": list(s.disallow),
            "disallowed": [_url(s, p.path) for p in s.pages.values() if p.disallowed]}


def _offsite(u: Unit) -> list[str]:
    portal = u.sites["portal"]
    out = ["https://www.gov.cn/"]
    if "weibo" in u.accounts and "weibo_link" in u.features:
        out.append(f"https://weibo.com/{u.accounts['weibo']['handle']}")
    if portal.chrome is not None:
        out += [url for url, _ in portal.chrome.args[5] if url not in out]
    if "private_links" in u.traps:
        out += [url for url, _ in PRIVATE_LINKS]
    return out


def _cleaning(u: Unit) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"harmful": [], "ads": [], "non_government": [], "duplicates": []}
    for site in u.sites.values():
        for page in site.pages.values():
            if page.junk:
                out["duplicates" if page.junk == "duplicate" else page.junk].append(_url(site, page.path))
    return out


def _accounts(web: Web, u: Unit, hub: str) -> dict:
    out = {}
    for platform, acc in u.accounts.items():
        items = posts(web.seed, u, platform)
        topics = Counter(t for p in items for t in p["topics"])
        out[platform] = {"account": acc["account"], "posts": len(items), "newest": items[0]["published"] if items else None,
                         "topics": dict(sorted(topics.items())),
                         "api": f"http://{hub}:{PORT}/api/posts/{u.code}?platform={platform}"}
    return out


def _search(web: Web, u: Unit, hub: str) -> dict:
    rows = search_results(web.seed, u)
    gov = Counter(r["topic"] for r in rows if r["is_gov"])
    return {"results": len(rows), "gov": sum(gov.values()), "gov_by_topic": dict(sorted(gov.items())),
            "api": f"http://{hub}:{PORT}/api/search/{u.code}"}


def channels(web: Web, port: int, hub: str = "127.0.0.1") -> list[dict[str, str]]:
    """The channels registry rows (unit, kind, url, name) of the web served on ``port``."""
    rows = []
    for u in web.units:
        for kind in ("portal", "service", "opendata", "mobile"):
            s = u.sites.get(kind)
            if s is not None:
                rows.append({"unit": u.code, "kind": kind, "url": with_port(_url(s, s.root), port), "name": s.name})
        for platform in ("weibo", "wechat"):
            acc = u.accounts.get(platform)
            if acc:
                rows.append({"unit": u.code, "kind": platform, "name": acc["account"],
                             "url": f"http://{hub}:{port}/api/posts/{u.code}?platform={platform}"})
        for app in draw_apps(web.seed, u):
            if app["channel"] in ("app", "miniprogram"):
                rows.append({"unit": u.code, "kind": app["channel"], "name": app["name"],
                             "url": f"http://{hub}:{port}/api/apps/{u.code}?channel={app['channel']}"})
    return rows
