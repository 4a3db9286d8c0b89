"""The report's unit profiles, captions and language, without a browser: the strengths and
weaknesses rule on a hand-built case, a profile's figures against an independent computation,
analyze captions in words (no raw ids), the page's language from the rule set's ``language:``,
and figure labels placed clear of the reference line and last year's tick."""

from __future__ import annotations

import re

import numpy as np
from lxml import etree
from lxml import html as lhtml
from typer.testing import CliRunner

from govindex.analysis.analyze import TOTAL, analyze, load_results
from govindex.cli import app
from govindex.report import charts as ch
from govindex.report.html import Bi, build, caption, english_first, render
from govindex.report.profiles import profiles, ranks_desc, strengths_weaknesses
from tests.conftest import ROOT
from tests.test_report import results  # noqa: F401  (fixture)


def test_ranks_are_competition_ranks_best_first():
    v = np.array([0.5, 0.9, np.nan, 0.5, 0.7, 0.9])
    assert ranks_desc(v).tolist() == [4, 1, 0, 4, 3, 1]  # ties share the best rank; NaN is not ranked (0)
    assert ranks_desc(np.array([])).tolist() == []


def test_strengths_and_weaknesses_on_a_hand_built_case():
    # 7 units ranked on five leaves; the unit: 1st, 7th, 3rd, 5th, 1st (tied) — tree order breaks ties.
    leaves = [("a", 1, 7), ("b", 7, 7), ("c", 3, 7), ("d", 5, 7), ("e", 1, 7)]
    strong, weak = strengths_weaknesses(leaves, top=2)
    assert strong == ["a（1/7）", "e（1/7）"]
    assert weak == ["b（7/7）", "d（5/7）"]
    strong, weak = strengths_weaknesses(leaves)  # top 3: c (3 ≤ 3.5) is a strength, no third weakness
    assert strong == ["a（1/7）", "e（1/7）", "c（3/7）"] and weak == ["b（7/7）", "d（5/7）"]
    assert strengths_weaknesses([("x", 0, 6), ("y", 6, 6)]) == ([], ["y（6/6）"])  # unranked left out


def test_a_profile_against_an_independent_computation(results):  # noqa: F811
    res, prev = load_results(results[0]), load_results(results[1])
    got = {p.code: p for p in profiles(res, "province", prev)}
    assert len(got) == 334
    i = next(k for k, u in enumerate(res.units) if u["name"] == "宜宾市")
    u, p = res.units[i], got[res.units[i]["code"]]
    same = [k for k, w in enumerate(res.units) if w["province"] == u["province"]]
    rows = {r.name: r.cells for r in p.rows}
    for x in (x for x in res.indicators if x["level"] <= 2):
        s = res.scores[x["id"]]
        rate = s / x["max"]
        better = sum(1 for v in rate if v > rate[i])
        national = sum(rate) / len(rate)
        province = sum(rate[k] for k in same) / len(same)
        before = dict(zip((w["code"] for w in prev.units), prev.scores[x["id"]]))[u["code"]]
        expect = [f"{s[i]:.2f}", f"{rate[i] * 100:.2f}%", f"{better + 1}/334", f"{national * 100:.2f}%",
                  f"{province * 100:.2f}%", f"{s[i] - before:+.2f}"]
        assert rows[x["name"]] == expect, x["name"]  # (no half-way ties at these digits in this data)
    assert p.summary.startswith(f"#{u['rank']} · 宜宾市 (511500) · 四川 · {res.scores[TOTAL][i]:.2f}")
    assert p.change.endswith(f"；{dict((w['code'], w['rank']) for w in prev.units)[u['code']]} → {u['rank']}")


def test_captions_name_attributes_and_methods_in_words():
    doc = {"province_attr": "province", "region_attr": "macro_region", "grading": None}
    title = "Means by macro_region (share of 东部)"
    assert caption(title, doc, Bi()) == "按区域的均值（占东部的比例） Means by region (share of 东部)"
    assert caption(title, doc, Bi("en")) == "Means by region (share of 东部) 按区域的均值（占东部的比例）"
    assert caption("SD within each province", doc, Bi()) == "各省份内部的标准差 SD within each province"
    assert caption("Something new", doc, Bi()) == "Something new"  # unknown titles pass (attributes still named)
    doc["grading"] = {"label": "等级划分", "method": "difference_trend"}
    assert caption("等级划分 (difference_trend)", doc, Bi()) == "等级划分（difference trend） Grades (difference trend)"


def test_english_first_retitles_a_chart():
    c = ch.hbars("c", "区域平均总分 Mean total by region（参照 东部）", "d", [ch.Bar("a", 1.0, "#000", "1")], 2.0)
    e = english_first(c)
    assert e.title == "Mean total by region（参照 东部） 区域平均总分"
    assert f"<title id=\"c-t\">{e.title}</title>" in e.markup
    assert english_first(ch.hbars("c", "Totals", "d", [], 1.0)).title == "Totals"


def test_the_page_follows_the_rule_sets_language(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "country"
    r = CliRunner().invoke(app, ["score", "examples/country-index", "--facts", "examples/country-index/facts",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert '"language": "en"' in (out / "scores.json").read_text(encoding="utf-8")
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    page = lhtml.fromstring((out / "report.html").read_text(encoding="utf-8"))
    assert page.get("lang") == "en"
    heads = page.xpath("//h2/text()")
    assert "Full ranking · 完整排名" in heads and "Unit profiles · 单位档案" in heads
    assert page.xpath("//figcaption/text()")[0].startswith("Sorted totals")
    assert page.xpath("//table[@id='ranking-table']/thead/tr/th/button/text()")[:2] == ["Rank 排名", "Code 代码"]


def test_an_unknown_language_is_a_located_error(tmp_path):
    import shutil

    rules = tmp_path / "mini"
    shutil.copytree(ROOT / "tests/fixtures/mini", rules)
    head = next(p for p in rules.glob("*.rules") if re.search(r"^ruleset ", p.read_text(encoding="utf-8"), re.M))
    text = head.read_text(encoding="utf-8")
    head.write_text(re.sub(r"(^ruleset [^\n]*\{\n)", r'\1  language: "fr"\n', text, count=1, flags=re.M), encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(rules)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert re.search(rf"{head.name}:\d+:\d+.*E207.*unknown language `fr`", r.output, re.S), r.output
    assert 'language: "zh"' in r.output  # the hint names the values


def test_values_clear_the_reference_line_and_last_years_tick():
    """From the positions and the estimated widths the chart emits: a figure that would run over
    the 60 % line starts right of it; it always starts right of last year's tick."""
    bars = [ch.Bar(f"b{i}", v, "#000", f"{v:.2f}%", marker=m) for i, (v, m) in
            enumerate([(55.0, 58.0), (57.5, None), (59.9, 61.0), (40.0, 70.0), (62.0, 50.0), (10.0, None)])]
    svg = etree.fromstring(str(ch.hbars("p", "t", "d", bars, 100.0, (60.0, "60%"))))
    ns = {"s": "http://www.w3.org/2000/svg"}
    ref = float(svg.xpath(".//s:line[@stroke-dasharray]", namespaces=ns)[0].get("x1"))
    ticks = [tuple(map(float, re.match(r"M([\d.]+) ([\d.]+)v([\d.]+)", p.get("d")).groups()))
             for p in svg.xpath(".//s:path", namespaces=ns)]  # (x, top, height) of last year's tick per row
    values = svg.xpath(".//s:text[@class='value']", namespaces=ns)
    assert len(values) == 6 and len(ticks) == 4
    moved = 0
    for t in values:
        x, y, w = float(t.get("x")), float(t.get("y")), ch._text_width(t.text, 12)
        assert not x - 3 <= ref <= x + w + 3, t.text
        assert all(not x - 3 <= k <= x + w for k, top, h in ticks if top <= y <= top + h), t.text
        moved += x == ref + 6
    assert moved == 2  # 55 (tick 58) and 57.5 start right of the line; 59.9 already right of its tick at 61


def test_profiles_are_light(results):  # noqa: F811
    res = load_results(results[0])
    html = render(build(res, analyze(res), rounds=[1], generated="2019-01-01"))
    page = lhtml.fromstring(html)
    units = page.xpath("//details[@class='unit']")
    assert len(units) == 334 and not page.xpath("//details[@open]")  # closed: not laid out until opened
    per_unit = len(etree.tostring(units[0]))
    assert per_unit < 3500, per_unit  # a compact table, no chart: ~0.9 MB for 334 units
    ranking_links = page.xpath("//table[@id='ranking-table']//a/@href")
    assert len(ranking_links) == 334 and {f"#{u.get('id')}" for u in units} == set(ranking_links)
