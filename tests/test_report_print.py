"""The report on paper and in the browser: printed to PDF (A4) by headless Chromium, every page a
table continues on starts that table with its header text, no row and no column is lost (the
14-column ranking prints on a landscape page); the search box over the ranking; a unit's profile
(screenshot kept as a test artifact); chart labels that do not collide, measured by the browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from lxml import html as lhtml

from tests.test_report import ARGS, _chromium, _keep, page, results  # noqa: F401  (fixtures)


def _squash(s: str) -> str:
    """Text as compared across HTML and PDF: NFKC, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


class Page:
    """One printed page: its size in points (from pdfinfo) and its text in content-stream order
    (``pdftotext -raw``: a table row's cells stay together, in order, on one line)."""

    def __init__(self, text: str, size: tuple[float, float]) -> None:
        self.text, self.width, self.height = text, *size

    @property
    def flat(self) -> str:
        return _squash(self.text)


def _pages(pdf: Path) -> list[Page]:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed: apt-get install -y poppler-utils (.ci/run does this)")
    text = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")[:-1]
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", str(len(text)), str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]
    assert len(sizes) == len(text)
    return [Page(t, s) for t, s in zip(text, sizes)]


def _tables(text: str) -> list[tuple[str, list[str]]]:
    """(header, rows) of every printed data table, each squashed (profiles are closed: not printed)."""
    out = []
    for t in lhtml.fromstring(text).xpath("//table[contains(@class, 'data')]"):
        head = _squash("".join(t.xpath("./thead//th//text()")))
        rows = [_squash("".join(r.xpath(".//td//text()"))) for r in t.xpath("./tbody/tr")]
        out.append((head, rows))
    return out


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    sync = pytest.importorskip("playwright.sync_api")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def printed(browser, page, tmp_path_factory):  # noqa: F811
    """The report printed to PDF as a reader would (print media, A4, the page's own @page sizes)."""
    tab = browser.new_page()
    tab.goto(page.as_uri(), wait_until="load")
    t0 = time.perf_counter()
    pdf = tmp_path_factory.mktemp("pdf") / "report.pdf"
    tab.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    print(f"printed {pdf} ({pdf.stat().st_size // 1024} KB) in {time.perf_counter() - t0:.1f}s")
    tab.close()
    _keep(pdf)
    return _pages(pdf)


def test_every_page_a_table_continues_on_starts_with_its_header(page, printed):  # noqa: F811
    pages = [p.flat for p in printed]
    tables = _tables(page.read_text(encoding="utf-8"))
    owners: dict[str, set[int]] = {}
    for i, (_, rows) in enumerate(tables):
        for r in rows:
            owners.setdefault(r, set()).add(i)
    continued = 0
    for i, (head, rows) in enumerate(tables):
        unique = [r for r in rows if len(owners[r]) == 1 and len(r) >= 4]
        on = [[r for r in unique if r in text] for text in pages]
        spans = [n for n, found in enumerate(on) if found]
        for n in spans:
            first = min(pages[n].find(r) for r in on[n])
            assert 0 <= pages[n].find(head) < first, f"table {i} on page {n + 1}: rows without the header {head[:40]}"
        continued += max(0, len(spans) - 1)
        lost = [r for r in unique if not any(r in text for text in pages)]
        assert not lost, f"table {i}: rows not printed whole (a column cut?): {lost[:3]}"
    assert continued >= 5  # the ranking alone continues over several pages


def test_the_ranking_prints_whole_on_landscape_pages(printed):
    ranking = [p for p in printed if "排名变化" in p.flat]
    assert len(ranking) >= 5
    for p in ranking:
        assert p.width > p.height  # @page wide: A4 landscape
        assert "总分变化Totalchange" in p.flat  # the last column's header…
        rows = [line.split() for line in p.text.splitlines() if re.match(r"\d+ \d{6} ", line)]
        whole = [cells for cells in rows if len(cells) == 14]  # a long name may wrap: its row is on two lines
        assert len(whole) > 0.9 * len(rows) > 10
        for cells in whole:  # …and its value ends every row: … previous rank, rank change, total change
            assert re.fullmatch(r"[+-]\d+\.\d\d", cells[-1]) and re.fullmatch(r"[+-]?\d+", cells[-2]), cells
    portrait = [p for p in printed if p.width < p.height]
    assert len(portrait) > 3 and abs(portrait[0].width - 595.3) < 1  # A4: 210 mm = 595.3 pt


def test_search_over_the_ranking_finds_a_unit(browser, page):  # noqa: F811
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    tab.goto(page.as_uri(), wait_until="load")
    print(f"loaded {page.stat().st_size // 1024} KB with 334 profiles in {time.perf_counter() - t0:.2f}s")
    visible = lambda: tab.evaluate("""() => Array.from(document.querySelectorAll('#ranking-table tbody tr'))
        .filter(r => r.offsetParent !== null).map(r => Array.from(r.cells).map(c => c.textContent.trim()))""")
    assert len(visible()) == 334
    tab.fill("#ranking-table-q", "宜宾市")
    shown = visible()
    assert len(shown) == 1 and shown[0][2] == "宜宾市" and shown[0][3] == "四川"
    assert tab.inner_text("#ranking-table-n") == "1 / 334"
    tab.fill("#ranking-table-q", "511500")  # by code
    assert [r[2] for r in visible()] == ["宜宾市"]
    tab.fill("#ranking-table-q", "四川")  # by province
    assert len(visible()) == 21
    tab.fill("#ranking-table-q", "")
    assert len(visible()) == 334 and errors == []
    tab.close()


def test_a_unit_profile_opens_from_the_ranking(browser, page, tmp_path):  # noqa: F811
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.goto(page.as_uri(), wait_until="load")
    prof = tab.locator("#unit-511500")
    assert not prof.evaluate("d => d.open")
    tab.locator("#ranking-table a", has_text="宜宾市").click()
    assert prof.evaluate("d => d.open") and prof.is_visible()
    text = prof.inner_text()
    for label in ("宜宾市", "四川", "服务供给能力", "目录覆盖能力", "全国平均得分率", "本省平均得分率", "优势", "短板", "较上年"):
        assert label in text, label
    shot = tmp_path / "unit-profile.png"
    prof.screenshot(path=str(shot))
    print(f"profile screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    _keep(shot)
    tab.locator("#unit-511500 a.back, #unit-511500 .back a").click()
    assert tab.evaluate("location.hash") == "#ranking"
    tab.close()


JS_TEXT_BOXES = """cid => {
  const s = document.getElementById(cid);
  const boxes = Array.from(s.querySelectorAll('text')).map(t => {
    const b = t.getBBox(); return {cls: t.getAttribute('class') || '', text: t.textContent,
                                   x: b.x, y: b.y, w: b.width, h: b.height};
  });
  const refs = Array.from(s.querySelectorAll('line[stroke-dasharray]')).map(l => {
    const b = l.getBBox(); return {x: b.x, y: b.y, h: b.height};
  });
  const ticks = Array.from(s.querySelectorAll('path.marker')).map(p => {
    const b = p.getBBox(); return {x: b.x, y: b.y, h: b.height};
  });
  return {boxes, refs, ticks};
}"""


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def _crosses(box: dict, line: dict) -> bool:
    return box["x"] < line["x"] < box["x"] + box["w"] and line["y"] < box["y"] + box["h"] and box["y"] < line["y"] + line["h"]


@pytest.mark.parametrize("cid", ["chart-profile", "chart-provinces", "chart-regions"])
def test_chart_labels_do_not_collide(browser, page, cid):  # noqa: F811
    """As drawn by the browser (its fonts, its text boxes): no two labels overlap; no figure is
    crossed by the reference (60 %, national mean) line or by last year's tick."""
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.goto(page.as_uri(), wait_until="load")
    got = tab.evaluate(JS_TEXT_BOXES, cid)
    tab.close()
    boxes = [b for b in got["boxes"] if b["w"] > 0]
    assert len(boxes) > 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not _overlap(a, b), (a, b)
    values = [b for b in boxes if "value" in b["cls"]]
    assert values and got["refs"]
    for v in values:
        for line in got["refs"] + got["ticks"]:
            assert not _crosses(v, line), (v, line)


def test_print_css_keeps_header_text_and_charts_whole():
    """The rules the PDF test relies on, where a regression would be silent on screen."""
    css = (Path(__file__).parents[1] / "govindex/report/templates/report.html.j2").read_text(encoding="utf-8")
    rules = css[css.index("@media print"):]
    for rule in ("thead { display: table-header-group; }", "th button { display: contents; }",
                 "@page wide { size: A4 landscape;", "section.wide { page: wide; }",
                 "figure, .cards div { break-inside: avoid; }"):
        assert rule in rules, rule
