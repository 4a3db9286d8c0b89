"""`given` rows of inline tests (issue 9, reproducer 8): a value of the wrong type is E401 at the value
— `check` and `test` exit 1 with the place — never a polars traceback; a property test feeds
random literals to every column type."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.check.run import check
from govindex.cli import app
from govindex.eval.inline_tests import run_tests
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"

RULES = """ruleset "r" {
  units: "units.csv"
  rounds: {1: "2019-01-01", 2: "2019-02-01"}
  missing: zero
}
table t {
  unit: str
  round: int
  n: int
  v: float
  ok: bool
  day: date
  at: datetime
  tags: list[str]
  s: str
}
indicator i "I" {
  max: 2
  point p "P" {
    kind: technical
    max: 1
    probe: sum(t, v)
    score: linear(x, cap: 10)
  }
  point q "Q" {
    kind: technical
    max: 1
    probe: count(t, where: ok and n > 0 and has(tags, "a") and day >= "2018-01-01" and at >= "2018-01-01")
    score: presence(x)
  }
}
test "given" {
  given t [
    {ROW}
  ]
  expect "A" p >= 0
}
"""
UNITS = "code,name\nA,甲\nB,乙\n"
GOOD_ROW = 'unit: "A", round: 1, n: 3, v: 2.5, ok: true, day: "2019-01-05", at: "2019-01-05 08:30", tags: ["a"], s: "x"'
ROW_LINE = RULES.splitlines().index('    {ROW}') + 1


def check_row(row: str, units: str = UNITS):
    d = Path(tempfile.mkdtemp(prefix="govindex-given-"))
    try:
        (d / "units.csv").write_text(units, encoding="utf-8")
        (d / "r.rules").write_text(RULES.replace("ROW", row), encoding="utf-8")
        rs, diags = check(d)
        return rs, [x for x in diags if x.is_error]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_good_row_checks_and_runs():
    rs, errors = check_row(GOOD_ROW)
    assert rs is not None, errors
    (o,) = run_tests(rs)
    assert o.passed and o.actual == pytest.approx(0.25)


BAD = [
    ("text-in-int", 'n: "three"', "`n` is declared int", "expected a whole number"),
    ("fraction-in-int", "n: 1.5", "`n` is declared int", "not a whole number"),
    ("too-big-for-int", "n: 1e19", "`n` is declared int", "64-bit"),
    ("text-in-float", 'v: "2,5"', "`v` is declared float", "expected a number"),
    ("int-in-bool", "ok: 1", "`ok` is declared bool", "true or false"),
    ("text-in-bool", 'ok: "yes"', "`ok` is declared bool", "true or false"),
    ("bad-date", 'day: "2019-02-30"', "`day` is declared date", "not a real date"),
    ("time-in-date", 'day: "2019-02-03 10:00"', "`day` is declared date", "YYYY-MM-DD"),
    ("number-in-date", "day: 20190203", "`day` is declared date", "YYYY-MM-DD"),
    ("time-zone", 'at: "2019-01-05T08:30:00+08:00"', "`at` is declared datetime", "no time zone"),
    ("bad-hour", 'at: "2019-01-05 25:00"', "`at` is declared datetime", "not a real date"),
    ("string-in-list", 'tags: "a"', "`tags` is declared list[str]", "list of texts"),
    ("numbers-in-list", "tags: [1, 2]", "`tags` is declared list[str]", "list of texts"),
    ("list-in-str", 's: ["x"]', "`s` is declared str", "text in quotes"),
    ("expression", "v: 1 + 2", "`v` is declared float", "expected a number"),
    ("unit-as-number", "unit: 100", "`unit` is declared str", "text in quotes"),
]


@pytest.mark.parametrize("cell,message,problem", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_wrong_type_is_e401_at_the_value(cell, message, problem):
    row = {"unit": '"A"', "round": "1"}
    key, _, value = cell.partition(": ")
    row[key] = value
    text = ", ".join(f"{k}: {v}" for k, v in row.items())
    rs, errors = check_row(text)
    assert rs is None
    (e,) = errors
    assert e.code == "E401" and message in e.message and problem in e.message, e.message
    col = len("    {") + text.index(f"{key}: {value}") + len(key) + len(": ") + 1  # the value itself
    assert (e.span.line, e.span.col) == (ROW_LINE, col) and e.hint.startswith("e.g.")


def test_unknown_unit_and_round_would_be_ignored():
    text = RULES.replace("{ROW}", '{unit: "Z", round: 1}, {unit: "A", round: 7}')
    d = Path(tempfile.mkdtemp(prefix="govindex-given-"))
    (d / "units.csv").write_text(UNITS, encoding="utf-8")
    (d / "r.rules").write_text(text, encoding="utf-8")
    _, diags = check(d)
    msgs = [x.message for x in diags if x.code == "E401"]
    assert any("unit 'Z' is not in the units registry" in m for m in msgs), msgs
    assert any("round 7 is not declared" in m for m in msgs), msgs
    shutil.rmtree(d, ignore_errors=True)


def test_reproducer_govindex_test_text_in_int_column(tmp_path):
    d = tmp_path / "mini"
    shutil.copytree(MINI, d)
    f = d / "mini.rules"
    f.write_text(f.read_text(encoding="utf-8").replace("status: 200, markers", 'status: "two hundred", markers'),
                 encoding="utf-8")
    r = CliRunner().invoke(app, ["test", str(d)])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception  # was a polars ComputeError
    assert "mini.rules:61:58: error[E401 bad-test]: `status` is declared int" in r.stderr


# ---------------------------------------------------------------- property: any literal, any column

_LITERALS = st.one_of(
    st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", '"2019-01-05"', '"2019-02-30"', '"2019-01-05 08:30"',
                     '"2019-01-05T08:30:00.5"', '"x"', '""', '["a"]', "[]", '["a", "b"]', "[1]", "1e308", "-0",
                     '"2019-1-5"', '"08:30"', "0.1", "9223372036854775807", "9223372036854775808"]),
    st.text(alphabet="abc 1-:.", max_size=6).map(lambda t: '"' + t + '"'),
)
_COLUMNS = ["n", "v", "ok", "day", "at", "tags", "s", "round", "unit"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_COLUMNS), _LITERALS, min_size=1, max_size=4))
def test_any_given_literal_is_checked_or_runs(cells):
    """Only two outcomes: a located E401 from `check`, or tests that run — never an exception."""
    cells = {"unit": '"A"', "round": "1", **cells}
    rs, errors = check_row(", ".join(f"{c}: {v}" for c, v in cells.items()))
    if rs is None:
        assert errors and all(e.code == "E401" and e.span.line == ROW_LINE for e in errors), errors
        return
    run_tests(rs)
