"""The example-facts generator: deterministic, readable through the fact contract, and scores
that spread (not all equal, not all zero, not all full) — on the mini rule set and on rules/2019."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import scan, schema
from govindex.ir import ROOT as TOTAL

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests/fixtures/mini"
RULES_2019 = REPO / "rules/2019"
SCRIPT = REPO / "examples/generate_facts.py"

_spec = importlib.util.spec_from_file_location("generate_facts", SCRIPT)
gf = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("generate_facts", gf)  # dataclasses look their module up
_spec.loader.exec_module(gf)  # type: ignore[union-attr]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _scores(rules: Path, facts: Path, rounds=None):
    rs = load(rules)
    return rs, evaluate(rs, {t: scan(rs, facts, t) for t in rs.tables}, rounds)


def _assert_spread(rs, sc) -> None:
    totals = sc.units["total"]
    top = rs.nodes[TOTAL].max
    assert totals.null_count() == 0
    assert totals.n_unique() > 1, "every unit scored the same"
    assert totals.max() > 0, "every unit scored 0"
    assert totals.min() < top, "every unit scored full marks"


# ------------------------------------------------------------------ mini rule set


def test_mini_is_deterministic(tmp_path):
    a = gf.generate(MINI, tmp_path / "a")
    b = gf.generate(MINI, tmp_path / "b")
    assert a == b
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    gf.generate(MINI, tmp_path / "c", seed=7)
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_mini_layout_and_scan(tmp_path):
    out = tmp_path / "facts"
    counts = gf.generate(MINI, out)
    rs = load(MINI)
    assert set(counts) == set(rs.tables)
    for t in rs.tables:
        assert sorted(p.name for p in (out / t).iterdir()) == [f"round={r}" for r in sorted(rs.rounds)]
        df = scan(rs, out, t).collect()
        assert df.height == counts[t] > 0
        assert df.schema == pl.Schema(schema(rs, t))
        for r in rs.rounds:  # exactly the declared columns, sorted by unit
            part = pl.read_parquet(out / t / f"round={r}" / "part-0.parquet")
            assert part.columns == list(rs.tables[t].columns)
            assert part["unit"].to_list() == sorted(part["unit"].to_list())
    _assert_spread(rs, _scores(MINI, out)[1])


def test_mini_manual_values_come_from_the_point(tmp_path):
    out = tmp_path / "facts"
    gf.generate(MINI, out)
    rs = load(MINI)
    manual = scan(rs, out, "manual").collect()
    assert set(manual["point"]) == {"qa_manual"}
    assert set(manual["value"]) <= {0.0, 0.5, 1.0}


def test_rewrite_is_atomic_and_replaces(tmp_path):
    out = tmp_path / "facts"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    gf.generate(MINI, out, rounds=[2])
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in (out / "pages").iterdir()) == ["round=2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facts"]


def test_cli(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), str(MINI), str(tmp_path / "f"), "--seed", "3"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "pages" in run.stdout
    assert (tmp_path / "f" / "pages" / "round=1" / "part-0.parquet").is_file()


# ------------------------------------------------------------------ rules/2019 (when it checks)


def _checkable_2019():
    rs, diags = check(RULES_2019)
    errors = [d for d in diags if d.is_error]
    if rs is None or errors:
        pytest.skip("rules/2019 does not check yet: " + "; ".join(d.message for d in errors[:3]))
    return rs


def _subset_2019(dest: Path, every: int) -> Path:
    """rules/2019 with a sample of its units (and every unit its inline tests name), for speed."""
    rs = _checkable_2019()
    dest.mkdir(parents=True)
    for f in RULES_2019.glob("*.rules"):
        shutil.copy(f, dest / f.name)
    named = {ex.unit for t in rs.tests for ex in t.expects}
    with (RULES_2019 / "units.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for i, r in enumerate(rows) if i % every == 0 or r["code"] in named]
    with (dest / "units.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return dest


@pytest.fixture(scope="module")
def facts_2019(tmp_path_factory):
    """A third of the units, the last round: (rule set, facts dir, row counts, scores)."""
    rules = _subset_2019(tmp_path_factory.mktemp("r2019") / "rules", every=3)
    last = max(load(rules).rounds)
    out = tmp_path_factory.mktemp("f2019") / "facts"
    counts = gf.generate(rules, out, rounds=[last])
    rs, sc = _scores(rules, out, [last])
    return rs, out, counts, sc


def test_2019_tables_scan_and_totals_spread(facts_2019):
    rs, out, counts, sc = facts_2019
    for t in rs.tables:
        assert scan(rs, out, t).collect().height == counts[t] > 0
    _assert_spread(rs, sc)


def test_2019_every_point_varies(facts_2019):
    rs, _, _, sc = facts_2019
    never, always = [], []
    for p in rs.points:
        s = sc.units[score_col(p.id)].fill_null(0.0)
        if s.max() <= 0:
            never.append(p.id)
        if s.min() >= p.max - 1e-9:
            always.append(p.id)
    assert not never, f"points no unit scores on: {never}"
    assert not always, f"points every unit scores full on: {always}"


def test_2019_fetch_errors_are_exercised(facts_2019):
    _, _, _, sc = facts_2019
    statuses = sc.units.select(pl.col(c) for c in sc.units.columns if c.startswith("st:"))
    assert (statuses == "error").to_numpy().any(), "no unit has a round of failed fetches"


def test_2019_is_deterministic(tmp_path):
    rules = _subset_2019(tmp_path / "rules", every=80)
    a = gf.generate(rules, tmp_path / "a", rounds=[1])
    b = gf.generate(rules, tmp_path / "b", rounds=[1])
    assert a == b
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
