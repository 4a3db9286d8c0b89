"""Issue 9, reproducer 5 (manual values): a point's declared ``values:``/``range:`` hold at scoring
too. A manual entry outside them (7 where values are 0/0.5/1, 1e308, inf, NaN) is an error status
for that unit × point — never full marks — and two conflicting entries for a unit × point ×
round are an error, not their average. The rule is the import's: the two never disagree."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.collect.manual import manual_points
from govindex.eval.compile import entry_ok
from govindex.eval.evaluate import evaluate, score_col, status_col
from govindex.eval.facts import frames_from_rows
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"


def _score(tmp_path: Path, manual: list[tuple[str, float]]) -> tuple[int, dict, str]:
    """`govindex score` on the mini rule set, its pages, and these round-2 `qa_manual` entries."""
    facts = tmp_path / "facts"
    shutil.copytree(MINI / "facts", facts)
    (facts / "manual.csv").unlink()
    part = facts / "manual" / "round=2" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    pl.DataFrame({"unit": [u for u, _ in manual], "round": [2] * len(manual), "point": ["qa_manual"] * len(manual),
                  "value": [v for _, v in manual], "note": [""] * len(manual)}).write_parquet(part)
    r = subprocess.run([sys.executable, "-m", "govindex.cli", "score", str(MINI), "--facts", str(facts),
                        "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in r.stderr
    units = {u["code"]: u for u in json.loads(r.stdout)["units"]} if r.returncode == 0 else {}
    return r.returncode, units, r.stderr


def test_values_outside_the_declared_ones_and_conflicts_are_errors_through_score(tmp_path):
    rc, units, err = _score(tmp_path, [("100100", 7.0), ("100200", 0.5), ("100200", 1.0), ("200100", 1e308)])
    assert rc == 0, err
    for code in ("100100", "100200", "200100"):
        # before: 7 and 1e308 scored full marks (4), the conflict its average 0.75 (3): not an allowed value
        assert units[code]["status"]["qa_manual"] == "error", code
        assert units[code]["points"]["qa_manual"] == 0.0  # `missing: zero`: an error scores nothing


def test_allowed_values_and_identical_duplicates_score(tmp_path):
    rc, units, err = _score(tmp_path, [("100100", 1.0), ("100200", 0.5), ("100200", 0.5), ("200100", 0.0)])
    assert rc == 0, err
    assert {c: u["points"]["qa_manual"] for c, u in units.items()} == {"100100": 4.0, "100200": 2.0, "200100": 0.0}
    assert all("qa_manual" not in u["status"] for u in units.values())  # only statuses other than ok are listed


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_entries_are_an_error_or_a_facts_error(tmp_path, bad):
    rc, units, err = _score(tmp_path, [("100100", bad), ("100200", 0.5)])
    if rc == 0:  # scoring reached the point: an error status, never a score
        assert units["100100"]["status"]["qa_manual"] == "error" and units["100100"]["points"]["qa_manual"] == 0.0
        assert units["100200"]["points"]["qa_manual"] == 2.0
    else:  # or the facts were refused as a whole, naming the file
        assert rc == 1 and "manual" in err


def test_a_range_point_of_2019_is_checked_per_round():
    rs = load(ROOT / "rules" / "2019")
    rows = [{"unit": "130100", "round": 1, "point": "search_manual_sample", "value": 7.0},  # range [0, 5]
            {"unit": "130100", "round": 2, "point": "search_manual_sample", "value": 5.0},
            {"unit": "130200", "round": 1, "point": "search_manual_sample", "value": 2.5}]
    sc = evaluate(rs, frames_from_rows(rs, {"manual": rows}), rounds=[1, 2])
    per = {(r["code"], r["__round"]): r[status_col("search_manual_sample")] for r in sc.rounds.to_dicts()
           if r["code"] in ("130100", "130200")}
    assert per[("130100", 1)] == "error" and per[("130100", 2)] == "ok" and per[("130200", 1)] == "ok"
    units = {r["code"]: r for r in sc.units.to_dicts()}
    assert units["130200"][score_col("search_manual_sample")] > 0


@pytest.fixture(scope="module")
def points():
    return [p for p in manual_points(load(ROOT / "rules" / "2019"))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_import_and_scoring_allow_the_same_values(points, data):
    p = data.draw(st.sampled_from(points))
    anchors = [*(p.values or ()), *(p.range or ())]
    near = st.sampled_from(anchors).flatmap(lambda a: st.sampled_from([a, a + 1e-10, a - 1e-10, a + 1e-6, a - 1e-6,
                                                                       a * (1 + 1e-9), a + 0.5]))
    xs = data.draw(st.lists(st.one_of(near, st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=40))
    scored = pl.DataFrame({"x": xs}, schema={"x": pl.Float64}).select(entry_ok(p.values, p.range, pl.col("x")))
    assert scored.to_series().to_list() == [p.allows(x) for x in xs]
