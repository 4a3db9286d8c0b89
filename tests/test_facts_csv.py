"""CSV facts are read strictly (issue 9, reproducers 4 and 8): a cell that does not parse is an
error at its line, not a null; a file that is not UTF-8 or is ragged is a located error, in
``score`` and in ``explain``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.diagnostics import FactsError
from govindex.eval.explain import load_sources
from tests.factsets import COUNTRY, MINI, copy_dir, totals


def _lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path, lines: list[str], encoding: str = "utf-8") -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def _set(path, line: int, column: str, value: str) -> None:
    """Set one cell of a simple CSV file (no quoted commas): ``line`` is 1-based, the header is 1."""
    rows = _lines(path)
    header = rows[0].split(",")
    cells = rows[line - 1].split(",")
    cells[header.index(column)] = value
    rows[line - 1] = ",".join(cells)
    _write(path, rows)


def _error(rs, facts) -> str:
    with pytest.raises(FactsError) as exc:
        load_sources(rs, facts)
    return str(exc.value)


@pytest.fixture
def country(tmp_path):
    return load(COUNTRY), copy_dir(COUNTRY / "facts", tmp_path / "facts")


def test_cells_that_do_not_parse_are_errors_with_their_line(country):
    rs, facts = country
    stats = facts / "stats.csv"
    _set(stats, 3, "online_services_count", "ninety")
    _set(stats, 4, "portal_languages", "12.5")
    _set(stats, 5, "internet_users_pct", "95%")
    _set(stats, 6, "open_datasets", '"34,603"')
    _set(stats, 7, "portal_updated", "2024-02-30")
    _set(stats, 9, "online_services_count", "1 200")
    msg = _error(rs, facts)
    assert f"{stats}:3 [online_services_count]: error[F104 bad-value]: 'ninety' is not an integer" in msg
    assert "(2 cells)" in msg  # 'ninety' and '1 200': one problem per column, the first cell shown
    assert f"{stats}:4 [portal_languages]: error[F104 bad-value]: '12.5' is not an integer" in msg
    assert f"{stats}:5 [internet_users_pct]: error[F104 bad-value]: '95%' is not a number" in msg
    assert f"{stats}:6 [open_datasets]: error[F104 bad-value]: '34,603' is not an integer" in msg
    assert f"{stats}:7 [portal_updated]: error[F104 bad-value]: '2024-02-30' is not a valid date YYYY-MM-DD" in msg
    assert "5 problem(s) in the facts (5 column(s) with values that do not parse) in 1 file(s)" in msg


def test_non_finite_numbers_are_errors(country):
    rs, facts = country
    _set(facts / "stats.csv", 2, "broadband_per_100", "inf")
    _set(facts / "stats.csv", 8, "mobile_broadband_per_100", "NaN")
    msg = _error(rs, facts)
    assert ":2 [broadband_per_100]: error[F105 non-finite]: 'inf' is not a finite number" in msg
    assert ":8 [mobile_broadband_per_100]: error[F105 non-finite]: 'NaN' is not a finite number" in msg


def test_bool_cells_strict_and_blank_is_null(country):
    rs, facts = country
    answers = facts / "answers.csv"
    base = totals(rs, facts)
    rows = _lines(answers)
    blanks = [i for i, r in enumerate(rows) if r.endswith(",")]
    assert blanks, "the example has unanswered questions (blank cells)"
    rows[1] = rows[1].rsplit(",", 1)[0] + ",YES "  # case and spaces around a known word: read
    _write(answers, rows)
    assert totals(rs, facts) == base
    _set(answers, 5, "answer", "maybe")
    assert f"{answers}:5 [answer]: error[F104 bad-value]: 'maybe' is not yes/no" in _error(rs, facts)


def test_a_bom_and_crlf_and_quoted_newlines_read_alike(country):
    rs, facts = country
    base = totals(rs, facts)
    answers = facts / "answers.csv"
    answers.write_bytes(b"\xef\xbb\xbf" + answers.read_bytes().replace(b"\n", b"\r\n"))
    assert totals(rs, facts) == base
    rows = _lines(facts / "stats.csv")
    rows[0] += ",remark"
    rows[1] += ',"two\nlines"'
    rows[2] += ","
    rows[3:] = [r + "," for r in rows[3:]]
    _write(facts / "stats.csv", rows)
    assert totals(rs, facts) == base  # an extra column, and a quoted cell over two lines
    _set(facts / "stats.csv", 5, "portal_languages", "three")  # the third record: the first took two lines
    assert "stats.csv:5 [portal_languages]: error[F104 bad-value]: 'three'" in _error(rs, facts)


def test_a_gbk_csv_is_a_located_error(tmp_path):
    rs = load(MINI)
    facts = copy_dir(MINI / "facts", tmp_path / "facts")
    manual = facts / "manual.csv"
    _write(manual, _lines(manual), encoding="gbk")
    msg = _error(rs, facts)
    assert f"{manual}:2: error[F109 not-utf8]: not UTF-8: byte 0xb3 cannot be decoded" in msg
    assert "iconv -f GB18030 -t UTF-8" in msg


def test_a_ragged_csv_is_an_error_in_score_and_explain(tmp_path, monkeypatch):
    facts = copy_dir(MINI / "facts", tmp_path / "facts")
    pages = facts / "pages.csv"
    rows = _lines(pages)
    rows[3] = rows[3].rsplit(",", 1)[0]  # line 4 loses its last field
    _write(pages, rows)
    for cmd in (["score", str(MINI), "--facts", str(facts)],
                ["explain", str(MINI), "--facts", str(facts), "--unit", "甲市"]):
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 1, r.output
        assert f"{pages}:4: error[F107 ragged-csv]: 4 fields where the header has 5" in r.stderr
        assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output


def test_missing_and_duplicate_columns_in_a_csv(country):
    rs, facts = country
    stats = facts / "stats.csv"
    rows = _lines(stats)
    rows[0] = rows[0].replace("open_datasets", "portal_languages").replace("internet_users_pct", "users")
    _write(stats, rows)
    msg = _error(rs, facts)
    assert f"{stats}:1 [portal_languages]: error[F108 duplicate-column]: appears twice in the header" in msg
    assert f"{stats}:1 [internet_users_pct]: error[F102 missing-column]: missing (declared float)" in msg
    assert f"{stats}:1 [open_datasets]: error[F102 missing-column]: missing (declared int)" in msg
