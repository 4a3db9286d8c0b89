"""``govindex diff --facts``: nodes ranked by the change of their score rate (a reweighted node whose
units did no better does not top the list), grade transitions, and ``--facts OLD_FACTS NEW_FACTS``
(old rules on old facts, new rules on new facts) end to end through the CLI, in both spellings.

Regenerate the golden files with ``GOVINDEX_UPDATE_GOLDEN=1`` and review them as a diff.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.versions.impact import impact
from tests.conftest import assert_golden
from tests.diff_pairs import MINI, weight_pair, year_pair


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _impact_part(stdout: str) -> str:
    text = stdout[stdout.index("\nImpact"):]
    return re.sub(r"scored in [\d.]+s \(old\) and [\d.]+s \(new\)", "scored in …", text)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths in the output are relative: the goldens do not name tmp dirs
    monkeypatch.setenv("COLUMNS", "120")
    return tmp_path


def test_weight_change_ranked_by_rate_golden(here):
    old, new = weight_pair(here)
    (here / "facts").symlink_to(MINI / "facts")
    r = run("diff", "old", "new", "--facts", "facts")
    assert r.exit_code == 0, r.output
    assert_golden("diff_impact_weight.txt", _impact_part(r.stdout))
    im = impact(load(old), load(new), here / "facts")
    points = [x for x in im.nodes if x.kind != "indicator"]
    portal = next(x for x in points if x.id == "portal")
    # reweighted (max 2 → 3): its mean on its scale moved, its rate did not — and it is not first
    assert portal.mean_change and portal.rate_change == 0 and portal.max_new == 3
    assert points[0].id == "pages_n" and points[0].rate_change > 0
    assert [abs(x.rate_change) for x in im.nodes] == sorted((abs(x.rate_change) for x in im.nodes), reverse=True)


def test_two_years_facts_end_to_end_golden(here):
    year_pair(here)
    r = run("diff", "old", "new", "--facts", "facts_old", "facts_new", "--top", "5")
    assert r.exit_code == 0, r.output
    assert_golden("diff_impact_years.txt", _impact_part(r.stdout))
    out = r.stdout
    assert "facts       old rules on facts_old, new rules on facts_new" in out
    assert "only old    1 unit(s) scored under the old side only: 200100 丙州" in out
    assert "only new    1 unit(s) scored under the new side only: 300100 丁县" in out
    # the other spellings mean the same: --facts first, --facts=…, --new-facts
    for args in (["--facts", "facts_old", "facts_new", "old", "new"], ["old", "--facts", "facts_old", "facts_new", "new"],
                 ["old", "new", "--facts=facts_old", "facts_new"], ["old", "new", "--facts", "facts_old",
                                                                    "--new-facts", "facts_new"]):
        again = run("diff", *args, "--top", "5")
        assert again.exit_code == 0, (args, again.output)
        assert _impact_part(again.stdout) == _impact_part(out), args


def test_two_years_json_and_md(here):
    year_pair(here)
    doc = json.loads(run("diff", "old", "new", "--facts", "facts_old", "facts_new", "--format", "json").stdout)
    im = doc["impact"]
    assert im["facts"] == {"old": "facts_old", "new": "facts_new", "same": False}
    assert im["only_old"] == ["200100"] and im["only_new"] == ["300100"] and im["units_scored"] == 2
    assert {u["code"]: u["present"] for u in im["units"]} == {"100100": "both", "100200": "both", "200100": "old",
                                                              "300100": "new"}
    assert im["transitions"] == {"old": ["A", "B", "C"], "new": ["A", "B", "C"], "counts": [[1, 0, 0], [1, 0, 0], [0, 0, 0]]}
    assert im["digits"] == {"old": 2, "new": 2}
    renamed = next(x for x in im["nodes"] if x["id"] == "qa_test")
    assert renamed["old_id"] == "qa_manual" and renamed["rate_old"] == 0.5
    md = run("diff", "old", "new", "--facts", "facts_old", "facts_new", "--format", "md").stdout
    assert "### Impact of two years' facts (2 units)" in md
    assert "Facts: old rules on facts_old, new rules on facts_new." in md
    assert "#### Grade transitions (rows: old grade, columns: new grade)" in md
    assert "Scored under the old side only (1): 200100 丙州." in md


def test_facts_one_value_keeps_its_meaning_and_errors_are_located(here):
    year_pair(here)
    r = run("diff", "old", "new", "--facts", "facts_old")  # the same facts under both: the new rules miss qa_test rows
    assert r.exit_code == 0, r.output
    assert "facts       both rule sets on facts_old" in r.stdout
    r = run("diff", "old", "new", "--new-facts", "facts_new")
    assert r.exit_code == 1 and "--new-facts needs --facts" in r.stderr and "Traceback" not in r.output
    r = run("diff", "old", "new", "--facts", "facts_old", "nowhere")
    assert r.exit_code == 1 and "nowhere" in r.stderr and "Traceback" not in r.output
    r = run("diff", "old", "new", "--facts", "facts_old", "facts_new", "extra")
    assert r.exit_code == 2 and "extra" in r.output
