"""Generate the made-up survey answers of the templated open-data index, deterministically.

    python examples/open-data-template/make_facts.py   # rewrites places.csv and facts/answers.csv

20 made-up places × the 13 datasets of datasets.csv × the 9 questions of questions.csv, one row
per answer (1 yes, 0 no). As in the Global Open Data Index survey, a dataset that does not exist
answers no to every later question. A few entries are absent on purpose (no submission: the
entry's points are missing and score 0 under `missing: zero`).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20151209
PLACES = 20
ABSENT = {("P02", "land"), ("P09", "emissions"), ("P09", "water"), ("P17", "map")}


def _column(name: str, col: str) -> list[str]:
    with open(HERE / name, encoding="utf-8", newline="") as f:
        return [row[col] for row in csv.DictReader(f)]


def rows() -> list[dict[str, str]]:
    datasets, questions = _column("datasets.csv", "id"), _column("questions.csv", "id")
    rnd = random.Random(SEED)
    out = []
    for i in range(1, PLACES + 1):
        place, level = f"P{i:02d}", rnd.random()
        for d in datasets:
            exists = rnd.random() < 0.5 + 0.5 * level
            for q in questions:
                yes = exists and (q == "exists" or rnd.random() < 0.2 + 0.75 * level)
                if (place, d) not in ABSENT:
                    out.append({"place": place, "round": "1", "dataset": d, "question": q, "yes": str(int(yes))})
    return out


def main() -> None:
    with open(HERE / "places.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name"])
        for i in range(1, PLACES + 1):
            w.writerow([f"P{i:02d}", f"Place {i:02d}"])
    (HERE / "facts").mkdir(exist_ok=True)
    with open(HERE / "facts" / "answers.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=["place", "round", "dataset", "question", "yes"], lineterminator="\n")
        w2.writeheader()
        w2.writerows(rows())


if __name__ == "__main__":
    main()
