"""The integrity report and ``--strict`` (issue 9, reproducers 4 and 9): no fact is dropped
without a word — unknown, near-miss and null unit codes, undeclared rounds, units with no facts,
points with no data — and ``--strict`` (on ``score`` and ``check``) makes them errors."""

from __future__ import annotations

import json
import shutil
import time

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import load_sources
from govindex.eval.integrity import CodeIndex
from tests.conftest import ROOT
from tests.factsets import COUNTRY, FACTS_2019, MINI, copy_dir, mini_parquet, rewrite


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _csv_rows(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_rows(path, rows: list[str]) -> None:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _recode(path, old: str, new: str, limit: int | None = None) -> int:
    """Change the unit code of (the first ``limit``) rows whose code is ``old``."""
    rows, n = _csv_rows(path), 0
    for i, r in enumerate(rows):
        code, rest = r.split(",", 1)
        if code == old and (limit is None or n < limit):
            rows[i], n = f"{new},{rest}", n + 1
    _write_rows(path, rows)
    return n


@pytest.fixture
def country(tmp_path):
    return load(COUNTRY), copy_dir(COUNTRY / "facts", tmp_path / "facts")


def test_one_digit_typo_drops_rows_with_a_did_you_mean(tmp_path):
    rs = load(ROOT / "rules" / "2019")
    facts = copy_dir(FACTS_2019, tmp_path / "facts")
    for part in (facts / "manual").rglob("*.parquet"):  # 宜宾市 511500 typed as 511501
        rewrite(part, lambda df: df.with_columns(unit=pl.col("unit").replace("511500", "511501")))
    ig = evaluate(rs, load_sources(rs, facts)).integrity
    manual = next(t for t in ig.tables if t.table == "manual")
    assert (manual.unknown_unit, manual.unknown_codes_total) == (278, 1)
    u = manual.unknown_codes[0]
    assert (u.code, u.rows, u.near, u.near_name, u.why) == ("511501", 278, "511500", "宜宾市", "one character off")
    assert "278 row(s) of `manual` have a unit code not in the registry" in ig.problems()


def test_case_spaces_null_and_unknown_codes_are_reported(country):
    rs, facts = country
    answers = facts / "answers.csv"
    assert _recode(answers, "ARE", "are") == 19
    assert _recode(answers, "AUS", " AUS") == 19
    assert _recode(answers, "BRA", "", limit=5) == 5
    assert _recode(answers, "CHL", "ZZZ", limit=2) == 2
    r = run("score", COUNTRY, "--facts", facts, "--format", "json")
    assert r.exit_code == 0, r.output
    text = r.stderr
    assert "answers: 40 row(s) dropped: unit code not in the registry (3 code(s))" in text
    assert "'are': 19 row(s) — did you mean `ARE` United Arab Emirates? (different case)" in text
    assert "' AUS': 19 row(s) — did you mean `AUS` Australia? (surrounding spaces)" in text
    assert "'ZZZ': 2 row(s)\n" in text
    assert "answers: 5 row(s) dropped: no unit code" in text
    assert json.loads(r.stdout)["units"]  # stdout is still the JSON document alone
    r = run("score", COUNTRY, "--facts", facts, "--strict")
    assert r.exit_code == 1
    assert "error: --strict: 40 row(s) of `answers` have a unit code not in the registry; 5 row(s) of `answers` " \
           "have no unit code" in r.stderr


def test_units_without_facts_and_points_without_data(country, tmp_path):
    rs, facts = country
    for table in ("answers.csv", "stats.csv"):
        rows = _csv_rows(facts / table)
        _write_rows(facts / table, [r for r in rows if not r.startswith(("KOR,", "DNK,"))])
    rows = _csv_rows(facts / "answers.csv")  # nobody answered "eid_mobile"
    _write_rows(facts / "answers.csv", [r.rsplit(",", 1)[0] + "," if ",eid_mobile," in r else r for r in rows])
    out = tmp_path / "out"
    r = run("score", COUNTRY, "--facts", facts, "--out", out)
    assert r.exit_code == 0, r.output
    assert "2 of 30 units have no facts at all: Denmark (DNK), Korea, Republic of (KOR)" in r.stderr
    assert "eid_mobile 100%" in r.stderr
    doc = json.loads((out / "integrity.json").read_text(encoding="utf-8"))
    assert doc["units_without_facts"] == {"count": 2, "units": [{"code": "DNK", "name": "Denmark"},
                                                                {"code": "KOR", "name": "Korea, Republic of"}]}
    assert doc["points"][0] == {"id": "eid_mobile", "name": doc["points"][0]["name"], "no_data": 30, "error": 0,
                                "share": 1.0}
    assert doc["problems"] == ["2 unit(s) have no facts in any table", "point `eid_mobile` has no usable value "
                               "for any unit"]
    shutil.rmtree(out)
    r = run("score", COUNTRY, "--facts", facts, "--out", out, "--strict")
    assert r.exit_code == 1 and "--strict: 2 unit(s) have no facts" in r.stderr
    assert not out.exists(), "a run refused by --strict writes no results"


def test_undeclared_rounds_and_valid_when_are_counted(tmp_path):
    rs = load(MINI)
    facts = copy_dir(MINI / "facts", tmp_path / "facts")
    rows = _csv_rows(facts / "pages.csv")
    _write_rows(facts / "pages.csv", rows + ["100200,7,http://www.b.gov.cn/x,200,", "100200,,http://www.b.gov.cn/y,200,"])
    ig = evaluate(rs, load_sources(rs, facts)).integrity
    pages = next(t for t in ig.tables if t.table == "pages")
    assert (pages.rows, pages.undeclared_round, pages.invalid, pages.unknown_unit) == (9, 2, 2, 0)
    assert ig.problems() == ["2 row(s) of `pages` are in an undeclared round", "1 unit(s) have no facts in any table"]
    one = evaluate(rs, load_sources(rs, facts), rounds=[1]).integrity  # --round 1 leaves the others out on purpose
    assert next(t for t in one.tables if t.table == "pages").undeclared_round == 0


def test_the_clean_example_has_nothing_to_refuse():
    r = run("score", COUNTRY, "--facts", COUNTRY / "facts", "--strict", "--top", "1")
    assert r.exit_code == 0, r.output
    assert "facts: 580 rows in 2 table(s), 0 dropped" in r.stderr


# ------------------------------------------------------------------ warnings under --strict (reproducer 9)


@pytest.fixture
def w503_rules(tmp_path):
    rules = shutil.copytree(ROOT / "rules" / "2019", tmp_path / "rules")
    src = rules / "1-supply.rules"
    text = src.read_text(encoding="utf-8")
    assert 'has(markers, "xxgk_catalogue")' in text
    src.write_text(text.replace('has(markers, "xxgk_catalogue")', 'has(markers, "xxgk_catalog")', 1), encoding="utf-8")
    return rules


def test_check_strict_makes_warnings_errors(w503_rules):
    r = run("check", w503_rules)
    assert r.exit_code == 0 and "warnings    1" in r.stdout
    r = run("check", w503_rules, "--strict")
    assert r.exit_code == 1 and "W503" in r.stderr and "1 warning(s), errors under --strict" in r.stderr
    r = run("check", w503_rules, "--strict", "--format", "json")
    assert r.exit_code == 1 and json.loads(r.stdout)["diagnostics"][0]["code"] == "W503"


def test_score_prints_warnings_and_strict_refuses_them(w503_rules, tmp_path):
    r = run("score", w503_rules, "--facts", tmp_path / "nowhere", "--strict")
    assert r.exit_code == 1 and "warning[W503 undeclared-marker]" in r.stderr
    assert "errors under --strict" in r.stderr and "facts directory" not in r.stderr  # refused before any facts


# ------------------------------------------------------------------ near codes


def test_code_index_finds_near_codes():
    idx = CodeIndex(["511500", "110100", "ARE", "0042"])
    assert idx.near("511509") == ("511500", "one character off")
    assert idx.near("515100") == ("511500", "one character off")  # two neighbours swapped
    assert idx.near("51150") == ("511500", "one character off")  # one missing
    assert idx.near("5115000") == ("511500", "one character off")  # one too many
    assert idx.near("are") == ("ARE", "different case")
    assert idx.near(" 110100 ") == ("110100", "surrounding spaces")
    assert idx.near("42") == ("0042", "leading zeros")
    assert idx.near("999999") == (None, "")
    assert CodeIndex(["110100", "110200"]).near("110300") == (None, "")  # ambiguous: no guess


def test_many_unknown_codes_are_counted_fast(tmp_path):
    # did-you-mean only for the codes shown, each in time linear in its length (not per pair)
    rs = load(MINI)
    facts = mini_parquet(tmp_path / "facts")
    many = pl.select(unit=pl.format("9{}", pl.int_range(200_000)), round=pl.lit(1), url=pl.lit("http://x/"),
                     status=pl.lit(200), markers=pl.concat_list(pl.lit("portal")))
    rewrite(facts / "pages" / "round=1" / "part-0.parquet", lambda df: pl.concat([df, many.select(df.columns).cast(df.schema)]))
    t0 = time.perf_counter()
    ig = evaluate(rs, load_sources(rs, facts)).integrity
    assert time.perf_counter() - t0 < 3
    pages = next(t for t in ig.tables if t.table == "pages")
    assert (pages.unknown_unit, pages.unknown_codes_total, len(pages.unknown_codes)) == (200_000, 200_000, 10)
