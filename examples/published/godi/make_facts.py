"""Generate the made-up submissions of the open-data index example, deterministically.

    python examples/published/godi/make_facts.py   # rewrites places.csv and facts/entries.csv

20 made-up places × 6 key datasets, one row per entry (place × dataset) with the six scored
answers of the Global Open Data Index 2016/17 survey as 1 (yes) or 0 (no). A few entries are
absent on purpose (no submission: the data is not available, the entry scores 0).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20170502
PLACES = 20
DATASETS = ("budget", "spending", "procurement", "elections", "companies", "statistics")
QUESTIONS = ("licence", "format", "bulk", "timely", "online", "free")
ABSENT = {("P03", "spending"), ("P07", "procurement"), ("P07", "companies"), ("P15", "elections")}


def rows() -> list[dict[str, str]]:
    rnd = random.Random(SEED)
    out = []
    for i in range(1, PLACES + 1):
        place, level = f"P{i:02d}", rnd.random()
        for d in DATASETS:
            answers = {q: "1" if rnd.random() < 0.25 + 0.7 * level else "0" for q in QUESTIONS}
            if (place, d) not in ABSENT:
                out.append({"place": place, "round": "1", "dataset": d, **answers})
    return out


def main() -> None:
    with open(HERE / "places.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name"])
        for i in range(1, PLACES + 1):
            w.writerow([f"P{i:02d}", f"Place {i:02d}"])
    with open(HERE / "facts" / "entries.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=["place", "round", "dataset", *QUESTIONS], lineterminator="\n")
        w2.writeheader()
        w2.writerows(rows())


if __name__ == "__main__":
    main()
