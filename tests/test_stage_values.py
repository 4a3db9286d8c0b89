"""Values between stages (§9b, GAPS.md §1): `normalise: {method: "zscore", keep: "value"}`.

The z of each point, the exact weighted mean of the z's and its min-max are recomputed here in
plain Python from the definitions in the docs — R's ``(x - mean(x)) / sd(x)`` (R's mean and sd as
R's C code computes them: tests/test_stats.py's ``r_mean``/``r_sd``), ``Σ wᵢzᵢ / Σ wᵢ`` over the
children present with both sums exact (``math.fsum``), then ``(m − lo) / (hi − lo)`` — and the
engine must equal them bit for bit on random panels; and every misplaced value is a located
diagnostic (E290–E294) with a hint.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import explain, render_text
from govindex.eval.facts import frames_from_rows
from govindex.results import long_table
from tests.test_stats import r_mean, r_sd

CODES = [f"U{i:02d}" for i in range(12)]
UNITS = "code,name,region\n" + "".join(f"{c},{c.lower()},{'north' if i % 2 else 'south'}\n"
                                       for i, c in enumerate(CODES))
WEIGHTS = {"a": 1 / 3, "b": 2 / 9, "c": 4 / 9}
RULES = '''ruleset "values" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  max_total: 1
  aggregate: mean
  missing: exclude
}

table t {
  unit: str
  round: int
  a: float
  b: float
  c: float
}

indicator comp "a composite of z-scores" {
  scale: 1
  aggregate: wmean
  normalise: {method: "minmax"}

  point a "a" {
    kind: technical
    weight: 1 / 3
    probe: max(t, a)
    normalise: {method: "zscore", keep: "value"}
  }

  point b "b" {
    kind: technical
    weight: 2 / 9
    probe: max(t, b)
    normalise: {method: "zscore", keep: "value", direction: "lower"}
  }

  point c "c" {
    kind: technical
    weight: 4 / 9
    probe: max(t, c)
    normalise: {method: "zscore", keep: "value"}
  }
}
'''


def _rules_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="govindex-values-"))
    (d / "units.csv").write_text(UNITS, encoding="utf-8")
    (d / "r.rules").write_text(RULES, encoding="utf-8")
    return d


RS = load(_rules_dir())


def ref_z(col: dict[str, float], lower: bool) -> dict[str, float]:
    """R's ``(x - mean(x)) / sd(x)`` (``(mean(x) - x) / sd(x)`` when lower is better); all 0 when
    the SD is 0 or undefined."""
    xs = list(col.values())
    if not xs:
        return {}
    m = r_mean(xs)
    sd = r_sd(xs) if len(xs) > 1 else math.nan
    if math.isnan(sd) or sd == 0:
        return {c: 0.0 for c in col}
    return {c: ((m - v) if lower else (v - m)) / sd for c, v in col.items()}


def reference(rows: list[dict]) -> tuple[dict[str, dict[str, float]], dict[str, float | None]]:
    z = {k: ref_z({r["unit"]: r[k] for r in rows if r[k] is not None}, k == "b") for k in WEIGHTS}
    means: dict[str, float] = {}
    for c in CODES:
        have = [k for k in WEIGHTS if c in z[k]]
        if have:
            means[c] = math.fsum(WEIGHTS[k] * z[k][c] for k in have) / math.fsum(WEIGHTS[k] for k in have)
    lo, hi = min(means.values(), default=0.0), max(means.values(), default=0.0)
    comp = {c: (None if c not in means else 1.0 if hi == lo else (means[c] - lo) / (hi - lo)) for c in CODES}
    return z, comp


VALUE = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 2)),
                  st.sampled_from([0.0, 1.0, 1e9, -1e9]))  # outliers: |z| far beyond 5, never clipped


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(VALUE, VALUE, VALUE), min_size=len(CODES), max_size=len(CODES)))
def test_values_between_stages_are_their_definition(values):
    rows = [{"unit": c, "round": 1, "a": a, "b": b, "c": cc} for c, (a, b, cc) in zip(CODES, values)]
    sc = evaluate(RS, frames_from_rows(RS, {"t": rows}))
    got = {r["code"]: r for r in sc.units.iter_rows(named=True)}
    z, comp = reference(rows)
    for k in WEIGHTS:
        for c in CODES:
            want = z[k].get(c)
            assert got[c][f"val:{k}"] == want and got[c][f"s:{k}"] == want, (k, c)
            assert got[c][f"r:{k}"] is None  # a value has no rate
    for c in CODES:
        assert got[c]["val:comp"] == comp[c] and got[c]["r:comp"] == comp[c], c
        assert got[c]["total"] == comp[c], c  # the root: the mean of one rate, that rate itself


def test_outputs_show_the_value_and_no_scale():
    rows = [{"unit": c, "round": 1, "a": float(i), "b": float(i * i), "c": 1e9 if i == 0 else float(-i)}
            for i, c in enumerate(CODES)]
    sc = evaluate(RS, frames_from_rows(RS, {"t": rows}))
    long = long_table(sc).filter(node="c")
    assert long["max"].null_count() == len(CODES) and long["rate"].null_count() == len(CODES)
    assert long["score"].max() > 3  # the outlier's z, unclipped
    unit = next(u for u in RS.units if u.code == "U00")
    doc = explain(sc, unit, "comp", frames_from_rows(RS, {"t": rows}))
    text = render_text(doc, lambda v: "null" if v is None else f"{v:.2f}")
    z = sc.units.filter(code="U00")["val:c"].item()
    assert f"value (not a rate): z = {z!r}" in text and "kept as a value" in text


# ------------------------------------------------------------------ diagnostics

POINT = '''  point {id} "{id}" {{
    kind: technical
    probe: max(t, {col})
    {setting}
  }}
'''
KEEP = 'normalise: {method: "zscore", keep: "value"}'


def _indicator(head: str, points: list[tuple[str, str, str]]) -> str:
    body = "".join(POINT.format(id=i, col=col, setting=s) for i, col, s in points)
    return f'indicator comp "comp" {{\n  scale: 1\n{head}\n{body}}}\n'


BAD = [
    ([("a", "a", 'normalise: {method: "zscore", keep: "values"}')], "  aggregate: mean\n  normalise: {method: \"minmax\"}",
     "E290", '"rate" or "value"'),
    ([("a", "a", 'normalise: {method: "minmax", keep: "value"}')], "  aggregate: mean\n  normalise: {method: \"minmax\"}",
     "E290", "keeps a z-score"),
    ([("a", "a", 'normalise: {method: "zscore", keep: "value", mean: 0.5, sd: 0.1}')],
     "  aggregate: mean\n  normalise: {method: \"minmax\"}", "E290", "places a z-score on a rate"),
    ([("a", "a", KEEP)], "  aggregate: sum\n  normalise: {method: \"minmax\"}", "E291", "aggregates by `sum`"),
    ([("a", "a", KEEP)], "  aggregate: mean", "E292", "does not turn them into a rate"),
    ([("a", "a", KEEP), ("b", "b", "score: x")], "  aggregate: mean\n  normalise: {method: \"minmax\"}",
     "E293", "mixes values"),
    ([("a", "a", KEEP + "\n    round: {digits: 2}")], "  aggregate: mean\n  normalise: {method: \"minmax\"}",
     "E294", "cannot be rounded"),
    ([("a", "a", KEEP + "\n    scale: 100")], "  aggregate: mean\n  normalise: {method: \"minmax\"}",
     "E294", "shown on a scale"),
    ([("a", "a", "score: x")], '  aggregate: mean\n  normalise: {method: "zscore", keep: "value"}',
     "E294", "only a point can"),
]


@pytest.mark.parametrize("points,head,code,part", BAD)
def test_misplaced_values_are_located_diagnostics(tmp_path: Path, points, head, code, part):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    text = RULES.split("indicator comp")[0] + _indicator(head, points)
    (tmp_path / "r.rules").write_text(text, encoding="utf-8")
    _, diags = check(tmp_path)
    hits = [d for d in diags if d.code == code]
    assert hits, [str(d) for d in diags]
    d = hits[0]
    assert part in d.message and d.hint, str(d)
    assert d.location is not None and d.location.line > 1 and d.location.col >= 1
