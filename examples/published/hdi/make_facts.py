"""Generate the made-up panel of the HDI example, deterministically.

    python examples/published/hdi/make_facts.py   # rewrites countries.csv and facts/panel.csv

30 made-up countries with the four HDI indicators (life expectancy at birth, expected and mean
years of schooling, GNI per capita in 2017 PPP $), drawn from ``random.Random(SEED)`` and rounded
as the HDR tables print them, then shaped on purpose: one country's expected years of schooling
above the cap of 18, one GNI per capita above the cap of 75,000, and two countries with the same
four figures (they must tie in the ranking).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20240313
N = 30


def rows() -> list[dict[str, str]]:
    rnd = random.Random(SEED)
    out = []
    for i in range(1, N + 1):
        level = rnd.random()
        out.append({
            "country": f"C{i:02d}", "round": "1",
            "life_expectancy": f"{52 + 32 * level + rnd.uniform(-3, 3):.1f}",
            "expected_schooling": f"{6 + 12 * level + rnd.uniform(-1.5, 1.5):.1f}",
            "mean_schooling": f"{1.5 + 12 * level * rnd.uniform(0.8, 1.05):.1f}",
            "gni_per_capita": f"{round(700 * 90 ** level * rnd.uniform(0.7, 1.3))}",
        })
    out[3]["expected_schooling"] = "19.7"  # above the cap of 18: capped
    out[7]["gni_per_capita"] = "91043"  # above the cap of 75,000: capped
    for k in ("life_expectancy", "expected_schooling", "mean_schooling", "gni_per_capita"):
        out[12][k] = out[11][k]  # C13 equals C12: a tie
    return out


def main() -> None:
    with open(HERE / "countries.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name"])
        for i in range(1, N + 1):
            w.writerow([f"C{i:02d}", f"Country {i:02d}"])
    data = rows()
    with open(HERE / "facts" / "panel.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=list(data[0]), lineterminator="\n")
        w2.writeheader()
        w2.writerows(data)


if __name__ == "__main__":
    main()
