"""One value per node, computed once (`val:<node>`), `score_on: scale` and the root's `scale:`
(GAPS.md 4 and 8; docs §5 "A node's own scale").

The references are plain Python from the definitions in the docs: a point scored on its scale has
the value ``x`` (its formula's result) and the rate ``x / S``; a mean of equally weighted children
has the rate ``fsum(rᵢ) / n``; a node's value on a scale is ``rate × S``. The engine must equal
them bit for bit (``==``)."""

from __future__ import annotations

import json
import math
from itertools import product
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.check.run import check, load
from govindex.cli import app
from govindex.diagnostics import RuleError
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import explain, find_unit
from govindex.eval.facts import frames_from_rows
from govindex.eval.inline_tests import run_tests
from govindex.ir import RuleSet
from govindex.results import long_table, to_json
from tests.conftest import HEADER, UNITS_CSV

UNITS = ("A1", "A2", "B1", "B2")
POINTS = ("e1", "e2", "e3")


def entry(pid: str, extra: str = "") -> str:
    return (f'  point {pid} "{pid}" {{\n    kind: technical\n    scale: 100\n    score_on: scale\n{extra}'
            f'    probe: max(t, v, where: kind == "{pid}")\n    score: x\n  }}\n')


ENTRIES = ('indicator ent "Entries" {\n  scale: 100\n  aggregate: mean\n'
           + "".join(entry(p) for p in POINTS) + "}\n")
ON_SCALE_HEADER = HEADER.replace("missing: zero", "missing: zero\n  max_total: 100\n  aggregate: mean")

PILLARS = "".join(f'indicator {p} "{p}" {{\n  aggregate: mean\n  point {p}x "{p}x" {{\n    kind: technical\n'
                  f'    probe: max(t, v, where: kind == "{p}")\n    score: x\n  }}\n}}\n' for p in ("p1", "p2", "p3"))
ROOT_SCALE_HEADER = HEADER.replace("missing: zero", "missing: zero\n  max_total: 3\n  scale: 1\n  aggregate: mean")


def write(root: Path, header: str, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    (root / "a_header.rules").write_text(header, encoding="utf-8")
    (root / "b_body.rules").write_text(body, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def on_scale_rs(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load(write(tmp_path_factory.mktemp("on_scale"), ON_SCALE_HEADER, ENTRIES))


@pytest.fixture(scope="module")
def root_scale_rs(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load(write(tmp_path_factory.mktemp("root_scale"), ROOT_SCALE_HEADER, PILLARS))


def rows_of(values: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
    return [{"unit": u, "round": 1, "kind": k, "v": v, "tags": [], "at": None} for (u, k), v in values.items()]


def scored(rs: RuleSet, values: dict[tuple[str, str], float]) -> dict[str, dict[str, Any]]:
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows_of(values)}))
    return {r["code"]: r for r in sc.units.iter_rows(named=True)}


# ------------------------------------------------------------------ score_on: scale (gap 4)

POINTS_OUT_OF_100 = st.one_of(st.integers(0, 100).map(float), st.floats(0, 100, allow_subnormal=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.tuples(st.sampled_from(UNITS), st.sampled_from(POINTS)), POINTS_OUT_OF_100, min_size=1))
def test_a_point_on_its_scale_is_its_formula_bit_for_bit(on_scale_rs: RuleSet, values) -> None:
    """value = x, rate = x / 100 (one division), score = rate × max; missing → 0 (`missing: zero`);
    the indicator's rate fsum(rᵢ) / 3, its value rate × 100, the total rate × 100."""
    rs = on_scale_rs
    assert rs.nodes["e1"].max == 100 / 3  # three equal children of a node of max 100
    got = scored(rs, values)
    for u in UNITS:
        xs = [values.get((u, p)) for p in POINTS]
        rates = [0.0 if x is None else x / 100 for x in xs]
        for p, x, r in zip(POINTS, xs, rates):
            assert got[u][f"val:{p}"] == (0.0 if x is None else x)
            assert got[u][f"s:{p}"] == r * (100 / 3)
            if x is not None:
                assert got[u][f"r:{p}"] == r
        rate = math.fsum(rates) / 3
        assert got[u]["r:ent"] == rate and got[u]["val:ent"] == rate * 100
        assert got[u]["total"] == rate * 100


def test_godi_entry_of_55_points_is_55(on_scale_rs: RuleSet) -> None:
    """The gap's own figure: 55 → 0.55 → 55.00000000000001 before; 55 now."""
    got = scored(on_scale_rs, {("A1", "e1"): 55.0, ("A1", "e2"): 35.0, ("A1", "e3"): 70.0})["A1"]
    assert (got["val:e1"], got["val:e2"], got["val:e3"]) == (55.0, 35.0, 70.0)
    assert 0.55 * 100 != 55.0  # what the rate path showed


def test_a_result_outside_the_scale_is_a_located_error(on_scale_rs: RuleSet) -> None:
    with pytest.raises(RuleError) as exc:
        scored(on_scale_rs, {("B1", "e2"): 100.5})
    d = exc.value.diagnostics[0]
    assert d.code == "E272" and "100.5" in d.message and "B1" in d.message and d.hint
    assert str(d.location).endswith(":16:12")  # `score: x` of e2 in b_body.rules
    assert "b_body.rules" in str(d.location)


# ------------------------------------------------------------------ the root's scale (gap 8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.tuples(st.sampled_from(UNITS), st.sampled_from(("p1", "p2", "p3"))),
                       st.floats(0, 1, allow_subnormal=False), min_size=1))
def test_the_total_on_the_roots_scale_is_its_rate(root_scale_rs: RuleSet, values) -> None:
    """Three pillars of maximum 1 under `max_total: 3`, the total reported on `scale: 1`:
    total = fsum(rᵢ) / 3 × 1 (its rate), while the root's score stays rate × 3."""
    rs = root_scale_rs
    assert (rs.nodes["total"].max, rs.nodes["total"].scale, rs.nodes["p1"].max) == (3.0, 1.0, 1.0)
    got = scored(rs, values)
    for u in UNITS:
        rate = math.fsum(values.get((u, p), 0.0) for p in ("p1", "p2", "p3")) / 3
        assert got[u]["total"] == rate * 1.0 == got[u]["val:total"]
        assert got[u]["s:total"] == rate * 3.0


def test_the_json_says_the_totals_scale(root_scale_rs: RuleSet) -> None:
    rs = root_scale_rs
    sc = evaluate(rs, frames_from_rows(rs, {"t": rows_of({("A1", "p1"): 0.9, ("A1", "p2"): 0.6, ("A1", "p3"): 0.75})}))
    doc = to_json(sc)
    assert (doc["max_total"], doc["max_total_in_method"]) == (1.0, 3.0)
    assert {u["code"]: u["total"] for u in doc["units"]}["A1"] == 0.75  # (0.9 + 0.6 + 0.75) / 3, rounded to 2


def test_a_grading_of_the_total_takes_cuts_on_its_scale(tmp_path: Path) -> None:
    grading = 'grading "g" {\n  method: thresholds\n  classes: {A: "a", B: "b"}\n  cuts: {A: %s}\n}\n'
    _, ok = check(write(tmp_path / "ok", ROOT_SCALE_HEADER, PILLARS + grading % "0.75"))
    _, bad = check(write(tmp_path / "bad", ROOT_SCALE_HEADER, PILLARS + grading % "2"))
    assert [d.code for d in ok if d.is_error] == []
    assert [d.code for d in bad if d.is_error] == ["E211"]


# ------------------------------------------------------------------ every output reads val:<node>


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *[y for c in node.get("children", []) for y in walk(c)]]


def test_every_output_shows_the_one_value(on_scale_rs: RuleSet) -> None:
    """scores_long's score, the JSON, explain and summaries all show val:<node>, for every node."""
    rs = on_scale_rs
    values = {("A1", "e1"): 55.0, ("A1", "e2"): 20.0, ("A2", "e1"): 100 / 3, ("B1", "e3"): 15.0}
    sources = frames_from_rows(rs, {"t": rows_of(values)})
    sc = evaluate(rs, sources)
    val = {(r["code"], x): r[f"val:{x}"] for r in sc.units.iter_rows(named=True) for x in rs.nodes}
    long = long_table(sc)
    assert {(r["code"], r["node"]): r["score"] for r in long.iter_rows(named=True)} == val
    doc = to_json(sc)
    for u in doc["units"]:
        assert u["points"]["e1"] == round(val[(u["code"], "e1")] + 0, 2)  # half-up at 2 digits: no tie here
    for code in UNITS:
        shown = {x["id"]: x["score"] for x in walk(explain(sc, find_unit(rs, code), None, sources)["node"])}
        assert shown == {x: val[(code, x)] for x in shown}


def test_inline_expectations_read_the_value_on_the_scale(tmp_path: Path) -> None:
    test = ('test "on its scale" {\n  given t [\n    {unit: "A1", round: 1, kind: "e1", v: 55, tags: [], at: null},\n'
            '    {unit: "A1", round: 1, kind: "e2", v: 35, tags: [], at: null}\n  ]\n'
            '  expect "A1" e1 == 55\n  expect "A1" e2 == 35\n  expect "A1" ent == 30\n}\n')
    rs = load(write(tmp_path / "r", ON_SCALE_HEADER, ENTRIES + test))
    outcomes = run_tests(rs)
    assert [(o.expect.node, o.actual, o.passed) for o in outcomes] == [("e1", 55.0, True), ("e2", 35.0, True),
                                                                  ("ent", 30.0, True)]


def test_the_cli_publishes_the_godi_entries_as_summed(tmp_path: Path) -> None:
    godi = Path(__file__).resolve().parents[1] / "examples" / "published" / "godi"
    res = CliRunner().invoke(app, ["score", str(godi), "--facts", str(godi / "facts"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    long = pl.read_parquet(tmp_path / "o" / "scores_long.parquet")
    entries = long.filter(pl.col("kind") == "technical")["score"].to_list()
    sums = {float(sum(w for w, keep in zip((20, 20, 15, 15, 15, 15), mask) if keep)) for mask in product((0, 1), repeat=6)}
    assert entries and set(entries) <= sums  # every entry a whole sum of its answers' points, never 55.00000000000001
    assert json.loads((tmp_path / "o" / "scores.json").read_text("utf-8"))["units"]


# ------------------------------------------------------------------ diagnostics


@pytest.mark.parametrize(("body", "header", "code"), [
    (ENTRIES.replace("    scale: 100\n    score_on", "    score_on"), ON_SCALE_HEADER, "E270"),
    (ENTRIES.replace("score_on: scale", "score_on: points"), ON_SCALE_HEADER, "E271"),
    (ENTRIES.replace("score_on: scale\n", 'score_on: scale\n    normalise: {method: "minmax"}\n', 1),
     ON_SCALE_HEADER, "E273"),
    (PILLARS, HEADER.replace("missing: zero", "missing: zero\n  total: none\n  scale: 1"), "E254"),
    (PILLARS, ROOT_SCALE_HEADER.replace("scale: 1", "scale: 0"), "E207"),
])
def test_bad_scale_settings_are_located_diagnostics(tmp_path: Path, body: str, header: str, code: str) -> None:
    _, diags = check(write(tmp_path / "r", header, body))
    mine = [d for d in diags if d.is_error and d.code == code]
    assert mine, [d.render() for d in diags]
    assert ".rules:" in str(mine[0].location) and mine[0].hint
