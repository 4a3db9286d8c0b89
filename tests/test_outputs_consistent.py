"""Every output shows the method's values consistently (issue 11, the "ux" round).

- ``scores_long``'s ``rate`` and the workbook's ``得分率`` (a percentage format) are the exact rate ``r:<node>`` the
  evaluator carries (docs §5 "Means on rates"), not score / max: checked bit for bit against the
  HDI's Technical note 1, written in plain Python;
- ``explain`` shows one value per node — ``val:<node>`` as published (rounded by ``rounding:``),
  the figure of ``scores.json`` — and the total's own grade and the named gradings on its header;
- the ``score`` console prints the grading's cuts and gaps at the rule set's digits and the total
  on its scale; ``check`` prints the total's scale when the header declares ``scale:``.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import fastexcel  # noqa: F401  (polars.read_excel's engine)
import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.cli import app
from tests.conftest import ROOT, assert_golden

PUBLISHED = ROOT / "examples" / "published"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def scored(rules: Path, tmp: Path) -> tuple[pl.DataFrame, dict, Path]:
    res = run("score", str(rules), "--facts", str(rules / "facts"), "--out", str(tmp))
    assert res.exit_code == 0, res.output
    return pl.read_parquet(tmp / "scores_long.parquet"), json.loads((tmp / "scores.json").read_text("utf-8")), tmp


def hdi_rates() -> dict[tuple[str, str], float]:
    """Technical note 1 of the HDR 2023/2024, in plain Python: every node's rate in [0, 1]."""
    out = {}
    with (PUBLISHED / "hdi" / "facts" / "panel.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            le, eys, mys, gni = (float(r[k]) for k in ("life_expectancy", "expected_schooling", "mean_schooling",
                                                       "gni_per_capita"))
            health = (le - 20) / (85 - 20)
            mys_i, eys_i = mys / 15, min(eys, 18) / 18
            income = min(1.0, max(0.0, (math.log(gni) - math.log(100)) / (math.log(75000) - math.log(100))))
            education = math.fsum((mys_i, eys_i)) / 2
            rates = {"life_expectancy": health, "mean_schooling": mys_i, "expected_schooling": eys_i,
                     "gni": income, "health": health, "education": education, "income": income,
                     "total": (health * education * income) ** (1 / 3)}
            out |= {(r["country"], node): v for node, v in rates.items()}
    return out


def test_scores_long_rate_is_the_exact_rate_bit_for_bit(tmp_path: Path) -> None:
    long, _, _ = scored(PUBLISHED / "hdi", tmp_path / "hdi")
    got = {(r["code"], r["node"]): r["rate"] for r in long.iter_rows(named=True)}
    want = hdi_rates()
    assert set(got) == set(want)
    for key, v in want.items():
        assert got[key] == v, key  # ==: not approximately
    # score / max was off by an ulp on these (GAPS.md, gap 2): the column no longer goes through the maximum
    assert any(r["score"] / r["max"] != r["rate"] for r in long.iter_rows(named=True))


def test_the_workbooks_rate_column_is_the_exact_rate(tmp_path: Path) -> None:
    # The cell holds the rate, not a rounded percentage: its format (0.000% at `digits: 3`) rounds for
    # display only. To 16 significant digits: what xlsxwriter writes (Excel itself computes with 15).
    long, _, out = scored(PUBLISHED / "hdi", tmp_path / "hdi")
    sheet = pl.read_excel(out / "scores.xlsx", sheet_name="Overview")  # the HDI is written in English
    rates = {(r["code"], r["node"]): r["rate"] for r in long.iter_rows(named=True)}
    # (The test this replaces keyed the columns by labels the rule set does not use, and so compared none.)
    names = {"Life expectancy index rate": "health", "Education index rate": "education",
             "Income index rate": "income"}
    assert set(names) <= set(sheet.columns)
    for col, node in names.items():
        for code, shown in zip(sheet["Code"], sheet[col]):
            assert shown == float(f"{rates[(code, node)]:.16g}"), (code, col)


def _nodes(x: dict) -> list[dict]:
    return [x, *(n for c in x.get("children", []) for n in _nodes(c))]


@pytest.mark.parametrize("example", ["published/egdi", "tiered-index", "published/hdi"])
def test_explain_shows_the_figures_of_scores_json(example: str, tmp_path: Path) -> None:
    rules = EXAMPLES / example
    _, doc, _ = scored(rules, tmp_path / "out")
    digits = int(re.search(r"digits: (\d+)", (rules / "ruleset.rules").read_text("utf-8")).group(1))  # type: ignore[union-attr]
    for unit in doc["units"][:5]:
        res = run("explain", str(rules), "--facts", str(rules / "facts"), "--unit", unit["code"], "--format", "json")
        assert res.exit_code == 0, res.output
        ex = json.loads(res.stdout)
        assert ex["reported"] == unit["total"] and ex["grade"]["id"] == unit["grade"]
        for x in _nodes(ex["node"]):
            want = unit["total"] if x["id"] == "total" else unit["scores"].get(x["id"], unit["points"].get(x["id"]))
            assert x["reported"] == want, (unit["code"], x["id"])
        text = run("explain", str(rules), "--facts", str(rules / "facts"), "--unit", unit["code"], "--full").stdout
        compact = run("explain", str(rules), "--facts", str(rules / "facts"), "--unit", unit["code"]).stdout
        header = text.splitlines()[1]
        assert header.startswith(f"total {unit['total']:.{digits}f}, rank ") and f"grade {unit['grade']}" in header
        for g, cls in unit.get("gradings", {}).items():
            assert f"grading {g}: {cls}" in header
        for x in _nodes(ex["node"]):
            shown = (f"value {x['reported']:.{digits}f} (not a rate)" if x.get("value_kept")  # a z kept as a value
                     else f"{x['reported']:.{digits}f} / {x['max']:g}")
            assert f"{x['id']} {x['name']}  {shown}" in text, x["id"]
            assert re.search(rf"{re.escape(x['id'] + ' ' + x['name'])} +{re.escape(shown)}  ", compact), x["id"]


def test_explain_headers_golden() -> None:
    heads = []
    for example, unit in (("published/egdi", "E01"), ("tiered-index", "U01"), ("published/hdi", "C01")):
        rules = EXAMPLES / example
        res = run("explain", str(rules), "--facts", str(rules / "facts"), "--unit", unit)
        assert res.exit_code == 0, res.output
        heads += [f"$ govindex explain examples/{example} --unit {unit}", *res.stdout.splitlines()[:4], ""]
    assert_golden("explain_headers.txt", "\n".join(heads))


def test_score_grading_line_at_the_rule_sets_digits() -> None:
    rules = PUBLISHED / "egdi"  # rounding: 4 digits
    res = run("score", str(rules), "--facts", str(rules / "facts"), "--top", "0")
    assert res.exit_code == 0, res.output
    line = next(s for s in res.stdout.splitlines() if s.startswith("EGDI rating class"))
    cuts = re.findall(r"≥ ([0-9.]+)\)", line)
    assert cuts and all(len(c.split(".")[1]) == 4 for c in cuts)
    assert_golden("score_grading_egdi.txt", line + "\n")


def test_check_and_score_show_the_totals_scale(tmp_path: Path) -> None:
    rules = tmp_path / "hdi100"
    shutil.copytree(PUBLISHED / "hdi", rules)
    text = (rules / "ruleset.rules").read_text("utf-8")
    text = text.replace("  max_total: 1\n", "  max_total: 3\n  scale: 100\n")
    text = text.replace("very_high: 0.8, high: 0.7, medium: 0.55", "very_high: 80, high: 70, medium: 55")
    (rules / "ruleset.rules").write_text(text, encoding="utf-8")
    res = run("check", str(rules))
    assert res.exit_code == 0, res.output
    assert "  max total   100 (scale:; max_total 3 in the method)\n" in res.stdout
    doc = json.loads(run("check", str(rules), "--format", "json").stdout)
    assert doc["max_total"] == 100 and doc["max_total_in_method"] == 3
    res = run("score", str(rules), "--facts", str(rules / "facts"), "--top", "1")
    assert res.exit_code == 0, res.output
    assert "HDI /100" in res.stdout and "HDI /3" not in res.stdout
    plain = run("check", str(PUBLISHED / "hdi"))
    assert "  max total   1\n" in plain.stdout


def test_explain_without_a_total_starts_at_the_categories() -> None:
    rules = EXAMPLES / "web-performance"  # total: none
    res = run("explain", str(rules), "--facts", str(rules / "facts"), "--unit", "s02")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[1] == "no total (total: none): categories only, 30 units"
    assert lines[3].startswith("performance Performance  ") and not any(s.startswith("total ") for s in lines)
