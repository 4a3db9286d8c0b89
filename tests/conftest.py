"""Shared fixtures: build small rule sets on the fly, golden-file comparison."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed sequence of examples (reproducible: a red CI run is the
# same run again); a developer's run explores new examples each time (GOVINDEX_FUZZ_EXAMPLES and
# the tests' own settings decide how many).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GOVINDEX_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>; GOVINDEX_UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {path} did not exist; written now — review and commit it")
    assert text == path.read_text(encoding="utf-8")


UNITS_CSV = "code,name,province,macro_region\nA1,甲市,河北,东部\nA2,乙市,河北,东部\nB1,丙州,四川,西部\nB2,丁市,四川,西部\n"

HEADER = """ruleset "t" {
  units: "units.csv"
  groups: ["province", "macro_region"]
  rounds: {1: "2019-01-01", 2: "2019-02-01"}
  missing: zero
}
table t {
  unit: str
  round: int
  v: float
  kind: str
  tags: list[str]
  at: datetime
}
"""


@pytest.fixture
def ruleset_dir(tmp_path):
    """Write rule text (plus a header declaring table `t` and 4 units) into a temp rule set."""
    def make(body: str, header: str = HEADER, max_total: float | None = None) -> Path:
        d = tmp_path / "rules"
        d.mkdir(exist_ok=True)
        (d / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
        h = header if max_total is None else header.replace("missing: zero", f"missing: zero\n  max_total: {max_total:g}")
        (d / "a_header.rules").write_text(h, encoding="utf-8")
        (d / "b_body.rules").write_text(body, encoding="utf-8")
        return d
    return make
