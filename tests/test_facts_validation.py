"""Facts are validated file by file against the declared tables (issue 9, reproducers 2, 4, 8, 9):
every stored form is either read as it means or a located facts error — never a polars
traceback, never a silently changed score."""

from __future__ import annotations

import re
from datetime import datetime

import polars as pl
import pytest

from govindex.check.run import load
from govindex.diagnostics import FactsError
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import load_sources
from tests.factsets import COUNTRY, FACTS_2019, MINI, copy_dir, country_parquet, mini_parquet, rewrite, totals


@pytest.fixture(scope="module")
def country_rs():
    return load(COUNTRY)


@pytest.fixture(scope="module")
def rs2019():
    return load(MINI.parents[2] / "rules" / "2019")


@pytest.fixture(scope="module")
def country_base(tmp_path_factory, country_rs):
    facts = country_parquet(tmp_path_factory.mktemp("country") / "facts")
    return facts, totals(country_rs, facts)


def _error(rs, facts) -> str:
    with pytest.raises(FactsError) as exc:
        evaluate(rs, load_sources(rs, facts))
    return str(exc.value)


# ------------------------------------------------------------------ reproducer 2


def test_partition_missing_a_declared_column_is_an_error_not_nulls(tmp_path, rs2019):
    facts = copy_dir(FACTS_2019, tmp_path / "facts")
    part = facts / "pages" / "round=3" / "part-0.parquet"
    rewrite(part, lambda df: df.drop("markers"))
    msg = _error(rs2019, facts)
    assert f"{part} [markers]: error[F102 missing-column]: missing (declared list[str])" in msg
    assert "1 problem(s) in the facts (1 missing column(s))" in msg


# ------------------------------------------------------------------ parquet types, file by file

INT64_MAX = 2**63 - 1


def _stats(df: pl.DataFrame, **cols: pl.Expr) -> pl.DataFrame:
    return df.with_columns(**cols)


SAME = [  # stored differently, meaning the same: read, identical totals
    ("int column stored as Int32", "stats", lambda df: _stats(df, online_services_count=pl.col("online_services_count")
                                                              .cast(pl.Int32))),
    ("UInt64 within the Int64 range", "stats", lambda df: _stats(df, open_datasets=pl.col("open_datasets")
                                                                 .cast(pl.UInt64))),
    ("float column stored as Int64", "stats", lambda df: _stats(df, internet_users_pct=pl.col("internet_users_pct")
                                                                .cast(pl.Int64))),  # whole percentages
    ("round stored as Int32 in one partition", "stats", lambda df: _stats(df, round=pl.col("round").cast(pl.Int16))),
    ("code stored as Categorical", "answers", lambda df: _stats(df, country=pl.col("country").cast(pl.Categorical))),
    ("date stored as a midnight Datetime", "stats", lambda df: _stats(df, portal_updated=pl.col("portal_updated")
                                                                      .cast(pl.Datetime("ns")))),
    ("date stored as a Datetime with a time of day: its day", "stats",
     lambda df: _stats(df, portal_updated=pl.col("portal_updated").cast(pl.Datetime("us")) + pl.duration(hours=9))),
    ("an extra column", "answers", lambda df: _stats(df, remark=pl.lit("checked twice"))),
    ("columns in another order", "answers", lambda df: df.select(reversed(df.columns))),
]


@pytest.mark.parametrize("what,table,change", SAME, ids=[s[0] for s in SAME])
def test_lossless_forms_read_as_they_mean(tmp_path, country_rs, country_base, what, table, change):
    base, want = country_base
    facts = copy_dir(base, tmp_path / "facts")
    rewrite(facts / table / "round=1" / "part-1.parquet", change)
    assert totals(country_rs, facts) == want


ERRORS = [  # (what, table, change, "<col>: <message>" expected at "<file> [<col>]: error[F1xx name]: <message>")
    ("text in an int column", "stats",
     lambda df: _stats(df, online_services_count=pl.format("{}", "online_services_count").str.replace("^5", "ninety")),
     "online_services_count: stored as String, declared int; first value"),
    ("dates as text", "stats", lambda df: _stats(df, portal_updated=pl.col("portal_updated").cast(pl.String)),
     "portal_updated: stored as String, declared date; first value '2024-0"),
    ("bools as int", "answers", lambda df: _stats(df, answer=pl.col("answer").cast(pl.Int64)),
     "answer: stored as Int64, declared bool; first value 1 (row 1)"),
    ("bools as yes/no", "answers",
     lambda df: _stats(df, answer=pl.when(pl.col("answer")).then(pl.lit("yes")).otherwise(pl.lit("no"))),
     "answer: stored as String, declared bool; first value 'yes' (row 1)"),
    ("UInt64 beyond Int64", "stats", lambda df: _stats(df, open_datasets=pl.when(pl.int_range(pl.len()) == 2)
                                                       .then(pl.lit(INT64_MAX + 5, pl.UInt64))
                                                       .otherwise(pl.col("open_datasets").cast(pl.UInt64))),
     "open_datasets: row 3: 9223372036854775812 is beyond the Int64 range"),
    ("12.5 in an int column", "stats", lambda df: _stats(df, portal_languages=pl.col("portal_languages") + 0.5),
     "portal_languages: stored as Float64, declared int"),
    ("round as text in one partition", "answers", lambda df: _stats(df, round=pl.lit("第一轮")),
     "round: stored as String, declared int; first value '第一轮' (row 1)"),
    ("inf in a float column", "stats",
     lambda df: _stats(df, internet_users_pct=pl.when(pl.int_range(pl.len()) == 1).then(float("-inf"))
                       .otherwise(pl.col("internet_users_pct"))),
     "internet_users_pct: row 2: -inf is not a finite number"),
    ("NaN in a float column", "stats",
     lambda df: _stats(df, broadband_per_100=pl.lit(float("nan"))),
     "broadband_per_100: row 1: nan is not a finite number"),
    ("a date beyond the year 9999 (a damaged page)", "stats",
     lambda df: _stats(df, portal_updated=pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(3_000_000).cast(pl.Date))
                       .otherwise(pl.col("portal_updated"))),
     "portal_updated: row 2: 3000000 days from 1970-01-01 is not a date between the years 1 and 9999"),
    ("a dropped column", "answers", lambda df: df.drop("question"), "question: missing (declared str)"),
]


@pytest.mark.parametrize("what,table,change,expect", ERRORS, ids=[e[0] for e in ERRORS])
def test_ambiguous_or_wrong_forms_are_located_errors(tmp_path, country_rs, country_base, what, table, change, expect):
    facts = copy_dir(country_base[0], tmp_path / "facts")
    part = facts / table / "round=1" / "part-1.parquet"
    rewrite(part, change)
    msg = _error(country_rs, facts)
    col, text = expect.split(": ", 1)
    assert re.search(rf"{re.escape(str(part))} \[{col}\]: error\[F1\d\d [a-z-]+\]: {re.escape(text)}", msg), msg
    assert "Traceback" not in msg


def test_markers_as_a_string_is_an_error(tmp_path):
    rs = load(MINI)
    facts = mini_parquet(tmp_path / "facts")
    part = facts / "pages" / "round=2" / "part-0.parquet"
    rewrite(part, lambda df: df.with_columns(markers=pl.col("markers").list.join("|")))
    msg = _error(rs, facts)
    assert (f"{part} [markers]: error[F103 wrong-type]: stored as String, declared list[str]; "
            "first value 'portal|xxgk'") in msg


def test_timezone_aware_datetimes_are_an_error(tmp_path, rs2019):
    facts = copy_dir(FACTS_2019, tmp_path / "facts")
    part = facts / "posts" / "round=2" / "part-0.parquet"
    rewrite(part, lambda df: df.with_columns(pl.col("published").dt.replace_time_zone("Asia/Shanghai")))
    msg = _error(rs2019, facts)
    assert ("[published]: error[F103 wrong-type]: stored as Datetime(time_unit='us', time_zone='Asia/Shanghai'), "
            "declared datetime") in msg
    assert "hint: store naive local times" in msg


def test_a_corrupt_data_page_names_its_file(tmp_path, rs2019):
    facts = copy_dir(FACTS_2019, tmp_path / "facts")
    part = facts / "pages" / "round=3" / "part-0.parquet"
    data = bytearray(part.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):  # inside the zstd-compressed data pages
        data[i] ^= 0x5A
    part.write_bytes(bytes(data))
    sources = load_sources(rs2019, facts)  # the footer is intact: this only reads schemas
    with pytest.raises(FactsError) as exc:
        evaluate(rs2019, sources)
    assert f"{part}: error[F110 unreadable]: cannot read its data" in str(exc.value)


def test_every_problem_of_every_file_at_once(tmp_path, country_rs, country_base):
    facts = copy_dir(country_base[0], tmp_path / "facts")
    rewrite(facts / "stats" / "round=1" / "part-0.parquet", lambda df: df.drop("open_datasets"))
    rewrite(facts / "stats" / "round=1" / "part-1.parquet", lambda df: df.with_columns(pl.col("round").cast(pl.String)))
    rewrite(facts / "answers" / "round=1" / "part-0.parquet", lambda df: df.with_columns(pl.col("answer").cast(pl.Int8)))
    msg = _error(country_rs, facts)
    assert msg.count("\n  hint:") == 3
    assert "3 problem(s) in the facts (1 missing column(s), 2 column(s) of the wrong type) in 3 file(s);" in msg


# ------------------------------------------------------------------ tables and directories (reproducer 9)


def test_every_missing_table_is_named(tmp_path):
    rs = load(MINI)
    (tmp_path / "facts").mkdir()
    msg = _error(rs, tmp_path / "facts")
    assert "no facts for table `pages`" in msg and "no facts for table `manual`" in msg
    assert "2 problem(s) in the facts (2 missing table(s))" in msg


def test_a_table_directory_without_parquet_files(tmp_path):
    rs = load(MINI)
    facts = mini_parquet(tmp_path / "facts")
    for f in (facts / "manual").rglob("*.parquet"):
        f.unlink()
    assert (f"{facts / 'manual'}: error[F101 missing-table]: holds no .parquet files for table `manual`"
            in _error(rs, facts))


def test_a_file_that_is_not_parquet(tmp_path):
    rs = load(MINI)
    facts = mini_parquet(tmp_path / "facts")
    part = facts / "pages" / "round=1" / "part-0.parquet"
    part.write_text("unit,round\n100100,1\n", encoding="utf-8")
    assert f"{part}: error[F110 unreadable]: not a readable parquet file" in _error(rs, facts)


def test_a_hive_directory_whose_value_is_not_of_the_type(tmp_path):
    rs = load(MINI)
    facts = mini_parquet(tmp_path / "facts")
    part = facts / "manual" / "round=2" / "part-0.parquet"
    rewrite(part, lambda df: df.drop("round"))
    bad = facts / "manual" / "round=two"
    part.parent.rename(bad)
    assert (f"{bad / 'part-0.parquet'} [round]: error[F104 bad-value]: the directory name says round=two"
            in _error(rs, facts))


def test_datetime_columns_read_from_naive_parquet_unchanged(tmp_path, rs2019):
    # ns and ms datetimes are read as µs; a Date column as midnight
    facts = copy_dir(FACTS_2019, tmp_path / "facts")
    part = facts / "posts" / "round=4" / "part-0.parquet"
    rewrite(part, lambda df: df.with_columns(pl.col("published").cast(pl.Datetime("ms"))))
    got = load_sources(rs2019, facts)["posts"].filter(pl.col("round") == 4).select("published").head(1).collect()
    assert isinstance(got.item(), datetime)


def test_partitions_are_validated_like_one_scan(tmp_path, country_rs, country_base):
    from govindex.eval.executor import InProcess
    from govindex.eval.facts import Sources, partitions

    base, want = country_base
    facts = copy_dir(base, tmp_path / "facts")
    rewrite(facts / "stats" / "round=1" / "part-1.parquet", lambda df: df.with_columns(pl.col("round").cast(pl.Int32)))
    sources = load_sources(country_rs, facts)
    parts = Sources({t: partitions(country_rs, facts, t) for t in sources}, sources.files)
    sc = evaluate(country_rs, parts, executor=InProcess())
    assert dict(zip(sc.units["code"].to_list(), sc.units["total"].to_list())) == want
    rewrite(facts / "stats" / "round=1" / "part-1.parquet", lambda df: df.drop("open_datasets"))
    with pytest.raises(FactsError, match="part-1.parquet \\[open_datasets\\]: error\\[F102 missing-column\\]: missing"):
        partitions(country_rs, facts, "stats")


def test_a_column_of_nulls_reads_as_nulls_whatever_its_stored_type(tmp_path, country_rs, country_base):
    facts = copy_dir(country_base[0], tmp_path / "facts")
    part = facts / "stats" / "round=1" / "part-1.parquet"
    rewrite(part, lambda df: df.with_columns(portal_languages=pl.lit(None, pl.Int64)))
    want = totals(country_rs, facts)
    rewrite(part, lambda df: df.with_columns(portal_languages=pl.lit(None, pl.List(pl.String))))
    assert totals(country_rs, facts) == want
