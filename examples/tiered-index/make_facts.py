"""Generate the facts and units of the tiered-index example, deterministically.

    python examples/tiered-index/make_facts.py   # rewrites units.csv and facts/obs.csv

50 made-up units in four regions; six observations per unit, each a share in [0, 1] to three
decimals (``random.Random(SEED)``, whose sequence Python keeps stable across versions for
``randrange``). Three decimals are finer than the published figures (pillars to one or two
decimals, the total to one), so several units tie only after rounding, as in published indices.
Two values are left blank on purpose (the point scores 0: ``missing: zero``).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20240611
REGIONS = ("north", "south", "east", "west")
COLUMNS = ("users", "broadband", "services", "payments", "datasets", "licences")
BLANK = {("U07", "payments"), ("U33", "datasets")}


def rows() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    out = []
    for i in range(1, 51):
        code = f"U{i:02d}"
        level = rng.randrange(350, 701)  # the unit's maturity, in thousandths
        row = {"unit": code, "round": "1"}
        for c in COLUMNS:
            k = min(1000, max(0, level + rng.randrange(-150, 151)))
            row[c] = "" if (code, c) in BLANK else f"{k / 1000:.3f}"
        out.append(row)
    return out


def main() -> None:
    (HERE / "facts").mkdir(exist_ok=True)
    rng = random.Random(SEED + 1)
    with open(HERE / "units.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "region"])
        for i in range(1, 51):
            w.writerow([f"U{i:02d}", f"Unit {i:02d}", REGIONS[rng.randrange(len(REGIONS))]])
    data = rows()
    with open(HERE / "facts" / "obs.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["unit", "round", *COLUMNS])
        w.writeheader()
        w.writerows(data)


if __name__ == "__main__":
    main()
