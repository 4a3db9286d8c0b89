"""examples/web-performance, recomputed from Lighthouse's published definitions in plain Python
and compared bit for bit (``==`` on floats) on every site, audit and category.

The reference is transcribed from Lighthouse's source, not from govindex:

- ``getLogNormalScore`` (core/lib/statistics.js): the A&S 7.1.26 ``erf``, ``INVERSE_ERFC_ONE_FIFTH``,
  the clamps per band;
- ``Audit.computeLogNormalScore`` (core/audits/audit.js): the boost above 0.9, ``Math.floor(·100)/100``;
- ``Audit._normalizeAuditScore``: ``clampTo2Decimals = Math.round(val·100)/100``; an audit that
  errored scores null, a not-applicable one has no score;
- ``ReportScoring.arithmeticMean`` / ``scoreAllCategories`` (core/scoring.js): not-applicable
  audits get weight 0; items of weight 0 are dropped; one null score left makes the category
  null; else ``clampTo2Decimals(Σ score·weight / Σ weight || 0)``, the sums folded from 0.

- the category rating of the report (report/renderer/util.js ``calculateRating``): ``pass`` at
  0.9 and above, ``average`` at 0.5 and above, ``fail`` below — green, orange, red;
- the default config (core/config/default-config.js): ``image-alt`` counts in Accessibility
  (weight 10) and in SEO (weight 1) — one audit result, two weighted items.

``Math.log``/``Math.exp`` are Python's ``math.log``/``math.exp`` (the C library's), JavaScript's
``Math.round`` the nearest integer with ties toward +∞.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import govindex.check.run
import govindex.eval.evaluate
import govindex.eval.facts

HERE = Path(__file__).resolve().parents[1] / "examples" / "web-performance"

# audit id → (point id, weight, (p10, median) or None for pass/fail), per category, as published
PERFORMANCE = {
    "first-contentful-paint": ("fcp", 10, (1800, 3000)), "speed-index": ("si", 10, (3387, 5800)),
    "largest-contentful-paint": ("lcp", 25, (2500, 4000)), "total-blocking-time": ("tbt", 30, (200, 600)),
    "cumulative-layout-shift": ("cls", 25, (0.1, 0.25)), "interactive": ("tti", 0, (3785, 7300)),
    "max-potential-fid": ("mpfid", 0, (100, 250)),
}
ACCESSIBILITY = {
    "image-alt": ("image_alt", 10, None), "color-contrast": ("contrast", 7, None),
    "video-caption": ("captions", 10, None), "html-has-lang": ("lang", 7, None), "tabindex": ("tabindex", 7, None),
    "label": ("label", 7, None), "focus-traps": ("focus_traps", 0, None),
}
SEO = {
    "document-title": ("document_title", 1, None), "meta-description": ("meta_description", 1, None),
    "http-status-code": ("http_status", 1, None), "link-text": ("link_text", 1, None),
    "crawlable-anchors": ("crawlable_anchors", 1, None), "robots-txt": ("robots_txt", 1, None),
    "image-alt": ("image_alt@seo", 1, None),  # the same audit as Accessibility's: a `ref` in the rules
    "hreflang": ("hreflang", 1, None), "canonical": ("canonical", 1, None),
}
CATEGORIES = {"performance": PERFORMANCE, "accessibility": ACCESSIBILITY, "seo": SEO}
# (site, category) where a not-applicable audit is reached through a `ref`: left out, as Lighthouse
# does, because the ref follows its target's policy per reason (checked by every test below).
REF_NOT_APPLICABLE = ("s11", "seo")

# ------------------------------------------------------------------ Lighthouse, transcribed

INVERSE_ERFC_ONE_FIFTH = 0.9061938024368232
MIN_VALUE = 5e-324  # Number.MIN_VALUE


def js_round(y: float) -> float:
    """JavaScript's Math.round: the nearest integer, ties toward +∞ (y − floor(y) is exact)."""
    f = math.floor(y)
    return float(f + 1 if y - f >= 0.5 else f)


def clamp_to_2_decimals(v: float) -> float:
    return js_round(v * 100) / 100


def erf(x: float) -> float:
    sign = (x > 0) - (x < 0)  # Math.sign
    x = abs(x)
    a1, a2, a3, a4, a5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
    p = 0.3275911
    t = 1 / (1 + p * x)
    y = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    return sign * (1 - y * math.exp(-x * x))


def get_log_normal_score(median: float, p10: float, value: float) -> float:
    if value <= 0:
        return 1
    x_log_ratio = math.log(max(MIN_VALUE, value / median))
    p10_log_ratio = -math.log(max(MIN_VALUE, p10 / median))
    standardized_x = x_log_ratio * INVERSE_ERFC_ONE_FIFTH / p10_log_ratio
    cp = (1 - erf(standardized_x)) / 2
    if value <= p10:
        return max(0.9, min(1, cp))
    if value <= median:
        return max(0.5, min(0.8999999999999999, cp))
    return max(0, min(0.49999999999999994, cp))


def compute_log_normal_score(median: float, p10: float, value: float) -> float:
    percentile = get_log_normal_score(median, p10, value)
    if percentile > 0.9:
        percentile += 0.05 * (percentile - 0.9)
    return math.floor(percentile * 100) / 100


def audit_result(row: dict[str, str] | None, curve: tuple[float, float] | None) -> tuple[str, float | None]:
    """(scoreDisplayMode, score) of one audit of one site."""
    if row is None:
        return "error", None  # no result at all: nothing to score (our `no_data: null`)
    if row["errored"] == "true":
        return "error", None
    if row["applies"] == "false":
        return "notApplicable", None
    value = float(row["value"])
    raw = compute_log_normal_score(curve[1], curve[0], value) if curve else value
    return "numeric", clamp_to_2_decimals(float(raw))


def arithmetic_mean(items: list[tuple[float | None, float]]) -> float | None:
    items = [it for it in items if it[1] > 0]
    if any(s is None for s, _ in items):
        return None
    weight, total = 0.0, 0.0
    for s, w in items:
        weight, total = weight + w, total + s * w  # type: ignore[operator]
    q = total / weight if weight else math.nan
    return clamp_to_2_decimals(0.0 if math.isnan(q) or q == 0 else q)


def rating(score: float | None) -> str | None:
    """The report's ``calculateRating``: pass (green) from 0.9, average (orange) from 0.5, else fail."""
    if score is None:
        return None
    return "green" if score >= 0.9 else "orange" if score >= 0.5 else "red"


def reference() -> dict[str, dict[str, object]]:
    """Per site: every audit's (mode, score), every category's score and its rating."""
    with (HERE / "facts" / "audits.csv").open(encoding="utf-8") as f:
        facts = {(r["site"], r["audit"]): r for r in csv.DictReader(f)}
    with (HERE / "sites.csv").open(encoding="utf-8") as f:
        sites = [r["code"] for r in csv.DictReader(f)]
    out: dict[str, dict[str, object]] = {}
    for site in sites:
        res: dict[str, object] = {}
        for cat, audits in CATEGORIES.items():
            items = []
            for audit, (pid, weight, curve) in audits.items():
                mode, score = audit_result(facts.get((site, audit)), curve)
                res[pid] = (mode, score)
                items.append((score, 0 if mode == "notApplicable" else weight))
            res[cat] = arithmetic_mean(items)
            res["rating:" + cat] = rating(res[cat])  # type: ignore[arg-type]
        out[site] = res
    return out


# ------------------------------------------------------------------ the engine against it

STATUS = {"numeric": "ok", "notApplicable": "not_applicable", "error": "error"}


@pytest.fixture(scope="module")
def units() -> dict[str, dict]:
    rs = govindex.check.run.load(HERE)
    sources = {t: govindex.eval.facts.scan(rs, HERE / "facts", t) for t in rs.tables}
    sc = govindex.eval.evaluate.evaluate(rs, sources)
    return {r["code"]: r for r in sc.units.iter_rows(named=True)}


def test_every_site_audit_and_category_equals_lighthouse_bit_for_bit(units: dict[str, dict]) -> None:
    ref = reference()
    assert set(units) == set(ref) and len(ref) == 30
    for site, want in ref.items():
        row = units[site]
        for cat, audits in CATEGORIES.items():
            for pid, _, _ in audits.values():
                if "@" in pid:
                    continue  # a ref has no audit of its own: its target's row is checked
                mode, score = want[pid]  # type: ignore[misc]
                assert (row[f"st:{pid}"], row[f"r:{pid}"]) == (STATUS[mode], score), (site, pid)
            assert row[f"s:{cat}"] == want[cat], (site, cat, row[f"s:{cat}"], want[cat])
        assert row["total"] is None  # `total: none`: Lighthouse publishes categories only


def test_the_referenced_audit_contributes_its_score_with_its_own_weight(units: dict[str, dict]) -> None:
    """``ref image_alt { weight: 1 }`` under SEO: the audit's score × its maximum there (1 of the
    nine weights: 1/9), computed once — the same rate as under Accessibility (weight 10)."""
    ref = reference()
    seo_max = 1 / 9
    for site, row in units.items():
        mode, score = ref[site]["image_alt"]  # type: ignore[misc]
        if mode == "numeric":
            assert row["s:image_alt@seo"] == score * seo_max, site
            assert row["r:image_alt"] == score
        else:
            assert row["s:image_alt@seo"] is None, site
    assert {row["s:image_alt@seo"] for row in units.values()} >= {0.0, seo_max}


def test_every_category_is_graded_in_lighthouse_colour_bands(units: dict[str, dict]) -> None:
    ref = reference()
    for site, want in ref.items():
        for cat in CATEGORIES:
            assert units[site][f"g:{cat}"] == want["rating:" + cat], (site, cat)
    got = {units[s][f"g:{c}"] for s in units for c in CATEGORIES}
    assert got == {"green", "orange", "red", None}  # every band is reached; a null category has none


def test_a_not_applicable_audit_reached_by_a_ref_is_left_out(units: dict[str, dict]) -> None:
    site, cat = REF_NOT_APPLICABLE
    want = reference()[site]
    assert want["image_alt"] == ("notApplicable", None) and want[cat] is not None
    assert units[site][f"s:{cat}"] == want[cat]
    assert units[site][f"g:{cat}"] == want["rating:" + cat]
    assert units[site]["why:image_alt@seo"] == "not_applicable → excluded"  # the ref says why, as its target


def test_no_total_in_the_published_results(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from govindex.cli import app

    res = CliRunner().invoke(app, ["score", str(HERE), "--facts", str(HERE / "facts"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert doc["has_total"] is False and doc["max_total"] is None
    u = next(x for x in doc["units"] if x["code"] == "s01")
    assert "total" not in u and set(u["grades"]) == set(CATEGORIES)
    assert [g["node"] for g in doc["node_gradings"]] == list(CATEGORIES)


def test_the_data_exercises_every_case(units: dict[str, dict]) -> None:
    ref = reference()
    scores = [s for r in ref.values() for k, v in r.items() if isinstance(v, tuple) for s in [v[1]] if s is not None]
    assert any(s == 1.0 for s in scores) and any(0 < s < 0.5 for s in scores)  # top, failing, …
    assert any(0.9 < s < 1 for s in scores) and any(0.5 <= s < 0.9 for s in scores)
    modes = {v[0] for r in ref.values() for v in r.values() if isinstance(v, tuple)}
    assert modes == {"numeric", "notApplicable", "error"}
    assert ref["s07"]["performance"] is None and ref["s21"]["accessibility"] is None
    assert ref["s09"]["seo"] is None and ref["s09"]["accessibility"] is not None  # robots-txt errored
    assert ref["s17"]["accessibility"] is None and ref["s17"]["seo"] is None  # image-alt errored: both
    assert ref["s11"]["image_alt"] == ("notApplicable", None)  # no image: left out of both
    assert ref["s13"]["performance"] is not None  # the errored audit has weight 0
    assert units["s07"]["why:performance"] == "null: tbt is null"
    assert units["s13"]["why:tti"] == "error → null (weight 0)"
    excluded = [u for u in units.values() if (u["why:accessibility"] or "").startswith("excluded: ")]
    assert excluded and all(u["s:accessibility"] is not None or u["code"] == "s21" for u in excluded)


def test_make_facts_reproduces_the_committed_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_facts", HERE / "make_facts.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    mod.main(tmp_path)
    for name in ("sites.csv", "facts/audits.csv"):
        assert (tmp_path / name).read_bytes() == (HERE / name).read_bytes(), name


# ------------------------------------------------------------------ the curve on random values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-10.0, max_value=1e6, allow_nan=False), min_size=1, max_size=40),
       st.sampled_from([(1800, 3000), (200, 600), (0.1, 0.25), (2500, 4000)]))
def test_the_lighthouse_curve_is_lighthouse_bit_for_bit(values: list[float], curve: tuple[float, float]) -> None:
    import polars as pl

    from govindex.eval import curves

    p10, median = curve
    edges = [p10, median, 0.0, p10 * 1.0000000000000002, median * 0.9999999999999999]
    xs = values + edges
    stages: list[pl.Expr] = []

    def stage(e: pl.Expr) -> pl.Expr:  # each intermediate a column, as the compiler stages them
        stages.append(e.alias(f"_{len(stages)}"))
        return pl.col(f"_{len(stages) - 1}")

    final = curves.lighthouse(pl.col("x"), p10, median, stage)
    df = pl.DataFrame({"x": xs})
    for e in stages:
        df = df.with_columns(e)
    got = df.select(final).to_series()
    want = [clamp_to_2_decimals(compute_log_normal_score(median, p10, x)) for x in xs]
    assert got.to_list() == want


def test_a_ref_under_wavg_weighs_the_audit_score_itself(tmp_path: Path) -> None:
    """Lighthouse weighs an audit's score itself in every category that lists it: with a referenced
    audit of score 0.03 (weight 2) and another of 0 (weight 1), the category is (0·1 + 0.03·2) / 3
    = 0.02 exactly (a ref's rate is its target's rate, eval/node_rates.py), not the (r × M) / M
    round trip's 0.019999999999999997."""
    (tmp_path / "units.csv").write_text("code,name\ns01,Site 01\n", encoding="utf-8")
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "audits.csv").write_text("site,round,audit,value\ns01,1,a,0.03\ns01,1,b,0\n",
                                                   encoding="utf-8")
    point = ('  point {id} "{id}" {{\n    kind: technical\n    weight: {w}\n'
             '    probe: max(audits, value, where: audit == "{id}")\n    score: x\n  }}\n')
    (tmp_path / "ruleset.rules").write_text(
        'ruleset "ref under wavg" {\n  units: "units.csv"\n  key: "code"\n  unit_column: "site"\n'
        '  rounds: {1: "2024-06-30"}\n  total: none\n  missing: null\n}\n\n'
        'table audits {\n  site: str\n  round: int\n  audit: str\n  value: float\n}\n\n'
        'indicator one "One" {\n  max: 1\n  aggregate: wavg\n' + point.format(id="a", w=1) + '}\n\n'
        'indicator two "Two" {\n  max: 1\n  aggregate: wavg\n' + point.format(id="b", w=1)
        + '  ref a {\n    weight: 2\n  }\n}\n', encoding="utf-8")
    rs = govindex.check.run.load(tmp_path)
    sources = {t: govindex.eval.facts.scan(rs, tmp_path / "facts", t) for t in rs.tables}
    row = govindex.eval.evaluate.evaluate(rs, sources).units.row(0, named=True)
    weight, total = 0.0, 0.0
    for s, w in ((0.0, 1.0), (0.03, 2.0)):  # ReportScoring.arithmeticMean's fold, unrounded
        weight, total = weight + w, total + s * w
    assert row["r:a"] == 0.03 and total / weight == 0.02
    assert row["s:two"] == total / weight
