"""The one diagnostics module: a Diagnostic per location kind renders and serialises the same
way; every code the package uses is registered and documented; did-you-mean and display width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from govindex.diagnostics import (
    CODES,
    NOWHERE,
    Cell,
    Diagnostic,
    File,
    Record,
    Span,
    did_you_mean,
    display_width,
)
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "rules-language.md").read_text(encoding="utf-8")

# ------------------------------------------------------------------ one renderer, four locations


def test_span_renders_the_line_and_a_cjk_aware_caret():
    src = 'point 门户 "门户网站" { probe: any(page) }\n'
    col = src.index("page") + 1
    d = Diagnostic("E101", "there is no table `page`", Span("a.rules", 1, col, 1, col + 4), "did you mean `pages`?")
    lines = d.render(src).splitlines()
    assert lines[0] == f"a.rules:1:{col}: error[E101 unknown-table]: there is no table `page`"
    assert lines[1] == "   1 | " + src.rstrip("\n")
    # the caret sits under `page`: every CJK character before it takes two cells
    assert lines[2] == "     | " + " " * display_width(src[: col - 1]) + "^^^^"
    assert lines[3] == "  hint: did you mean `pages`?"
    assert d.span.line == 1 and d.where == f"a.rules:1:{col}" and d.is_error


def test_span_json_keeps_the_check_format():
    d = Diagnostic("W501", "unused", Span("a.rules", 3, 5, 3, 9))
    assert d.to_json() == {"code": "W501", "name": "unused-declaration", "severity": "warning", "message": "unused",
                           "hint": "", "where": "a.rules:3:5", "location": "span", "path": "a.rules", "line": 3,
                           "col": 5, "end_line": 3, "end_col": 9}
    assert not d.is_error


def test_span_of_a_file_that_cannot_be_shown_renders_the_head_only(tmp_path):
    d = Diagnostic("E002", "not UTF-8", Span(str(tmp_path / "gone.rules"), 2, 1, 2, 2))
    assert d.render() == f"{tmp_path / 'gone.rules'}:2:1: error[E002 unreadable-file]: not UTF-8"
    assert Diagnostic("E003", "none", NOWHERE).render() == "<builtin>:0:0: error[E003 no-rule-files]: none"


def test_cell_renders_the_sheet_the_cell_and_the_point():
    d = Diagnostic("M102", "0.7 is not an allowed value (130300 秦皇岛市)",
                   Cell("bad.xlsx", "录入", "BC5", "adapt_manual_mobile 手机端浏览实测（人工）"),
                   "enter one of 0, 0.5, 1 (the cell's dropdown lists them)")
    assert d.render() == (
        "bad.xlsx:录入!BC5 [adapt_manual_mobile 手机端浏览实测（人工）]: error[M102 value-not-allowed]: "
        "0.7 is not an allowed value (130300 秦皇岛市)\n  hint: enter one of 0, 0.5, 1 (the cell's dropdown lists them)")
    assert d.where == "bad.xlsx:录入!BC5"
    assert d.to_json() == {"code": "M102", "name": "value-not-allowed", "severity": "error",
                           "message": "0.7 is not an allowed value (130300 秦皇岛市)",
                           "hint": "enter one of 0, 0.5, 1 (the cell's dropdown lists them)", "where": "bad.xlsx:录入!BC5",
                           "location": "cell", "path": "bad.xlsx", "sheet": "录入", "cell": "BC5",
                           "column": "adapt_manual_mobile 手机端浏览实测（人工）"}


def test_cell_without_a_ref_is_the_sheet_and_warnings_come_from_the_registry():
    d = Diagnostic("M301", "1 unit has no row: not collected (130500)", Cell("bad.xlsx", "录入"))
    assert d.render() == "bad.xlsx:录入: warning[M301 units-not-listed]: 1 unit has no row: not collected (130500)"
    forced = Diagnostic("M202", "the template is for round 1", Cell("b.xlsx", "_meta", "B4"), severity="warning")
    assert forced.render() == "b.xlsx:_meta!B4: warning[M202 wrong-round]: the template is for round 1"


def test_record_renders_file_and_line_or_api_item():
    d = Diagnostic("A102", "expected a number, got `x`", Record("posts.jsonl", 12, column="likes ← attitudes"))
    assert d.render() == "posts.jsonl:12 [likes ← attitudes]: error[A102 bad-value]: expected a number, got `x`"
    assert d.to_json()["location"] == "record" and d.to_json()["line"] == 12 and d.where == "posts.jsonl:12"
    api = Diagnostic("A101", "a record must be an object, not list", Record("http://h/api?page=2", item=3))
    assert api.where == "http://h/api?page=2 item 3"
    assert api.with_severity("skipped").render().startswith("http://h/api?page=2 item 3: skipped[A101 bad-record]: ")


def test_file_renders_the_path_and_an_optional_column():
    d = Diagnostic("F102", "missing (declared list[str])", File("facts/pages/round=1/part-0.parquet", "markers"))
    assert d.render() == ("facts/pages/round=1/part-0.parquet [markers]: error[F102 missing-column]: "
                          "missing (declared list[str])")
    assert d.to_json() == {"code": "F102", "name": "missing-column", "severity": "error",
                           "message": "missing (declared list[str])", "hint": "",
                           "where": "facts/pages/round=1/part-0.parquet", "location": "file",
                           "path": "facts/pages/round=1/part-0.parquet", "column": "markers"}
    assert Diagnostic("F101", "no table", File("facts")).render() == "facts: error[F101 missing-table]: no table"


def test_span_access_on_another_location_is_a_bug():
    with pytest.raises(TypeError):
        _ = Diagnostic("F110", "cannot read", File("x.parquet")).span


def test_an_unregistered_code_is_a_bug():
    with pytest.raises(ValueError, match="unregistered"):
        Diagnostic("E999", "?", NOWHERE)


# ------------------------------------------------------------------ one registry, documented

# a code literal in the package: a quoted letter of a registered prefix and three digits
_LITERAL = re.compile(r"""["']([EWMAFC]\d{3})["']""")


def _literals() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "govindex").rglob("*.py")):
        for code in _LITERAL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_package_uses_codes_of_every_prefix():
    assert {c[0] for c in _literals()} == set("EWMAFC")


def test_every_code_used_in_the_package_is_registered():
    unknown = {c: where for c, where in _literals().items() if c not in CODES}
    assert not unknown, f"codes used but not registered in govindex/diagnostics/codes.py: {unknown}"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_registered_code_is_documented(code):
    section = DOC.split("\n## 15. Diagnostics", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"^\|\s*`{code}`\s*\|\s*`{re.escape(CODES[code])}`\s*\|", section, re.M), code


def test_names_are_short_and_kebab_case():
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) and len(n) <= 24 for n in CODES.values())


# ------------------------------------------------------------------ did-you-mean, display width


@pytest.mark.parametrize("word,options,n,hint", [
    ("page", ["pages", "posts"], 3, "did you mean `pages`?"),
    ("postz", ["posts", "post", "pages"], 3, "did you mean `post` or `posts`?"),  # closest first
    ("postz", ["posts", "post", "pages"], 1, "did you mean `post`?"),
    ("511501", ["511500", "430900"], 1, "did you mean `511500`?"),
    ("zzz", ["pages", "posts"], 3, ""),
    ("x", [], 3, ""),
    ("门户网", ["门户网站", "政务服务"], 1, "did you mean `门户网站`?"),
])
def test_did_you_mean(word, options, n, hint):
    assert did_you_mean(word, iter(options), n) == hint


@pytest.mark.parametrize("text,width", [
    ("", 0), ("abc", 3), ("门户网站", 8), ("ＡＢ", 4), ("（人工）", 8), ("a，b", 4), ("e\u0301", 1), ("ｶ", 1),
    ("\U0001f600", 2), ("가", 2),
])
def test_display_width(text, width):
    assert display_width(text) == width


def test_one_display_width_and_one_did_you_mean_in_the_package():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "govindex").rglob("*.py")
            if re.search(r"get_close_matches|east_asian_width", p.read_text(encoding="utf-8"))]
    assert sorted(hits) == ["govindex/diagnostics/text.py"]


def test_the_diagnostics_package_is_small():
    assert all(len(p.read_text(encoding="utf-8").splitlines()) < 400
               for p in Path(ROOT / "govindex" / "diagnostics").glob("*.py"))
