"""End to end: crawl the synthetic government web on loopback → archive → facts → score, and the
scores follow the ground truth. Also: traps end within their caps, robots and the address guard
are honoured, GBK titles come out right, re-extraction from the WARC archive equals the first."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from govindex import ir
from govindex.check.run import load
from govindex.collect.channels import load_channels
from govindex.collect.crawl import CrawlConfig, crawl_sync
from govindex.collect.fetch import FetchConfig
from govindex.collect.pipeline import extract_round
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.explain import load_sources
from govindex.synth.web import generate, serve
from tests.conftest import ROOT

ROUND = 4


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules/2019")


@pytest.fixture(scope="module")
def collected(rs, tmp_path_factory):
    """Six units, every trap planted, crawled and extracted once for the whole module."""
    out = tmp_path_factory.mktemp("e2e")
    registry = [{"code": u.code, "name": u.name, **u.attrs} for u in rs.units]
    web = generate(registry, seed=7, n_units=6, traps="all")
    with serve(web, slow_seconds=3.0, big_bytes=8 * 2**20) as server:
        truth = server.ground_truth()
        chans = load_channels(server.write_channels(out / "channels.csv"), units={u.code for u in rs.units})
        config = CrawlConfig(allow_loopback=True, delay=0.0, per_host=2, concurrency=32, max_pages=2000,
                             max_per_shape=300, fetch=FetchConfig(deadline=1.5, retries=1, backoff=0.05,
                                                                 max_bytes=2 * 2**20, max_wire_bytes=2 * 2**20))
        summary = crawl_sync(chans, ROUND, out / "facts", config)
    report = extract_round(rs, ROUND, out / "facts")
    return {"out": out, "truth": truth, "summary": summary, "report": report, "codes": [u.code for u in web.units]}


def _pages(collected) -> pl.DataFrame:
    return pl.read_parquet(collected["out"] / "facts" / "pages" / f"round={ROUND}" / "part-0.parquet")


def test_markers_follow_the_ground_truth(collected):
    pages = _pages(collected)
    truth = collected["truth"]["units"]
    for code in collected["codes"]:
        found = set(pages.filter(pl.col("unit") == code)["markers"].explode().drop_nulls().to_list())
        assert found == set(truth[code]["markers"]), code


def _presence_points(rs) -> dict[str, str]:
    """Points scored exactly `presence(x)` of `any(pages, where: has(markers, "M"))`: point → M."""
    out = {}
    for p in rs.points:
        pr, sc = p.probe, p.score
        if isinstance(pr, ir.Agg) and pr.fn == "any" and isinstance(sc, ir.Formula) and sc.fn == "presence":
            w = pr.where
            if isinstance(w, ir.RowCall) and w.fn == "has":
                out[p.id] = w.literal(1)
    return out


def test_scores_follow_the_ground_truth(rs, collected):
    facts = collected["out"] / "facts"
    for table in rs.tables:  # nobody collected the manual points, posts… here: empty tables
        if not (facts / table).exists():
            (facts / table / f"round={ROUND}").mkdir(parents=True)
            from govindex.eval.facts import schema
            pl.DataFrame(schema=schema(rs, table)).write_parquet(facts / table / f"round={ROUND}" / "part-0.parquet")
    sc = evaluate(rs, load_sources(rs, facts), [ROUND])
    rows = {r["code"]: r for r in sc.units.iter_rows(named=True)}
    checked = 0
    for pid, marker in _presence_points(rs).items():
        for code in collected["codes"]:
            has = marker in collected["truth"]["units"][code]["markers"]
            got = rows[code][score_col(pid)]
            assert (got == rs.nodes[pid].max) if has else (got == 0), (code, pid, marker, got)
            checked += 1
    assert checked >= 6 * 50


def test_traps_end_within_their_caps(collected):
    s = collected["summary"]
    index = pl.read_parquet(list((collected["out"] / "facts" / "crawl" / f"round={ROUND}" / "index").glob("*.parquet")))
    calendar = index.filter(pl.col("url").str.contains("/calendar"))
    assert 0 < calendar.height <= 6 * 301  # max_per_shape per site, plus the start of each
    errors = s.by_error
    assert errors.get("redirect_loop", 0) >= 6
    assert errors.get("too_large", 0) + errors.get("timeout", 0) >= 6  # oversized, endless, bomb, slow, drip
    assert not index.filter(pl.col("url").str.contains("10.0.0.1|192.168.1.1|169.254.169.254")
                            & pl.col("error").is_null()).height  # private addresses never fetched


def test_robots_disallowed_pages_are_rows_with_their_reason(collected):
    index = pl.read_parquet(list((collected["out"] / "facts" / "crawl" / f"round={ROUND}" / "index").glob("*.parquet")))
    truth = collected["truth"]["units"]
    disallowed = {u for code in collected["codes"] for s in truth[code]["sites"].values() for u in s["disallowed"]}
    robots = index.filter(pl.col("error") == "robots")
    assert disallowed, "the web should have robots.txt files that disallow something"
    assert set(robots["url"].to_list()) & disallowed
    fetched = index.filter(pl.col("error").is_null())
    assert not set(fetched["url"].to_list()) & disallowed
    assert robots.filter(pl.col("status").is_not_null() & (pl.col("status") == 200)).height == 0


def test_gbk_pages_yield_chinese_titles(collected):
    pages = _pages(collected)
    truth = collected["truth"]["units"]
    sites = [(code, s) for code in collected["codes"] for s in truth[code]["sites"].values()]
    gbk = [(code, s) for code, s in sites if s["charset"] == "gbk"]
    assert gbk, "the web should have GBK sites"
    for _code, s in gbk:
        home = pages.filter(pl.col("url") == s["url"])
        if home.height:
            assert s["name"] in home["title"][0], (s["url"], home["title"][0])


def test_letters_are_extracted(collected):
    letters = pl.read_parquet(collected["out"] / "facts" / "interactions" / f"round={ROUND}" / "part-crawl.parquet")
    truth = collected["truth"]["units"]
    for code in collected["codes"]:
        want = [le for le in truth[code]["letters"] if le["channel"] in ("mailbox", "consult", "complaint", "hotline")]
        got = letters.filter(pl.col("unit") == code)
        assert got.height == len(want), code
        replied = sum(1 for le in want if le["replied"])
        assert got["replied"].is_not_null().sum() == replied


def test_cleaning_counts_by_reason(collected):
    counts = json.loads((collected["out"] / "facts" / "cleaning" / f"round={ROUND}.json").read_text(encoding="utf-8"))
    assert counts["dropped"]["duplicates"]["rows"] > 0
    assert {"ads", "harmful", "non_government", "duplicates"} <= set(counts["dropped"])


def test_re_extraction_from_the_archive_equals_the_first(rs, collected, tmp_path):
    copy = tmp_path / "facts"
    shutil.copytree(collected["out"] / "facts" / "crawl", copy / "crawl")
    extract_round(rs, ROUND, copy)
    again = pl.read_parquet(copy / "pages" / f"round={ROUND}" / "part-0.parquet")
    assert again.equals(_pages(collected))
