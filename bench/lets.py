"""Let-heavy rule sets (issue 10): how `score` grows with shared `let`s and `steps()` tables.

(a) ``tiers``: a tiered index. Leaves are the means of metric groups; each tier is the mean of
    two values of the tier below, rounded to the grid 1/T through a T-entry ``steps`` table
    (emulated rounding); D tiers deep; every tier is also a point of its own, so the same lets
    are used by many points. 120 units × 8,000 metric rows per unit by default.
(b) ``curve``: a log-normal-like curve written with nested lets (a logistic approximation of the
    normal CDF over the log of a mean) floored through a T-entry ``steps`` table, 3,000 units.

    python bench/lets.py --case tiers --thresholds 10,25,50,100 --tiers 4
    python bench/lets.py --case curve --thresholds 10,25,50,100

Each run writes the rule set and the facts under bench/data/lets/, then times
``govindex score RULES --facts FACTS --format json`` as a subprocess (wall time, peak RSS via
wait4), with a time limit per run (``--timeout``, default 120 s) and a memory limit
(``--max-mb``, default 5,000 MB resident): a run over either is killed and reported as such.
To measure another checkout, put it first on ``PYTHONPATH``. Prints a Markdown table; ``--json``
appends the rows to bench/lets-results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "lets"


def units_csv(path: Path, n: int) -> None:
    path.write_text("code,name\n" + "".join(f"U{i:05d},Unit {i}\n" for i in range(n)), encoding="utf-8")


def grid(thresholds: int) -> str:
    """A T-entry steps table that floors a rate in [0, 1] to the grid 1/T."""
    return "{" + ", ".join(f"{i / thresholds:.6g}: {i / thresholds:.6g}" for i in range(thresholds)) + "}"


def header(name: str, table: str, columns: str) -> str:
    return (f'ruleset "{name}" {{\n  units: "units.csv"\n  key: "code"\n  name_column: "name"\n'
            f'  unit_column: "unit"\n  round_column: "round"\n  rounds: {{1: "2024-06-30"}}\n'
            f'  max_total: 100\n  aggregate: mean\n  missing: zero\n  rounds_policy: latest\n}}\n\n'
            f"table {table} {{\n{columns}}}\n\n")


def tiers_rules(thresholds: int, depth: int) -> str:
    leaves = 2 ** depth
    out = [header("tiers", "metrics", "  unit: str\n  round: int\n  metric: str\n  value: float\n")]
    for i in range(leaves):
        out.append(f'let t0_{i} = mean(metrics, value, where: metric == "m{i}")\n')
    table = grid(thresholds)
    for d in range(1, depth + 1):
        for i in range(2 ** (depth - d)):
            out.append(f"let t{d}_{i} = steps((t{d - 1}_{2 * i} + t{d - 1}_{2 * i + 1}) / 2, {table})\n")
    out.append('\nindicator tiers "Tiers" {\n  aggregate: mean\n')
    for d in range(1, depth + 1):
        for i in range(2 ** (depth - d)):
            out.append(f'  point p{d}_{i} "tier {d} #{i}" {{\n    kind: technical\n    probe: t{d}_{i}\n'
                       f"    score: x\n  }}\n")
    out.append("}\n")
    return "".join(out)


def curve_rules(thresholds: int) -> str:
    out = [header("curve", "obs", "  unit: str\n  round: int\n  value: float\n")]
    out.append("let level = mean(obs, value)\n"
               "let z = (log(level) - 3) / 0.8\n"
               "let z3 = z * z * z\n"
               "let inner = 1.5976 * z + 0.070566 * z3\n"
               "let tail = 1 / (1 + inner * inner)\n"
               "let cdf = if inner >= 0 then 1 - tail / 2 else tail / 2\n"
               f"let floored = steps(cdf, {grid(thresholds)})\n\n")
    out.append('indicator curve "Curve" {\n  aggregate: mean\n'
               '  point p_cdf "cdf" {\n    kind: technical\n    probe: cdf\n    score: x\n  }\n'
               '  point p_floor "floored" {\n    kind: technical\n    probe: floored\n    score: x\n  }\n'
               '  point p_both "both" {\n    kind: technical\n    probe: (floored + cdf) / 2\n    score: x\n  }\n}\n')
    return "".join(out)


def tiers_facts(facts: Path, units: int, rows: int, depth: int, seed: int = 10) -> None:
    rng = np.random.default_rng(seed)
    n = units * rows
    df = pl.DataFrame({
        "unit": np.repeat([f"U{i:05d}" for i in range(units)], rows),
        "round": np.ones(n, dtype=np.int64),
        "metric": [f"m{i}" for i in rng.integers(0, 2 ** depth, n)],
        "value": rng.random(n),
    })
    (facts / "metrics").mkdir(parents=True, exist_ok=True)
    df.write_parquet(facts / "metrics" / "part-0.parquet")


def curve_facts(facts: Path, units: int, rows: int, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)
    n = units * rows
    df = pl.DataFrame({
        "unit": np.repeat([f"U{i:05d}" for i in range(units)], rows),
        "round": np.ones(n, dtype=np.int64),
        "value": rng.lognormal(3, 0.8, n),
    })
    (facts / "obs").mkdir(parents=True, exist_ok=True)
    df.write_parquet(facts / "obs" / "part-0.parquet")


def prepare(case: str, thresholds: int, depth: int, units: int, rows: int) -> tuple[Path, Path]:
    facts = DATA / f"{case}-facts-u{units}-r{rows}-d{depth}"
    rules = DATA / f"{case}-rules-t{thresholds}-d{depth}-u{units}"
    rules.mkdir(parents=True, exist_ok=True)
    units_csv(rules / "units.csv", units)
    text = tiers_rules(thresholds, depth) if case == "tiers" else curve_rules(thresholds)
    (rules / "index.rules").write_text(text, encoding="utf-8")
    if not facts.exists():
        (tiers_facts if case == "tiers" else curve_facts)(*(
            (facts, units, rows, depth) if case == "tiers" else (facts, units, rows)))
    return rules, facts


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


def run(cmd: list[str], timeout: float, max_mb: float = 5000) -> dict:
    """Wall time and peak RSS of one subprocess (killed after ``timeout`` s or above ``max_mb``
    of resident memory: the machine is shared)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        over = time.perf_counter() > deadline
        if over or _rss_mb(proc.pid) > max_mb:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            why = f"killed after {timeout:g} s" if over else f"killed above {max_mb:,.0f} MB"
            return {"seconds": None, "peak_mb": usage.ru_maxrss / 1024, "status": why}
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    ok = os.waitstatus_to_exitcode(status) == 0
    return {"seconds": round(wall, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "status": "ok" if ok else f"exit {os.waitstatus_to_exitcode(status)}: {err.strip()[-300:]}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=["tiers", "curve"], required=True)
    ap.add_argument("--thresholds", default="10,25,50,100")
    ap.add_argument("--tiers", type=int, default=4, help="tiers deep (case tiers)")
    ap.add_argument("--units", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None, help="fact rows per unit")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--max-mb", type=float, default=5000, help="kill a run above this resident memory")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    units = a.units or (120 if a.case == "tiers" else 3000)
    rows = a.rows or (8000 if a.case == "tiers" else 20)
    exe = str(Path(sys.executable).with_name("govindex"))
    print("| case | thresholds | tiers | units | rows/unit | score s | peak MB | status |\n"
          "|---|---:|---:|---:|---:|---:|---:|---|")
    for t in [int(x) for x in a.thresholds.split(",")]:
        rules, facts = prepare(a.case, t, a.tiers, units, rows)
        r = run([exe, "score", str(rules), "--facts", str(facts), "--format", "json"], a.timeout, a.max_mb)
        row = {"case": a.case, "thresholds": t, "tiers": a.tiers if a.case == "tiers" else None, "units": units,
               "rows_per_unit": rows, **r, "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(f"| {a.case} | {t} | {row['tiers'] or ''} | {units} | {rows} | {r['seconds'] if r['seconds'] is not None else '—'} "
              f"| {r['peak_mb']:,.0f} | {r['status']} |", flush=True)
        if a.json:
            with (HERE / "lets-results.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
