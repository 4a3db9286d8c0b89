"""Where `govindex score --format json` spends its time on many units: one line per stage, in-process.

python bench/stages_time.py RULES FACTS   (prints seconds per stage; see bench/README.md, issue 11)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from govindex.check.run import load
from govindex.eval import evaluate as ev
from govindex.eval.explain import load_sources
from govindex.results import strict_json, to_json


def main(rules: str, facts: str) -> None:
    timings: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    for name in ("_collect_tables", "_probe_frame", "_rates", "_combine_rounds", "_tree", "exact_means", "with_exact_sums"):
        if hasattr(ev, name):
            setattr(ev, name, timed(name, getattr(ev, name)))
    t = time.perf_counter()
    rs = load(Path(rules))
    timings["load + check"] = time.perf_counter() - t
    sources = load_sources(rs, Path(facts))
    t = time.perf_counter()
    sc = ev.evaluate(rs, sources, None)
    timings["evaluate (whole)"] = time.perf_counter() - t
    t = time.perf_counter()
    doc = to_json(sc)
    timings["to_json"] = time.perf_counter() - t
    t = time.perf_counter()
    strict_json(doc)
    timings["strict_json"] = time.perf_counter() - t
    for k, v in timings.items():
        print(f"{k:24s} {v:8.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
