"""``govindex diff --format html``: one self-contained page for reviewers, checked as markup (the
tree with its badges, removed nodes at their old place, one card per edit with both source
excerpts at the right lines, the impact charts) and in a real headless Chromium (no console error,
nothing requested but the page, charts drawn, CJK glyphs drawn, a non-blank screenshot, and a
golden of the page's visible text). Regenerate goldens with ``GOVINDEX_UPDATE_GOLDEN=1``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import html as lhtml
from typer.testing import CliRunner

from govindex.cli import app
from govindex.report.diff_page import page
from tests.conftest import assert_golden
from tests.diff_pairs import year_pair
from tests.test_report import ARGS, _chromium, _keep


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    """The two-year pair, its page written by the CLI: (the tmp dir, the page)."""
    tmp = tmp_path_factory.mktemp("diffhtml")
    old, new, fo, fn = year_pair(tmp)
    target = tmp / "out" / "diff.html"
    r = CliRunner().invoke(app, ["diff", str(old), str(new), "--facts", str(fo), str(fn), "--format", "html",
                                 "--out", str(target)])
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and "wrote" in r.stderr
    assert [p.name for p in target.parent.iterdir()] == ["diff.html"]  # written atomically: no temp left
    return tmp, target


def _tree(target: Path):
    return lhtml.fromstring(target.read_text(encoding="utf-8"))


def test_sections_tree_and_badges(pair):
    doc = _tree(pair[1])
    assert doc.get("lang") == "zh-CN"  # the labels are Chinese
    assert doc.xpath("//section/@id") == ["tree", "changes", "impact"]
    rows = doc.xpath("//ul[@class='tree']/li")
    # the removed point stands where it stood in the old tree: first under 网站, before its successor
    assert [r.get("data-id") for r in rows] == ["total", "web", "portal", "portal_ok", "pages_n", "qa", "qa_test"]
    badges = {r.get("data-id"): [a.text for a in r.xpath("./a[contains(@class, 'badge')]")] for r in rows}
    assert badges == {"total": [], "web": [], "portal": ["删除 removed"], "portal_ok": ["新增 added"],
                      "pages_n": ["修改 changed"], "qa": [], "qa_test": ["更名 renamed"]}
    assert "removed" in rows[2].get("class")
    for a in doc.xpath("//ul[@class='tree']//a"):  # every badge leads to its change
        assert doc.xpath(f"//article[@id='{a.get('href')[1:]}']")


def test_each_change_with_both_source_excerpts(pair):
    doc = _tree(pair[1])
    cards = doc.xpath("//article[contains(@class, 'change')]")
    assert sorted(c.get("data-kind") for c in cards) == ["added", "changed", "changed", "removed", "renamed"]
    score = next(c for c in cards if c.get("data-node") == "pages_n")
    old, new = score.xpath(".//div[contains(@class, 'src old')]")[0], score.xpath(".//div[contains(@class, 'src new')]")[0]
    for side, text in ((old, "score: linear(x, cap: 4)"), (new, "score: linear(x, cap: 2)")):
        hit = side.xpath(".//span[contains(@class, 'hit')]")[0]
        assert hit.get("data-line") == "41" and text in hit.text_content()
        assert [s.get("data-line") for s in side.xpath(".//span[contains(@class, 'ln')]")] == ["39", "40", "41", "42", "43"]
    gone = next(c for c in cards if c.get("data-kind") == "removed")
    assert 'point portal "门户网站"' in gone.xpath(".//span[contains(@class, 'hit')]")[0].text_content()
    assert "not in the new rules" in gone.xpath(".//div[contains(@class, 'src none')]")[0].text_content()


def test_html_to_stdout_without_out(pair):
    tmp = pair[0]
    r = CliRunner().invoke(app, ["diff", str(tmp / "old"), str(tmp / "new"), "--format", "html"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("<!DOCTYPE html>") and r.stdout.rstrip().endswith("</html>")
    assert 'id="impact"' not in r.stdout  # no facts: no impact section
    assert lhtml.fromstring(r.stdout).get("lang") == "zh-CN"


def test_impact_charts_and_units_of_one_side(pair):
    doc = _tree(pair[1])
    svgs = {s.get("id"): s for s in doc.xpath("//section[@id='impact']//svg")}
    assert set(svgs) == {"chart-rank-shifts", "chart-rank-movers", "chart-grade-transitions", "chart-node-rates"}
    assert len(svgs["chart-grade-transitions"].xpath(".//rect[@class='cell']")) == 9
    cells = [t.text for t in svgs["chart-grade-transitions"].xpath(".//rect[@class='cell']/title")]
    assert "B → A: 1" in cells and "A → A: 1" in cells
    assert len(svgs["chart-rank-movers"].xpath(".//rect[@class='bar']")) == 2
    assert len(svgs["chart-rank-shifts"].xpath(".//rect[@class='bar']")) == 2  # −2 and +1
    assert len(svgs["chart-node-rates"].xpath(".//rect[@class='bar']")) == 4  # web, qa, pages_n, qa_test
    only = doc.xpath("//table[@id='only-one-side']/tbody/tr")
    assert [[td.text_content() for td in r.xpath("./td")][:3] for r in only] == [["200100", "丙州", "旧 old"],
                                                                                ["300100", "丁县", "新 new"]]
    text = pair[1].read_text(encoding="utf-8")
    assert not doc.xpath("//link | //img | //iframe | //script")
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", text)


def test_contract_keys_are_shown_and_markup_is_escaped():
    """The diff engine's newer keys (evidence, follows, affects, parts), read with defaults."""
    src = {"a.rules": ['let p10 = 2336', 'point x "<b>甲</b>" {', '  probe: ramp(v, lo: p10, hi: 9000)', '}'],
           "b.rules": ['let p10 = 1800', 'point x "<b>甲</b>" {', '  probe: ramp(v, lo: p10, hi: 9000)', '}']}
    edit = {"kind": "changed", "scope": "let", "node": "p10", "label": "", "field": "value", "old": "2336",
            "new": "1800", "old_at": "a.rules:1", "new_at": "b.rules:1", "evidence": "",
            "affects": [f"pt{i}" for i in range(20)], "parts": [["2336", "1800"]],
            "follows": [{"kind": "changed", "node": "x", "field": "max", "old": 1, "new": 2}]}
    rename = {"kind": "renamed", "scope": "point", "node": "y", "label": "<script>alert(1)</script>", "field": None,
              "old": "x", "new": "y", "old_at": "a.rules:2", "new_at": "b.rules:2", "evidence": "same label and parent"}
    doc = {"old": {"rules": "a", "ruleset": "t"}, "new": {"rules": "b", "ruleset": "t"},
           "counts": {"added": 0, "removed": 0, "renamed": 1, "moved": 0, "changed": 1}, "edits": [edit, rename],
           "tree": {"old": [], "new": [{"id": "total", "label": "总分", "kind": "indicator", "parent": None, "max": 100},
                                       {"id": "pt3", "label": "点", "kind": "technical", "parent": "total", "max": 1}]}}
    out = page(doc, read=src.get)
    tree = lhtml.fromstring(out)
    assert tree.get("lang") == "zh-CN"
    badge = tree.xpath("//li[@data-id='pt3']/a")[0]  # a point the let change affects points at it
    assert badge.text == "受影响 affected" and badge.get("href") == "#edit-0"
    card = tree.xpath("//article[@data-node='p10']")[0]
    assert card.xpath(".//div[contains(@class, 'src new')]//span[contains(@class, 'hit')]/mark")[0].text == "1800"
    assert card.xpath(".//div[contains(@class, 'src old')]//span[contains(@class, 'hit')]/mark")[0].text == "2336"
    assert "影响 affects (20): pt0, pt1" in card.text_content()
    assert "随之变化 follows (1)" in card.text_content() and "changed x max: 1 → 2" in card.text_content()
    assert "依据 evidence: same label and parent" in tree.xpath("//article[@data-node='y']")[0].text_content()
    assert "<script>alert" not in out and "&lt;b&gt;甲&lt;/b&gt;" in out
    english = {"old": [], "new": [{"id": "total", "label": "Index", "kind": "indicator", "parent": None, "max": 100}]}
    assert lhtml.fromstring(page({**doc, "tree": english}, read=src.get)).get("lang") == "en"  # the labels' script


# --- in a browser --------------------------------------------------------------------------------------

JS_CHARTS = """() => Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, w: r.width, h: r.height,
          drawn: Array.from(s.querySelectorAll('.bar, .cell')).filter(m => m.getBBox().width > 0).length};
})"""


def test_renders_in_headless_chromium(pair, tmp_path):
    exe = _chromium()
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            errors, requests = [], []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("request", lambda r: requests.append(r.url))
            tab.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
            tab.goto(pair[1].as_uri(), wait_until="load")
            assert errors == [] and requests == [pair[1].as_uri()]
            charts = {c["id"]: c for c in tab.evaluate(JS_CHARTS)}
            assert len(charts) == 4 and all(c["w"] > 300 and c["h"] > 50 and c["drawn"] > 0 for c in charts.values())
            width = tab.evaluate("() => { const r = document.createRange(); r.selectNodeContents("
                                 "document.querySelector('#tree-h')); return r.getBoundingClientRect().width; }")
            assert width > 120  # 指标树 drawn with a CJK font, not as empty boxes of zero width
            lines = tab.evaluate("() => Array.from(document.querySelectorAll('#changes .src.new .hit'))"
                                 ".map(e => e.innerText)")
            assert any("score: linear(x, cap: 2)" in s for s in lines)
            text = tab.inner_text("body")
            shot = tmp_path / "diff.png"
            tab.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 40_000  # a blank page is a few KB
    _keep(shot)
    assert_golden("diff_page_years.txt", _visible(text, pair[0]))


def _visible(text: str, tmp: Path) -> str:
    """The page's innerText with the tmp directory named TMP and trailing spaces dropped."""
    text = text.replace(str(tmp), "TMP")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
