"""A facts fuzzer (issue 9, "must show"): mutate small real facts directories — types, nulls,
encodings, schema drift per partition, dropped and extra columns, non-finite values, unit codes,
damaged bytes — and score. The only outcomes allowed are a clean result or a
:class:`FactsError`; a mutation that keeps the meaning must give the very same totals, and one
that makes the facts wrong must be refused. Never another exception, never a NaN total."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.diagnostics import FactsError
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import load_sources
from tests.factsets import COUNTRY, MINI, copy_dir, country_parquet, mini_parquet

SAME, ERROR, ANY = "same", "error", "any"  # what a mutation must lead to
# GOVINDEX_FUZZ_EXAMPLES=500 for a long hunt; the suite runs a quick one
FUZZ = settings(max_examples=int(os.environ.get("GOVINDEX_FUZZ_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Base:
    """A rule set, a facts directory and its unmutated outcome."""

    def __init__(self, rules: Path, facts: Path):
        self.rs, self.facts = load(rules), facts
        self.totals = _totals(_outcome(self.rs, facts))


def _outcome(rs, facts: Path):
    """The scores, or the FactsError: anything else propagates and fails the test."""
    try:
        return evaluate(rs, load_sources(rs, facts))
    except FactsError as exc:
        assert str(exc).strip(), "a facts error says what is wrong"
        return exc


def _totals(sc) -> dict:
    return dict(zip(sc.units["code"].to_list(), sc.units["total"].to_list()))


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Base]:
    root = tmp_path_factory.mktemp("fuzz")
    return {"country-parquet": Base(COUNTRY, country_parquet(root / "cp")),
            "country-csv": Base(COUNTRY, copy_dir(COUNTRY / "facts", root / "cc")),
            "mini-parquet": Base(MINI, mini_parquet(root / "mp")),
            "mini-csv": Base(MINI, copy_dir(MINI / "facts", root / "mc"))}


def _check(base: Base, facts: Path, expect: str, label: str) -> None:
    got = _outcome(base.rs, facts)
    if isinstance(got, FactsError):
        assert expect != SAME or label.startswith("lossless"), f"{label}: refused, but it means the same: {got}"
        return
    assert expect != ERROR, f"{label}: the facts are wrong, yet scored"
    totals = _totals(got)
    assert all(t is None or math.isfinite(t) for t in totals.values()), label
    if expect == SAME:
        assert totals == base.totals, label


# ------------------------------------------------------------------ parquet mutations

CASTS = [pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt32, pl.UInt64, pl.Float32, pl.Float64, pl.String,
         pl.Boolean, pl.Categorical, pl.Date, pl.Datetime("us"), pl.Datetime("ns"), pl.Datetime("us", "UTC"),
         pl.List(pl.String)]


def _cast(df: pl.DataFrame, col: str, dtype) -> tuple[pl.DataFrame | None, str]:
    try:
        out = df.with_columns(pl.col(col).cast(dtype))
        back = out[col].cast(df[col].dtype)
    except Exception:  # polars cannot cast this way at all: not a mutation we can make
        return None, ""
    return out, ("lossless cast" if back.equals(df[col]) else "lossy cast")


def _parquet_mutation(data, base: Base, facts: Path) -> tuple[str, str]:
    files = sorted(facts.rglob("*.parquet"))
    f = data.draw(st.sampled_from(files), label="file")
    table = f.relative_to(facts).parts[0]
    declared = base.rs.tables[table].columns
    df = pl.read_parquet(f, hive_partitioning=False)
    col = data.draw(st.sampled_from(sorted(declared)), label="column")
    what = data.draw(st.sampled_from(["cast", "drop", "extra", "reorder", "non-finite", "nulls", "code", "damage",
                                      "truncate"]), label="mutation")
    if what == "cast":
        out, label = _cast(df, col, data.draw(st.sampled_from(CASTS), label="dtype"))
        if out is None:
            return SAME, "no-op"
        out.write_parquet(f)
        return (SAME if label.startswith("lossless") else ANY), label
    if what == "drop":
        df.drop(col).write_parquet(f)
        hive = f"{col}=" in str(f.relative_to(facts))
        return (SAME if hive else ERROR), f"drop {col}"
    if what == "extra":
        df.with_columns(pl.lit(data.draw(st.sampled_from([1, "x", 2.5, None]))).alias("zz_extra")).write_parquet(f)
        return SAME, "extra column"
    if what == "reorder":
        df.select(data.draw(st.permutations(df.columns), label="order")).write_parquet(f)
        return SAME, "reorder"
    return _parquet_values(data, base, f, df, col, what)


def _parquet_values(data, base: Base, f: Path, df: pl.DataFrame, col: str, what: str) -> tuple[str, str]:
    if df.is_empty():
        return SAME, "empty file"
    row = data.draw(st.integers(0, df.height - 1), label="row")
    hit = pl.int_range(pl.len()) == row
    if what == "non-finite":
        floats = [c for c in df.columns if df[c].dtype == pl.Float64]
        if not floats:
            return SAME, "no float column"
        c = data.draw(st.sampled_from(floats), label="float column")
        bad = data.draw(st.sampled_from([math.inf, -math.inf, math.nan]), label="value")
        df.with_columns(pl.when(hit).then(bad).otherwise(pl.col(c)).alias(c)).write_parquet(f)
        return ERROR, f"{bad} in {c}"
    if what == "nulls":
        df.with_columns(pl.when(hit).then(None).otherwise(pl.col(col)).alias(col)).write_parquet(f)
        return ANY, f"null {col}"
    if what == "code":
        code = pl.col(base.rs.unit_column)
        new = data.draw(st.sampled_from([code.str.to_lowercase(), " " + code, code + "9", pl.lit(None, pl.String)]))
        df.with_columns(pl.when(hit).then(new).otherwise(code).alias(base.rs.unit_column)).write_parquet(f)
        return ANY, "unit code"
    raw = bytearray(f.read_bytes())
    if what == "truncate":
        f.write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw) - 9), label="cut")]))
        return ERROR, "truncated"
    at = data.draw(st.integers(4, len(raw) - 9), label="offset")  # keep the magic bytes
    raw[at] ^= data.draw(st.integers(1, 255), label="xor")
    f.write_bytes(bytes(raw))
    return ANY, "damaged byte"  # parquet pages carry no checksum: a flipped byte may decode to other values


@pytest.mark.parametrize("which", ["country-parquet", "mini-parquet"])
@FUZZ
@given(data=st.data())
def test_parquet_mutants_score_cleanly_or_are_refused(bases, which, data):
    base = bases[which]
    with tempfile.TemporaryDirectory() as tmp:
        facts = copy_dir(base.facts, Path(tmp) / "facts")
        expect, label = _parquet_mutation(data, base, facts)
        _check(base, facts, expect, label)


# ------------------------------------------------------------------ CSV mutations

CELLS = ["ninety", "12.5", "95%", "34,603", "2024-02-30", "", " ", "inf", "NaN", "yes", "1e3", "-0", "是", "true",
         "2024-06-30 10:00", "2024-06-30T10:00:00+08:00", "[]", "a|b", '"quoted, comma"']


def _csv_mutation(data, base: Base, facts: Path) -> tuple[str, str]:
    f = data.draw(st.sampled_from(sorted(facts.glob("*.csv"))), label="file")
    text = f.read_text(encoding="utf-8")
    lines = text.splitlines()
    what = data.draw(st.sampled_from(["encoding", "crlf", "ragged", "cell", "drop", "extra", "reorder", "quote",
                                      "blank line", "multiline"]), label="mutation")
    if what == "encoding":
        enc = data.draw(st.sampled_from(["utf-8-sig", "gbk", "utf-16", "latin-1"]), label="encoding")
        try:
            f.write_bytes(text.encode(enc))
        except UnicodeEncodeError:
            return SAME, "cannot encode"
        same = enc == "utf-8-sig" or (text.isascii() and enc != "utf-16")
        return (SAME if same else ERROR), enc
    if what == "crlf":
        f.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
        return SAME, "crlf"
    rows = [r.split(",") for r in lines]  # the example CSVs quote no commas
    i = data.draw(st.integers(1, len(rows) - 1), label="line")
    j = data.draw(st.integers(0, len(rows[0]) - 1), label="field")
    if what == "ragged":
        rows[i] = rows[i][:j] + rows[i][j + 1:] if data.draw(st.booleans(), label="fewer") else rows[i] + ["x"]
        expect = ERROR
    elif what == "cell":
        rows[i][j] = data.draw(st.sampled_from(CELLS) | st.text(max_size=8).filter(lambda s: "," not in s
                                                                                   and "\n" not in s
                                                                                   and "\r" not in s
                                                                                   and '"' not in s),
                               label="cell")
        expect = ANY
    elif what == "quote":  # "ARE" is ARE
        rows[i][j], expect = f'"{rows[i][j]}"', SAME
    elif what == "blank line":
        rows.insert(i, [""])
        expect = SAME
    elif what == "multiline":  # a quoted cell over two lines: the csv module reads this file
        rows[i][j], expect = f'"{rows[i][j]}\nmore"', ANY
    elif what == "drop":
        rows, expect = [r[:j] + r[j + 1:] for r in rows], ERROR
    elif what == "extra":
        rows, expect = [r + (["remark"] if k == 0 else [str(k)]) for k, r in enumerate(rows)], SAME
    else:
        order = data.draw(st.permutations(range(len(rows[0]))), label="order")
        rows, expect = [[r[k] for k in order] for r in rows], SAME
    f.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return expect, f"{what} at {f.name}:{i + 1}"


@pytest.mark.parametrize("which", ["country-csv", "mini-csv"])
@FUZZ
@given(data=st.data())
def test_csv_mutants_score_cleanly_or_are_refused(bases, which, data):
    base = bases[which]
    with tempfile.TemporaryDirectory() as tmp:
        facts = copy_dir(base.facts, Path(tmp) / "facts")
        expect, label = _csv_mutation(data, base, facts)
        _check(base, facts, expect, label)


# ------------------------------------------------------------------ end to end through the CLI


def _mutants(root: Path) -> list[tuple[str, Path]]:
    """A few fixed mutants of the mini facts, one per kind."""
    out = []
    for name, change in [("ragged", lambda t: t.replace("100100,1,http://www.a.gov.cn/,200,portal\n",
                                                        "100100,1,http://www.a.gov.cn/,200\n")),
                         ("bad int", lambda t: t.replace(",503,", ",五百零三,")),
                         ("typo code", lambda t: t.replace("100200,2,", "100201,2,")),
                         ("gbk", None)]:
        facts = copy_dir(MINI / "facts", root / name.replace(" ", "-"))
        pages = facts / "pages.csv"
        if change is None:
            manual = facts / "manual.csv"
            manual.write_bytes(manual.read_text(encoding="utf-8").encode("gbk"))
        else:
            pages.write_text(change(pages.read_text(encoding="utf-8")), encoding="utf-8")
        out.append((name, facts))
    return out


def test_cli_mutants_exit_1_with_located_errors_or_0(tmp_path):
    expect = {"ragged": (1, "pages.csv:2: error[F107 ragged-csv]: 4 fields"),
              "bad int": (1, "pages.csv:7 [status]: error[F104 bad-value]: '五百零三'"),
              "typo code": (0, "'100201': 1 row(s) — did you mean `100200` 乙市? (one character off)"),
              "gbk": (1, "manual.csv:2: error[F109 not-utf8]: not UTF-8")}
    for name, facts in _mutants(tmp_path):
        for cmd in ("score", "explain"):
            args = [cmd, str(MINI), "--facts", str(facts)] + (["--unit", "甲市"] if cmd == "explain" else [])
            r = CliRunner().invoke(app, args)
            code, text = expect[name]
            assert isinstance(r.exception, SystemExit | None), (name, cmd, r.exception)
            if cmd == "score" or code == 1:
                assert (r.exit_code, text in r.stderr) == (code, True), (name, cmd, r.output)


def test_cli_real_process_prints_no_traceback(tmp_path):
    (_, facts), *_ = _mutants(tmp_path)  # the ragged CSV once crashed explain
    for cmd in (["score"], ["explain", "--unit", "甲市"]):
        p = subprocess.run([sys.executable, "-m", "govindex.cli", cmd[0], str(MINI), "--facts", str(facts), *cmd[1:]],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 1 and "Traceback" not in p.stderr and "4 fields where the header has 5" in p.stderr
    shutil.rmtree(facts)
