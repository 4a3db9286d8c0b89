"""Generate the example facts of the country index, deterministically.

    python examples/country-index/make_facts.py      # rewrites facts/answers.csv and facts/stats.csv

Figures are plausible, not real: internet users and fixed broadband are hand-entered from
rounded ITU-style magnitudes; everything else is derived from a hand-assigned "maturity"
(roughly a country's e-government development, 0–1) plus a hash-based jitter, so the files
are identical on every run and every Python version (no ``random``).

Gaps are planted on purpose so the missing-data policies are exercised:

- ETH answered no survey question (no rows in answers.csv);
- TUR left ``eid_mobile`` blank                     (point with ``missing: exclude``);
- BRA left ``open_licence`` blank                   (point with ``missing: null``);
- NGA has no row at all for ``foi_online``          (absent row = not surveyed);
- VNM left ``le_moving`` blank and has no ``services_fully_online_pct``;
- IND has no ``broadband_per_100``; RWA has no ``portal_updated``.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent
ROUND = 1
ASOF = date(2024, 6, 30)

# code: (maturity, internet users %, fixed broadband subscriptions per 100 people)
COUNTRIES: dict[str, tuple[float, float, float]] = {
    "ARE": (0.90, 100.0, 37.0), "AUS": (0.93, 96.0, 35.0), "BRA": (0.78, 81.0, 18.0),
    "CHL": (0.82, 90.0, 22.0), "CHN": (0.80, 76.0, 40.0), "DEU": (0.85, 92.0, 44.0),
    "DNK": (0.98, 99.0, 44.0), "EST": (0.96, 91.0, 36.0), "ETH": (0.30, 17.0, 0.2),
    "FIN": (0.94, 93.0, 34.0), "FRA": (0.86, 85.0, 47.0), "GBR": (0.92, 97.0, 41.0),
    "IDN": (0.68, 66.0, 5.0), "IND": (0.58, 46.0, 2.5), "JPN": (0.87, 83.0, 36.0),
    "KEN": (0.53, 29.0, 1.5), "KOR": (0.97, 97.0, 45.0), "MAR": (0.58, 88.0, 7.0),
    "NGA": (0.40, 55.0, 0.1), "NLD": (0.92, 93.0, 43.0), "NZL": (0.90, 96.0, 37.0),
    "POL": (0.81, 87.0, 23.0), "RWA": (0.48, 30.0, 0.2), "SAU": (0.88, 99.0, 26.0),
    "SGP": (0.95, 96.0, 26.0), "TUR": (0.80, 83.0, 21.0), "URY": (0.83, 90.0, 32.0),
    "USA": (0.89, 92.0, 38.0), "VNM": (0.62, 79.0, 21.0), "ZAF": (0.65, 72.0, 3.0),
}

# question: difficulty — answered "yes" when maturity + jitter clears it.
QUESTIONS: dict[str, float] = {
    "eid_national": 0.45, "eid_mobile": 0.88, "esignature": 0.65,
    "one_stop_portal": 0.55,
    "mobile_friendly": 0.65, "user_feedback": 0.80,
    "le_birth": 0.75, "le_business": 0.60, "le_moving": 0.92, "le_tax": 0.55, "le_job": 0.82,
    "base_registries": 0.72, "once_only_law": 0.90, "interop_framework": 0.68,
    "open_portal": 0.50, "open_licence": 0.80,
    "e_consultation": 0.75, "open_budget": 0.65, "foi_online": 0.78,
}

NO_SURVEY = {"ETH"}
BLANK_ANSWERS = {("TUR", "eid_mobile"), ("BRA", "open_licence"), ("VNM", "le_moving")}
ABSENT_ANSWERS = {("NGA", "foi_online")}
# Hand corrections where the jitter contradicts a well-known fact (Kenya's eCitizen ID login).
OVERRIDES = {("KEN", "eid_national"): True}
BLANK_STATS = {("IND", "broadband_per_100"), ("VNM", "services_fully_online_pct"), ("RWA", "portal_updated")}


def jitter(*key: str) -> float:
    """A stable pseudo-random number in [0, 1)."""
    h = hashlib.sha256(":".join(key).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def answers() -> list[dict[str, object]]:
    rows = []
    for code, (m, _, _) in sorted(COUNTRIES.items()):
        if code in NO_SURVEY:
            continue
        for q, difficulty in QUESTIONS.items():
            if (code, q) in ABSENT_ANSWERS:
                continue
            yes = OVERRIDES.get((code, q), m + 0.3 * (jitter(code, q) - 0.5) >= difficulty)
            answer = "" if (code, q) in BLANK_ANSWERS else ("yes" if yes else "no")
            rows.append({"country": code, "round": ROUND, "question": q, "answer": answer})
    return rows


def stats() -> list[dict[str, object]]:
    rows = []
    for code, (m, users, broadband) in sorted(COUNTRIES.items()):

        def j(key: str, code: str = code) -> float:
            return jitter(code, key)

        row: dict[str, object] = {
            "country": code,
            "round": ROUND,
            "internet_users_pct": f"{users:.1f}",
            "broadband_per_100": f"{broadband:.1f}",
            "mobile_broadband_per_100": f"{20 + 110 * m + 30 * (j('mbb') - 0.5):.1f}",
            "online_services_count": str(round(25 * 2.718281828 ** (3.6 * m) * (0.8 + 0.4 * j("svc")))),
            "services_fully_online_pct": f"{min(99.0, max(3.0, 100 * m ** 1.5 + 12 * (j('full') - 0.5))):.1f}",
            "open_datasets": str(round(2.718281828 ** (3 + 8 * m) * (0.6 + 0.8 * j("data")))),
            "portal_languages": str(1 + int(3.2 * m * j("lang") + (0.8 if m > 0.85 else 0))),
            "portal_updated": (ASOF - timedelta(days=1 + int(300 * (1 - m) * j("upd")))).isoformat(),
        }
        for c, col in BLANK_STATS:
            if c == code:
                row[col] = ""
        rows.append(row)
    return rows


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    write(HERE / "facts" / "answers.csv", answers())
    write(HERE / "facts" / "stats.csv", stats())
