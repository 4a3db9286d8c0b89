"""examples/published: real indices written as their methodologies publish them (issue 11).

Each rule set passes `govindex check`, scores through the CLI, and its key figures are recomputed
here in plain Python from the published definitions (not from govindex's code):
- HDI: UNDP HDR 2023/2024 Technical note 1 (goalposts, log income, caps, geometric mean);
- EGDI: UN E-Government Survey 2022, Methodology annex (z-scores, min-max, mean of three);
- GODI: Global Open Data Index 2016/17 question weights, place = mean of its datasets,
  dataset = mean over places;
- Lighthouse v10–v12: core/scoring.js, core/audits/audit.js, core/lib/statistics.js.
Where the engine equals the definition bit for bit the test says `==`; where it does not (the
gaps of examples/published/GAPS.md), the test pins the size of the difference in ulps, so a
later fix shows up as a failing pin to tighten.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.cli import app
from tests.test_stats import r_mean, r_sd

PUBLISHED = Path(__file__).resolve().parents[1] / "examples" / "published"
INDICES = ("hdi", "egdi", "godi", "lighthouse")
FACTS = {"hdi": "panel.csv", "egdi": "survey.csv", "godi": "entries.csv", "lighthouse": "audits.csv"}


def scored(name: str, tmp: Path) -> tuple[pl.DataFrame, dict]:
    import json

    out = tmp / name
    res = CliRunner().invoke(app, ["score", str(PUBLISHED / name), "--facts", str(PUBLISHED / name / "facts"),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    return pl.read_parquet(out / "scores_long.parquet"), json.loads((out / "scores.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[pl.DataFrame, dict]]:
    tmp = tmp_path_factory.mktemp("published")
    return {n: scored(n, tmp) for n in INDICES}


def facts(name: str) -> list[dict[str, str]]:
    with (PUBLISHED / name / "facts" / FACTS[name]).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def by(long: pl.DataFrame, col: str) -> dict[tuple[str, str], object]:
    return {(r["code"], r["node"]): r[col] for r in long.iter_rows(named=True)}


def ulps(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(b)


def half_up(x: float, digits: int) -> float:
    """Rounded as a spreadsheet or a table printed in decimals: repr(x), halves away from zero."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def min_ranks(values: dict[str, float]) -> dict[str, int]:
    """R's rank(-x, ties.method = "min")."""
    return {c: 1 + sum(w > v for w in values.values()) for c, v in values.items()}


@pytest.mark.parametrize("name", INDICES)
def test_each_rule_set_checks(name: str) -> None:
    res = CliRunner().invoke(app, ["check", str(PUBLISHED / name)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("name", INDICES)
def test_make_facts_reproduces_the_committed_files(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location(f"make_{name}", PUBLISHED / name / "make_facts.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / "facts").mkdir()
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for f in (tmp_path / "facts").iterdir():
        assert f.read_bytes() == (PUBLISHED / name / "facts" / f.name).read_bytes(), f.name


# ------------------------------------------------------------------ HDI (Technical note 1)


def hdi_reference() -> dict[str, dict[str, float]]:
    out = {}
    for r in facts("hdi"):
        le, eys, mys, gni = (float(r[k]) for k in ("life_expectancy", "expected_schooling", "mean_schooling",
                                                   "gni_per_capita"))
        health = (le - 20) / (85 - 20)
        mys_i, eys_i = mys / 15, min(eys, 18) / 18
        income = min(1.0, (math.log(gni) - math.log(100)) / (math.log(75000) - math.log(100)))
        education = math.fsum((mys_i, eys_i)) / 2
        out[r["country"]] = {"life_expectancy": health, "mean_schooling": mys_i, "expected_schooling": eys_i,
                             "gni": income, "health": health, "education": education, "income": income,
                             "total": (health * education * income) ** (1 / 3)}
    return out


def test_hdi_dimension_indices_bit_for_bit(results: dict) -> None:
    long, _ = results["hdi"]
    rate = by(long, "formula_rate")
    ref = hdi_reference()
    for c, want in ref.items():
        for pid in ("life_expectancy", "mean_schooling", "expected_schooling", "gni"):
            assert rate[(c, pid)] == want[pid], (c, pid)


def test_hdi_published_figures_ranks_and_groups(results: dict) -> None:
    long, doc = results["hdi"]
    score = by(long, "score")
    ref = hdi_reference()
    for c, want in ref.items():
        for node in ("health", "education", "income", "total"):  # means on rates, geomean_product
            assert score[(c, node)] == want[node], (c, node)
    published = {c: half_up(v["total"], 3) for c, v in ref.items()}
    units = {u["code"]: u for u in doc["units"]}
    assert {c: units[c]["total"] for c in ref} == published
    assert {c: units[c]["rank"] for c in ref} == min_ranks(published)
    assert units["C12"]["rank"] == units["C13"]["rank"]  # the same four figures: a tie
    cut = {c: ("very_high" if v >= 0.8 else "high" if v >= 0.7 else "medium" if v >= 0.55 else "low")
           for c, v in published.items()}
    assert {c: units[c]["grade"] for c in ref} == cut


# ------------------------------------------------------------------ EGDI (Survey 2022 annex)

TII = ("internet_users", "mobile_subs", "mobile_broadband", "fixed_broadband")
HCI = {"adult_literacy": 1 / 3, "gross_enrolment": 2 / 9, "expected_schooling": 2 / 9, "mean_schooling": 2 / 9}


def zscores(x: dict[str, float]) -> dict[str, float]:
    """(x − μ) / σ as the annex writes it, computed as R's ``(x - mean(x)) / sd(x)``: σ the sample SD
    (n − 1). The annex does not say sample or population; min-max makes the choice moot in exact
    arithmetic (a common factor), and the engine's `keep: "value"` z is R's (docs §9b)."""
    xs = list(x.values())
    m, sd = r_mean(xs), r_sd(xs)
    return {c: (v - m) / sd for c, v in x.items()}


def minmax(x: dict[str, float]) -> dict[str, float]:
    lo, hi = min(x.values()), max(x.values())
    return {c: (v - lo) / (hi - lo) for c, v in x.items()}


def egdi_reference() -> dict[str, dict[str, float]]:
    rows = facts("egdi")
    col = {k: {r["country"]: float(r[k]) for r in rows} for k in rows[0] if k not in ("country", "round")}
    z = {k: zscores(col[k]) for k in (*TII, *HCI)}
    codes = list(col["osi_raw"])
    tii = minmax({c: math.fsum(z[k][c] for k in TII) / 4 for c in codes})
    hci = minmax({c: math.fsum(w * z[k][c] for k, w in HCI.items()) for c in codes})
    osi, epi = minmax(col["osi_raw"]), minmax(col["epi_raw"])
    # the mean of the three, its sum exact (docs §5: order-independent, correctly rounded)
    return {c: {"osi": osi[c], "tii": tii[c], "hci": hci[c], "epi": epi[c],
                "total": math.fsum((osi[c], tii[c], hci[c])) / 3} for c in codes}


def test_egdi_osi_and_epi_bit_for_bit(results: dict) -> None:
    long, _ = results["egdi"]
    rate, score = by(long, "formula_rate"), by(long, "score")
    for c, want in egdi_reference().items():
        assert rate[(c, "osi_raw")] == want["osi"], c
        assert rate[(c, "epi_raw")] == want["epi"], c
        assert score[(c, "osi")] == want["osi"] and score[(c, "epi")] == want["epi"], c  # means on rates


def test_egdi_components_and_published_figures_bit_for_bit(results: dict) -> None:
    long, doc = results["egdi"]
    score, rate = by(long, "score"), by(long, "rate")
    ref = egdi_reference()
    rows = facts("egdi")
    for k in (*TII, *HCI):  # each indicator's value is its z-score itself (GAPS.md §1, closed)
        z = zscores({r["country"]: float(r[k]) for r in rows})
        assert all(score[(c, k)] == z[c] and rate[(c, k)] is None for c in ref), k
    for c, want in ref.items():
        assert [score[(c, n)] for n in ("tii", "hci", "total")] == [want["tii"], want["hci"], want["total"]], c
    units = {u["code"]: u for u in doc["units"]}
    published = {c: half_up(v["total"], 4) for c, v in ref.items()}
    assert {c: units[c]["total"] for c in ref} == published
    assert {c: units[c]["rank"] for c in ref} == min_ranks(published)
    for c, u in units.items():
        v = published[c]
        group = "V" if v >= 0.75 else "H" if v >= 0.5 else "M" if v >= 0.25 else "L"
        assert u["grade"][0] == group, (c, v, u["grade"])
        assert u["scores"]["epi"] == half_up(ref[c]["epi"], 4)


def r_type7(xs: list[float], p: float) -> float:
    """R's quantile(type = 7): h = (n − 1)·p, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]) as R computes it."""
    x = sorted(xs)
    index = 1 + (len(x) - 1) * p
    lo = math.floor(index)
    h = index - lo
    return x[lo - 1] if h == 0 or lo == len(x) or x[lo] == x[lo - 1] else (1 - h) * x[lo - 1] + h * x[lo]


def test_egdi_groups_and_rating_classes_as_the_survey_defines_them(results: dict) -> None:
    """Groups by the published EGDI (≥ 0.75, ≥ 0.50, ≥ 0.25); rating classes by the quartiles of
    the group (type 7): two gradings of the total, the classes `within: groups` (GAPS.md §5, §6)."""
    _, doc = results["egdi"]
    published = {c: half_up(v["total"], 4) for c, v in egdi_reference().items()}
    group = {c: "very_high" if v >= 0.75 else "high" if v >= 0.5 else "middle" if v >= 0.25 else "low"
             for c, v in published.items()}
    letters = {"very_high": ("VH", "V3", "V2", "V1"), "high": ("HV", "H3", "H2", "H1"),
               "middle": ("MH", "M3", "M2", "M1"), "low": ("LM", "L3", "L2", "L1")}
    want = {}
    for c, v in published.items():
        mine = [published[d] for d in published if group[d] == group[c]]
        q = [r_type7(mine, p) for p in (0.75, 0.5, 0.25)]
        want[c] = letters[group[c]][next((i for i, cut in enumerate(q) if v >= cut), 3)]
    units = {u["code"]: u for u in doc["units"]}
    assert {c: units[c]["gradings"]["groups"] for c in published} == group
    assert {c: units[c]["grade"] for c in published} == want
    assert [g["id"] for g in doc["gradings"]] == ["groups"]


# ------------------------------------------------------------------ open data index (GODI 2016/17)

WEIGHTS = {"licence": 20, "format": 20, "bulk": 15, "timely": 15, "online": 15, "free": 15}
DATASETS = ("budget", "spending", "procurement", "elections", "companies", "statistics")


def godi_reference() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    entry = {(r["place"], r["dataset"]): math.fsum(w * float(r[q]) for q, w in WEIGHTS.items())
             for r in facts("godi")}
    places = sorted({p for p, _ in entry} | {"P03", "P07", "P15"})
    per = {p: {d: entry.get((p, d), 0.0) for d in DATASETS} for p in places}
    for p in places:
        per[p]["total"] = math.fsum(per[p][d] for d in DATASETS) / len(DATASETS)
    datasets = {d: math.fsum(per[p][d] for p in places) / len(places) for d in DATASETS}
    return per, datasets


def test_godi_entries_places_datasets_and_ranks(results: dict) -> None:
    long, doc = results["godi"]
    score = by(long, "score")
    per, datasets = godi_reference()
    # `score_on: scale` (GAPS.md §4, fixed): an entry's value is its points themselves, bit for bit
    assert {(p, d): score[(p, d)] for p in per for d in DATASETS} == {(p, d): per[p][d] for p in per for d in DATASETS}
    # The place's mean is a mean of rates x / 100 (docs §5 "Means on rates") × 100, not Σx / 6:
    # 8 of 20 places 1 ulp off
    total_ulps = [ulps(score[(p, "total")], want["total"]) for p, want in per.items()]
    assert max(total_ulps) <= 1, max(total_ulps)
    units = {u["code"]: u for u in doc["units"]}
    published = {p: half_up(v["total"], 0) for p, v in per.items()}
    assert {p: units[p]["total"] for p in per} == published
    assert {p: units[p]["rank"] for p in per} == min_ranks(published)
    rows = {r["node"]: r for s in doc["summaries"] for r in s["rows"]}
    for d, want in datasets.items():
        assert rows[d]["value"] == half_up(want, 0) and rows[d]["units"] == 20, d


# ------------------------------------------------------------------ Lighthouse v10–v12

PERF = {"fcp": ("first-contentful-paint", 10, (1800, 3000)), "si": ("speed-index", 10, (3387, 5800)),
        "lcp": ("largest-contentful-paint", 25, (2500, 4000)), "tbt": ("total-blocking-time", 30, (200, 600)),
        "cls": ("cumulative-layout-shift", 25, (0.1, 0.25))}
CATEGORIES = {
    "performance": PERF,
    "accessibility": {"image_alt": ("image-alt", 10, None), "contrast": ("color-contrast", 7, None),
                      "captions": ("video-caption", 10, None), "lang": ("html-has-lang", 7, None)},
    "best_practices": {"https": ("is-on-https", 5, None), "console": ("errors-in-console", 1, None)},
    "seo": {"title": ("document-title", 1, None), "meta": ("meta-description", 1, None)},
}


def js_round(y: float) -> float:
    f = math.floor(y)
    return float(f + 1 if y - f >= 0.5 else f)


def lh_erf(x: float) -> float:
    sign = (x > 0) - (x < 0)
    x = abs(x)
    t = 1 / (1 + 0.3275911 * x)
    y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1 - y * math.exp(-x * x))


def lh_score(p10: float, median: float, value: float) -> float:
    if value <= 0:
        cp = 1.0
    else:
        s = math.log(max(5e-324, value / median)) * 0.9061938024368232 / -math.log(max(5e-324, p10 / median))
        cp = (1 - lh_erf(s)) / 2
        cp = (max(0.9, min(1, cp)) if value <= p10 else max(0.5, min(0.8999999999999999, cp))
              if value <= median else max(0, min(0.49999999999999994, cp)))
    if cp > 0.9:
        cp += 0.05 * (cp - 0.9)
    return js_round(math.floor(cp * 100) / 100 * 100) / 100


def lighthouse_reference() -> dict[str, dict[str, float | None]]:
    rows = {(r["site"], r["audit"]): r for r in facts("lighthouse")}
    out: dict[str, dict[str, float | None]] = {}
    for site in sorted({s for s, _ in rows}):
        res: dict[str, float | None] = {}
        for cat, audits in CATEGORIES.items():
            total, weight, error = 0.0, 0.0, False
            for audit, w, curve in audits.values():
                r = rows[(site, audit)]
                if r["errored"] == "true":
                    error = True
                elif r["applies"] == "true":
                    v = float(r["value"])
                    total, weight = total + (lh_score(*curve, v) if curve else v) * w, weight + w
            res[cat] = None if error else js_round(total / weight * 100) / 100
        out[site] = res
    return out


def test_lighthouse_categories_and_bands_bit_for_bit(results: dict) -> None:
    long, doc = results["lighthouse"]
    assert doc["has_total"] is False and "total" not in set(long["node"])
    score = by(long, "score")
    units = {u["code"]: u for u in doc["units"]}
    ref = lighthouse_reference()
    assert ref["w07"]["performance"] is None  # the errored TBT
    for site, cats in ref.items():
        for cat, want in cats.items():
            assert score[(site, cat)] == want, (site, cat)
            band = None if want is None else "pass" if want >= 0.9 else "average" if want >= 0.5 else "fail"
            assert units[site]["grades"].get(cat) == band, (site, cat)


def test_the_score_table_shows_tie_labels_and_summaries_at_the_rule_sets_digits() -> None:
    """The console: GODI rounds to `digits: 0`, so a summary line reads "budget 60", not "60.00"
    (its summaries.csv value); the tiered example ranks the total with labels, so its tied 14th
    places read "=14" in the rank column, as published."""
    res = CliRunner().invoke(app, ["score", str(PUBLISHED / "godi"), "--facts", str(PUBLISHED / "godi" / "facts")])
    assert res.exit_code == 0, res.output
    lines = [ln.strip() for ln in res.output.splitlines()]
    assert "budget 60  (20 unit(s), 0 without a score)" in lines
    tiered = PUBLISHED.parent / "tiered-index"
    res = CliRunner().invoke(app, ["score", str(tiered), "--facts", str(tiered / "facts"), "--top", "20"])
    assert res.exit_code == 0, res.output
    ranks = [ln.split("│")[1].strip() for ln in res.output.splitlines() if ln.startswith("│")]
    assert ranks[:17] == [*map(str, range(1, 14)), "=14", "=14", "=14", "17"]
