"""Generate the made-up audit results of the Lighthouse example, deterministically.

    python examples/published/lighthouse/make_facts.py   # rewrites sites.csv and facts/audits.csv

25 made-up pages, one row per page × audit: the measured value (ms; CLS unitless; 1/0 for a
binary audit) and whether the audit applied and whether it errored. A few audits do not apply
(no video: no captions to check) and one page's TBT errored.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20240515
SITES = 25
METRICS = {"first-contentful-paint": (800, 6000), "speed-index": (1200, 11000),
           "largest-contentful-paint": (1200, 9000), "total-blocking-time": (0, 1800),
           "cumulative-layout-shift": (0.0, 0.6)}
BINARY = ("image-alt", "color-contrast", "video-caption", "html-has-lang", "document-title", "meta-description",
          "is-on-https", "errors-in-console")


def rows() -> list[dict[str, str]]:
    rnd = random.Random(SEED)
    out = []
    for i in range(1, SITES + 1):
        site, q = f"w{i:02d}", rnd.random()
        for audit, (lo, hi) in METRICS.items():
            v = lo + (hi - lo) * (1 - q) * rnd.uniform(0.3, 1.1)
            value = f"{v:.3f}" if audit == "cumulative-layout-shift" else f"{round(v)}.0"
            errored = audit == "total-blocking-time" and site == "w07"
            out.append({"site": site, "round": "1", "audit": audit, "value": value, "applies": "true",
                        "errored": "true" if errored else "false"})
        for audit in BINARY:
            applies = not (audit == "video-caption" and i % 3 == 0)
            value = "1.0" if rnd.random() < 0.4 + 0.55 * q else "0.0"
            out.append({"site": site, "round": "1", "audit": audit, "value": value,
                        "applies": "true" if applies else "false", "errored": "false"})
    return out


def main() -> None:
    with open(HERE / "sites.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name"])
        for i in range(1, SITES + 1):
            w.writerow([f"w{i:02d}", f"Page {i:02d}"])
    with open(HERE / "facts" / "audits.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=["site", "round", "audit", "value", "applies", "errored"],
                            lineterminator="\n")
        w2.writeheader()
        w2.writerows(rows())


if __name__ == "__main__":
    main()
