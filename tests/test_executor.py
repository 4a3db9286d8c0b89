"""Partitioned evaluation: in process and on a local Ray instance, equal to the one-scan result."""

from __future__ import annotations

import zlib
from pathlib import Path

import polars as pl
import pytest

from govindex.check.run import load
from govindex.eval.evaluate import evaluate
from govindex.eval.executor import InProcess
from govindex.eval.explain import load_sources
from govindex.eval.facts import partitions
from tests.conftest import ROOT

RULES = ROOT / "rules/2019"
FACTS = ROOT / "examples/2019/facts"


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    """The example facts re-split into 4 partitions by a hash of the unit code."""
    out = tmp_path_factory.mktemp("sharded")
    for table_dir in FACTS.iterdir():
        for round_dir in table_dir.iterdir():
            df = pl.read_parquet(round_dir / "part-0.parquet")
            shard = df["unit"].map_elements(lambda u: zlib.crc32(u.encode()) % 4, return_dtype=pl.Int64)
            target = out / table_dir.name / round_dir.name
            target.mkdir(parents=True)
            for k in range(4):
                df.filter(shard == k).write_parquet(target / f"part-{k:03d}.parquet")
    return out


@pytest.fixture(scope="module")
def rs():
    return load(RULES)


@pytest.fixture(scope="module")
def one_scan(rs):
    return evaluate(rs, load_sources(rs, FACTS))


def test_partitions_are_found(rs, sharded):
    assert len(partitions(rs, sharded, "pages")) == 4
    assert len(partitions(rs, FACTS, "pages")) == 1


def test_in_process_partitions_equal_one_scan(rs, sharded, one_scan):
    parts = {t: partitions(rs, sharded, t) for t in load_sources(rs, sharded)}
    got = evaluate(rs, parts, executor=InProcess())
    assert got.units.equals(one_scan.units)


def test_ray_equals_in_process(rs, sharded, one_scan):
    pytest.importorskip("ray", reason="the Ray test needs the optional extra: pip install -e '.[ray]'")
    from govindex.eval.executor import RayExecutor

    parts = {t: partitions(rs, sharded, t) for t in load_sources(rs, sharded)}
    ray = RayExecutor(num_cpus=2)
    try:
        got = evaluate(rs, parts, executor=ray)
    finally:
        ray.shutdown()
    assert got.units.equals(one_scan.units)
    assert got.rounds.equals(one_scan.rounds)


def test_source_files_holding_the_same_units_are_one_partition(rs, tmp_path, one_scan):
    """Per-source files (`govindex import` writes part-weibo, part-wechat …) may hold the same
    units: only numbered shards split a table, so nothing is aggregated twice."""
    for table_dir in FACTS.iterdir():
        for round_dir in table_dir.iterdir():
            df = pl.read_parquet(round_dir / "part-0.parquet")
            target = tmp_path / table_dir.name / round_dir.name
            target.mkdir(parents=True)
            half = df.height // 2  # both halves hold rows of most units
            df.slice(0, half).write_parquet(target / "part-weibo.parquet")
            df.slice(half).write_parquet(target / "part-wechat.parquet")
    assert len(partitions(rs, tmp_path, "pages")) == 1
    parts = {t: partitions(rs, tmp_path, t) for t in load_sources(rs, tmp_path)}
    got = evaluate(rs, parts, executor=InProcess())
    assert got.units.equals(one_scan.units)


def test_results_do_not_depend_on_the_number_of_threads(tmp_path):
    """Every float sum has one order: the tree's sums fold children in declared order and a mean
    over rounds runs in round order, so one thread or many give the same bits (with
    `pl.sum_horizontal` they did not: 38 node columns differed in their last bit)."""
    import os
    import subprocess
    import sys

    outs = []
    for threads in ("1", "4"):
        out = tmp_path / f"t{threads}"
        env = {**os.environ, "POLARS_MAX_THREADS": threads}
        r = subprocess.run([sys.executable, "-m", "govindex.cli", "score", str(RULES), "--facts", str(FACTS),
                            "--out", str(out)], env=env, capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        outs.append(pl.read_parquet(out / "scores_long.parquet"))
    assert outs[0].equals(outs[1])


def test_numbered_shards_sharing_units_are_a_facts_error(rs, tmp_path):
    """Numbered shards promise disjoint units; a hand-made layout that breaks the promise is a
    located facts error, never a unit aggregated twice (nor a traceback)."""
    from govindex.diagnostics import FactsError

    for table_dir in FACTS.iterdir():
        for round_dir in table_dir.iterdir():
            df = pl.read_parquet(round_dir / "part-0.parquet")
            target = tmp_path / table_dir.name / round_dir.name
            target.mkdir(parents=True)
            half = df.height // 2  # both halves hold rows of most units
            df.slice(0, half).write_parquet(target / "part-000.parquet")
            df.slice(half).write_parquet(target / "part-001.parquet")
    parts = {t: partitions(rs, tmp_path, t) for t in load_sources(rs, tmp_path)}
    with pytest.raises(FactsError, match="hold rows of the same unit"):
        evaluate(rs, parts, executor=InProcess())
