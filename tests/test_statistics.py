"""Statistics declared in the rules (`statistic`, docs §14c): checked, carried in scores.json,
counted by `analyze` — each kind against an independent plain-Python count, on a hand-built
7-unit case and on the shipped example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.analysis.analyze import analyze, load_results
from govindex.analysis.render import to_markdown
from govindex.check.run import check, load
from govindex.cli import app
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_file, parse_text
from tests.conftest import ROOT, assert_golden


def approx(x: float):
    # analyze's JSON keeps 6 decimals today (analysis/analyze.py tidy)
    return pytest.approx(x, abs=1e-6)


# --- a hand-built case: 7 units, two years ---------------------------------------------------------

RULES = """ruleset "seven" {
  units: "units.csv"
  rounds: {1: "2019-01-01"}
  max_total: 4
  missing: zero
}

table manual {
  unit: str
  round: int
  point: str
  value: float
  note: str
}

indicator xa "甲" {
  max: 2
  point a "甲一" { kind: manual  max: 1  probe: entry(manual)  score: x  values: [0, 0.5, 1] }
  point b "甲二" { kind: manual  max: 1  probe: entry(manual)  score: x  values: [0, 0.5, 1] }
}

indicator yc "乙" {
  max: 2
  point c "乙一" { kind: manual  max: 2  probe: entry(manual)  score: x  values: [0, 0.5, 1] }
}

statistic pos "甲一得分" { where: a > 0 }
statistic both "甲一甲二满分" {
  where: all(p in [a, b], rate(p) == 1)
  among: pos
}
statistic some "甲一或甲二满分" { where: any(p in [a, b], score(p) == max(p)) }
statistic gain "甲提升超过 0.4" { where: change(xa) > 0.4 }
statistic from_zero "乙由零突破" { where: previous(yc) == 0 and yc > 0 }
statistic low "乙得分率低于一半或甲二不足一半" { where: rate(yc) < 0.5 or not (b >= 0.5) }
statistic top "前 30%" {
  where: rank(total) <= 0.3 * units
  by: province
}
statistic p2_above "P2 总分超过 1" { where: province == "P2" and total > 1 }
statistic prev_rate "乙去年得分率至少一半" { where: previous_rate(yc) >= 0.5 - 0.1 + 0.1 and -yc <= 0 }
"""

UNITS = {"U1": "P1", "U2": "P1", "U3": "P1", "U4": "P1", "U5": "P2", "U6": "P2", "U7": "P2"}
# The manual entries (a, b, c) per unit: each point scores entry × its max (a, b: 1; c: 2).
NOW = {"U1": (1, 1, 1), "U2": (1, 0.5, 0), "U3": (0, 1, 0.5), "U4": (0.5, 1, 1), "U5": (1, 1, 0.5),
       "U6": (0, 0, 0), "U7": (0.5, 0, 1)}
THEN = {"U1": (1, 0.5, 1), "U2": (0, 0, 0), "U3": (0, 0.5, 0), "U4": (0, 0, 1), "U5": (1, 1, 0),
        "U6": (0.5, 0, 0)}  # U7 is not in last year's registry


def _write(d: Path, entries: dict[str, tuple]) -> tuple[Path, Path]:
    rules, facts = d / "rules", d / "facts"
    rules.mkdir(parents=True)
    facts.mkdir()
    (rules / "seven.rules").write_text(RULES, encoding="utf-8")
    (rules / "units.csv").write_text("code,name,province\n" + "".join(f"{c},{c}市,{UNITS[c]}\n" for c in entries),
                                     encoding="utf-8")
    rows = [f"{c},1,{p},{v},\n" for c, vs in entries.items() for p, v in zip("abc", vs)]
    (facts / "manual.csv").write_text("unit,round,point,value,note\n" + "".join(rows), encoding="utf-8")
    return rules, facts


@pytest.fixture(scope="module")
def seven(tmp_path_factory) -> tuple[Path, Path]:
    """The 7-unit results of this year and last year (scored by the CLI): (current, previous)."""
    out = []
    for name, entries in (("now", NOW), ("then", THEN)):
        d = tmp_path_factory.mktemp(name)
        rules, facts = _write(d, entries)
        r = CliRunner().invoke(app, ["score", str(rules), "--facts", str(facts), "--out", str(d / "out")])
        assert r.exit_code == 0, r.output
        out.append(d / "out")
    return out[0], out[1]


def _scores(entries: dict[str, tuple]) -> dict[str, dict[str, float]]:
    """Plain Python: every unit's figures, and its rank by total (the totals are distinct)."""
    s = {c: {"a": a, "b": b, "c": 2 * c_, "xa": a + b, "yc": 2 * c_, "total": a + b + 2 * c_}
         for c, (a, b, c_) in entries.items()}
    for i, c in enumerate(sorted(s, key=lambda c: -s[c]["total"])):
        s[c]["rank"] = i + 1
    return s


def _expected(now: dict, then: dict | None) -> dict[str, set[str]]:
    n = len(now)
    counted = {
        "pos": {c for c, s in now.items() if s["a"] > 0},
        "some": {c for c, s in now.items() if s["a"] == 1 or s["b"] == 1},
        "low": {c for c, s in now.items() if s["yc"] / 2 < 0.5 or not s["b"] >= 0.5},
        "top": {c for c, s in now.items() if s["rank"] <= 0.3 * n},
        "p2_above": {c for c, s in now.items() if UNITS[c] == "P2" and s["total"] > 1},
    }
    counted["both"] = {c for c in counted["pos"] if now[c]["a"] == 1 and now[c]["b"] == 1}
    if then is not None:
        old = {c: then[c] for c in now if c in then}
        counted["gain"] = {c for c in old if now[c]["xa"] - old[c]["xa"] > 0.4}
        counted["from_zero"] = {c for c in old if old[c]["yc"] == 0 and now[c]["yc"] > 0}
        counted["prev_rate"] = {c for c in old if old[c]["yc"] / 2 >= 0.5}
    return counted


def test_seven_units_each_kind_against_plain_python(seven):
    now, then = _scores(NOW), _scores(THEN)
    doc = analyze(load_results(seven[0]), load_results(seven[1]))
    got = {s["id"]: s for s in doc["statistics"]}
    want, before = _expected(now, then), _expected(then, None)
    assert set(got) == set(want)
    for sid, units in want.items():
        s = got[sid]
        base = want["pos"] if sid == "both" else set(now)
        assert (s["status"], s["count"], s["base"]) == ("ok", len(units), len(base)), sid
        assert s["share"] == approx(len(units) / len(base)), sid
        if sid in before:  # counted last year too (by the same definition): the change
            b = len(before["pos"]) if sid == "both" else len(then)
            p = s["previous"]
            assert (p["count"], p["base"], p["change"]) == (len(before[sid]), b, len(units) - len(before[sid])), sid
            rel = (len(units) - len(before[sid])) / len(before[sid]) if before[sid] else None
            assert p["change_relative"] == (approx(rel) if rel is not None else None), sid
            assert p["share_change"] == approx(len(units) / len(base) - len(before[sid]) / b), sid
        else:  # reads last year itself: no change
            assert s["previous"] is None and s["needs_previous"], sid
    groups = {g["group"]: g for g in got["top"]["groups"]}
    for prov in ("P1", "P2"):
        members = {c for c in now if UNITS[c] == prov}
        assert groups[prov]["count"] == len(want["top"] & members)
        assert groups[prov]["base"] == len(members)
        assert groups[prov]["share"] == approx(len(want["top"] & members) / len(members))


def test_seven_units_without_previous_say_so(seven):
    doc = analyze(load_results(seven[0]))
    got = {s["id"]: s for s in doc["statistics"]}
    for sid in ("gain", "from_zero", "prev_rate"):
        assert got[sid]["status"] == "needs --previous" and got[sid]["count"] is None
    assert got["pos"]["count"] == len(_expected(_scores(NOW), None)["pos"]) and got["pos"]["previous"] is None
    text = to_markdown(doc)
    assert "| 甲提升超过 0.4 | needs --previous |" in text


def test_seven_units_analyze_section_golden(seven):
    doc = analyze(load_results(seven[0]), load_results(seven[1]))
    md = to_markdown(doc)
    section = md[md.index("## 统计 Statistics"):md.index("## Change since")]
    assert_golden("statistics_seven.md", section)


def test_scores_json_carries_definitions(seven):
    doc = json.loads((seven[0] / "scores.json").read_text(encoding="utf-8"))
    st = {s["id"]: s for s in doc["statistics"]}
    assert st["both"]["text"] == "all(p in [a, b], rate(p) == 1)" and st["both"]["among"] == "pos"
    assert st["both"]["where"] == {"op": "all", "args": [
        {"op": "==", "args": [{"fn": "rate", "node": "a"}, {"num": 1.0}]},
        {"op": "==", "args": [{"fn": "rate", "node": "b"}, {"num": 1.0}]}]}
    assert st["top"]["by"] == "province" and st["gain"]["needs_previous"] and not st["pos"]["needs_previous"]


# --- check errors (located, golden) -------------------------------------------------------------------

BAD = """statistic ok "好" { where: a > 0 }
statistic ok "又一个" { where: a > 0 }
statistic no_where "无条件" { by: province }
statistic unknown "未知节点" { where: aa > 0 }
statistic not_bool "不是条件" { where: rate(a) + 1 }
statistic bad_fn "未知函数" { where: scores(a) > 0 }
statistic bad_rank "非总分排名" { where: rank(xa) <= 3 }
statistic bad_by "未知分组" {
  where: a > 0
  by: provnce
}
statistic bad_among "未知基数" {
  where: a > 0
  among: pso
}
statistic loop1 "循环一" {
  where: a > 0
  among: loop2
}
statistic loop2 "循环二" {
  where: b > 0
  among: loop1
}
statistic mixed "类型不符" { where: province > 1 }
statistic bad_all "量词" { where: all(a in [a, b], rate(a) == 1) }
statistic bad_list "量词列表" { where: any(p in [a, zz], rate(p) == 1) }
"""


def test_check_errors_are_located_golden(tmp_path):
    rules, _ = _write(tmp_path, NOW)
    (rules / "seven.rules").write_text(RULES.split("statistic pos")[0] + BAD, encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(rules)])
    assert r.exit_code != 0
    text = r.output.replace(str(rules), "RULES")
    codes = re.findall(r"error\[(E35\d)", text)
    assert sorted(set(codes)) == ["E350", "E351", "E352", "E353", "E354"]
    assert_golden("check_statistics.txt", text)


def test_check_ok_and_fmt_round_trip(tmp_path):
    rules, _ = _write(tmp_path, NOW)
    rs, diags = check(rules)
    assert rs is not None and not [d for d in diags if d.is_error]
    assert [s.id for s in rs.statistics] == ["pos", "both", "some", "gain", "from_zero", "low", "top", "p2_above",
                                             "prev_rate"]
    for path in (rules / "seven.rules", ROOT / "rules/2019/statistics.rules"):
        f = parse_file(path)
        text = format_file(f)
        assert parse_text(text, str(path)) == f
        assert format_file(parse_text(text, str(path))) == text


# --- the shipped rule sets -----------------------------------------------------------------------------

SHIPPED = ["qa_offered", "qa_all_correct", "mobile_channels", "intelligence_gain", "qa_from_zero",
           "smart_interaction_zero", "national_top_decile"]


def test_2018_inherits_the_statistics_and_restates_the_sampled_questions():
    rs19, rs18 = load(ROOT / "rules/2019"), load(ROOT / "rules/2018")
    assert [s.id for s in rs19.statistics] == SHIPPED and [s.id for s in rs18.statistics] == SHIPPED
    s19 = {s.id: s for s in rs19.statistics}["qa_all_correct"]
    s18 = {s.id: s for s in rs18.statistics}["qa_all_correct"]
    assert s19.nodes == tuple(f"qa_sample_{i}" for i in range(1, 6))
    assert s18.nodes == tuple(f"qa_sample_{i}" for i in range(1, 5)) and s18.among == "qa_offered"


def _write_results(rules: str, facts: str, out: Path) -> Path:
    """Score a shipped rule set on its example facts (the latest round: quicker) into ``out``:
    the two files the analysis reads."""
    from govindex.eval.evaluate import evaluate
    from govindex.eval.explain import load_sources
    from govindex.results import long_table, strict_json, to_json

    rs = load(ROOT / rules)
    sc = evaluate(rs, load_sources(rs, ROOT / facts), [4])
    out.mkdir()
    (out / "scores.json").write_text(strict_json(to_json(sc)), encoding="utf-8")
    long_table(sc).write_parquet(out / "scores_long.parquet")
    return out


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> tuple[Path, Path]:
    if not (ROOT / "examples/2019/facts").is_dir() or not (ROOT / "examples/2018/facts").is_dir():
        pytest.skip("no example facts")
    d = tmp_path_factory.mktemp("shipped")
    return (_write_results("rules/2019", "examples/2019/facts", d / "2019"),
            _write_results("rules/2018", "examples/2018/facts", d / "2018"))


def _independent(out: Path) -> tuple[dict[str, dict[str, float]], dict[str, dict], dict[str, float]]:
    """Read the results without govindex: unrounded score per unit and node, the units, the maxima."""
    doc = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    long = pl.read_parquet(out / "scores_long.parquet", columns=["code", "node", "score"])
    scores: dict[str, dict[str, float]] = {}
    for code, node, score in long.iter_rows():
        if score is not None:
            scores.setdefault(code, {})[node] = score
    units = {u["code"]: u for u in doc["units"] if u["total"] is not None}
    maxima = {x["id"]: x["max"] for x in doc["indicators"] + doc["points"]}
    return scores, units, maxima


def test_shipped_example_against_independent_count(shipped):
    now_dir, then_dir = shipped
    s, units, mx = _independent(now_dir)
    p, old_units, old_mx = _independent(then_dir)
    n = len(units)
    samples = [f"qa_sample_{i}" for i in range(1, 6)]
    offered = {c for c in units if s[c]["qa_widget"] > 0}
    old = [c for c in units if c in old_units]
    want = {
        "qa_offered": offered,
        "qa_all_correct": {c for c in offered if all(abs(s[c][q] / mx[q] - 1) <= 1e-9 for q in samples)},
        "mobile_channels": {c for c in units if s[c]["ext_channels"] > 0},
        "intelligence_gain": {c for c in old if s[c]["intelligence"] - p[c]["intelligence"] > 1},
        "qa_from_zero": {c for c in old if abs(p[c]["qa_widget"]) <= 1e-9 and s[c]["qa_widget"] > 0},
        "smart_interaction_zero": {c for c in units if abs(s[c]["smart_interaction"]) <= 1e-9},
        "national_top_decile": {c for c in units if units[c]["rank"] <= 0.1 * n},
    }
    doc = analyze(load_results(now_dir), load_results(then_dir))
    got = {x["id"]: x for x in doc["statistics"]}
    for sid, counted in want.items():
        base = len(offered) if sid == "qa_all_correct" else n
        assert (got[sid]["count"], got[sid]["base"]) == (len(counted), base), sid
        assert got[sid]["share"] == approx(len(counted) / base), sid
    top = {g["group"]: g["count"] for g in got["national_top_decile"]["groups"]}
    assert top.get("广东", 0) == sum(units[c]["province"] == "广东" for c in want["national_top_decile"])
    # Last year counted by its own rules: the 2018 statistic asks four sampled questions.
    old_offered = {c for c in old_units if p[c]["qa_widget"] > 0}
    old_all = {c for c in old_offered if all(abs(p[c][q] / old_mx[q] - 1) <= 1e-9 for q in samples[:4])}
    assert got["qa_all_correct"]["previous"]["count"] == len(old_all)
    assert got["qa_offered"]["previous"]["change"] == len(offered) - len(old_offered)
    assert got["intelligence_gain"]["previous"] is None


def test_report_shows_the_statistics_section(seven, tmp_path):
    from lxml import html

    target = tmp_path / "report.html"
    r = CliRunner().invoke(app, ["report", str(seven[0]), "--previous", str(seven[1]), "--out", str(target)])
    assert r.exit_code == 0, r.output
    page = html.fromstring(target.read_text(encoding="utf-8"))
    section = page.get_element_by_id("statistics")
    rows = [[td.text_content().strip() for td in tr.findall("td")] for tr in section.iter("tr")]
    assert ["甲一得分", "5", "71.43% of 7", "3", "+2 (+66.67%)", "+21.43 pp"] in rows
    assert ["甲提升超过 0.4", "4", "57.14% of 7", "—", "—", "—"] in rows
    assert ["P1", "2", "4", "50.00%"] in rows  # 前 30% by province
    assert "统计 · Statistics" in section.text_content()


# --- property: the three-valued count equals a plain-Python count on random results -------------------

_Opt = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 1.0]))


@settings(max_examples=60, deadline=None)
@given(a=st.lists(_Opt, min_size=7, max_size=7), b=st.lists(_Opt, min_size=7, max_size=7),
       t=st.sampled_from([0.0, 0.25, 0.5]), conj=st.booleans())
def test_count_with_nulls_equals_plain_python(a, b, t, conj):
    import numpy as np

    from govindex.analysis import statistics as stats
    from govindex.analysis.load import Results

    op = "and" if conj else "or"
    where = {"op": op, "args": [{"op": ">", "args": [{"fn": "score", "node": "pa"}, {"num": t}]},
                                {"op": "not", "args": [{"op": "==", "args": [{"fn": "rate", "node": "pb"},
                                                                              {"num": 1.0}]}]}]}
    units = [{"code": f"U{i}", "name": f"U{i}", "province": "P1" if i < 4 else "P2", "rank": i + 1} for i in range(7)]
    nan = float("nan")
    res = Results("r", 2.0, [{"id": "total", "max": 2.0, "level": 0}], units, ["province"],
                  {"total": np.ones(7)}, points=[{"id": "pa", "max": 1.0}, {"id": "pb", "max": 1.0}],
                  point_scores={"pa": np.array([nan if v is None else v for v in a]),
                                "pb": np.array([nan if v is None else v for v in b])},
                  statistics=[{"id": "s", "label": "s", "text": "", "where": where, "nodes": ["pa", "pb"],
                               "needs_previous": False, "by": "province", "among": None}])

    def kleene(x, y):  # None = unknown
        if conj:
            return False if False in (x, y) else None if None in (x, y) else True
        return True if True in (x, y) else None if None in (x, y) else False

    want = [kleene(None if x is None else x > t, None if y is None else y != 1.0) is True for x, y in zip(a, b)]
    got = stats.compute(res)[0]
    assert got["count"] == sum(want) and got["base"] == 7
    assert [g["count"] for g in got["groups"]] == [sum(want[:4]), sum(want[4:])]
