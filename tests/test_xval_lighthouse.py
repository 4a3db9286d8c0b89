"""Our Lighthouse curve and category arithmetic against Lighthouse 12.2.3 itself, bit for bit.

tests/xval/lighthouse.mjs runs once for the module under node with the pinned package
(tests/xval/package.json + package-lock.json; ``npm ci --prefix tests/xval``) and answers:

- ``lognormal(x, p10:, median:, curve: "lighthouse")`` (govindex/eval/curves.py) =
  ``Audit._normalizeAuditScore(Util.computeLogNormalScore({p10, median}, x))`` on random and edge
  values of Lighthouse's own metric curves and of random ones;
- examples/web-performance (``wavg``, ``round: binary_half_up``, not applicable → excluded, error →
  null, ``weight: 0``), run by the engine on random sites, = ``ReportScoring.scoreAllCategories``
  over audit results built as Lighthouse's runner builds them: every audit score and every
  category score.

Skips without node or without tests/xval/node_modules.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import govindex.check.run
import govindex.eval.evaluate
import govindex.eval.facts
from govindex.eval import curves
from tests.xval.harness import HERE, from_hex, same, to_hex

NODE = shutil.which("node")
INSTALLED = (HERE / "node_modules" / "lighthouse" / "package.json").is_file()
pytestmark = pytest.mark.skipif(NODE is None or not INSTALLED,
                                reason="needs node and the pinned Lighthouse: npm ci --prefix tests/xval")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "web-performance"
SEED = 20261202

# Lighthouse 12's own metric curves (core/audits/metrics/*.js, desktop and mobile) and the example's.
CURVES = [(1800, 3000), (934, 1600), (3387, 5800), (1311, 2300), (2500, 4000), (1200, 2400), (200, 600),
          (150, 350), (0.1, 0.25), (0.06, 0.25), (3785, 7300), (2468, 4500), (100, 250), (50, 150)]
PERFORMANCE = {"first-contentful-paint": ("fcp", 10, (1800, 3000)), "speed-index": ("si", 10, (3387, 5800)),
               "largest-contentful-paint": ("lcp", 25, (2500, 4000)), "total-blocking-time": ("tbt", 30, (200, 600)),
               "cumulative-layout-shift": ("cls", 25, (0.1, 0.25)), "interactive": ("tti", 0, (3785, 7300)),
               "max-potential-fid": ("mpfid", 0, (100, 250))}
ACCESSIBILITY = {"image-alt": ("image_alt", 10, None), "color-contrast": ("contrast", 7, None),
                 "video-caption": ("captions", 10, None), "html-has-lang": ("lang", 7, None),
                 "tabindex": ("tabindex", 7, None), "label": ("label", 7, None),
                 "focus-traps": ("focus_traps", 0, None)}
CATEGORIES = {"performance": PERFORMANCE, "accessibility": ACCESSIBILITY}


def curve_values(rng: np.random.Generator, p10: float, median: float) -> list[float]:
    """Log-uniform values around the curve, its control points and their neighbours, 0, negatives, extremes."""
    v = (10 ** rng.uniform(math.log10(p10) - 2, math.log10(median) + 2, 2500)).tolist()
    v += np.round(rng.uniform(0, 3 * median, 500)).tolist()
    for c in (p10, median):
        v += [c, math.nextafter(c, 0), math.nextafter(c, math.inf)]
    return v + [0.0, -0.0, -1.0, 5e-324, 1e-300, 1e300, median * 1e6]


def curve_cases(rng: np.random.Generator) -> list[tuple[float, float]]:
    pairs = [(float(a), float(b)) for a, b in CURVES]
    for _ in range(10):
        a = float(10 ** rng.uniform(-2, 4))
        pairs.append((round(a, 3), round(a * float(rng.uniform(1.05, 5)), 3)))
    return pairs


def engine_curve(xs: list[float], p10: float, median: float) -> list[float | None]:
    stages: list[pl.Expr] = []

    def stage(e: pl.Expr) -> pl.Expr:  # each intermediate a column, as the compiler stages them
        stages.append(e.alias(f"_{len(stages)}"))
        return pl.col(f"_{len(stages) - 1}")

    final = curves.lighthouse(pl.col("x"), p10, median, stage)
    df = pl.DataFrame({"x": xs}, schema={"x": pl.Float64})
    for e in stages:
        df = df.with_columns(e)
    return df.select(final).to_series().to_list()


def make_sites(rng: np.random.Generator, root: Path, n: int) -> dict[str, dict[str, tuple[str, float]]]:
    """The example's rule set over ``n`` random sites: its facts and, per site, audit → (mode, value)."""
    (root / "facts").mkdir(parents=True)
    shutil.copy(EXAMPLE / "ruleset.rules", root / "ruleset.rules")
    sites: dict[str, dict[str, tuple[str, float]]] = {}
    rows = ["site,round,audit,value,applies,errored"]
    for k in range(n):
        code, audits = f"x{k:04d}", {}
        all_na = rng.random() < 0.03  # every audit not applicable: Lighthouse's `|| 0`
        for cat in CATEGORIES.values():
            for audit, (_, _, curve) in cat.items():
                if curve is None:
                    value = float(rng.random() < 0.7)
                else:
                    p10, median = curve
                    value = float(rng.choice([p10, median, 0.0])) if rng.random() < 0.05 else \
                        float(round(10 ** rng.uniform(math.log10(p10) - 1, math.log10(median) + 1), 3))
                u = rng.random()
                mode = "notApplicable" if all_na or u < 0.08 else "error" if u < 0.12 else "numeric"
                audits[audit] = (mode, value)
                rows.append(f"{code},1,{audit},{value!r},{str(mode != 'notApplicable').lower()},"
                            f"{str(mode == 'error').lower()}")
        sites[code] = audits
    (root / "facts" / "audits.csv").write_text("\n".join(rows) + "\n")
    (root / "sites.csv").write_text("code,name\n" + "".join(f"{c},Site {c}\n" for c in sites))
    return sites


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every case and Lighthouse's answer: one node process for the module."""
    rng = np.random.default_rng(SEED)
    tmp = tmp_path_factory.mktemp("xval-lighthouse")
    pairs = curve_cases(rng)
    values = {f"{p10!r}/{median!r}": curve_values(rng, p10, median) for p10, median in pairs}
    sites = make_sites(rng, tmp / "rules", 400)
    cases = {
        "curves": [{"id": k, "p10": float(k.split("/")[0]).hex(), "median": float(k.split("/")[1]).hex(),
                    "values": [to_hex(x) for x in v]} for k, v in values.items()],
        "audits": {a: curve for cat in CATEGORIES.values() for a, (_, _, curve) in cat.items()},
        "categories": {c: [{"id": a, "weight": w} for a, (_, w, _) in cat.items()] for c, cat in CATEGORIES.items()},
        "sites": [{"id": s, "audits": {a: {"mode": m, "value": to_hex(v)} for a, (m, v) in au.items()}}
                  for s, au in sites.items()],
    }
    (tmp / "cases.json").write_text(json.dumps(cases))
    assert NODE is not None
    subprocess.run([NODE, str(HERE / "lighthouse.mjs"), str(tmp / "cases.json"), str(tmp / "out.json")],
                   check=True, timeout=120, capture_output=True)
    out = json.loads((tmp / "out.json").read_text())
    return {"values": values, "sites": sites, "rules": tmp / "rules", "lh": out}


def test_the_lighthouse_curve_is_lighthouse_12(world: dict) -> None:
    bad, total = [], 0
    for key, xs in world["values"].items():
        p10, median = (float(s) for s in key.split("/"))
        theirs = [from_hex(h) for h in world["lh"]["curves"][key]]
        ours = engine_curve(xs, p10, median)
        total += len(xs)
        bad += [f"{key} x={x!r}: ours {a!r}, Lighthouse {b!r}" for x, a, b in zip(xs, ours, theirs, strict=True)
                if not same(a, b)]
    assert total > 50_000
    assert not bad, f"{len(bad)} of {total} differ: {bad[:10]}"


def engine_units(rules: Path) -> dict[str, dict]:
    rs = govindex.check.run.load(rules)
    sources = {t: govindex.eval.facts.scan(rs, rules / "facts", t) for t in rs.tables}
    return {r["code"]: r for r in govindex.eval.evaluate.evaluate(rs, sources).units.iter_rows(named=True)}


def nothing_weighted_applies(audits: dict[str, tuple[str, float]], members: dict) -> bool:
    """Every audit of weight > 0 is not applicable: Lighthouse's ``Σ score·weight / Σ weight || 0``."""
    return all(audits[a][0] == "notApplicable" for a, (_, w, _) in members.items() if w > 0)


def test_the_web_performance_arithmetic_is_lighthouse_12(world: dict) -> None:
    """Every audit and category of 400 random sites, those without an applicable weighted audit included."""
    units = engine_units(world["rules"])
    bad, seen = [], {"null": 0, "zero-weight": 0}
    for code, audits in world["sites"].items():
        lh, row = world["lh"]["sites"][code], units[code]
        for cat, members in CATEGORIES.items():
            for audit, (pid, _, _) in members.items():
                if audits[audit][0] == "numeric" and not same(row[f"r:{pid}"], from_hex(lh[audit])):
                    bad.append(f"{code} {audit}: ours {row[f'r:{pid}']!r}, Lighthouse {from_hex(lh[audit])!r}")
            want = None if lh[cat] is None else from_hex(lh[cat])
            seen["null"] += want is None
            seen["zero-weight"] += all(audits[a][0] != "numeric" for a in members)
            if not same(row[f"s:{cat}"], want):
                bad.append(f"{code} {cat}: ours {row[f's:{cat}']!r}, Lighthouse {want!r} ({audits})")
    assert seen["null"] > 0 and seen["zero-weight"] > 0  # the data reaches both of Lighthouse's special cases
    assert not bad, f"{len(bad)} differ: {bad[:5]}"


def test_a_category_without_an_applicable_audit_is_lighthouse_12(world: dict) -> None:
    units = engine_units(world["rules"])
    cases = [(code, cat) for code, audits in world["sites"].items() for cat, members in CATEGORIES.items()
             if nothing_weighted_applies(audits, members)]
    assert cases  # 14 site × category pairs with this seed
    for code, cat in cases:
        assert world["lh"]["sites"][code][cat] == (0.0).hex()  # Lighthouse: 0
        assert units[code][f"s:{cat}"] == 0.0, (code, cat)  # govindex: 0 too (`wavg`, why: every child excluded)
