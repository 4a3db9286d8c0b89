"""Generate the made-up panel of the EGDI example, deterministically.

    python examples/published/egdi/make_facts.py   # rewrites countries.csv and facts/survey.csv

40 made-up countries, with what the UN E-Government Survey combines: the OSI's raw score (the
share of the assessed online-service features a national portal offers), the E-Participation
raw score, the four telecommunication indicators of the TII and the four education indicators of
the HCI. Drawn from ``random.Random(SEED)``, rounded as the Survey's data tables print them.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20220928
N = 40
COLUMNS = ("osi_raw", "epi_raw", "internet_users", "mobile_subs", "mobile_broadband", "fixed_broadband",
           "adult_literacy", "gross_enrolment", "expected_schooling", "mean_schooling")


def rows() -> list[dict[str, str]]:
    rnd = random.Random(SEED)
    out = []
    for i in range(1, N + 1):
        lv = rnd.random()
        v = {
            "osi_raw": round(min(0.98, 0.05 + 0.85 * lv + rnd.uniform(-0.1, 0.1)), 4),
            "epi_raw": round(min(1.0, max(0.0, 0.9 * lv + rnd.uniform(-0.15, 0.15))), 4),
            "internet_users": round(min(99.0, 8 + 88 * lv + rnd.uniform(-6, 6)), 1),
            "mobile_subs": round(45 + 90 * lv + rnd.uniform(-15, 25), 1),
            "mobile_broadband": round(max(1.0, 5 + 110 * lv + rnd.uniform(-10, 10)), 1),
            "fixed_broadband": round(max(0.0, 45 * lv ** 1.5 + rnd.uniform(-2, 2)), 1),
            "adult_literacy": round(min(99.9, 40 + 60 * lv ** 0.5 + rnd.uniform(-5, 3)), 1),
            "gross_enrolment": round(min(110.0, 45 + 55 * lv + rnd.uniform(-8, 8)), 1),
            "expected_schooling": round(6 + 13 * lv + rnd.uniform(-1.2, 1.2), 1),
            "mean_schooling": round(1.5 + 12 * lv + rnd.uniform(-1, 1), 1),
        }
        out.append({"country": f"E{i:02d}", "round": "1", **{c: str(v[c]) for c in COLUMNS}})
    return out


def main() -> None:
    regions = ("Africa", "Americas", "Asia", "Europe", "Oceania")
    with open(HERE / "countries.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "region"])
        for i in range(1, N + 1):
            w.writerow([f"E{i:02d}", f"Country E{i:02d}", regions[i % 5]])
    with open(HERE / "facts" / "survey.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=["country", "round", *COLUMNS], lineterminator="\n")
        w2.writeheader()
        w2.writerows(rows())


if __name__ == "__main__":
    main()
