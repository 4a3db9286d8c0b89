"""``govindex report``: the HTML parses, holds every section and table of ``analyze``, needs nothing
from the network, and renders in headless Chromium (no console errors, charts drawn, a screenshot
kept as a test artifact: under tmp_path and, when GOVINDEX_ARTIFACTS is set, copied there)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from lxml import html as lhtml
from typer.testing import CliRunner

from govindex.analysis.analyze import analyze, load_results
from govindex.analysis.render import report as render_tables
from govindex.cli import app
from govindex.grade import difference_trend_breaks
from govindex.report import charts as ch
from govindex.report.figures import pca
from govindex.report.html import Bi, build, caption, render
from tests.conftest import ROOT
from tests.test_analyze import write_results

# A 2019-shaped tree: 3 L1, 9 L2; 目录覆盖能力 has two L3 children (the other L2 are leaves here).
TREE = {
    "supply": ("服务供给能力", 1, None, 40.0), "catalogue": ("目录覆盖能力", 2, "supply", 12.0),
    "xxgk": ("政府信息公开目录", 3, "catalogue", 6.0), "lists": ("责任清单", 3, "catalogue", 6.0),
    "connectivity": ("服务贯通能力", 2, "supply", 16.0), "integration": ("应用整合能力", 2, "supply", 12.0),
    "response": ("服务响应能力", 1, None, 40.0), "intake": ("诉求受理能力", 2, "response", 12.0),
    "transaction": ("办事诉求响应能力", 2, "response", 14.0), "feedback": ("互动诉求反馈能力", 2, "response", 14.0),
    "intelligence": ("服务智慧能力", 1, None, 20.0), "adaptation": ("应用适配能力", 2, "intelligence", 8.0),
    "smart": ("智能交互能力", 2, "intelligence", 8.0), "personal": ("个性化服务能力", 2, "intelligence", 4.0),
}
LEAVES = [k for k, (_, level, _, _) in TREE.items() if not any(p == k for _, _, p, _ in TREE.values())]
CLASSES = (("A", "创新领先"), ("B", "积极追赶"), ("C", "稳步推进"), ("D", "亟待发展"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM = "/usr/bin/chromium"


def _scores(rng: np.random.Generator, level: float) -> dict[str, float]:
    ability = float(np.clip(rng.normal(level, 0.1), 0.05, 0.95))
    s = {k: float(np.clip(ability + rng.normal(0, 0.07), 0, 1)) * TREE[k][3] for k in LEAVES}
    for k in [k for k, v in TREE.items() if v[1] == 2] + [k for k, v in TREE.items() if v[1] == 1]:
        s.setdefault(k, sum(s[c] for c, v in TREE.items() if v[2] == k))
    s["total"] = sum(s[k] for k, v in TREE.items() if v[1] == 1)
    return s


def _grade(path: Path, units: list[tuple], scores: dict) -> None:
    """Difference-trend grades and breaks into scores.json, as `score` writes them."""
    ranked = sorted(((scores[u[0]]["total"], u[0], u[1]) for u in units), key=lambda t: (-t[0], t[1]))
    cuts = difference_trend_breaks([t for t, _, _ in ranked], 4, 10, 10)
    bounds, cls, grade = {c.after for c in cuts}, 0, {}
    for i, (_, code, _) in enumerate(ranked):
        cls += i in bounds
        grade[code] = CLASSES[cls][0]
    doc = json.loads((path / "scores.json").read_text(encoding="utf-8"))
    doc["grading"] = {"label": "等级划分", "method": "difference_trend",
                      "classes": [{"id": c, "label": label} for c, label in CLASSES],
                      "breaks": [{"after_rank": c.after, "code": ranked[c.after - 1][1], "name": ranked[c.after - 1][2],
                                  "score": ranked[c.after - 1][0], "gap": c.gap, "significance": c.significance}
                                 for c in cuts]}
    for u in doc["units"]:
        u["grade"] = grade[u["code"]]
        u["sublevel"] = grade[u["code"]] + ("+" if u["rank"] % 3 == 0 and u["grade"] != "D" else "")
    (path / "scores.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, Path]:
    """Two years of 334-unit results on the 2019 registry: (current, previous)."""
    with (ROOT / "rules/2019/units.csv").open(encoding="utf-8") as f:
        units = [(r["code"], r["name"], r["province"], r["macro_region"]) for r in csv.DictReader(f)]
    out = []
    for year, seed in (("2019", 1), ("2018", 2)):
        rng = np.random.default_rng(seed)
        region_level = {"东部": 0.68, "中部": 0.62, "西部": 0.6, "东北": 0.58}
        scores = {u[0]: _scores(rng, region_level[u[3]]) for u in units}
        d = tmp_path_factory.mktemp(f"r{year}")
        write_results(d, TREE, units, scores, {}, name=f"中国地方政府互联网服务能力评价 {year}")
        _grade(d, units, scores)
        out.append(d)
    return out[0], out[1]


@pytest.fixture(scope="module")
def page(results, tmp_path_factory) -> Path:
    """The report with --previous, written by the CLI."""
    target = tmp_path_factory.mktemp("report") / "report.html"
    r = CliRunner().invoke(app, ["report", str(results[0]), "--previous", str(results[1]), "--out", str(target)])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout
    return target


def _doc(results, previous: bool = True) -> dict:
    return analyze(load_results(results[0]), load_results(results[1]) if previous else None)


# --- the HTML itself ---------------------------------------------------------------------------------


def test_html_parses_with_every_section_and_table(results, page):
    text = page.read_text(encoding="utf-8")
    tree = lhtml.fromstring(text)
    assert tree.get("lang") == "zh-CN"
    assert tree.xpath("//meta[@charset]")[0].get("charset").lower() == "utf-8"
    ids = set(tree.xpath("//section/@id"))
    assert {"distribution", "national", "regions", "provinces", "profile", "clusters", "change", "ranking"} <= ids
    captions = [" ".join(c.text_content().split()) for c in tree.xpath("//table/caption")]
    assert len(captions) == len(tree.xpath("//table[contains(@class, 'data')]"))  # every data table has a caption
    doc = _doc(results)
    for t in render_tables(doc, members=None).tables:  # every table of `analyze` is on the page, captioned in words
        assert " ".join(caption(t.title, doc, Bi("zh")).split()) in captions, t.title
    for raw in ("macro_region", "difference_trend"):
        assert not any(raw in c for c in captions), raw
    ranking = tree.xpath("//section[@id='ranking']//table/tbody/tr")
    assert len(ranking) == 334
    for label in ("创新领先", "亟待发展", "服务供给能力", "目录覆盖能力", "政府信息公开目录", "东部", "东北", "江苏", "西藏"):
        assert label in text, label


def test_charts_are_accessible_and_count_their_marks(page):
    tree = lhtml.fromstring(page.read_text(encoding="utf-8"))
    svgs = {s.get("id"): s for s in tree.xpath("//svg")}
    assert set(svgs) == {"chart-sorted", "chart-histogram", "chart-regions", "chart-regions-rates", "chart-provinces",
                         "chart-profile", "chart-clusters", "chart-cluster-profiles", "chart-change-means",
                         "chart-change-movers"}
    for cid, s in svgs.items():
        assert s.get("role") == "img" and s.get("aria-labelledby") == f"{cid}-t {cid}-d"
        assert s.xpath("./title") and s.xpath("./title")[0].text and s.xpath("./desc")[0].text
    count = lambda cid, xp: len(svgs[cid].xpath(xp))
    assert count("chart-sorted", ".//circle[@class='pt']") == 334
    assert count("chart-clusters", ".//circle[@class='pt']") == 334
    assert count("chart-provinces", ".//rect[@class='bar']") == 27
    assert count("chart-regions", ".//rect[@class='bar']") == 4
    assert count("chart-regions-rates", ".//rect[@class='bar']") == 4 * 4  # total + 3 L1, × 4 regions
    assert count("chart-profile", ".//rect[@class='bar']") == 9
    assert count("chart-profile", ".//path[@class='marker']") == 9  # last year's rates
    assert count("chart-cluster-profiles", ".//rect[@class='cell']") == 4 * 9
    assert count("chart-sorted", ".//line[@stroke-dasharray]") == 3  # the three breaks


def test_page_needs_nothing_from_the_network(page):
    text = page.read_text(encoding="utf-8")
    tree = lhtml.fromstring(text)
    assert not tree.xpath("//link | //img | //iframe | //object | //embed | //script[@src]")
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", text)


def test_report_without_previous_and_atomic_write(results, tmp_path):
    target = tmp_path / "out" / "r.html"
    r = CliRunner().invoke(app, ["report", str(results[0]), "--out", str(target), "--clusters", "3"])
    assert r.exit_code == 0, r.output
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]  # no temporary file left behind
    tree = lhtml.fromstring(target.read_text(encoding="utf-8"))
    assert "change" not in tree.xpath("//section/@id")
    assert len(tree.xpath("//svg[@id='chart-cluster-profiles']//rect[@class='cell']")) == 3 * 9


def test_footer_says_which_sd_and_which_derived_figures(results, tmp_path):
    """`report --sd sample --from-published 2` computes what `analyze` would and says so."""
    target = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(results[0]), "--previous", str(results[1]), "--out", str(target),
                                 "--clusters", "0", "--sd", "sample", "--from-published", "2"])
    assert r.exit_code == 0, r.output
    footer = lhtml.fromstring(target.read_text(encoding="utf-8")).xpath("string(//footer)")
    assert "样本标准差" in footer and "sample SDs" in footer and "2 decimals" in footer
    default = CliRunner().invoke(app, ["report", str(results[0]), "--out", str(tmp_path / "d.html"), "--clusters", "0"])
    assert default.exit_code == 0, default.output
    footer = lhtml.fromstring((tmp_path / "d.html").read_text(encoding="utf-8")).xpath("string(//footer)")
    assert "总体标准差" in footer and "as published" not in footer


def _score_and_report(rules: str, facts: str, out: Path):
    r = CliRunner().invoke(app, ["score", rules, "--facts", facts, "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["report", str(out)])  # default --out: RESULTS/report.html
    assert r.exit_code == 0, r.output
    return lhtml.fromstring((out / "report.html").read_text(encoding="utf-8"))


def test_report_of_a_tree_without_l2_or_without_regions(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    mini = _score_and_report("tests/fixtures/mini", "tests/fixtures/mini/facts", tmp_path / "mini")
    assert len(mini.xpath("//svg[@id='chart-profile']//rect[@class='bar']")) == 2  # L1 when there is no L2
    assert len(mini.xpath("//svg[@id='chart-sorted']//circle[@class='pt']")) == 3
    country = _score_and_report("examples/country-index", "examples/country-index/facts", tmp_path / "country")
    sections = country.xpath("//section/@id")
    assert "regions" not in sections and "provinces" not in sections and "clusters" in sections
    notes = " ".join(country.xpath("//section[@id='notes']//li/text()"))
    assert "no region statistics" in notes and "no province statistics" in notes


def test_cli_errors(results, tmp_path):
    r = CliRunner().invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "x.html")])
    assert r.exit_code == 1 and "not a results directory" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "x.html").exists()
    r = CliRunner().invoke(app, ["report", str(results[0]), "--reference-region", "南极"])
    assert r.exit_code == 2 and "no region `南极`" in r.stderr


def test_names_are_escaped_and_every_chart_is_well_formed_svg(results):
    res = load_results(results[0])
    res.units[0]["name"] = "<script>alert(1)</script>&"
    doc = analyze(res)
    html = render(build(res, doc, rounds=[1], generated="2019-01-01"))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in html
    for s in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        etree.fromstring(s)  # raises on malformed markup
    assert "2019-01-01" in html


def test_pca_is_deterministic_and_oriented_with_the_total():
    rng = np.random.default_rng(3)
    base = rng.normal(0.6, 0.1, 50)
    x = np.column_stack([base + rng.normal(0, 0.02, 50) for _ in range(5)])
    coords, explained = pca(x, x.sum(axis=1))
    assert coords.shape == (50, 2) and explained[0] > 0.9 and 0 <= explained[1] <= 1 - explained[0] + 1e-9
    assert np.corrcoef(coords[:, 0], x.sum(axis=1))[0, 1] > 0.99
    again, _ = pca(x, x.sum(axis=1))
    assert np.array_equal(coords, again)
    assert pca(x[:1], x[:1].sum(axis=1))[0].shape == (1, 2)


def test_ticks_and_label_lanes():
    assert ch.ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert ch.ticks(29.3, 87.5, 5) == [40, 60, 80]
    assert ch.ticks(0, 37, 4) == [0, 10, 20, 30]
    placed = ch._place([(100, "宜宾市 79.91"), (110, "益阳市 60.00"), (400, "周口市 45.00")], 0, 960, 11, True)
    assert [lane for *_, lane in placed] == [0, 1, 0]


# --- in a browser --------------------------------------------------------------------------------------


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: apt-get install -y chromium fonts-noto-cjk (.ci/run does this)")
    return CHROMIUM


def _keep(png: Path) -> None:
    if os.environ.get("GOVINDEX_ARTIFACTS"):
        dest = Path(os.environ["GOVINDEX_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, dest / png.name)


JS_CHARTS = """() => Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, w: r.width, h: r.height, marks: s.querySelectorAll('.bar, .pt, .cell').length,
          drawn: Array.from(s.querySelectorAll('.bar, .pt, .cell')).filter(m => m.getBBox().width > 0).length};
})"""


def test_renders_in_headless_chromium(page, tmp_path):
    exe = _chromium()
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return _dump_dom_fallback(exe, page, tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=ARGS)
            try:
                _check_page(browser, page, tmp_path)
            finally:
                browser.close()
    except Error as exc:
        if "launch" not in str(exc).lower():
            raise
        _dump_dom_fallback(exe, page, tmp_path)


def _check_page(browser, page: Path, tmp_path: Path) -> None:
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests, failed = [], [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("requestfailed", lambda r: failed.append(r.url))
    tab.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())  # offline: any such request is a failure
    tab.goto(page.as_uri(), wait_until="load")
    assert errors == [] and failed == []
    assert requests == [page.as_uri()]  # the page and nothing else
    charts = {c["id"]: c for c in tab.evaluate(JS_CHARTS)}
    assert len(charts) == 10
    for c in charts.values():
        assert c["w"] > 300 and c["h"] > 50 and c["drawn"] > 0, c
    for cid in ("chart-sorted", "chart-provinces", "chart-profile", "chart-clusters", "chart-regions"):
        assert charts[cid]["drawn"] == charts[cid]["marks"], charts[cid]  # every mark has a size on screen
    assert charts["chart-sorted"]["marks"] == 334 and charts["chart-provinces"]["marks"] == 27
    assert charts["chart-profile"]["marks"] == 9 and charts["chart-clusters"]["marks"] == 334
    body = tab.inner_text("body")
    for label in ("创新领先", "服务供给能力", "东部", "江苏", "完整排名"):
        assert label in body, label
    # CJK glyphs are drawn (a font covers them): a Chinese heading is about as wide as its characters.
    width = tab.evaluate("() => { const r = document.createRange(); r.selectNodeContents("
                         "document.querySelector('#ranking-h')); return r.getBoundingClientRect().width; }")
    assert width > 100
    _check_sorting(tab)
    shot = tmp_path / "report.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    _keep(shot)


def _check_sorting(tab) -> None:
    """Clicking 总分 Total sorts the ranking ascending, clicking again descending."""
    table = tab.locator("#ranking table")
    button = table.locator("thead th button", has_text="总分 Total")
    col = [t.strip() for t in table.locator("thead th").all_inner_texts()].index("总分 Total")
    cells = lambda: [float(c) for c in table.locator(f"tbody tr td:nth-child({col + 1})").all_inner_texts()]
    button.click()
    up = cells()
    assert up == sorted(up)
    button.click()
    assert cells() == sorted(up, reverse=True)
    assert table.locator("thead th[aria-sort='descending']").count() == 1


def _dump_dom_fallback(exe: str, page: Path, tmp_path: Path) -> None:
    """Without Playwright: chromium's own --dump-dom and --screenshot, console errors read from its log."""
    run = lambda *extra: subprocess.run([exe, *ARGS, "--enable-logging=stderr", "--v=0", *extra, page.as_uri()],
                                        capture_output=True, text=True, timeout=60)
    dom = run("--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", dom.stderr), dom.stderr
    tree = lhtml.fromstring(dom.stdout)
    assert len(tree.xpath("//svg[@id='chart-sorted']//circle[@class='pt']")) == 334
    shot = tmp_path / "report.png"
    assert run(f"--screenshot={shot}", "--window-size=1200,4000").returncode == 0 and shot.exists()
    _keep(shot)
