"""Terminal output (issue 14 item 6): the score table's L1 headers stay distinguishable at 80 and
100 columns, `extract` shows progress only on a terminal, `govindex test` keeps its summary and
its first failure on separate lines when stdout and stderr share a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from govindex.cli import app, commands
from tests.conftest import ROOT, assert_golden

# Three first-level indicators whose labels share their first two characters, as rules/2019's do.
BODY = """
indicator supply "服务供给能力" {
  max: 4
  point p_supply "供给点" { kind: technical  max: 4  probe: count(t)  score: linear(x, cap: 4) }
}
indicator response "服务响应能力" {
  max: 4
  point p_response "响应点" { kind: technical  max: 4  probe: count(t, where: v > 1)  score: linear(x, cap: 4) }
}
indicator intelligence "服务智慧能力" {
  max: 2
  point p_intel "智慧点" { kind: technical  max: 2  probe: sum(t, v)  score: linear(x, cap: 10) }
}
"""
# Names and provinces as long as rules/2019's longest, so the table must shrink at 100 columns too.
UNITS = ("code,name,province,macro_region\nA1,阿克苏地区,新疆维吾尔自治区,西部\nA2,黔西南布依族苗族自治州,贵州,西部\n"
         "B1,克孜勒苏柯尔克孜自治州,新疆维吾尔自治区,西部\nB2,丁市,四川,西部\n")
FACTS = "unit,round,v,kind,tags,at\n" + "".join(
    f"{u},1,{v},a,,2019-01-01 00:00\n" for u, n in (("A1", 4), ("A2", 2), ("B1", 1)) for v in range(n))


def _score_table(ruleset_dir, tmp_path, monkeypatch, width: int) -> str:
    rules = ruleset_dir(BODY, max_total=10)
    (rules / "units.csv").write_text(UNITS, encoding="utf-8")
    facts = tmp_path / "facts"
    facts.mkdir(exist_ok=True)
    (facts / "t.csv").write_text(FACTS, encoding="utf-8")
    # The CLI's console is made at import; give the command one of the width under test.
    monkeypatch.setattr(commands, "out", Console(width=width, soft_wrap=True))
    r = CliRunner().invoke(app, ["score", str(rules), "--facts", str(facts), "--round", "1"])
    assert r.exit_code == 0, r.output
    # the title carries the time taken: keep the table only
    return r.stdout[r.stdout.index("┏"):]


@pytest.mark.parametrize("width", [80, 100])
def test_columns_env_sets_the_width(ruleset_dir, tmp_path, width):
    # the real entry point, its width from COLUMNS as a user's shell sets it: the same table
    rules = ruleset_dir(BODY, max_total=10)
    (rules / "units.csv").write_text(UNITS, encoding="utf-8")
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "t.csv").write_text(FACTS, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "govindex.cli", "score", str(rules), "--facts", str(facts), "--round", "1"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": str(width)})
    assert r.returncode == 0, r.stderr
    assert r.stdout[r.stdout.index("┏"):] == (ROOT / "tests/golden" / f"score_table_{width}.txt").read_text(encoding="utf-8")


def _header_cells(table: str) -> list[str]:
    """Each column's header text, its lines joined (the rows between ┏ and ┡)."""
    lines = [ln for ln in table.splitlines() if ln.startswith("┃")]
    cols: list[str] = []
    for ln in lines:
        for i, cell in enumerate(ln.strip("┃").split("┃")):
            if i == len(cols):
                cols.append("")
            cols[i] += "".join(cell.split())
    return cols


@pytest.mark.parametrize("width", [80, 100])
def test_l1_headers_distinguishable(ruleset_dir, tmp_path, monkeypatch, width):
    table = _score_table(ruleset_dir, tmp_path, monkeypatch, width)
    assert_golden(f"score_table_{width}.txt", table)
    assert max(cell_len(ln) for ln in table.splitlines()) <= width
    cells = _header_cells(table)
    # every L1 header is its whole label over one or more lines, never "服务 …"
    assert cells[-3:] == ["服务供给能力/4", "服务响应能力/4", "服务智慧能力/2"]


def _broken_mini(tmp_path):
    """tests/fixtures/mini with one of its expectations made wrong."""
    broken = tmp_path / "mini"
    broken.mkdir()
    for f in (ROOT / "tests/fixtures/mini").glob("*.*"):
        text = f.read_text(encoding="utf-8").replace('expect "100100" portal == 2', 'expect "100100" portal == 1.5')
        (broken / f.name).write_text(text, encoding="utf-8")
    return broken


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}], ids=["plain", "force-color"])
def test_inline_test_summary_and_failure_on_separate_lines(tmp_path, env):
    # One pipe for both streams, as `govindex test R 2>&1 | less` has it.
    r = subprocess.run([sys.executable, "-m", "govindex.cli", "test", str(_broken_mini(tmp_path))],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, timeout=60,
                       env={**os.environ, **env, "COLUMNS": "60"})
    assert r.returncode == 1
    lines = r.stdout.decode("utf-8").splitlines()
    assert lines == [f'{tmp_path}/mini/mini.rules:63:3: FAIL test "门户得分": 100100 portal == 1.5 (got 2)',
                     "2 passed, 1 failed (1 test blocks)"]


def _archived_facts(tmp_path):
    from tests.test_outputs_kill import archive

    facts = tmp_path / "facts"
    archive(facts, ["110100", "120100"])  # six archived pages of round 4
    return facts


def test_extract_prints_no_progress_off_a_terminal(tmp_path):
    facts = _archived_facts(tmp_path)
    r = CliRunner().invoke(app, ["extract", "rules/2019", "--round", "4", "--facts", str(facts)])
    assert r.exit_code == 0, r.output
    assert r.stderr == "" and "records" not in r.stdout
    assert r.stdout.startswith("round 4:")


def test_extract_shows_progress_on_a_terminal(tmp_path, monkeypatch):
    from io import StringIO

    from govindex.cli import collect as collect_cli

    facts = _archived_facts(tmp_path)
    screen = StringIO()
    monkeypatch.setattr(collect_cli, "err", Console(file=screen, force_terminal=True, width=100))
    r = CliRunner().invoke(app, ["extract", "rules/2019", "--round", "4", "--facts", str(facts)])
    assert r.exit_code == 0, r.output
    shown = screen.getvalue()
    assert "records" in shown and "6/6" in shown
    assert r.stdout.startswith("round 4:")
