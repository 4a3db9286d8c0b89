"""``govindex diff`` shows issue 11's settings: every grading (the total's, other nodes', the
named ones), and ``scale:``, ``round:``, ``rank:``, the cross-unit stages, ``missing`` per reason,
``not_applicable:``/``error:``, ``gate:``, ``score_on:`` on any node — on two versions of
examples/tiered-index and examples/web-performance made here. Golden text reviewed as a diff."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.versions.diff import diff
from tests.conftest import ROOT, assert_golden

EXAMPLES = ROOT / "examples"

TIERED = [  # (old text, new text) in examples/tiered-index/ruleset.rules
    ('ranks: {levels: "all", on: "reported", ties: "min"}', 'ranks: {levels: "all", on: "reported", ties: "dense"}'),
    ('  scale: 100\n  round: {digits: 1}\n  aggregate: mean\n\n  point datasets',
     '  scale: 100\n  round: {digits: 2, mode: "half_even"}\n  aggregate: mean\n\n  point datasets'),
    ('  scale: 1  # published on 0–1: rounded there, to 2 decimals (the level default)\n  aggregate: mean\n',
     '  scale: 1\n  aggregate: mean\n  gate: {condition: users == 0, score: null, reason: "not assessed"}\n'),
    ('    scale: 100\n    probe: max(obs, users)\n',
     '    scale: 100\n    rank: false\n    impute: {method: "median", by: "region"}\n'
     '    missing: {no_data: zero, not_applicable: exclude, error: null}\n    probe: max(obs, users)\n'),
    ('    scale: 100\n    probe: max(obs, broadband)\n    score: x\n',
     '    scale: 100\n    score_on: scale\n    probe: max(obs, broadband)\n    score: x * 100\n'),
    ('    scale: 100\n    probe: max(obs, payments)\n', '    scale: 10\n    probe: max(obs, payments)\n'),
    ("  cuts: {high: 0.7, mid: 0.45}\n", "  cuts: {high: 0.75, mid: 0.45}\n"),
    ("  floor: 1.5\n", "  floor: 2\n"),
]
TIERED_NAMED = """
grading bands "Access bands" {
  node: access
  value: reported
  method: thresholds
  classes: {top: "Top", rest: "Rest"}
  cuts: {top: 0.5}
}
"""

WEBPERF = [
    ('    error: any(audits, where: audit == "speed-index" and errored)\n',
     '    error: any(audits, where: audit == "speed-index" and errored and value == 0)\n'),
    ('  aggregate: wavg\n  round: {digits: 2, mode: "binary_half_up"}\n\n  point fcp',
     '  aggregate: wavg\n  round: {digits: 2, mode: "floor"}\n\n  point fcp'),
    ("  cuts: {green: 0.9, orange: 0.5}\n}\n\ngrading \"SEO rating\"",
     "  cuts: {green: 0.9, orange: 0.6}\n}\n\ngrading \"SEO rating\""),
]


def _versions(tmp: Path, example: str, edits: list[tuple[str, str]], extra: str = "") -> tuple[Path, Path]:
    old, new = tmp / "old", tmp / "new"
    shutil.copytree(EXAMPLES / example, old, ignore=shutil.ignore_patterns("facts"))
    shutil.copytree(old, new)
    text = (new / "ruleset.rules").read_text("utf-8")
    for a, b in edits:
        assert text.count(a) == 1, a
        text = text.replace(a, b)
    (new / "ruleset.rules").write_text(text + extra, encoding="utf-8")
    return old, new


def _run_diff(old: Path, new: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> str:
    monkeypatch.chdir(old.parent)  # paths in the output relative to here: old/…, new/…
    r = CliRunner().invoke(app, ["diff", "old", "new", "--format", fmt])
    assert r.exit_code == 0, r.output
    return r.stdout


def test_tiered_index_settings_and_every_grading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _versions(tmp_path, "tiered-index", TIERED, TIERED_NAMED)
    doc = json.loads(_run_diff(old, new, monkeypatch, "json"))
    got = {(e["kind"], e["node"], e["field"]) for e in doc["edits"]}
    want = {("changed", "ruleset", "ranks"), ("changed", "openness", "round"), ("changed", "access", "gate"),
            ("changed", "users", "rank"), ("changed", "users", "impute"), ("changed", "users", "missing"),
            ("changed", "broadband", "score_on"), ("changed", "broadband", "score"), ("changed", "payments", "scale"),
            ("changed", "Access rating", "cuts"), ("changed", "Openness rating", "floor"),
            ("added", "Access bands", None)}
    assert got == want
    by = {(e["node"], e["field"]): e for e in doc["edits"]}
    assert by[("users", "missing")]["old"] == "zero"
    assert by[("users", "missing")]["new"] == {"no_data": "zero", "not_applicable": "exclude", "error": "null"}
    assert by[("openness", "round")]["old"] == {"mode": "r", "digits": 1}
    assert by[("access", "gate")]["new"] == {"when": "users == 0", "score": "null", "reason": "not assessed"}
    assert by[("users", "impute")]["new"]["method"] == "median"
    assert by[("openness", "round")]["new_at"] == "new/ruleset.rules:87"  # 82 + the 5 lines added above it
    # a rank inherited from `ranks:` changed on every node, but only the header and the node that writes it say so
    assert [e["node"] for e in doc["edits"] if e["field"] == "rank"] == ["users"]
    assert_golden("diff_tiered_settings.txt", _run_diff(old, new, monkeypatch, "text"))


def test_web_performance_conditions_rounding_and_node_gradings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _versions(tmp_path, "web-performance", WEBPERF)
    doc = json.loads(_run_diff(old, new, monkeypatch, "json"))
    got = {(e["kind"], e["node"], e["field"]) for e in doc["edits"]}
    assert got == {("changed", "si", "error"), ("changed", "performance", "round"),
                   ("changed", "Accessibility rating", "cuts")}
    assert_golden("diff_webperf_settings.txt", _run_diff(old, new, monkeypatch, "text"))


@pytest.mark.parametrize("example", ["tiered-index", "web-performance", "coinr-pipeline", "published/egdi"])
def test_diff_of_an_example_with_itself_is_empty(example: str) -> None:
    rs = load(EXAMPLES / example)
    assert diff(rs, load(EXAMPLES / example)) == []
