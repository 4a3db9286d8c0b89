"""Benchmark of collection: crawl the synthetic government web on loopback and extract.

    .venv/bin/python bench/collect.py --units 80 --out /tmp/bench-collect

Serves the synthetic web in this process's background thread, crawls every channel of one round
with politeness delay 0 and the default per-host concurrency (1), then extracts the round from
the WARC archive. Prints pages/s, peak memory (RSS of this process: crawler + server), and
extraction time per page, and appends a JSON line to bench/collect-results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govindex.check.run import load  # noqa: E402
from govindex.collect.channels import load_channels  # noqa: E402
from govindex.collect.crawl import CrawlConfig, crawl_sync  # noqa: E402
from govindex.collect.fetch import FetchConfig  # noqa: E402
from govindex.collect.pipeline import extract_round  # noqa: E402
from govindex.synth.web import (
    generate,  # noqa: E402
    serve,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=80, help="units in the synthetic web (80 ≈ 24,000 pages)")
    ap.add_argument("--per-host", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-collect"))
    ap.add_argument("--rules", type=Path, default=Path("rules/2019"))
    args = ap.parse_args()
    rs = load(args.rules)
    args.out.mkdir(parents=True, exist_ok=True)
    registry = [{"code": u.code, "name": u.name, **u.attrs} for u in rs.units]
    web = generate(registry, seed=2019, n_units=args.units, traps="none")
    with serve(web) as server:
        chans = load_channels(server.write_channels(args.out / "channels.csv"), units={u.code for u in rs.units})
        config = CrawlConfig(allow_loopback=True, delay=0.0, per_host=args.per_host, concurrency=args.concurrency,
                             fetch=FetchConfig(deadline=10.0))
        t0 = time.perf_counter()
        summary = crawl_sync(chans, 1, args.out / "facts", config)
        crawl_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = extract_round(rs, 1, args.out / "facts")
    extract_s = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"units": args.units, "sites": summary.sites, "pages": summary.fetched_now, "crawl_s": round(crawl_s, 1),
           "pages_per_s": round(summary.fetched_now / crawl_s, 1), "peak_rss_mb": round(peak_mb),
           "extract_s": round(extract_s, 1), "extract_ms_per_page": round(1000 * extract_s / max(1, report.pages), 3),
           "per_host": args.per_host, "concurrency": args.concurrency, "cpus": os.cpu_count(),
           "load_avg": os.getloadavg()[0]}
    print(json.dumps(row))
    with open(Path(__file__).with_name("collect-results.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
