"""``python -m govindex.synth.web serve --units N --seed S --dir DIR``: generate and serve a web by hand.

Writes DIR/web.json, DIR/ground_truth.json and DIR/channels.csv (with the bound port) and serves
until interrupted. ``generate`` only writes the files, with ``{port}`` left in the URLs.
"""

from __future__ import annotations

import argparse
import sys
import time

from govindex.synth.web.server import serve
from govindex.synth.web.web import TRAP_MODES, generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m govindex.synth.web", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("serve", "generate"):
        c = sub.add_parser(name)
        c.add_argument("--units", type=int, default=None, help="number of units (default: all 334)")
        c.add_argument("--seed", type=int, default=2019)
        c.add_argument("--dir", required=True, help="where to write web.json, ground_truth.json, channels.csv")
        c.add_argument("--registry", default=None, help="units CSV (default rules/2019/units.csv)")
        c.add_argument("--traps", choices=TRAP_MODES, default="sampled")
        if name == "serve":
            c.add_argument("--host", default="127.0.0.1")
            c.add_argument("--port", type=int, default=0)
            c.add_argument("--slow-seconds", type=float, default=30.0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    web = generate(args.registry, seed=args.seed, n_units=args.units, traps=args.traps)
    pages = sum(web.page_counts().values())
    print(f"generated {len(web.units)} units, {pages} pages in {time.perf_counter() - t0:.1f}s", flush=True)
    if args.command == "generate":
        web.write(args.dir)
        print(f"wrote {args.dir}/web.json and ground_truth.json")
        return 0
    server = serve(web, args.host, args.port, slow_seconds=args.slow_seconds)
    server.write(args.dir)
    print(f"serving {len(web.by_host)} sites on port {server.port}; hub {server.hub}", flush=True)
    print(f"channels: {args.dir}/channels.csv  ground truth: {args.dir}/ground_truth.json", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
