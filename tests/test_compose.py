"""Composition (lang/compose.py, docs §2a): ``extends``, ``include`` and the edits.

The shipped compositions (rules/2018 over rules/2019, rules/2020-draft), their ``show`` round trip,
locations that lead to the defining file, and every composition error as a located diagnostic
with a hint (E330–E338). Multi-file error cases live here: a ```rules-error block of the docs is
one file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govindex.check.run import check, load
from govindex.cli import app
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import load_sources
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_text
from govindex.versions.diff import diff
from tests.conftest import ROOT

MINI = ROOT / "tests/fixtures/mini"


def _child(tmp: Path, text: str, base: Path = MINI, name: str = "child", **files: str) -> Path:
    """A rule set directory ``tmp/name`` whose ruleset.rules extends ``base`` (a relative path) and says ``text``."""
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(base, d)
    (d / "ruleset.rules").write_text(f'extends "{rel}"\n{text}', encoding="utf-8")
    for fname, body in files.items():
        (d / fname.replace("__", ".")).write_text(body, encoding="utf-8")
    return d


def _codes(root: Path) -> list[tuple[str, str, str, str]]:
    _, diags = check(root)
    return [(d.code, f"{Path(d.span.path).name}:{d.span.line}", d.message, d.hint) for d in diags if d.is_error]


# ------------------------------------------------------------------ the shipped compositions


def test_2018_is_short_and_checks():
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "rules/2018").glob("*.rules"))
    assert lines < 500  # was 3,600 lines: a copy of 2019 with edits
    assert not (ROOT / "rules/2018/units.csv").exists()  # the registry is 2019's, read from rules/2019
    rs = load(ROOT / "rules/2018")
    assert (rs.name, rs.year, len(rs.points), len(rs.units)) == ("中国地方政府互联网服务能力评价 2018", 2018, 243, 334)


def test_show_2018_round_trip(tmp_path):
    """`govindex show rules/2018` written as one file is the same rule set: no edit between them."""
    r = CliRunner().invoke(app, ["show", str(ROOT / "rules/2018")])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# from ") and "# from rules/2018/" not in r.stdout.split("\n", 1)[0]
    d = tmp_path / "all"
    d.mkdir()
    (d / "all.rules").write_text(r.stdout, encoding="utf-8")
    shutil.copy(ROOT / "rules/2019/units.csv", d / "units.csv")  # `units:` is relative to the file that said it
    assert diff(load(ROOT / "rules/2018"), load(d)) == []
    assert parse_text(r.stdout).items == parse_text(format_file(parse_text(r.stdout))).items


def test_show_round_trip_scores_identically(tmp_path, monkeypatch):
    child = _child(tmp_path, 'override point pages_n { max: 3 }\noverride indicator web { max: 5 }\n'
                   'override ruleset { max_total: 9 }\n')
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["show", "child"])
    assert r.exit_code == 0, r.output
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "all.rules").write_text(r.stdout, encoding="utf-8")
    shutil.copy(MINI / "units.csv", flat / "units.csv")
    a = evaluate(load(child), load_sources(load(child), MINI / "facts"))
    b = evaluate(load(flat), load_sources(load(flat), MINI / "facts"))
    assert a.units.equals(b.units) and a.rounds.equals(b.rounds)
    assert a.units["total"].max() > 0


def test_show_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(app, ["show", "rules/2020-draft", "--format", "json"])
    assert r.exit_code == 0, r.output
    items = {(i["kind"], i["id"]): i for i in json.loads(r.stdout)["items"]}
    assert items[("point", "qa_sample_policy")]["path"] == "rules/2020-draft/changes.rules"
    assert items[("table", "pages")]["path"] == "rules/2019/tables.rules"


def test_diff_2019_2020_draft_lists_exactly_the_changes():
    edits = diff(load(ROOT / "rules/2019"), load(ROOT / "rules/2020-draft"))
    got = sorted((e.kind, e.node, e.field or "") for e in edits)
    assert got == sorted([
        ("changed", "ruleset", "name"), ("changed", "ruleset", "year"),
        ("changed", "housing_query", "max"), ("changed", "housing_guide_count", "max"),
        ("removed", "qa_sample_5", ""), ("added", "qa_sample_policy", ""),
        ("moved", "key_manual_certificates", "parent"),
        ("changed", "guide_quality", "max"), ("changed", "key_matters", "max"),
        ("changed", "ext_weibo", "score"),
        ("changed", "qa_all_correct", "where"),  # the statistic restated for the replaced sampled question
    ])
    where = {(e.node, e.field): e.to_json() for e in edits}
    assert "rules/2020-draft/changes.rules" in json.dumps(where[("ext_weibo", "score")])


def test_locations_lead_to_the_defining_file(monkeypatch):
    monkeypatch.chdir(ROOT)
    rs = load(Path("rules/2018"))
    assert rs.nodes["xxgk"].span.path == "rules/2019/1-supply.rules"  # inherited as is
    assert rs.files[0].path == "rules/2019/1-supply.rules"  # the base files come first, then the child's own
    node = rs.nodes["xxgk_items"]
    assert node.span.path == "rules/2019/1-supply.rules"
    assert node.score_src is not None and node.score_src.span.path == "rules/2018/1-supply.rules"  # the override
    assert rs.nodes["opendata_platform"].span.path == "rules/2018/1-supply.rules"  # the rename
    assert rs.nodes["adapt_manual_accessible"].span.path == "rules/2018/3-intelligence.rules"  # added


def test_diagnostic_on_inherited_node_points_at_base(tmp_path):
    child = _child(tmp_path, "override point portal { max: 3 }\n")
    got = _codes(child)
    assert [(c, where) for c, where, *_ in got] == [("E202", "mini.rules:27")]  # indicator web, in the base file
    _, diags = check(child)
    assert diags[0].span.path.endswith("tests/fixtures/mini/mini.rules")


def test_inherited_units_resolve_in_the_base(tmp_path):
    child = _child(tmp_path, "")
    assert not (child / "units.csv").exists()
    assert len(load(child).units) == len(load(MINI).units)
    own = _child(tmp_path, 'override ruleset { units: "mine.csv" }\n', name="own",
                 mine__csv=(MINI / "units.csv").read_text(encoding="utf-8"))
    rs = load(own)
    assert len(rs.units) == len(load(MINI).units)


@pytest.mark.parametrize("place,at", [("after qa_manual", -1), ("before qa_manual", 0), ("", -1)])
def test_move_keeps_settings_and_place(tmp_path, place, at):
    child = _child(tmp_path, f"move point pages_n under qa {place}\n"
                   "override indicator web { max: 2 }\noverride indicator qa { max: 8 }\n")
    rs = load(child)
    kids = [x.id for x in rs.nodes.values() if x.parent == "qa"]
    assert kids[at] == "pages_n" and rs.nodes["pages_n"].max == 4 and len(kids) > 1
    assert rs.nodes["pages_n"].span.path.endswith("child/ruleset.rules")  # its place is defined there


def test_include_adds_shared_declarations(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lets.rules").write_text('let cap = 4\n', encoding="utf-8")
    child = _child(tmp_path, 'include "../shared/lets.rules"\noverride point pages_n { score: linear(x, cap: cap) }\n')
    rs = load(child)
    assert rs.lets["cap"] is not None


def test_fmt_round_trips_every_edit():
    text = (ROOT / "rules/2018/2-response.rules").read_text(encoding="utf-8")
    f = parse_text(text, "x.rules")
    assert format_file(f) == text
    assert parse_text(format_file(f), "x.rules").items == f.items


# ------------------------------------------------------------------ errors, each located with a hint


def test_e330_unknown_target_with_did_you_mean(tmp_path):
    got = _codes(_child(tmp_path, "override point portl { max: 1 }\nremove test \"nope\"\n"))
    assert got[0][:2] == ("E330", "ruleset.rules:2") and "`portal`" in got[0][3]
    assert got[1][:2] == ("E330", "ruleset.rules:3")


def test_e330_unset_unknown_setting(tmp_path):
    got = _codes(_child(tmp_path, "override point portal { unset missng }\n"))
    assert got[0][:2] == ("E330", "ruleset.rules:2") and "missing" not in got[0][2] and got[0][3]


def test_e331_extends_nowhere(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "r.rules").write_text('extends "../nowhere"\n', encoding="utf-8")
    got = _codes(d)
    assert got[0][:2] == ("E331", "r.rules:1") and "does not exist" in got[0][2]
    (tmp_path / "empty").mkdir()
    (d / "r.rules").write_text('extends "../empty"\n', encoding="utf-8")
    assert "not a rule set" in _codes(d)[0][2]


def test_e332_cycle_of_extends_shows_the_chain(tmp_path):
    for a, b in (("a", "b"), ("b", "c"), ("c", "a")):
        (tmp_path / a).mkdir()
        (tmp_path / a / "r.rules").write_text(f'extends "../{b}"\n', encoding="utf-8")
    got = _codes(tmp_path / "a")
    assert got[0][0] == "E332" and got[0][2].count("→") == 3, got


def test_e333_removed_node_still_referenced(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(MINI, base)
    with (base / "mini.rules").open("a", encoding="utf-8") as f:
        f.write('\ntest "门户" {\n  given pages []\n  expect "110100" portal == 0\n}\n')
    got = _codes(_child(tmp_path, "\nremove point portal\noverride indicator web { max: 4 }\n", base=base))
    hit = [g for g in got if g[0] == "E333"]
    assert hit and hit[0][1].startswith("mini.rules:") and "removed at" in hit[0][3] and "ruleset.rules:3" in hit[0][3]


def test_e334_same_item_overridden_twice(tmp_path):
    got = _codes(_child(tmp_path, "override point portal { max: 1 }\noverride point portal { max: 2 }\n"))
    assert got[0][:2] == ("E334", "ruleset.rules:3") and "ruleset.rules:2" in got[0][3]


def test_e335_include_cycle_and_e336_missing_include(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "a.rules").write_text('include "b.inc"\n', encoding="utf-8")
    (d / "b.inc").write_text('include "a.rules"\n', encoding="utf-8")
    assert [g[0] for g in _codes(d)] == ["E335"]
    (d / "b.inc").write_text('include "../nowhere.rules"\n', encoding="utf-8")
    got = _codes(d)
    assert got[0][:2] == ("E336", "b.inc:1")


def test_e337_edit_without_base_and_two_extends(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "r.rules").write_text("remove point x\n", encoding="utf-8")
    assert _codes(d)[0][:2] == ("E337", "r.rules:1")
    got = _codes(_child(tmp_path, f'extends "{os.path.relpath(MINI, tmp_path / "child")}"\n'))
    assert got[0][:2] == ("E337", "ruleset.rules:2")


def test_e338_bad_move(tmp_path):
    got = _codes(_child(tmp_path, "move point portal under qa after nobody\n"))
    assert got[0][:2] == ("E338", "ruleset.rules:2") and "nobody" in got[0][2]
    got = _codes(_child(tmp_path, "move indicator web under web\n", name="c2"))
    assert got[0][0] == "E338"


@pytest.mark.parametrize("text", ["override point portal { max: 1 }\n", "remove point portal\n"])
def test_composition_errors_stop_before_check(tmp_path, text):
    """Composition errors are reported alone: the checker does not run on a half-composed rule set."""
    d = tmp_path / "c"
    d.mkdir()
    (d / "r.rules").write_text(text, encoding="utf-8")
    assert {g[0] for g in _codes(d)} == {"E337"}


def test_docs_quote_the_2020_draft_as_it_is():
    """The excerpt of rules/2020-draft/changes.rules in docs §2a is the file's text (so it checks)."""
    doc = (ROOT / "docs/rules-language.md").read_text(encoding="utf-8")
    section = doc.split("## 2a. Composition", 1)[1].split("\n## 3.", 1)[0]
    quoted = section.split("What `rules/2020-draft/changes.rules` says", 1)[1].split("```\n", 2)[1]
    assert quoted.strip() and quoted in (ROOT / "rules/2020-draft/changes.rules").read_text(encoding="utf-8")


def test_e330_names_the_kind_it_is(tmp_path):
    got = _codes(_child(tmp_path, "remove point qa\n"))
    assert got[0][0] == "E330" and "an indicator: write `remove indicator qa`" in got[0][3]


def test_e333_new_point_under_a_removed_indicator(tmp_path):
    got = _codes(_child(tmp_path, 'remove indicator qa\npoint extra "额外" under qa {\n  kind: technical\n'
                        '  max: 4\n  probe: count(pages)\n  score: linear(x, cap: 4)\n}\n'))
    hit = [g for g in got if g[0] == "E333"]
    assert hit and hit[0][1] == "ruleset.rules:3" and "ruleset.rules:2" in hit[0][3]


def test_edits_name_the_nodes_a_base_template_generates(tmp_path):
    """The base's templates are expanded before the child's edits: a generated point can be
    overridden or removed, and the child scores without it."""
    base = ROOT / "examples" / "open-data-template"
    child = tmp_path / "child"
    child.mkdir()
    rel = os.path.relpath(base, child)
    (child / "r.rules").write_text(f'extends "{rel}"\noverride point budget_bulk {{ weight: 20 }}\n'
                                   "remove point spending_free\n", encoding="utf-8")
    rs = load(child)
    assert rs.nodes["budget_bulk"].weight == 20
    assert "spending_free" not in rs.nodes and "spending_bulk" in rs.nodes
    assert sum(1 for x in rs.nodes.values() if x.kind != "indicator") == 116
