"""`govindex bench generate`: synthetic facts in the real layout, sharded by unit, deterministic,
scored unchanged; the benchmark's DuckDB translation computes the engine's aggregates."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.cli.bench import parse_count
from govindex.diagnostics import UsageError
from govindex.eval.facts import schema
from govindex.synth.bench import harvest, shard_of
from tests.conftest import ROOT

RULES = ROOT / "rules" / "2019"
SHARDS = 4


def generate(out: Path, seed: int = 7, pages: str = "20k") -> None:
    r = CliRunner().invoke(app, ["bench", "generate", "--pages", pages, "--units-from", str(RULES),
                                 "--shards", str(SHARDS), "--seed", str(seed), "--out", str(out)])
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def rs():
    return load(RULES)


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "facts"
    generate(out)
    return out


def _frame(facts: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((facts / table).rglob("*.parquet")), hive_partitioning=False)


def test_layout_every_read_table_round_and_shard(rs, facts):
    tables = harvest(rs).columns
    assert set(tables) == {"pages", "posts", "search", "interactions", "apps", "manual"}
    for t in tables:
        parts = sorted(p.relative_to(facts).as_posix() for p in (facts / t).rglob("*.parquet"))
        assert parts == [f"{t}/round=1/part-{s:03d}.parquet" for s in range(SHARDS)]
    manifest = json.loads((facts / "_bench.json").read_text())
    assert manifest["rows"]["pages"] == {"1": 20_000} and manifest["shards"] == SHARDS
    assert not list(facts.parent.glob(".facts.*")), "the temporary directory is renamed into place"


def test_schema_is_the_declared_one(rs, facts):
    for t in harvest(rs).columns:
        for part in (facts / t).rglob("*.parquet"):
            assert dict(pl.read_parquet_schema(part)) == schema(rs, t), part


def test_units_never_span_shards(facts):
    for t in ("pages", "posts", "manual"):
        seen: dict[str, int] = {}
        for s in range(SHARDS):
            units = pl.read_parquet(facts / t / "round=1" / f"part-{s:03d}.parquet")["unit"]
            assert units.is_sorted(), "rows are sorted by unit within a shard"
            for u in units.unique().to_list():
                assert seen.setdefault(u, s) == s and shard_of(u, SHARDS) == s


def test_facts_look_like_a_crawl(rs, facts):
    pages = _frame(facts, "pages")
    assert pages.height == 20_000
    failed = pages.filter((pl.col("status") < 200) | (pl.col("status") >= 400))
    assert 0.01 < failed.height / pages.height < 0.1
    assert (pages.filter(pl.col("status").is_between(200, 399))["error"] == "").all()
    assert pages["url"].n_unique() > 0.95 * pages.height and pages["title"].n_unique() > 0.5 * pages.height
    assert pages["url"].str.contains(r"^https?://(www|zwfw|data|m)\.[a-z]+\.gov\.cn/").all()
    tested = set(harvest(rs).tested[("pages", "markers")])
    markers = set(pages["markers"].explode().drop_nulls().to_list())
    assert markers <= tested and len(markers) > 0.8 * len(tested)
    per_unit = pages.group_by("unit").len()["len"]
    assert per_unit.max() > 10 * per_unit.median(), "big cities have many more pages"
    manual = _frame(facts, "manual")
    points = {p.id for p in rs.points if p.kind == "manual"}
    assert set(manual["point"].unique()) == points and manual["value"].is_between(0, 5).all()


def test_score_runs_unchanged(facts):
    r = CliRunner().invoke(app, ["score", str(RULES), "--facts", str(facts), "--format", "json"])
    assert r.exit_code == 0, r.output
    units = json.loads(r.stdout)["units"]
    assert len(units) == 334
    totals = [u["total"] for u in units]
    assert all(t is not None for t in totals) and max(totals) > min(totals)


def test_deterministic_for_a_seed(facts, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again)
    generate(other, seed=8)
    for t in ("pages", "interactions", "manual"):
        assert_frame_equal(_frame(facts, t), _frame(again, t))
    assert not _frame(facts, "pages").equals(_frame(other, "pages"))


def test_counts_as_people_write_them():
    assert parse_count("30M", "--pages") == parse_count("3e7", "--pages") == parse_count("30_000_000", "--pages")
    assert parse_count("1.5k", "--pages") == 1500
    with pytest.raises(UsageError):
        parse_count("lots", "--pages")
    r = CliRunner().invoke(app, ["bench", "generate", "--pages", "2x", "--out", "/nonexistent/x"])
    assert r.exit_code == 2


def test_generator_does_not_import_probes():
    for path in (ROOT / "engine").glob("bench*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "probes" for n in names), path


def _queries():
    spec = importlib.util.spec_from_file_location("bench_queries", ROOT / "bench" / "queries.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scan_floor_reads_every_table(rs, facts):
    res = _queries().run_floor(rs, facts)
    assert res["rows"] >= 334 * 5


def test_duckdb_query_computes_the_engines_aggregates(rs, facts):
    pytest.importorskip("duckdb")
    q = _queries()
    res, df = q.run_duckdb(rs, facts)
    assert res["rows"] == 334
    assert q.verify(rs, facts, df) == []
