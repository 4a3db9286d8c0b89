"""The synthetic government web: deterministic, served on loopback, and its markers agree with its
ground truth when pages go through the real extraction (rules/2019 markers and cleaning)."""

from __future__ import annotations

import codecs
import concurrent.futures
import csv
import gzip
import io
import json
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from govindex.check.run import check
from govindex.check.run import load as load_rules
from govindex.collect.extract import content_hash, extract, parse_html, raw_frame
from govindex.eval.facts import schema
from govindex.synth.web import generate, load, serve
from govindex.synth.web.features import FEATURES, MARKERS

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "2019"
SEED = 7


@pytest.fixture(scope="module")
def rs():
    return load_rules(RULES)


@pytest.fixture(scope="module")
def web():
    return generate(seed=SEED, n_units=100)


@pytest.fixture(scope="module")
def server(web):
    with serve(web, slow_seconds=0.5, big_bytes=2**20) as srv:
        yield srv


@pytest.fixture(scope="module")
def sample(web):
    """Few units that between them have, and lack, every marker (greedy cover)."""
    truth = web.ground_truth()["units"]
    reasons = ("harmful", "ads", "non_government", "duplicates")
    want = {(m, True) for m in MARKERS} | {(m, False) for m in MARKERS} | {(r, True) for r in reasons}
    covers = {code: {(m, m in t["markers"]) for m in MARKERS} | {(r, bool(t["cleaning"][r])) for r in reasons}
              for code, t in truth.items()}
    chosen: list[str] = []
    gbk = [u.code for u in web.units if u.sites["portal"].charset == "gbk"]
    chosen.append(gbk[0])
    want -= covers[gbk[0]]
    while want:
        best = max(covers, key=lambda c: len(covers[c] & want))
        assert covers[best] & want, f"no unit covers {sorted(want)[:5]}"
        chosen.append(best)
        want -= covers[best]
    return chosen


# ---------------------------------------------------------------------------- the rule set
def test_rules_declare_every_probe_marker_and_nothing_else():
    _, diags = check(RULES)
    assert [d for d in diags if d.is_error] == []
    assert [d.code for d in diags if d.code == "W503"] == []


def test_generator_knows_exactly_the_declared_markers(rs):
    declared = {m.id for m in rs.markers if m.into == "pages"}
    assert declared == set(MARKERS)
    assert {c.id for c in rs.cleaning} == {"harmful", "ads", "non_government", "duplicates"}


# ---------------------------------------------------------------------------- generation
def test_generation_is_deterministic_and_units_independent():
    a, b = generate(seed=3, n_units=8), generate(seed=3, n_units=8)
    assert a.ground_truth() == b.ground_truth()
    code = a.units[1].code
    for (sa, pa), (sb, pb) in zip(a.pages(code), b.pages(code)):
        assert a.render(sa, pa, 8000) == b.render(sb, pb, 8000)
    bigger = generate(seed=3, n_units=16)
    assert code in bigger.by_code
    assert bigger.ground_truth()["units"][code] == a.ground_truth()["units"][code]
    assert generate(seed=4, n_units=8).ground_truth() != a.ground_truth()


def test_features_follow_capability_and_requirements(web):
    truth = web.ground_truth()["units"]
    for u in web.units:
        feats = set(truth[u.code]["features"])
        for f in feats:
            assert set(FEATURES[f].requires) <= feats
    ranked = sorted(web.units, key=lambda u: u.capability)
    low = sum(len(u.features) for u in ranked[:20])
    high = sum(len(u.features) for u in ranked[-20:])
    assert high > 1.5 * low


def test_write_and_load_round_trip(tmp_path, web, server):
    small = generate(seed=SEED, n_units=5)
    small.write(tmp_path / "w")
    again = load(tmp_path / "w")
    assert again.ground_truth() == small.ground_truth()
    assert "{port}" in (tmp_path / "w" / "ground_truth.json").read_text(encoding="utf-8")
    server.write(tmp_path / "s")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s" / "channels.csv").read_text(encoding="utf-8"))))
    assert {r["kind"] for r in rows} >= {"portal", "service", "mobile", "opendata", "weibo", "wechat"}
    assert all(f":{server.port}/" in r["url"] for r in rows)
    truth = json.loads((tmp_path / "s" / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["port"] == server.port and "{port}" not in json.dumps(truth)


def test_channels_load_with_the_registry_reader(server, web, tmp_path):
    from govindex.collect.channels import load_channels
    path = server.write_channels(tmp_path / "channels.csv")
    channels = load_channels(path, units={u.code for u in web.units})
    assert len(channels) == len(web.channels(server.port))


# ---------------------------------------------------------------------------- the server
def test_server_answers_every_site_and_robots(server, web):
    with httpx.Client(timeout=5) as c:
        for u in web.units[:10]:
            truth = server.ground_truth()["units"][u.code]
            for site in truth["sites"].values():
                r = c.get(site["url"])
                assert r.status_code == 200, site["url"]
                robots = c.get(site["url"].split("/m/")[0].rstrip("/") + "/robots.txt")
                assert (robots.status_code == 404) == (site["robots"] is None)
                if site["robots"] is not None:
                    assert robots.text == site["robots"]
                    for prefix in site["disallow"]:
                        assert f"Disallow: {prefix}" in robots.text
            assert c.get(server.url(u.code) + "no/such/page.html").status_code == 404
        mobile = next(u for u in web.units if "mobile" in u.sites)
        r = c.get(server.url(mobile.code, "mobile").replace("/m/", "/"))
        assert r.status_code == 302 and r.headers["location"] == "/m/"


def test_gbk_pages_decode_to_correct_chinese_titles(server, web):
    gbk = [u for u in web.units if u.sites["portal"].charset == "gbk"]
    declared = {u.sites["portal"].declared for u in gbk}
    assert len(gbk) >= 5 and {"header", "meta"} <= declared
    with httpx.Client(timeout=5) as c:
        for u in gbk:
            site = u.sites["portal"]
            r = c.get(server.url(u.code))
            header = r.headers["content-type"]
            if site.declared == "meta":
                assert "charset" not in header
                assert re.search(rb"charset=[\"']?" + site.label.encode(), r.content[:1024])
            else:
                assert f"charset={site.label}" in header
            with pytest.raises(UnicodeDecodeError):
                r.content.decode("utf-8")
            html = r.content.decode(codecs.lookup("gb18030").name)
            assert parse_html(html, str(r.url)).title == site.name


def test_traps(server, web):
    assert Counter(t for u in web.units for t in u.traps).keys() == {t for u in generate(seed=SEED, n_units=1,
                                                                                       traps="all").units for t in u.traps}
    all_traps = generate(seed=SEED, n_units=2, traps="all")
    with serve(all_traps, slow_seconds=0.5, big_bytes=2**20) as srv, httpx.Client(timeout=5) as c:
        code = all_traps.units[0].code
        base = srv.url(code)
        truth = srv.ground_truth()["units"][code]
        assert {t["kind"] for t in truth["traps"]} == set(all_traps.units[0].traps)
        # the calendar never ends
        url, seen = base + "calendar?date=2019-01-20", set()
        for _ in range(30):
            page = parse_html(c.get(url).text, url)
            nxt = [h for h, t in zip(page.link_urls, page.link_texts) if t == "后一天"][0]
            assert nxt not in seen
            seen.add(nxt)
            url = nxt
        assert "2019-02-19" in url
        # the redirect loop loops, the open redirect points at the metadata address
        r = c.get(base + "redirect/a.html")
        assert r.status_code == 302 and r.headers["location"] == "/redirect/b.html"
        assert c.get(base + "redirect/b.html").headers["location"] == "/redirect/a.html"
        with pytest.raises(httpx.TooManyRedirects):
            c.get(base + "redirect/a.html", follow_redirects=True)
        assert c.get(base + "go?url=http://169.254.169.254/latest/meta-data/").headers["location"].startswith(
            "http://169.254.169.254/")
        # slow, oversized, gzip bomb, broken, flaky
        t = time.perf_counter()
        assert c.get(base + "slow/archive.html").status_code == 200
        assert time.perf_counter() - t >= 0.5
        with c.stream("GET", base + "big/yearbook.html") as r:
            assert int(r.headers["content-length"]) == 2**20
        with c.stream("GET", base + "big/stream.html") as r:
            assert "content-length" not in r.headers and r.headers["transfer-encoding"] == "chunked"
        with c.stream("GET", base + "big/bomb.html") as r:
            raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip" and len(raw) < 2**20 // 100
        assert len(gzip.decompress(raw)) == 2**20
        with c.stream("GET", base + "slow/drip.html") as r:
            assert r.status_code == 200
        assert c.get(base + "error/db.html").status_code == 500
        assert c.get(base + "old/zt2015.html").status_code == 404
        first = c.get(base + "flaky/news.html")
        assert first.status_code == 503 and first.headers["retry-after"] == "1"
        assert c.get(base + "flaky/news.html").status_code == 200
        home = parse_html(c.get(base).text, base)
        for target in ("http://10.0.0.1/oa/", "http://169.254.169.254/latest/meta-data/", "http://192.168.1.1/"):
            assert target in home.link_urls
        assert any(h.startswith("https://www.gov.cn") for h in home.link_urls)
        assert all(t["url"].startswith((base, "http://10.0.0.1/")) for t in truth["traps"])


def test_concurrent_requests_over_many_sites(server, web):
    urls = [server.url(u.code, k) for u in web.units for k in u.sites]
    with httpx.Client(timeout=10) as c, concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda url: c.get(url).status_code, urls * 3))
    assert statuses == [200] * len(urls) * 3


def test_api_posts_search_and_apps(server, web, rs):
    u = next(u for u in web.units if "weibo" in u.accounts and "wechat" in u.accounts)
    truth = server.ground_truth()["units"][u.code]
    with httpx.Client(timeout=5) as c:
        for acc in truth["accounts"].values():
            items, url = [], acc["api"]
            while url:
                page = c.get(url).json()
                items += page["items"]
                url = page["next"]
            assert len(items) == acc["posts"]
            assert set(items[0]) == set(schema(rs, "posts")) - {"round"}
            assert Counter(t for p in items for t in p["topics"]) == Counter(acc["topics"])
        first = c.get(truth["search"]["api"] + "?engine=baidu").json()
        assert set(first["items"][0]) == set(schema(rs, "search")) - {"round"}
        gov = [r for r in first["items"] if r["is_gov"]]
        assert gov and all(f":{server.port}/" in r["url"] for r in gov)
        apps = c.get(f"{server.hub}api/apps/{u.code}").json()["items"]
        assert apps == truth["apps"]
        assert all(set(a) == set(schema(rs, "apps")) - {"round"} for a in apps)


# ---------------------------------------------------------------------------- ground truth vs extraction
def _fetch_rows(server, web, codes):
    jobs = [(code, site, page) for code in codes for site, page in web.pages(code)]
    with httpx.Client(timeout=10) as c, concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda j: c.get(web.url(j[1], j[2].path, server.port)), jobs))
    rows = []
    for (code, site, _), r in zip(jobs, bodies):
        assert r.status_code == 200, r.url
        charset = re.search(r"charset=([\w-]+)", r.headers["content-type"])
        label = charset.group(1) if charset else re.search(rb"charset=[\"']?([\w-]+)", r.content[:1024]).group(1).decode()
        html = r.content.decode("gb18030" if label.lower() in ("gbk", "gb2312") else label)
        f = parse_html(html, str(r.url))
        rows.append({"unit": code, "round": 1, "site": site.kind, "url": str(r.url), "final_url": str(r.url),
                     "depth": 0, "status": 200, "error": "", "title": f.title, "text": f.text,
                     "link_texts": f.link_texts, "link_urls": f.link_urls, "meta": f.meta, "headings": f.headings,
                     "content_hash": content_hash(r.content)})
    return jobs, rows


def test_markers_and_cleaning_agree_with_ground_truth(server, web, rs, sample):
    jobs, rows = _fetch_rows(server, web, sample)
    ex = extract(rs, raw_frame(rs, "page_content", rows), "page_content")
    truth = server.ground_truth()["units"]
    by_url = {row["url"]: job for row, job in zip(rows, jobs)}
    got: dict[str, set[str]] = defaultdict(set)
    wrong = []
    for url, marks in zip(ex.rows["url"].to_list(), ex.rows["markers"].to_list()):
        code, site, page = by_url[url]
        got[code] |= set(marks)
        if not page.junk and set(marks) != site.expected(page):
            wrong.append((url, page.title, sorted(set(marks) ^ site.expected(page))))
    assert wrong == []
    for code in sample:
        assert got[code] == set(truth[code]["markers"]), code
    # together the sample has, and lacks, every marker: precision and recall are both tested
    for m in MARKERS:
        assert any(m in got[c] for c in sample) and any(m not in got[c] for c in sample), m
    # cleaning drops exactly what was planted, counted by reason
    planted = {reason: {u for c in sample for u in truth[c]["cleaning"][reason]} for reason in ex.counts}
    assert ex.counts == {reason: len(urls) for reason, urls in planted.items()}
    assert all(n > 0 for n in ex.counts.values())
    dropped = defaultdict(set)
    for url, reason in zip(ex.dropped["url"].to_list(), ex.dropped["reason"].to_list()):
        dropped[reason].add(url)
    assert dict(dropped) == {r: u for r, u in planted.items() if u}


def test_marker_pages_count_what_extraction_finds(server, web, rs):
    code = web.units[3].code
    jobs, rows = _fetch_rows(server, web, [code])
    ex = extract(rs, raw_frame(rs, "page_content", rows), "page_content")
    counts: dict[str, Counter] = defaultdict(Counter)
    for site, marks in zip(ex.rows["site"].to_list(), ex.rows["markers"].to_list()):
        for m in marks:
            counts[m][site] += 1
    assert {m: dict(c) for m, c in counts.items()} == server.ground_truth()["units"][code]["marker_pages"]


def test_letters_on_listing_pages_match_ground_truth(server, web):
    u = next(u for u in web.units if sum(le.channel == "mailbox" for le in u.letters) > 30)
    truth = server.ground_truth()["units"][u.code]["letters"]
    mailbox = [le for le in truth if le["channel"] == "mailbox"]
    listings = sorted({le["listing"] for le in mailbox})
    assert len(listings) >= 3
    seen = []
    with httpx.Client(timeout=5) as c:
        for url in listings:
            r = c.get(url)
            html = r.content.decode("gb18030" if u.sites["portal"].charset == "gbk" else "utf-8")
            for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1]):
                cells = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
                seen.append(cells)
    expect = [[le["title"], le["category"], le["submitted"], le["replied"] or "", le["reply_unit"] or ""]
              for le in sorted(mailbox, key=lambda le: listings.index(le["listing"]))]
    assert sorted(map(tuple, seen)) == sorted(map(tuple, expect))
    assert any(le["replied"] is None for le in mailbox) and any(le["replied"] for le in mailbox)
    assert all(le["replied"] is None or le["replied"] >= le["submitted"] for le in mailbox)


def test_command_line_serves_and_writes_files(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "govindex.synth.web", "serve", "--units", "3", "--seed", "1",
                             "--dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not (tmp_path / "channels.csv").exists() and time.time() < deadline:
            time.sleep(0.1)
        rows = list(csv.DictReader(io.StringIO((tmp_path / "channels.csv").read_text(encoding="utf-8"))))
        portal = next(r["url"] for r in rows if r["kind"] == "portal")
        assert httpx.get(portal, timeout=5).status_code == 200
        assert (tmp_path / "ground_truth.json").exists() and (tmp_path / "web.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
