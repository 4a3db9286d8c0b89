"""How `govindex check` scales with the size of a rule set: N unused `let`s (each one a W501
warning) added to the mini rule set, timed in-process — parse, then the checks — and through the
command line (which renders every warning). Linear means the time per let stays flat as N grows.

    python bench/check_lets.py [--sizes 25000,50000,100000,250000] [--cli]   # prints JSON lines

Issue 9 reported 250,000 unused lets taking more than 150 s (quadratic: each W501 was located
by scanning every item).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govindex.check.run import check  # noqa: E402
from govindex.lang.parse import parse_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "mini"


def rule_set(n: int, where: Path) -> Path:
    """The mini rule set plus ``n`` unused lets in a file of their own."""
    d = where / f"lets-{n}"
    shutil.copytree(MINI, d)
    (d / "lets.rules").write_text("".join(f"let v{i} = {i}\n" for i in range(n)), encoding="utf-8")
    return d


def measure(n: int, where: Path, cli: bool) -> dict:
    d = rule_set(n, where)
    t0 = time.perf_counter()
    parse_dir(d)
    t1 = time.perf_counter()
    _, diags = check(d)
    t2 = time.perf_counter()
    row = {"lets": n, "parse_s": round(t1 - t0, 2), "check_s": round(t2 - t1, 2),
           "checks_beyond_parse_s": round((t2 - t1) - (t1 - t0), 2),
           "us_per_let": round((t2 - t1) / n * 1e6, 1), "warnings": sum(x.code == "W501" for x in diags)}
    if cli:
        t3 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "govindex.cli", "check", str(d)], capture_output=True, check=True)
        row["cli_s"] = round(time.perf_counter() - t3, 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25000,50000,100000,250000")
    ap.add_argument("--cli", action="store_true", help="also time `govindex check` as a command")
    args = ap.parse_args()
    where = Path(tempfile.mkdtemp(prefix="govindex-bench-lets-"))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            print(json.dumps(measure(n, where, args.cli)), flush=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
