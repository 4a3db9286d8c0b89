"""``govindex diff``: the edit script between two rule sets (golden text and JSON for 2018 → 2019 and
for small constructed pairs), ``diff(a, a)`` empty, and the impact equal to scoring both separately.

Regenerate the golden files with ``GOVINDEX_UPDATE_GOLDEN=1`` and review them as a diff.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.explain import load_sources
from govindex.results import wide_table
from govindex.versions.diff import Edit, diff, match
from govindex.versions.impact import impact
from tests.conftest import HEADER, ROOT, UNITS_CSV, assert_golden

SHIPPED = ["rules/2018", "rules/2019", "examples/country-index", "tests/fixtures/mini"]
MINI = ROOT / "tests/fixtures/mini"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")


# ------------------------------------------------------------------ 2018 → 2019


@pytest.mark.parametrize("fmt,ext", [("text", "txt"), ("json", "json"), ("md", "md")])
def test_2018_2019_golden(in_repo, fmt, ext):
    r = run("diff", "rules/2018", "rules/2019", "--format", fmt)
    assert r.exit_code == 0, r.output
    assert_golden(f"diff_2018_2019.{ext}", r.stdout)


def test_2018_2019_names_what_the_report_calls_new():
    edits = diff(load(ROOT / "rules/2018"), load(ROOT / "rules/2019"))
    added = {e.node for e in edits if e.kind == "added"}
    # 2019 report: "设立了企业注册开办流程是否按规定简化…宫颈癌疫苗接种办事贯通度和个人所得税办理响应度等评价点位"
    assert {"hpv_vaccine_connectivity", "iit_response", "biz_setup_simplified"} <= added
    renamed = {(e.old, e.new) for e in edits if e.kind == "renamed"}
    assert ("opendata_platform", "opendata_portal") in renamed
    moved = {e.node: (e.old, e.new) for e in edits if e.kind == "moved"}
    assert moved["key_social_transfer"] == ("online_depth", "key_matters")
    assert all(e.old_at or e.new_at for e in edits)
    for e in edits:  # both places named whenever both sides exist
        if e.kind in ("renamed", "moved", "changed"):
            assert e.old_at and e.new_at, e


@pytest.mark.parametrize("rules", SHIPPED)
def test_diff_with_itself_is_empty(rules):
    rs = load(ROOT / rules)
    assert diff(rs, rs) == []
    assert diff(rs, load(ROOT / rules)) == []


def test_diff_of_a_copy_elsewhere_is_empty(tmp_path):
    shutil.copytree(ROOT / "rules/2019", tmp_path / "copy")
    assert diff(load(ROOT / "rules/2019"), load(tmp_path / "copy")) == []


def test_cli_empty_diff(in_repo):
    r = run("diff", "tests/fixtures/mini", "tests/fixtures/mini", "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["edits"] == [] and "impact" not in doc and sum(doc["counts"].values()) == 0


# ------------------------------------------------------------------ constructed pairs

BASE = """let wanted = ["x", "y"]

indicator a "甲" {
  max: 4

  point a1 "有标签" {
    kind: technical
    max: 2
    probe: any(t, where: has_any(tags, wanted))
    score: presence(x)
  }

  point a2 "类型计数" {
    kind: technical
    max: 2
    probe: count(t, where: kind == "k")
    score: linear(x, cap: 10)
  }
}

indicator c "丙" {
  max: 2

  point c1 "均值" {
    kind: technical
    max: 1
    probe: mean(t, v)
    score: linear(x, cap: 100)
  }

  point c2 "最大值" {
    kind: technical
    max: 1
    probe: max(t, v)
    score: linear(x, cap: 100)
  }
}

indicator b "乙" {
  max: 2
  aggregate: wmean

  point b1 "总量" {
    kind: technical
    weight: 1
    probe: sum(t, v)
    score: log_scale(x, cap: 1000)
  }

  point b2 "最近" {
    kind: technical
    weight: 3
    probe: days_since(t, at)
    score: decay(x, half_life: 7)
  }
}
"""

CASES = {
    "rename": [('point a2 "类型计数"', 'point a2_count "类型计数"')],
    "move": [("  max: 4\n", "  max: 2\n"),
             ('''
  point a2 "类型计数" {
    kind: technical
    max: 2
    probe: count(t, where: kind == "k")
    score: linear(x, cap: 10)
  }
''', ""),
             ('indicator c "丙" {\n  max: 2\n', 'indicator c "丙" {\n  max: 4\n'),
             ('    probe: max(t, v)\n    score: linear(x, cap: 100)\n  }\n',
              '    probe: max(t, v)\n    score: linear(x, cap: 100)\n  }\n\n  point a2 "类型计数" {\n    kind: technical\n'
              '    max: 2\n    probe: count(t, where: kind == "k")\n    score: linear(x, cap: 10)\n  }\n')],
    "weight": [("    weight: 3\n", "    weight: 1\n")],
    "formula": [("score: linear(x, cap: 10)", "score: log_scale(x, cap: 10)"),
                ('let wanted = ["x", "y"]', 'let wanted = ["x", "y", "z"]')],
    "added": [('indicator c "丙" {\n  max: 2\n', 'indicator c "丙" {\n  max: 3\n'),
              ('    probe: max(t, v)\n    score: linear(x, cap: 100)\n  }\n',
               '    probe: max(t, v)\n    score: linear(x, cap: 100)\n  }\n\n  point c3 "最小值" {\n    kind: technical\n'
               '    max: 1\n    probe: min(t, v)\n    score: linear(x, cap: 100)\n    rounds: mean\n  }\n')],
}
NEW_HEADER = HEADER.replace("  v: float\n", "  v: int\n").replace(
    "  at: datetime\n}", "  at: datetime\n  source: str\n  valid when present(at)\n}")


def _edit(text: str, subs: list[tuple[str, str]]) -> str:
    for a, b in subs:
        assert text.count(a) == 1, a
        text = text.replace(a, b)
    return text


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """Write an old and a new rule set (the conftest header and units) under ./old and ./new."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")

    def make(old_body: str, new_body: str, old_header: str = HEADER, new_header: str = HEADER) -> tuple[str, str]:
        for name, body, header in (("old", old_body, old_header), ("new", new_body, new_header)):
            d = tmp_path / name
            d.mkdir()
            (d / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
            (d / "a_header.rules").write_text(header, encoding="utf-8")
            (d / "b_body.rules").write_text(body, encoding="utf-8")
        return "old", "new"
    return make


@pytest.mark.parametrize("case", [*CASES, "table"])
def test_constructed_pair_golden(pair, case):
    if case == "table":
        old, new = pair(BASE, BASE, HEADER, NEW_HEADER)
    else:
        old, new = pair(BASE, _edit(BASE, CASES[case]))
    for fmt, ext in (("text", "txt"), ("json", "json")):
        r = run("diff", old, new, "--format", fmt)
        assert r.exit_code == 0, r.output
        assert_golden(f"diff_{case}.{ext}", r.stdout)


def _kinds(edits: list[Edit]) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.node, e.field) for e in edits]


def test_rename_is_not_remove_and_add(pair):
    old, new = pair(BASE, _edit(BASE, CASES["rename"]))
    assert _kinds(diff(load(Path(old)), load(Path(new)))) == [("renamed", "a2_count", "id")]


def test_rename_by_a_distinctive_probe_keeps_a_label_change(pair):
    body = _edit(BASE, [('point a2 "类型计数"', 'point a2_n "类型数量"')])
    old, new = pair(BASE, body)
    assert _kinds(diff(load(Path(old)), load(Path(new)))) == [("renamed", "a2_n", "id"), ("changed", "a2_n", "label")]


def test_renamed_indicator_and_its_renamed_child(pair):
    body = _edit(BASE, [('indicator c "丙"', 'indicator c_new "丙"'), ('point c1 "均值"', 'point c1_new "均值"')])
    old, new = pair(BASE, body)
    a, b = load(Path(old)), load(Path(new))
    assert match(a, b)["c"] == "c_new" and match(a, b)["c1"] == "c1_new"
    assert _kinds(diff(a, b)) == [("renamed", "c_new", "id"), ("renamed", "c1_new", "id")]


def test_manual_points_sharing_entry_are_not_renamed_into_each_other(pair):
    header = HEADER + "table manual {\n  unit: str\n  round: int\n  point: str\n  value: float\n}\n"
    old_body = BASE.replace('indicator b "乙" {', '''indicator m "人工" {
  max: 2

  point m_all "无障碍实测（人工）" {
    kind: manual
    max: 2
    probe: entry(manual)
    score: x
  }
}

indicator b "乙" {''')
    new_body = _edit(old_body, [('''  point m_all "无障碍实测（人工）" {
    kind: manual
    max: 2
    probe: entry(manual)
    score: x
  }''', '''  point m_reader "读屏实测（人工）" {
    kind: manual
    max: 1
    probe: entry(manual)
    score: x
  }

  point m_large "大字版实测（人工）" {
    kind: manual
    max: 1
    probe: entry(manual)
    score: x
  }''')])
    old, new = pair(old_body, new_body, header, header)
    kinds = _kinds(diff(load(Path(old)), load(Path(new))))
    assert sorted(kinds) == [("added", "m_large", None), ("added", "m_reader", None), ("removed", "m_all", None)]


def test_move_and_weight_edits(pair):
    old, new = pair(BASE, _edit(BASE, CASES["move"]))
    assert _kinds(diff(load(Path(old)), load(Path(new)))) == [
        ("changed", "a", "max"), ("changed", "c", "max"), ("moved", "a2", "parent")]
    old2, new2 = "old", "new"
    shutil.rmtree(old2)
    shutil.rmtree(new2)
    pair(BASE, _edit(BASE, CASES["weight"]))
    edits = diff(load(Path(old2)), load(Path(new2)))
    assert _kinds(edits) == [("changed", "b2", "weight")]  # one edit: the maxima follow from it
    follows = {e.node: (e.old, e.new) for e in edits[0].follows}
    assert follows == {"b1": (0.5, 1), "b2": (1.5, 1)}


def test_table_edits(pair):
    old, new = pair(BASE, BASE, HEADER, NEW_HEADER)
    edits = diff(load(Path(old)), load(Path(new)))
    assert _kinds(edits) == [("changed", "t.v", "type"), ("added", "t.source", "type"), ("changed", "t", "valid when")]
    assert edits[0].old == "float" and edits[0].new == "int"
    assert edits[2].old is None and edits[2].new == "present(at)"
    assert edits[2].new_at == "new/a_header.rules:15"


def test_marker_and_cleaning_edits(pair):
    raw = "table raw {\n  unit: str\n  round: int\n  title: str\n  url: str\n  tags: list[str]\n}\n"
    old_decl = raw + """marker x "标记 x" {
  table: raw
  into: t
  column: "tags"
  where: contains(title, "甲")
}

clean ads "广告" {
  table: raw
  drop_when: contains(url, "/ad/")
}
"""
    new_decl = raw + """marker x "标记 x" {
  table: raw
  into: t
  column: "tags"
  where: contains(title, "乙")
}

marker y "标记 y" {
  table: raw
  into: t
  column: "tags"
  where: contains(title, "丙")
}
"""
    body = BASE.replace('let wanted = ["x", "y"]', 'let wanted = ["x", "y"]\n\n' + "{decl}")
    old, new = pair(body.replace("{decl}", old_decl), body.replace("{decl}", new_decl))
    a, b = load(Path(old)), load(Path(new))
    if not hasattr(a, "markers"):
        pytest.skip("this engine has no marker declarations")
    edits = diff(a, b)
    assert [(e.kind, e.scope, e.node) for e in edits] == [
        ("changed", "marker", "x"), ("added", "marker", "y"), ("removed", "clean", "ads")]
    assert edits[0].old == 'contains(title, "甲")' and edits[0].new == 'contains(title, "乙")'
    r = run("diff", old, new)
    assert f"changed marker x {edits[0].field}" in r.stdout and "removed clean ads" in r.stdout


# ------------------------------------------------------------------ impact


def _separately(rules: Path, facts: Path) -> tuple[dict, dict]:
    rs = load(rules)
    sc = evaluate(rs, load_sources(rs, facts))
    wide = wide_table(sc)
    units = {r["code"]: r for r in wide.iter_rows(named=True)}
    means = sc.units.select([pl.col(score_col(x)).mean().alias(x) for x in rs.nodes]).row(0, named=True)
    return units, means


def _check_impact(old: Path, new: Path, facts: Path) -> None:
    im = impact(load(old), load(new), facts)
    (uo, mo), (un, mn) = _separately(old, facts), _separately(new, facts)
    assert {u.code for u in im.units} == set(uo) == set(un)
    for u in im.units:
        o, n = uo[u.code], un[u.code]
        assert (u.rank_old, u.grade_old, u.rank_new, u.grade_new) == (o["rank"], o.get("grade"), n["rank"], n.get("grade"))
        # equal up to float noise: the wide table's rounded 80.10000000000001 is 80.1 here
        assert u.total_old == pytest.approx(o["total"], abs=1e-9) and u.total_new == pytest.approx(n["total"], abs=1e-9)
        if u.rank_old is not None and u.rank_new is not None:
            assert u.rank_change == u.rank_old - u.rank_new
        if u.total_old is not None and u.total_new is not None:
            assert u.total_change == pytest.approx(u.total_new - u.total_old, abs=0.0101)
    ro, rn = load(old), load(new)
    for x in im.nodes:  # the rate is the mean score / max; the mean is on the node's scale
        if mo[x.old_id] is not None:
            assert x.rate_old == pytest.approx(mo[x.old_id] / ro.nodes[x.old_id].max, abs=0.000051)
            assert x.mean_old == pytest.approx(mo[x.old_id] / ro.nodes[x.old_id].max * ro.nodes[x.old_id].scale,
                                               abs=0.0051)
        if mn[x.id] is not None:
            assert x.rate_new == pytest.approx(mn[x.id] / rn.nodes[x.id].max, abs=0.000051)
    changes = [abs(x.rate_change) for x in im.nodes if x.rate_change is not None]
    assert changes == sorted(changes, reverse=True)  # ranked by the change of rate, not of score


def test_impact_equals_scoring_each_separately_mini(tmp_path):
    new = tmp_path / "mini2"
    shutil.copytree(MINI, new, ignore=shutil.ignore_patterns("facts"))
    text = (new / "mini.rules").read_text(encoding="utf-8")
    text = _edit(text, [("    max: 2\n    probe: any(pages", "    max: 3\n    probe: any(pages"),
                        ("    max: 4\n    probe: count(pages)", "    max: 3\n    probe: count(pages)"),
                        ("score: linear(x, cap: 4)", "score: linear(x, cap: 2)"),
                        ('point qa_manual "智能问答（人工）"', 'point qa_test "智能问答（人工）"'),
                        ('expect "100100" portal == 2', 'expect "100100" portal == 3'),
                        ('expect "100100" pages_n == 1', 'expect "100100" pages_n == 1.5')])
    (new / "mini.rules").write_text(text, encoding="utf-8")
    _check_impact(MINI, new, MINI / "facts")
    im = impact(load(MINI), load(new), MINI / "facts")
    assert any(x.old_id == "qa_manual" and x.id == "qa_test" for x in im.nodes)  # renamed nodes compared


def test_impact_cli_golden_mini(in_repo, tmp_path):
    new = tmp_path / "mini2"
    shutil.copytree(MINI, new, ignore=shutil.ignore_patterns("facts"))
    text = (new / "mini.rules").read_text(encoding="utf-8")
    (new / "mini.rules").write_text(text.replace("score: linear(x, cap: 4)", "score: linear(x, cap: 2)"), "utf-8")
    r = run("diff", "tests/fixtures/mini", str(new), "--facts", "tests/fixtures/mini/facts", "--top", "3")
    assert r.exit_code == 0, r.output
    out = re.sub(r"scored in [\d.]+s \(old\) and [\d.]+s \(new\)", "scored in …", r.stdout.replace(str(new), "MINI2"))
    assert_golden("diff_impact_mini.txt", out)
    j = run("diff", "tests/fixtures/mini", str(new), "--facts", "tests/fixtures/mini/facts", "--format", "json")
    doc = json.loads(j.stdout)
    assert {"units", "nodes", "movers", "grades", "units_scored"} <= set(doc["impact"])
    assert doc["impact"]["units_scored"] == 3
    md = run("diff", "tests/fixtures/mini", str(new), "--facts", "tests/fixtures/mini/facts", "--format", "md")
    assert "### Impact on `tests/fixtures/mini/facts` (3 units)" in md.stdout


def test_impact_reports_facts_that_fail_one_side(in_repo, tmp_path):
    r = run("diff", "tests/fixtures/mini", "rules/2019", "--facts", "tests/fixtures/mini/facts")
    assert r.exit_code == 1
    assert "new rule set" in r.stderr and "Traceback" not in r.output


@pytest.fixture(scope="module")
def facts_2018_2019(tmp_path_factory) -> tuple[Path, Path, Path]:
    """examples/2019/facts with the shipped rule sets when it exists; else facts generated by
    examples/generate_facts.py for a 15-unit registry, with both rule sets copied onto it."""
    shipped = ROOT / "examples/2019/facts"
    if shipped.is_dir():
        return ROOT / "rules/2018", ROOT / "rules/2019", shipped
    script = ROOT / "examples/generate_facts.py"
    if not script.exists():
        pytest.skip("no examples/2019/facts and no examples/generate_facts.py to make facts with")
    tmp = tmp_path_factory.mktemp("y2y")
    lines = (ROOT / "rules/2019/units.csv").read_text(encoding="utf-8").splitlines()
    keep = [ln for ln in lines[1:] if ln.split(",")[0] in ("510100", "440100", "340100")]  # inline tests name these
    keep += [ln for ln in lines[1::28] if ln not in keep]
    for year in ("2018", "2019"):
        shutil.copytree(ROOT / "rules" / year, tmp / year)
        (tmp / year / "units.csv").write_text("\n".join([lines[0], *keep]) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp / "2019"), str(tmp / "facts")],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.skip(f"examples/generate_facts.py failed (it is being written): {done.stderr[-500:]}")
    return tmp / "2018", tmp / "2019", tmp / "facts"


def test_impact_equals_scoring_each_separately_2018_2019(facts_2018_2019):
    _check_impact(*facts_2018_2019)
