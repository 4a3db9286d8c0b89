"""Beyond the sites: Weibo/WeChat/Douyin accounts and their posts, search-engine results, mobile apps.

The hub serves these as paginated JSON (``{"items": [...], "next": url | null}``) with the fields of
the ``posts``, ``search`` and ``apps`` tables of rules/2019/tables.rules (plus ``unit``), for the
source adapters. Items are generated on request from (seed, unit), so they cost nothing until read.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from govindex.synth.web import vocab as V
from govindex.synth.web.model import Unit, abs_url

APP_CHANNELS = [("app", "{short}通", 0.0), ("wechat_mp", "{short}发布", -0.6), ("miniprogram", "{short}政务服务", 0.2),
                ("alipay", "{short}城市服务", 0.1), ("weibo_service", "{short}微政务", 0.5)]
APP_MARKERS = {"app_medical_appointment": 0.0, "app_online_apply": -0.3, "app_progress_notify": 0.4, "app_push": 0.2,
               "app_realtime_bus": 0.1, "app_smart_qa": 0.6, "app_unified_login": 0.0, "mp_service_menu": -0.2}
ENGINES = ["baidu", "sogou", "360"]
NON_GOV = ["https://baike.baidu.com/item/", "https://zhidao.baidu.com/question/", "https://www.zhihu.com/question/",
           "https://www.sohu.com/a/", "https://bbs.example.com/thread/"]
PAGE_SIZE = 20


def draw_accounts(seed: int, unit: Unit) -> dict[str, dict]:
    """Which accounts a unit runs and how many posts each has (the portal's 政务微博 link needs one)."""
    rng = random.Random(f"{seed}:accounts:{unit.code}")
    cap = unit.capability
    out = {}
    for platform, base, has in [("weibo", 0.2, "weibo_link" in unit.features),
                                ("wechat", 0.5, "wechat_qrcode" in unit.features), ("douyin", -0.9, False)]:
        if has or rng.gauss(cap, 0.8) > -base:
            n = int(math.exp(rng.gauss(3.5 + 0.8 * cap, 0.7)))
            name = f"{unit.short}发布" if platform != "wechat" or rng.random() < 0.6 else f"{unit.short}政务"
            out[platform] = {"account": name, "posts": min(n, 600), "handle": f"gov{unit.code}{platform[:2]}"}
    return out


def draw_apps(seed: int, unit: Unit) -> list[dict]:
    rng = random.Random(f"{seed}:apps:{unit.code}")
    apps = []
    for channel, name, diff in APP_CHANNELS:
        if rng.gauss(unit.capability, 0.7) > diff:
            marks = sorted(m for m, d in APP_MARKERS.items() if rng.gauss(unit.capability, 0.8) > d)
            day = datetime(2019, 1, 20) - timedelta(days=int(math.exp(rng.gauss(3.5 - unit.capability, 0.9))))
            apps.append({"unit": unit.code, "channel": channel, "name": name.format(short=unit.short),
                         "available": rng.random() < 0.92, "services": int(math.exp(rng.gauss(3 + unit.capability, 0.8))),
                         "markers": marks, "updated": day.strftime("%Y-%m-%d %H:%M:%S")})
    return apps


def posts(seed: int, unit: Unit, platform: str) -> list[dict]:
    """Every post of the unit's ``platform`` account, newest first (empty when it has none)."""
    acc = unit.accounts.get(platform)
    if not acc:
        return []
    rng = random.Random(f"{seed}:posts:{unit.code}:{platform}")
    end = datetime(2019, 1, 20, 20, 0)
    lag = math.exp(rng.gauss(0.5 - unit.capability, 0.8))
    out = []
    for i in range(acc["posts"]):
        when = end - timedelta(days=lag + rng.random() * 120, minutes=rng.randrange(600))
        topics = rng.sample(V.POST_TOPICS, rng.choice([1, 1, 2]))
        text = f"【{topics[0]}】{unit.short}{rng.choice(['发布', '提醒', '关注', '解读'])}：{rng.choice(V.NEWS)}"
        out.append({"unit": unit.code, "platform": platform, "account": acc["account"],
                    "post_id": f"{acc['handle']}-{i + 1}", "published": when.strftime("%Y-%m-%d %H:%M:%S"),
                    "text": text, "topics": topics, "reposts": int(rng.expovariate(1 / 8)),
                    "comments": int(rng.expovariate(1 / 5)), "likes": int(rng.expovariate(1 / 20))})
    return sorted(out, key=lambda p: p["published"], reverse=True)


def search_results(seed: int, unit: Unit) -> list[dict]:
    """Ten results for each engine × query ("<city> <topic>"); gov results point at the unit's sites."""
    rng = random.Random(f"{seed}:search:{unit.code}")
    share = 1 / (1 + math.exp(-(unit.capability * 1.5 + 0.2)))
    sites = [s for s in unit.sites.values() if s.kind in ("portal", "service")]
    paths = {s.host: [p for p, pg in s.pages.items() if pg.content_type == "text/html" and not pg.junk
                      and not pg.disallowed] for s in sites}
    out = []
    for engine in ENGINES:
        for topic in V.SEARCH_TOPICS:
            query = f"{unit.short} {topic}"
            for rank in range(1, 11):
                gov = rng.random() < share * (1.2 if rank <= 3 else 0.8)
                site = rng.choice(sites) if gov else None
                if site is not None:
                    url = abs_url(site.host, rng.choice(paths[site.host]))
                    title = f"{topic}_{unit.name}人民政府"
                else:
                    url = rng.choice(NON_GOV) + str(rng.randrange(10**6, 10**7))
                    title = f"{unit.short}{topic}怎么办理？"
                out.append({"unit": unit.code, "engine": engine, "query": query, "topic": topic, "rank": rank,
                            "url": url, "title": title, "is_gov": gov})
    return out


def page_of(items: list[dict], page: int, next_url: str) -> dict:
    """One page of ``items`` (1-based) as ``{"items", "next"}``; ``next_url`` has ``{page}`` for the next."""
    start = (page - 1) * PAGE_SIZE
    chunk = items[start: start + PAGE_SIZE]
    more = start + PAGE_SIZE < len(items)
    return {"items": chunk, "next": next_url.format(page=page + 1) if more else None}
