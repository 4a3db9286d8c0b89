"""Generate the facts of the web-performance example, deterministically.

    python examples/web-performance/make_facts.py   # rewrites sites.csv and facts/audits.csv

Thirty made-up sites, one row per site × audit: a metric in milliseconds (CLS unitless), or a
pass (1) / fail (0) for a binary accessibility audit, with two flags — ``applies`` (false: the
audit did not apply to the page, e.g. no video to caption) and ``errored`` (true: the audit
threw an error). Values come from ``random.Random(SEED).random()`` only, whose sequence Python
guarantees across versions, turned into log-normal metrics by hand.

Planted on purpose:
- site s07: ``total-blocking-time`` errored          → Performance is null (as in Lighthouse);
- site s13: ``interactive`` (weight 0) errored       → nothing changes: weight 0 is not counted;
- site s21: ``color-contrast`` errored               → Accessibility is null;
- ``video-caption`` applies on one site in three, ``tabindex`` on most: not applicable is
  left out of the weighted mean;
- site s04: metrics on the band edges (FCP = p10, LCP = median, CLS = p10) and s05 a value ≤ 0;
- SEO's own audits (pass/fail, drawn from ``random.Random(SEED + 1)`` after the others, so the
  rows above are unchanged): ``hreflang`` applies on one site in three, ``canonical`` on most;
- ``image-alt`` counts in Accessibility and in SEO (as in Lighthouse's default config): site s11
  has no image (not applicable → left out of both), site s17's audit errored (both null);
- site s09: ``robots-txt`` errored → SEO is null, the other categories are not.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20240630
ROUND = 1

# audit: (median, p10) of a metric in the log-normal, or None for a binary audit
METRICS: dict[str, tuple[float, float]] = {
    "first-contentful-paint": (3000, 1800), "speed-index": (5800, 3387), "largest-contentful-paint": (4000, 2500),
    "total-blocking-time": (600, 200), "cumulative-layout-shift": (0.25, 0.1), "interactive": (7300, 3785),
    "max-potential-fid": (250, 100),
}
BINARY = ["image-alt", "color-contrast", "video-caption", "html-has-lang", "tabindex", "label", "focus-traps"]
SEO = ["document-title", "meta-description", "http-status-code", "link-text", "crawlable-anchors", "robots-txt",
       "hreflang", "canonical"]
SITES = [f"s{i:02d}" for i in range(1, 31)]


def _normal(rng_random) -> float:
    """A standard normal draw by Box–Muller over two uniforms (no library distribution)."""
    u1, u2 = rng_random(), rng_random()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def rows() -> list[dict[str, object]]:
    import random

    rnd = random.Random(SEED).random
    out: list[dict[str, object]] = []
    for site in SITES:
        quality = rnd() * 1.6 - 0.8  # a site's overall speed: below 0 is faster than the median
        for audit, (median, p10) in METRICS.items():
            sigma = math.log(median / p10) / 1.2815515655446004
            digits = 3 if audit.startswith("cum") else 0  # CLS is unitless, the others whole ms
            value = round(math.exp(math.log(median) + sigma * (quality + 0.6 * _normal(rnd))), digits)
            out.append({"site": site, "round": ROUND, "audit": audit, "value": value, "applies": True, "errored": False})
        for audit in BINARY:
            applies = not ((audit == "video-caption" and rnd() < 0.67) or (audit == "tabindex" and rnd() < 0.2))
            out.append({"site": site, "round": ROUND, "audit": audit, "value": float(rnd() < 0.75) if applies else None,
                        "applies": applies, "errored": False})
    seo = random.Random(SEED + 1).random
    for site in SITES:
        for audit in SEO:
            applies = not ((audit == "hreflang" and seo() < 0.67) or (audit == "canonical" and seo() < 0.2))
            out.append({"site": site, "round": ROUND, "audit": audit, "value": float(seo() < 0.85) if applies else None,
                        "applies": applies, "errored": False})
    _plant(out)
    return out


def _plant(out: list[dict[str, object]]) -> None:
    def row(site: str, audit: str) -> dict[str, object]:
        return next(r for r in out if r["site"] == site and r["audit"] == audit)

    for site, audit in (("s07", "total-blocking-time"), ("s13", "interactive"), ("s21", "color-contrast"),
                        ("s17", "image-alt"), ("s09", "robots-txt")):
        row(site, audit).update(value=None, errored=True)
    row("s11", "image-alt").update(value=None, applies=False)
    row("s04", "first-contentful-paint")["value"] = 1800.0
    row("s04", "largest-contentful-paint")["value"] = 4000.0
    row("s04", "cumulative-layout-shift")["value"] = 0.1
    row("s05", "cumulative-layout-shift")["value"] = 0.0


def main(here: Path = HERE) -> None:
    """Write ``sites.csv`` and ``facts/audits.csv`` under ``here``."""
    (here / "facts").mkdir(exist_ok=True)
    with (here / "sites.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name"])
        w.writerows([s, f"Site {s[1:]}"] for s in SITES)
    with (here / "facts" / "audits.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["site", "round", "audit", "value", "applies", "errored"])
        w.writeheader()
        for r in rows():
            w.writerow({**r, "value": "" if r["value"] is None else r["value"],
                        "applies": str(r["applies"]).lower(), "errored": str(r["errored"]).lower()})


if __name__ == "__main__":
    main()
