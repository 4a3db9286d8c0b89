"""Templates (docs §6a): points and indicators generated from metadata rows — a CSV next to the
rule file or a list literal — with ids, labels and values substituted, spans that lead back to
the template line and the metadata row, and every metadata mistake reported at its row or cell
(E320–E327). Golden diagnostics: regenerate with ``GOVINDEX_UPDATE_GOLDEN=1``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.check.run import check
from govindex.cli import app
from govindex.lang import nodes as n
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_text
from govindex.lang.templates import expand_templates
from tests.conftest import HEADER, UNITS_CSV, assert_golden

DATASETS = "id,label\nbudget,Budget\nspending,Spending\n"
QUESTIONS = "id,label,weight\nlicence,Openly licensed,30\nbulk,In bulk,10\n"
BODY = """\
template datasets for d in "datasets.csv" {
  indicator "{d.id}" "{d.label}" {
    max: 40
  }
}

template entries for d in "datasets.csv", q in "questions.csv" {
  point "{d.id}_{q.id}" "{d.label}：{q.label}" under "{d.id}" {
    kind: technical
    max: q.weight
    probe: count(t, where: kind == "{d.id}/{q.id}" and v >= q.weight)
    score: x
  }
}
"""


def make(root: Path, body: str = BODY, **csvs: str) -> Path:
    d = root / "rules"
    d.mkdir(exist_ok=True)
    (d / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    (d / "a_header.rules").write_text(HEADER, encoding="utf-8")
    (d / "b_body.rules").write_text(body, encoding="utf-8")
    for name, text in {"datasets": DATASETS, "questions": QUESTIONS, **csvs}.items():
        (d / f"{name}.csv").write_text(text, encoding="utf-8")
    return d


def diags_of(root: Path, body: str = BODY, **csvs: str) -> list[str]:
    _, diags = check(make(root, body, **csvs))
    return [f"{d.code} {d.where}" for d in diags if d.is_error]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # paths in diagnostics relative: rules/…
    return Path(".")


# ---------------------------------------------------------------- expansion


def test_cross_product_generates_ids_labels_and_numbers(here: Path) -> None:
    rs, diags = check(make(here))
    assert rs is not None, [str(d) for d in diags]
    assert sorted(k for k in rs.nodes if k != "total") == ["budget", "budget_bulk", "budget_licence", "spending",
                                                          "spending_bulk", "spending_licence"]
    assert rs.nodes["budget"].children == ("budget_licence", "budget_bulk")  # in row order
    p = rs.nodes["spending_bulk"]
    assert (p.label, p.parent, p.max) == ("Spending：In bulk", "spending", 10)
    # in an expression a numeric column is a number, another a string; strings are interpolated
    assert p.settings["max"] == n.Number(10.0)
    cond = p.probe_src.kwargs[0].value  # type: ignore[union-attr]
    assert cond == n.Binary("and", n.Binary("==", n.Name("kind"), n.String("spending/bulk")),
                            n.Binary(">=", n.Name("v"), n.Number(10.0)))


def test_spans_lead_back_to_the_template_line_and_the_rows(here: Path) -> None:
    rs, _ = check(make(here))
    assert rs is not None
    p = rs.nodes["spending_bulk"]
    assert str(p.span) == "rules/b_body.rules:8:3 (generated from rules/datasets.csv:3, rules/questions.csv:3)"
    assert [(o.path, o.line, o.col) for o in p.span.origins()] == [("rules/datasets.csv", 3, 0),
                                                                    ("rules/questions.csv", 3, 0)]
    # a value taken from a cell points at the template place, with the cell as its origin
    assert str(p.settings["max"].span) == "rules/b_body.rules:10:10 (generated from rules/questions.csv:3:14)"
    assert p.span.to_json()["via"] == [{"path": "rules/datasets.csv", "line": 3, "col": 0},
                                      {"path": "rules/questions.csv", "line": 3, "col": 0}]


def test_a_list_literal_source_and_an_indicator_with_its_points() -> None:
    text = """\
template pillars for p in [{id: "open", label: "Openness", w: 2}, {id: "use", label: "Use", w: -1.5}] {
  indicator "{p.id}" "{p.label}" under total {
    aggregate: wmean
    max: 10
    point "{p.id}_a" "{p.label} a" {
      weight: p.w
    }
  }
}
"""
    f = parse_text(text, "x.rules")
    [out], diags = expand_templates([f])
    assert diags == []
    assert [(it.id, it.label, it.under) for it in out.items] == [("open", "Openness", "total"), ("use", "Use", "total")]
    use = out.items[1]
    assert isinstance(use, n.IndicatorDecl)
    child = use.children[0]
    assert isinstance(child, n.PointDecl) and child.id == "use_a" and child.settings[0].value == n.Number(-1.5)
    assert str(use.span) == "x.rules:2:3 (generated from x.rules:1:67)"  # the row: its map literal


def test_csv_with_bom_crlf_and_quoted_commas(here: Path) -> None:
    rs, diags = check(make(here, datasets='\ufeffid,label\r\nbudget,"Budget, central"\r\n\r\nspending,Spending\r\n'))
    assert rs is not None, [str(d) for d in diags]
    assert rs.nodes["budget"].label == "Budget, central"
    assert str(rs.nodes["spending"].span).endswith("(generated from rules/datasets.csv:4)")


def test_template_formats_as_written_and_round_trips() -> None:
    f = parse_text(BODY, "b.rules")
    text = format_file(f)
    assert text == BODY
    assert parse_text(text, "b.rules") == f


@settings(max_examples=30, deadline=None)
@given(st.lists(st.fixed_dictionaries({"id": st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
                                       "w": st.integers(-5, 1000)}), min_size=1, max_size=5))
def test_list_sources_round_trip(rows: list[dict[str, object]]) -> None:
    items = ", ".join(f'{{id: "{r["id"]}", w: {r["w"]}}}' for r in rows)
    text = f'template g for r in [{items}] {{\n  point "{{r.id}}" "{{r.id}}" under total {{\n    max: r.w\n  }}\n}}\n'
    f = parse_text(text, "g.rules")
    assert parse_text(format_file(f), "g.rules") == f


def test_a_dotted_name_outside_a_template_is_a_syntax_error(ruleset_dir) -> None:
    d = ruleset_dir('indicator i "I" {\n  max: 1\n  point p "P" {\n    kind: technical\n    max: 1\n    probe: q.weight\n'
                    "    score: x\n  }\n}\n")
    _, diags = check(d)
    assert [x.code for x in diags if x.is_error] == ["E001"] and "unquoted string" in diags[0].message


# ---------------------------------------------------------------- metadata errors, at the row


def test_non_numeric_weight_is_reported_at_its_cell_golden(here: Path) -> None:
    bad = "id,label,weight\nlicence,Openly licensed,30\nbulk,In bulk,ten\nfree,Free,15\n"
    _, diags = check(make(here, questions=bad))
    assert [f"{d.code} {d.where}" for d in diags] == ["E322 rules/questions.csv:3:14"]
    assert_golden("templates_non_numeric_weight.txt", "\n".join(d.render() for d in diags) + "\n")


def test_a_check_error_on_a_generated_node_prints_template_and_row_golden(here: Path) -> None:
    bad = "id,label,weight\nlicence,Openly licensed,30\nbulk,In bulk,-10\n"
    _, diags = check(make(here, questions=bad))
    errors = [d for d in diags if d.is_error]
    assert [d.where for d in errors if d.code == "E207"] == [
        "rules/b_body.rules:10:10 (generated from rules/questions.csv:3:14)"] * 2  # budget_bulk, spending_bulk
    first = next(d for d in errors if d.code == "E207")
    assert first.where.startswith("rules/b_body.rules:10:10 (generated from rules/questions.csv:3:")
    assert_golden("templates_generated_check_error.txt", first.render() + "\n")


@pytest.mark.parametrize(("csvs", "body", "want"), [
    # a row with the wrong number of fields
    ({"questions": "id,label,weight\nlicence,Openly licensed,30\nbulk,In, bulk,10\n"}, BODY,
     ["E321 rules/questions.csv:3:1"]),
    # a duplicate id: the second row that makes it
    ({"questions": "id,label,weight\nlicence,Openly licensed,30\nlicence,Licensed again,10\n"}, BODY,
     ["E324 rules/questions.csv:3:1"]),
    # an id that is not a name
    ({"datasets": "id,label\nbudget,Budget\nspend ing,Spending\n"}, BODY, ["E325 rules/datasets.csv:3:1"]),
    # an empty label
    ({"datasets": "id,label\nbudget,\nspending,Spending\n"}, BODY, ["E326 rules/datasets.csv:2:8"]),
    # an unknown column named in the template: at the template, once
    ({}, BODY.replace("max: q.weight", "max: q.wieght"), ["E323 rules/b_body.rules:10:10"]),
    ({}, BODY.replace('"{d.label}：{q.label}"', '"{d.label}：{q.lable}"'), ["E323 rules/b_body.rules:8:3"]),
    # a missing metadata file: at the name of the file
    ({}, BODY.replace('q in "questions.csv"', 'q in "question.csv"'), ["E320 rules/b_body.rules:7:48"]),
    # a header naming a column twice; a file with no rows
    ({"questions": "id,label,id\nlicence,L,30\n"}, BODY, ["E320 rules/questions.csv:1:10"]),
    ({"questions": "id,label,weight\n"}, BODY, ["E320 rules/b_body.rules:7:48"]),
    # an unknown variable; a variable named twice
    ({}, BODY.replace('"{d.id}_{q.id}"', '"{d.id}_{x.id}"'), ["E327 rules/b_body.rules:8:3"]),
    ({}, BODY.replace('q in "questions.csv"', 'd in "questions.csv"'), ["E327 rules/b_body.rules:7:43"]),
])
def test_metadata_errors_are_located(here: Path, csvs: dict[str, str], body: str, want: list[str]) -> None:
    _, diags = check(make(here, body, **csvs))
    assert [f"{d.code} {d.where}" for d in diags] == want
    assert all(d.hint for d in diags)


def test_a_generated_id_clashing_with_a_written_one_is_e201_with_its_origin(here: Path) -> None:
    body = BODY + '\nindicator extra "Extra" {\n  max: 1\n  point budget_bulk "x" {\n    kind: technical\n' \
                  "    max: 1\n    probe: count(t)\n    score: x\n  }\n}\n"
    _, diags = check(make(here, body))
    dup = [d for d in diags if d.code == "E201"]
    assert dup, [str(d) for d in diags]
    assert "generated from rules/datasets.csv:2, rules/questions.csv:3" in dup[0].render()


def test_list_source_errors() -> None:
    text = 'template g for r in [{id: "a", w: 1}, {id: "b"}, 3, {id: "c", w: f(1)}] {\n' \
           '  point "{r.id}" "R" under total {\n    max: r.w\n  }\n}\n'
    _, diags = expand_templates([parse_text(text, "g.rules")])
    assert [(d.code, d.where) for d in diags] == [("E321", "g.rules:1:39"), ("E320", "g.rules:1:50"),
                                                  ("E320", "g.rules:1:66")]


def test_a_long_list_source_is_formatted_one_row_a_line_with_comments_kept() -> None:
    text = """\
# generated channels
template ch for c in CHANNELS, k in [{id: "a", label: "甲"}] {
  # one point per channel
  point "{c.id}_{k.id}" "{c.label}{k.label}" under total {
    max: c.weight  # from the list
  }
}
""".replace("CHANNELS", '[{id: "wechat", label: "微信公众号", weight: 2}, {id: "weibo", label: "微博", weight: 4}]')
    f = parse_text(text, "c.rules")
    out = format_file(f)
    assert out == """\
# generated channels
template ch for c in [
  {id: "wechat", label: "微信公众号", weight: 2},
  {id: "weibo", label: "微博", weight: 4}
], k in [
  {id: "a", label: "甲"}
] {
  # one point per channel
  point "{c.id}_{k.id}" "{c.label}{k.label}" under total {
    max: c.weight  # from the list
  }
}
"""
    assert parse_text(out, "c.rules") == f and format_file(parse_text(out, "c.rules")) == out


def test_a_csv_that_is_not_utf8_is_reported_at_its_first_bad_byte(here: Path) -> None:
    d = make(here)
    (d / "datasets.csv").write_bytes("id,label\nbudget,预算\n".encode("gbk"))
    _, diags = check(d)
    # 预 in GBK (d4 a4) happens to read as one UTF-8 character; 算 (cb e3) is the first bad byte
    assert [(x.code, x.where) for x in diags] == [("E320", "rules/datasets.csv:2:9")]
    assert "GB18030" in diags[0].hint


def test_check_json_gives_the_origins_as_via(here: Path) -> None:
    d = make(here, questions="id,label,weight\nlicence,Openly licensed,30\nbulk,In bulk,-10\n")
    res = CliRunner().invoke(app, ["check", str(d), "--format", "json"])
    errors = [x for x in json.loads(res.stdout)["diagnostics"] if x["code"] == "E207"]
    assert errors and errors[0]["path"] == "rules/b_body.rules" and errors[0]["line"] == 10
    assert errors[0]["via"] == [{"path": "rules/questions.csv", "line": 3, "col": 14}]
    assert errors[0]["where"] == "rules/b_body.rules:10:10 (generated from rules/questions.csv:3:14)"
