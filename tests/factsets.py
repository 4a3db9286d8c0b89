"""Small real facts directories for the facts tests: copies of the shipped examples, as CSV or as
hive-partitioned parquet split into several files, and a helper to rewrite one file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

from govindex.check.run import load
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import load_sources
from govindex.ir import RuleSet
from tests.conftest import ROOT

COUNTRY = ROOT / "examples" / "country-index"
MINI = ROOT / "tests" / "fixtures" / "mini"
FACTS_2019 = ROOT / "examples" / "2019" / "facts"


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def country_parquet(dst: Path, parts: int = 2) -> Path:
    """The country index facts as parquet: ``T/round=1/part-<i>.parquet``, countries split
    between ``parts`` files (a unit never spans two)."""
    rs = load(COUNTRY)
    for table, lf in load_sources(rs, COUNTRY / "facts").items():
        df = lf.collect()
        codes = sorted(set(df["country"].to_list()))
        for i in range(parts):
            mine = codes[i::parts]
            out = dst / table / "round=1" / f"part-{i}.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            df.filter(pl.col("country").is_in(mine)).write_parquet(out)
    return dst


def mini_parquet(dst: Path) -> Path:
    """The mini fixture's facts as parquet partitioned by round."""
    rs = load(MINI)
    for table, lf in load_sources(rs, MINI / "facts").items():
        df = lf.collect()
        for (r,), part in df.group_by("round"):
            out = dst / table / f"round={r}" / "part-0.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(out)
    return dst


def rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    """Replace a parquet file by ``change`` of its contents."""
    df = change(pl.read_parquet(path, hive_partitioning=False))
    df.write_parquet(path)


def totals(rs: RuleSet, facts: Path) -> dict[str, float | None]:
    """Unit code → total (unrounded)."""
    sc = evaluate(rs, load_sources(rs, facts))
    return dict(zip(sc.units["code"].to_list(), sc.units["total"].to_list()))
