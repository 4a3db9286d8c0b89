"""``govindex diff`` says what really changed (issue 12 item 4), on constructed pairs:

* renames only with evidence — a label repeated under many parents is no evidence;
* consequences folded under their cause — a weight change among n siblings is one edit;
* a changed ``let`` (or function) is one edit with the nodes it affects, not one per probe;
* a threshold changed inside a long expression is shown as the changed number, with its path;
* ``diff(a, a)`` is empty, over rule sets mutated by hypothesis.

Golden text and JSON; regenerate with ``GOVINDEX_UPDATE_GOLDEN=1`` and review them as a diff.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lhtml
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.lang import nodes as n
from govindex.lang.parse import parse_text
from govindex.versions.diff import diff
from govindex.versions.exprdiff import parts
from govindex.versions.match import SAME_LABEL, SAME_PROBE, match_with_evidence
from tests.conftest import HEADER, ROOT, UNITS_CSV, assert_golden


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _write(d: Path, body: str, header: str = HEADER) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    (d / "a_header.rules").write_text(header, encoding="utf-8")
    (d / "b_body.rules").write_text(body, encoding="utf-8")


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """Write an old and a new rule set under ./old and ./new of a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")

    def make(old_body: str, new_body: str) -> tuple[str, str]:
        _write(tmp_path / "old", old_body)
        _write(tmp_path / "new", new_body)
        return "old", "new"
    return make


def _golden(old: str, new: str, name: str, *extra: str) -> dict:
    """Text, JSON and the HTML page's text (what a reviewer reads on it) of ``diff old new``."""
    for fmt, ext in (("text", "txt"), ("json", "json"), ("html", "html.txt")):
        r = run("diff", old, new, "--format", fmt, *extra)
        assert r.exit_code == 0, r.output
        assert_golden(f"{name}.{ext}", page_text(r.stdout) if fmt == "html" else r.stdout)
    return json.loads(run("diff", old, new, "--format", "json", *extra).stdout)


def page_text(page: str) -> str:
    """The text of an HTML page as a reader sees it: no style, one line per block, no blank runs."""
    doc = lhtml.fromstring(page)
    for el in doc.xpath("//style|//script"):
        el.drop_tree()
    for el in doc.xpath("//br|//p|//div|//li|//tr|//h1|//h2|//h3|//h4|//pre|//article|//section|//td|//th"
                        "|//span[contains(@class, 'ln')]"):
        el.tail = "\n" + (el.tail or "")
    lines = [" ".join(x.split()) for x in doc.text_content().splitlines()]
    return "\n".join(x for x in lines if x) + "\n"


# ------------------------------------------------------------------ renames need evidence

QUESTIONS = ("是否公开", "是否更新", "是否可下载", "是否有说明")


def _datasets(names: list[tuple[str, str]]) -> str:
    """Datasets × the same four question labels: a point per pair, its probe its own."""
    out = []
    for ds, label in names:
        pts = "".join(f'''
  point {ds}_q{i} "{q}" {{
    kind: technical
    max: 1
    probe: count(t, where: kind == "{ds}_{i}")
    score: linear(x, cap: 5)
  }}
''' for i, q in enumerate(QUESTIONS, 1))
        out.append(f'indicator {ds} "{label}" {{\n  max: 4\n{pts}}}\n')
    return "\n".join(out)


def test_repeated_labels_are_no_evidence_golden(pair):
    old, new = pair(_datasets([("ds_a", "人口数据"), ("ds_b", "财政预算"), ("ds_c", "企业登记")]),
                    _datasets([("ds_a", "人口数据"), ("ds_c", "企业登记"), ("ds_d", "空气质量")]))
    doc = _golden(old, new, "diff_repeated_labels")
    kinds = sorted((e["kind"], e["node"]) for e in doc["edits"])
    assert kinds == sorted([("removed", "ds_b"), *(("removed", f"ds_b_q{i}") for i in range(1, 5)),
                            ("added", "ds_d"), *(("added", f"ds_d_q{i}") for i in range(1, 5))])


def test_rename_evidence_is_reported(pair):
    body = _datasets([("ds_a", "人口数据"), ("ds_b", "财政预算")])
    renamed = body.replace("indicator ds_b ", "indicator ds_budget ").replace("point ds_a_q2 ", "point ds_a_upd ")
    # a relabelled point keeping its (distinctive) probe and parent
    relabelled = renamed.replace('point ds_a_q3 "是否可下载"', 'point ds_a_dl "可否下载"')
    old, new = pair(body, relabelled)
    m, why = match_with_evidence(load(Path(old)), load(Path(new)))
    assert (m["ds_b"], why["ds_budget"]) == ("ds_budget", SAME_LABEL)
    assert (m["ds_a_q2"], why["ds_a_upd"]) == ("ds_a_upd", SAME_LABEL)
    assert (m["ds_a_q3"], why["ds_a_dl"]) == ("ds_a_dl", SAME_PROBE)
    assert all(m[f"ds_b_q{i}"] == f"ds_b_q{i}" for i in range(1, 5))
    r = run("diff", old, new)
    assert "ds_b → ds_budget 财政预算 (same label and parent)" in r.stdout
    assert "ds_a_q3 → ds_a_dl 可否下载 (same probe and parent)" in r.stdout


def test_label_and_probe_both_changed_is_no_rename(pair):
    body = _datasets([("ds_a", "人口数据")])
    changed = body.replace('point ds_a_q1 "是否公开"', 'point ds_a_open "公开与否"').replace(
        'kind == "ds_a_1"', 'kind == "ds_a_open"')
    old, new = pair(body, changed)
    kinds = sorted((e.kind, e.node) for e in diff(load(Path(old)), load(Path(new))))
    assert kinds == [("added", "ds_a_open"), ("removed", "ds_a_q1")]


# ------------------------------------------------------------------ consequences fold


def _weighted(osi: str) -> str:
    kids = []
    for ident, label, w in (("osi", "在线服务指数", osi), ("tii", "电信基础设施指数", "0.33"), ("hci", "人力资本指数", "0.33")):
        pts = "".join(f'''
    point {ident}_{k} "{label}{k}" {{
      kind: technical
      weight: 1
      probe: count(t, where: kind == "{ident}{k}")
      score: linear(x, cap: 10)
    }}
''' for k in (1, 2))
        kids.append(f'  indicator {ident} "{label}" {{\n    weight: {w}\n    aggregate: wmean\n{pts}  }}\n')
    return 'indicator egdi "电子政务发展指数" {\n  max: 3\n  aggregate: wmean\n\n' + "\n".join(kids) + "}\n"


def test_weight_change_is_one_edit_golden(pair):
    old, new = pair(_weighted("0.34"), _weighted("1/3"))
    doc = _golden(old, new, "diff_weight_siblings")
    assert [(e["kind"], e["node"], e["field"]) for e in doc["edits"]] == [("changed", "osi", "weight")]
    e = doc["edits"][0]
    assert e["parts"] == [["0.34", "1/3"]]
    assert sorted(f["node"] for f in e["follows"]) == ["hci", "osi", "tii"]
    assert all(len(f["follows"]) == 2 for f in e["follows"])  # each one's two points follow its maximum
    r = run("diff", old, new)
    assert "0.34 → 1/3; the maxima of 3 siblings follow" in r.stdout
    assert "0.333333" not in r.stdout
    r_all = run("diff", old, new, "--all")
    assert_golden("diff_weight_siblings_all.txt", r_all.stdout)
    assert "↳ osi max  1.02 → 1.01; the maxima of 2 children follow" in r_all.stdout


def test_written_max_is_its_own_edit(pair):
    body = _datasets([("ds_a", "人口数据")])
    old, new = pair(body, body.replace("  max: 4\n", "  max: 8\n").replace("    max: 1\n", "    max: 2\n"))
    edits = diff(load(Path(old)), load(Path(new)))
    assert [(e.kind, e.node, e.field) for e in edits] == [("changed", "ds_a", "max")] + [
        ("changed", f"ds_a_q{i}", "max") for i in range(1, 5)]
    # the written maxima are edits; the total's maximum (no `max_total:`: their sum) follows
    assert [(e.node, e.field, e.old, e.new) for e in edits[0].follows] == [("ruleset", "max_total", 4, 8)]


# ------------------------------------------------------------------ lets and functions


def _twenty(let: str, use: str) -> str:
    pts = "".join(f'''
  point p{i:02d} "点位{i:02d}" {{
    kind: technical
    max: 1
    probe: count(t, where: kind == "k{i}")
    score: {use}
  }}
''' for i in range(1, 21))
    return f"{let}\n\nindicator a \"甲\" {{\n  max: 20\n{pts}}}\n"


def test_changed_let_is_one_edit_golden(pair):
    old, new = pair(_twenty("let cap_n = 50", "linear(x, cap: cap_n)"),
                    _twenty("let cap_n = 40", "linear(x, cap: cap_n)"))
    doc = _golden(old, new, "diff_let_twenty")
    assert len(doc["edits"]) == 1
    e = doc["edits"][0]
    assert (e["kind"], e["scope"], e["node"], e["parts"]) == ("changed", "let", "cap_n", [["50", "40"]])
    assert e["affects"] == [f"p{i:02d}" for i in range(1, 21)]


def test_let_used_through_another_let(pair):
    old, new = pair(_twenty("let cap_n = 50\nlet half = cap_n / 2", "min(1, x / half)"),
                    _twenty("let cap_n = 40\nlet half = cap_n / 2", "min(1, x / half)"))
    edits = diff(load(Path(old)), load(Path(new)))
    assert [(e.scope, e.node) for e in edits] == [("let", "cap_n")]
    assert len(edits[0].affects) == 20


def test_changed_function_is_one_edit_golden(pair):
    old, new = pair(_twenty("let r(v) = min(1, v / 50)", "r(x)"), _twenty("let r(v) = min(1, v / 40)", "r(x)"))
    doc = _golden(old, new, "diff_function_twenty")
    assert [(e["kind"], e["scope"], e["node"]) for e in doc["edits"]] == [("changed", "function", "r")]
    assert doc["edits"][0]["parts"] == [["50", "40"]] and len(doc["edits"][0]["affects"]) == 20
    assert doc["edits"][0]["old"] == "r(v) = min(1, v / 50)"
    text = run("diff", old, new).stdout
    assert "changed function r  r(v) = min(1, v / 50) → r(v) = min(1, v / 40)" in text
    assert "affects 20 nodes: p01, p02" in text


# ------------------------------------------------------------------ the smallest changed subexpression

LONG = ("if x >= 5000 then 1 else steps(x, {100: 0.05, 250: 0.1, 500: 0.2, 800: 0.3, 1200: 0.4, 1600: 0.5, "
        "2336: 0.6, 3000: 0.7, 3600: 0.8, 4200: 0.9}) * min(1, x / 4200 + 0.05)")


def test_threshold_in_a_long_expression_golden(pair):
    body = _twenty("", "linear(x, cap: 5)").replace("score: linear(x, cap: 5)", f"score: {LONG}", 1)
    old, new = pair(body, body.replace("2336: 0.6", "1800: 0.6"))
    doc = _golden(old, new, "diff_threshold")
    (e,) = doc["edits"]
    assert (e["node"], e["field"], e["parts"], e["parts_at"]) == ("p01", "score", [["2336", "1800"]],
                                                                 ["else › `*` operand 1 › `steps` arg 2 › key 2336"])
    assert e["old"].count("2336") == 1 and e["new"].count("1800") == 1  # JSON keeps the whole text as written
    out = run("diff", "old", "new").stdout
    assert "2336 → 1800" in out and "4200: 0.9" not in out
    assert "4200: 0.9" in run("diff", "old", "new", "--all").stdout


def _e(text: str) -> n.Expr:
    decl = parse_text(f"let z = {text}").items[0]
    assert isinstance(decl, n.LetDecl)
    return decl.value


@pytest.mark.parametrize("a,b,want", [
    ("linear(x, cap: 10)", "linear(x, cap: 12)", [("`linear` cap:", "10", "12")]),
    ("[1, 2, 3]", "[1, 9, 2, 3]", [("item 2", "—", "9")]),
    ("min(1, x * 2)", "max(1, x * 2)", [("", "min(1, x * 2)", "max(1, x * 2)")]),
    ("{1: 0.3, 40: 0.7}", "{1: 0.3, 40: 0.8}", [("key 40", "0.7", "0.8")]),
    ("x + 1", "x + 1", []),
])
def test_tree_diff_cases(a, b, want):
    assert [(p.path, p.old, p.new) for p in parts(_e(a), _e(b))] == want


# ------------------------------------------------------------------ diff(a, a) is empty

_POINT = '''
  point {id} "{label}" {{
    kind: technical
    max: {max}
    probe: {probe}
    score: {score}
  }}
'''
_PROBES = ['count(t, where: kind == "k")', "sum(t, v)", "mean(t, v)", "any(t, where: has_any(tags, wanted))"]
_SCORES = ["linear(x, cap: {c})", "steps(x, {{1: 0.3, {c}: 1}})", "min(1, x / {c})", "presence(x)"]


@st.composite
def rule_sets(draw) -> str:
    k = draw(st.integers(1, 4))
    pts = []
    for i in range(k):
        cap = draw(st.integers(2, 500))
        pts.append(_POINT.format(id=f"p{i}", label=draw(st.sampled_from(["甲", "乙", "丙"])), max=1,
                                 probe=draw(st.sampled_from(_PROBES)),
                                 score=draw(st.sampled_from(_SCORES)).format(c=cap)))
    return f'let wanted = ["x", "y"]\n\nindicator a "甲" {{\n  max: {k}\n{"".join(pts)}}}\n'


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=rule_sets())
def test_diff_with_itself_is_empty_property(tmp_path, body):
    d = tmp_path / "rs"
    shutil.rmtree(d, ignore_errors=True)
    _write(d, body)
    rs = load(d)
    assert diff(rs, rs) == [] and diff(rs, load(d)) == []


def test_sibling_added_carries_the_recomputed_maxima(pair):
    extra = '''
  indicator oci "开放数据指数" {
    weight: 0.33
    aggregate: wmean

    point oci_1 "开放数据指数1" {
      kind: technical
      weight: 1
      probe: count(t, where: kind == "oci1")
      score: linear(x, cap: 10)
    }
  }
}
'''
    body = _weighted("0.34")
    old, new = pair(body, body[: body.rstrip().rfind("}")] + extra)
    edits = diff(load(Path(old)), load(Path(new)))
    assert [(e.kind, e.node) for e in edits] == [("added", "oci"), ("added", "oci_1")]
    assert sorted(f.node for f in edits[0].follows) == ["hci", "osi", "tii"]
    assert "the maxima of 3 siblings follow" in run("diff", old, new).stdout


@pytest.mark.parametrize("a,b,want", [
    ("p and q", "p and q and r", [("`and` operand 3", "—", "r")]),
    ("p or q or r", "p or r", [("`or` operand 2", "q", "—")]),
    ("a + b * 2", "a + b * 3", [("`+` operand 2 › `*` operand 2", "2", "3")]),
    ("x - 1", "x - 2", [("`-` right", "1", "2")]),
])
def test_tree_diff_chains(a, b, want):
    assert [(p.path, p.old, p.new) for p in parts(_e(a), _e(b))] == want


# ------------------------------------------------------------------ a composed pair


def test_composed_pair_golden(monkeypatch):
    """rules/2020-draft extends rules/2019: its diff lists exactly its edits, located in the file
    that made each one (changes.rules), the inherited sides in rules/2019."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")
    doc = _golden("rules/2019", "rules/2020-draft", "diff_composed")
    edits = {(e["kind"], e["node"], e["field"]) for e in doc["edits"]}
    assert {("removed", "qa_sample_5", None), ("added", "qa_sample_policy", None),
            ("moved", "key_manual_certificates", "parent"), ("changed", "ext_weibo", "score")} <= edits
    for e in doc["edits"]:
        if e["new_at"] is not None and e["kind"] != "removed" and e["scope"] != "ruleset":
            assert e["new_at"].startswith("rules/2020-draft/changes.rules:"), e
