"""Generate the generated panel of the COINr-style example, deterministically.

    python examples/coinr-pipeline/make_facts.py   # rewrites countries.csv and facts/panel.csv

40 made-up countries in five regions, with a population (the denominator) in the units
registry, and eight raw indicators in facts/panel.csv. The figures are drawn from
``random.Random(SEED)`` (Python's Mersenne Twister and its pure-Python distributions give the
same numbers on every platform), rounded to a few decimals, and then shaped on purpose:

- eight values are left blank (imputed by the region's mean);
- ``secure_servers`` has two heavy outliers (SGP, ISL): Winsorising two points fixes it;
- ``ict_exports`` has a heavy tail of eight countries (40, 80 … 5120 USD per person), more than
  its two Winsorised points (``max_points: 2``) can fix, so COINr's ``log_CT`` fallback is used;
- ``broadband_price`` is a cost: lower is better.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20240630
REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania")
# code: (name, region, population)
COUNTRIES = {
    "DZA": ("Algeria", "Africa", 44_900_000), "EGY": ("Egypt", "Africa", 109_300_000),
    "ETH": ("Ethiopia", "Africa", 120_300_000), "GHA": ("Ghana", "Africa", 33_500_000),
    "KEN": ("Kenya", "Africa", 54_000_000), "MAR": ("Morocco", "Africa", 37_500_000),
    "NGA": ("Nigeria", "Africa", 218_500_000), "ZAF": ("South Africa", "Africa", 59_900_000),
    "ARG": ("Argentina", "Americas", 46_200_000), "BRA": ("Brazil", "Americas", 215_300_000),
    "CAN": ("Canada", "Americas", 38_900_000), "CHL": ("Chile", "Americas", 19_600_000),
    "COL": ("Colombia", "Americas", 51_900_000), "MEX": ("Mexico", "Americas", 127_500_000),
    "PER": ("Peru", "Americas", 34_000_000), "USA": ("United States", "Americas", 333_300_000),
    "CHN": ("China", "Asia", 1_412_000_000), "IDN": ("Indonesia", "Asia", 275_500_000),
    "IND": ("India", "Asia", 1_417_000_000), "JPN": ("Japan", "Asia", 125_100_000),
    "KOR": ("Korea", "Asia", 51_600_000), "MYS": ("Malaysia", "Asia", 33_900_000),
    "SGP": ("Singapore", "Asia", 5_640_000), "VNM": ("Viet Nam", "Asia", 98_200_000),
    "DEU": ("Germany", "Europe", 83_800_000), "DNK": ("Denmark", "Europe", 5_900_000),
    "ESP": ("Spain", "Europe", 47_800_000), "EST": ("Estonia", "Europe", 1_330_000),
    "FRA": ("France", "Europe", 68_000_000), "ISL": ("Iceland", "Europe", 382_000),
    "POL": ("Poland", "Europe", 36_800_000), "ROU": ("Romania", "Europe", 19_000_000),
    "AUS": ("Australia", "Oceania", 26_000_000), "FJI": ("Fiji", "Oceania", 930_000),
    "NZL": ("New Zealand", "Oceania", 5_120_000), "PNG": ("Papua New Guinea", "Oceania", 10_100_000),
    "SLB": ("Solomon Islands", "Oceania", 720_000), "TON": ("Tonga", "Oceania", 107_000),
    "VUT": ("Vanuatu", "Oceania", 327_000), "WSM": ("Samoa", "Oceania", 222_000),
}
LADDER = ("TON", "CAN", "USA", "KOR", "DNK", "EST", "ISL", "SGP")
COLUMNS = ("internet_users", "broadband_subs", "mobile_subs", "secure_servers", "ict_exports", "broadband_price",
           "egov_services", "open_datasets")
BLANKS = {("ETH", "internet_users"), ("PNG", "broadband_subs"), ("VNM", "mobile_subs"), ("TON", "secure_servers"),
          ("GHA", "ict_exports"), ("PER", "broadband_price"), ("SLB", "egov_services"), ("ROU", "open_datasets")}


def rows() -> list[dict[str, str]]:
    rnd = random.Random(SEED)
    out = []
    for code, (_, _, pop) in COUNTRIES.items():
        level = rnd.random()  # a country's development, 0–1
        values = {
            "internet_users": round(min(99.5, 15 + 80 * level + rnd.uniform(-8, 8)), 1),
            "broadband_subs": round(pop * (0.005 + 0.40 * level * rnd.uniform(0.6, 1.1))),
            "mobile_subs": round(pop * (0.6 + 0.8 * level + rnd.uniform(0, 0.3))),
            "secure_servers": round(pop * 1e-4 * (0.2 + level) * rnd.uniform(0.5, 1.5)),
            "ict_exports": round(pop * 1e-6 * rnd.lognormvariate(1 + 1.5 * level, 0.8), 2),
            "broadband_price": round(0.5 + 12 * (1 - level) ** 2 + rnd.uniform(0, 1.5), 2),
            "egov_services": round(min(100, 20 + 75 * level + rnd.uniform(-10, 10)), 1),
            "open_datasets": round(50 + 3000 * level ** 2 * rnd.uniform(0.5, 1.5)),
        }
        if code in ("SGP", "ISL"):  # two heavy outliers: servers per million far beyond the rest
            values["secure_servers"] = round(pop * 4e-3 * (2 if code == "SGP" else 1))
        if code in LADDER:  # a heavy tail: 40, 80, 160 … 5120 USD per person
            values["ict_exports"] = round(pop * 1e-6 * 40 * 2 ** LADDER.index(code), 2)
        out.append({"country": code, "round": "1",
                    **{c: "" if (code, c) in BLANKS else str(values[c]) for c in COLUMNS}})
    return out


def main() -> None:
    with open(HERE / "countries.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "region", "population"])
        for code, (name, region, pop) in COUNTRIES.items():
            w.writerow([code, name, region, pop])
    with open(HERE / "facts" / "panel.csv", "w", encoding="utf-8", newline="") as f:
        w2 = csv.DictWriter(f, fieldnames=["country", "round", *COLUMNS], lineterminator="\n")
        w2.writeheader()
        w2.writerows(rows())


if __name__ == "__main__":
    main()
