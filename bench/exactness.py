"""Issue 11: what exactness costs. ``govindex score --format json`` of one rule set and facts by
several checkouts, runs alternated, best and median of N, wall and CPU time (user + system of the
child, ``os.wait4``), peak RSS; output of every checkout byte-compared with the first's.

python bench/exactness.py RULES FACTS --repeat 2 NAME=PYTHON[:PYTHONPATH] ...
(e.g. ``base=/tmp/perf-base/.venv/bin/python new=.venv/bin/python``); see bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import time


def run(python: str, path: str | None, rules: str, facts: str) -> tuple[float, float, int, str]:
    env = dict(os.environ, **({"PYTHONPATH": path} if path else {}))
    # Run from a neutral directory: `python -m` puts the working directory first on sys.path, which
    # would import the govindex of the checkout we stand in rather than the one named.
    t = time.perf_counter()
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen([python, "-m", "govindex.cli", "score", rules, "--facts", facts, "--format", "json"],
                                env=env, stdout=subprocess.PIPE, stderr=null, cwd="/")
        out = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{python} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, hashlib.sha256(out).hexdigest()[:12]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rules")
    ap.add_argument("facts")
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    a.rules, a.facts = os.path.abspath(a.rules), os.path.abspath(a.facts)
    a.checkouts = [c if "=" not in c else c.split("=", 1)[0] + "=" + ":".join(os.path.abspath(x) if "/" in x else x
                   for x in c.split("=", 1)[1].split(":")) for c in a.checkouts]
    tries: dict[str, list[tuple[float, float, int, str]]] = {}
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    for _ in range(a.repeat):
        for spec in a.checkouts:
            name, _, rest = spec.partition("=")
            python, _, path = rest.partition(":")
            tries.setdefault(name, []).append(run(python, path or None, a.rules, a.facts))
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    first = None
    for name, rs in tries.items():
        walls, cpus = [r[0] for r in rs], [r[1] for r in rs]
        digest = rs[0][3]
        first = first or digest
        print(f"{name:6s} wall best {min(walls):7.2f} median {statistics.median(walls):7.2f}  "
              f"cpu best {min(cpus):7.2f} median {statistics.median(cpus):7.2f}  peak {max(r[2] for r in rs):6d} MB  "
              f"json {digest} {'same' if digest == first else 'DIFFERS'}")


if __name__ == "__main__":
    main()
