"""examples/coinr-pipeline against an independent plain-Python reference, bit for bit.

The reference is written from the published definitions, not from govindex's code:
- COINr: ``Denominate`` (x / denominator × scale), ``Impute`` by group mean, ``Treat`` with
  ``winsorise`` + ``check_SkewKurt`` + ``log_CT`` (R/treat.R: skew and kurt as e1071 type 2),
  ``n_minmax`` (x − min) / (max − min) (direction −1: the values negated first);
- the exact mean (the double nearest the rational mean) that docs §9a defines;
- the tree as docs §5 defines it: a child's score is rate × its maximum, a mean with nothing
  missing is the sum of its children's scores in declared order, a node is shown on its scale as
  score / max × scale;
- ranks as R's ``rank(-x, ties.method = "min")`` on each node's unrounded score, two values
  tying when they agree to 12 significant digits (docs §12 "Ranks": the decimal ``repr`` rounded
  half-even), with the published labels ``=k`` for a shared rank.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from govindex.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "coinr-pipeline"

# Transcribed by hand from the example's rules: pillar → sub-pillar → points
# (point, column, denominator scale or None, lower is better, Winsorisation's max points).
TREE = {
    "connectivity": {"access": [("internet_users", "internet_users", None, False, 5),
                                ("broadband", "broadband_subs", 100, False, 5)],
                     "mobile_security": [("mobile", "mobile_subs", 100, False, 5),
                                         ("servers", "secure_servers", 1_000_000, False, 5)]},
    "economy": {"trade": [("ict_exports", "ict_exports", 1_000_000, False, 2),
                          ("price", "broadband_price", None, True, 5)],
                "government": [("egov", "egov_services", None, False, 5),
                               ("datasets", "open_datasets", None, False, 5)]},
}


# ------------------------------------------------------------------ COINr, transcribed


def cube(v: float) -> float:
    """x^3 as R's powl gives it: the double nearest the exact cube."""
    return float(Fraction(v) ** 3)


def fourth(v: float) -> float:
    return float(Fraction(v) ** 4)


def r_mean(x: list[float]) -> float:
    return float(sum((Fraction(v) for v in x), Fraction(0)) / len(x))


def skew(x: list[float]) -> float:
    """COINr: sqrt(n) * sum(x^3) / (sum(x^2)^(3/2)) * sqrt(n*(n-1)) / (n-2), x centred; the 3/2
    power as s2·√s2 (docs §9b)."""
    n = len(x)
    m = r_mean(x)
    d = [v - m for v in x]
    s2 = math.fsum(v * v for v in d)
    y = math.sqrt(n) * math.fsum(cube(v) for v in d) / (s2 * math.sqrt(s2))
    return y * math.sqrt(n * (n - 1)) / (n - 2)


def kurt(x: list[float]) -> float:
    n = len(x)
    m = r_mean(x)
    d = [v - m for v in x]
    s2 = math.fsum(v * v for v in d)
    r = n * math.fsum(fourth(v) for v in d) / (s2 * s2)
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def check_skew_kurt(x: list[float]) -> bool:
    return abs(skew(x)) < 2 or kurt(x) < 3.5


def winsorise(x: list[float], winmax: int) -> list[float]:
    x = list(x)
    passing = check_skew_kurt(x)
    nwin, imax, imin = 0, [], []
    while not passing and nwin < winmax:
        if skew(x) >= 0:
            top = max(x)
            imax = [i for i, v in enumerate(x) if v == top]
            new = max(v for i, v in enumerate(x) if i not in imax)
            for i in imax:
                x[i] = new
        else:
            low = min(x)
            imin = [i for i, v in enumerate(x) if v == low]
            new = min(v for i, v in enumerate(x) if i not in imin)
            for i in imin:
                x[i] = new
        nwin = len(imax) + len(imin)
        passing = check_skew_kurt(x)
    return x


def log_ct(x: list[float]) -> list[float]:
    return [math.log(v - min(x) + 0.01 * (max(x) - min(x))) for v in x]


def treat(x: list[float], winmax: int) -> tuple[list[float], str]:
    if check_skew_kurt(x):
        return x, "none"
    w = winsorise(x, winmax)
    if check_skew_kurt(w):
        return w, "winsorised"
    return log_ct(x), "log"


def minmax(x: list[float], lower: bool) -> list[float]:
    if lower:
        x = [-v for v in x]
    lo, hi = min(x), max(x)
    return [(v - lo) / (hi - lo) for v in x]


def tie_key(v: float, digits: int = 12) -> Decimal:
    """Docs §12: ``repr(v)`` rounded half-even to ``clamp(digits − 1 − e, 0, 22)`` decimals, where
    ``10^e ≤ |v| < 10^(e+1)`` — the value to ``digits`` significant digits, exactly in decimal."""
    d = Decimal(repr(v))
    if d == 0:
        return Decimal(0)
    places = min(max(digits - 1 - d.adjusted(), 0), 22)
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def min_rank_desc(values: dict[str, float]) -> dict[str, int]:
    """R's ``rank(-key, ties.method = "min")``: 1 + the number of units with a higher tie key."""
    keys = {k: tie_key(v) for k, v in values.items()}
    return {k: 1 + sum(1 for w in keys.values() if w > v) for k, v in keys.items()}


def tie_labels(ranks: dict[str, int]) -> dict[str, str]:
    """The published label: ``=3`` for a rank shared with another unit, ``3`` otherwise."""
    counts = {r: list(ranks.values()).count(r) for r in ranks.values()}
    return {k: f"={r}" if counts[r] > 1 else str(r) for k, r in ranks.items()}


# ------------------------------------------------------------------ the reference


Table = dict[str, dict[str, float]]


def reference() -> tuple[Table, Table, dict[str, str], set]:
    """(shown value per unit × node, treated value per unit × point, treatment per point, imputed)."""
    shown, _, treated, how, imputed = reference_with_scores()
    return shown, treated, how, imputed


def reference_with_scores() -> tuple[Table, Table, Table, dict[str, str], set]:
    """(shown value on the node's scale, score in the parent's terms — what ranks compare —,
    treated value per unit × point, treatment per point, imputed (unit, point) pairs)."""
    with open(EXAMPLE / "countries.csv", encoding="utf-8") as f:
        reg = {r["code"]: r for r in csv.DictReader(f)}
    with open(EXAMPLE / "facts" / "panel.csv", encoding="utf-8") as f:
        panel = {r["country"]: r for r in csv.DictReader(f)}
    codes = list(reg)
    rates: dict[str, dict[str, float]] = {c: {} for c in codes}
    treated: dict[str, dict[str, float]] = {c: {} for c in codes}
    how, imputed = {}, set()
    for subs in TREE.values():
        for points in subs.values():
            for pid, col, den, lower, winmax in points:
                v: dict[str, float | None] = {}
                for c in codes:
                    raw = panel[c][col]
                    v[c] = None if raw == "" else (float(raw) / float(reg[c]["population"]) * den if den else float(raw))
                for c in codes:
                    if v[c] is None:
                        same = [v[o] for o in codes if reg[o]["region"] == reg[c]["region"] and v[o] is not None]
                        v[c] = r_mean(same)  # type: ignore[arg-type]
                        imputed.add((c, pid))
                t, how[pid] = treat([v[c] for c in codes], winmax)  # type: ignore[misc]
                for c, x in zip(codes, t):
                    treated[c][pid] = x
                for c, r in zip(codes, minmax(t, lower)):
                    rates[c][pid] = r
    shown: dict[str, dict[str, float]] = {c: {} for c in codes}
    score: dict[str, dict[str, float]] = {c: {} for c in codes}
    for c in codes:  # means on rates (docs §5): rate = fsum(rᵢ) / n, score = rate × max, shown = rate × 100
        pillar_rates = []
        for pillar, subs in TREE.items():
            sub_rates = []
            for sub, points in subs.items():
                scores = [rates[c][pid] * 12.5 for pid, *_ in points]  # 100 → 50 → 25 → 12.5
                for (pid, *_), s in zip(points, scores):
                    shown[c][pid], score[c][pid] = s / 12.5 * 100, s
                sub_rates.append(math.fsum(rates[c][pid] for pid, *_ in points) / 2)
                shown[c][sub], score[c][sub] = sub_rates[-1] * 100, sub_rates[-1] * 25
            pillar_rates.append(math.fsum(sub_rates) / 2)
            shown[c][pillar], score[c][pillar] = pillar_rates[-1] * 100, pillar_rates[-1] * 50
        shown[c]["total"] = score[c]["total"] = math.fsum(pillar_rates) / 2 * 100
    return shown, score, treated, how, imputed


def test_the_reference_exercises_every_path() -> None:
    _, _, how, imputed = reference()
    assert how["servers"] == "winsorised" and how["ict_exports"] == "log"
    assert {h for p, h in how.items() if p not in ("servers", "ict_exports")} == {"none"}
    assert len(imputed) == 8


def test_the_example_equals_the_reference_bit_for_bit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["score", str(EXAMPLE), "--facts", str(EXAMPLE / "facts"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    shown, _, _, _ = reference()
    long = pl.read_parquet(out / "scores_long.parquet")
    assert long.height == 40 * 15
    for r in long.iter_rows(named=True):
        assert r["score"] == shown[r["code"]][r["node"]], (r["code"], r["node"], r["score"], shown[r["code"]][r["node"]])


def test_ranks_treated_values_and_flags(tmp_path: Path) -> None:
    from govindex.check.run import load
    from govindex.eval.evaluate import evaluate
    from govindex.eval.facts import scan

    rs = load(EXAMPLE)
    units = evaluate(rs, {t: scan(rs, EXAMPLE / "facts", t) for t in rs.tables}).units
    shown, score, treated, _, imputed = reference_with_scores()
    # R's rank(-x, ties.method = "min") at every level (`ranks: {levels: "all"}`), every unit.
    assert len(shown["DZA"]) == 15
    for node in shown["DZA"]:
        want = min_rank_desc({c: score[c][node] for c in score})
        assert dict(zip(units["code"], units[f"k:{node}"])) == want, node
        assert dict(zip(units["code"], units[f"kl:{node}"])) == tie_labels(want), node
        if node == "total":
            assert dict(zip(units["code"], units["rank"])) == want
    for row in units.iter_rows(named=True):
        for pid in treated[row["code"]]:
            assert row[f"tv:{pid}"] == treated[row["code"]][pid], (row["code"], pid)
            assert row[f"imp:{pid}"] == ((row["code"], pid) in imputed)
            assert row[f"st:{pid}"] == "ok"


def test_the_panel_makes_real_ties() -> None:
    """Winsorisation caps SGP and ISL at the third-highest server density (EGY's): the three share
    the top of that point (labels ``=1``), and the min-max ends make ties of their own."""
    _, score, _, _, _ = reference_with_scores()
    labels = {node: tie_labels(min_rank_desc({c: score[c][node] for c in score})) for node in score["DZA"]}
    assert sorted(c for c, lab in labels["servers"].items() if lab == "=1") == ["EGY", "ISL", "SGP"]
    assert any(lab.startswith("=") for lab in labels["datasets"].values())
    assert not any(lab.startswith("=") for lab in labels["total"].values())


def test_make_facts_is_deterministic() -> None:
    spec = importlib.util.spec_from_file_location("coinr_make_facts", EXAMPLE / "make_facts.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(EXAMPLE / "facts" / "panel.csv", encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == mod.rows()


def test_explain_shows_the_stages_and_imputation() -> None:
    res = CliRunner().invoke(app, ["explain", str(EXAMPLE), "--facts", str(EXAMPLE / "facts"), "--unit", "GHA",
                                   "--node", "trade"])
    assert res.exit_code == 0, res.output
    assert "stages   denominate by population" in res.output and "→ normalise minmax (lower is better)" in res.output
    assert "[technical] · rank 25 · imputed · treated 4.024" in res.output  # GHA's ICT exports: blank, imputed
    assert "[mean] · rank 16" in res.output  # every node is ranked (`ranks: {levels: "all"}`)
