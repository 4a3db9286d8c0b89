"""``govindex bench``: synthetic facts at scale for benchmarks (the benchmark itself is bench/run.py)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from govindex.cli.base import _run, app, out

bench_app = typer.Typer(no_args_is_help=True, help="Benchmark helpers: synthetic facts at scale.")
app.add_typer(bench_app, name="bench")

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}


def parse_count(text: str, option: str) -> int:
    """A row count as people write it: ``30000000``, ``30_000_000``, ``3e7``, ``30M``, ``1.5k``."""
    from govindex.diagnostics import UsageError

    m = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmg]?)\s*", text.lower())
    if m is None:
        raise UsageError(f"{option}: expected a count such as 30000000, 3e7 or 30M, got {text!r}")
    return int(round(float(m.group(1).replace("_", "")) * _SUFFIX[m.group(2)]))


@bench_app.command("generate")
def generate(pages: str = typer.Option(..., "--pages", help="Rows of `pages` per round (e.g. 30M, 3e7)."),
             posts: str = typer.Option(None, "--posts", help="Rows of `posts` per round (default: pages / 30)."),
             search: str = typer.Option(None, "--search", help="Rows of `search` per round (default: pages / 60)."),
             rows: list[str] = typer.Option([], "--rows", help="TABLE=N for any other table (repeatable) "
                                            "(default: 30 per unit, or pages / 300 if more)."),
             units_from: Path = typer.Option(Path("rules/2019"), "--units-from",
                                             help="Rule set whose units, tables and probes shape the facts."),
             rounds: int = typer.Option(1, "--rounds", help="Rounds to generate (the rule set's first R)."),
             shards: int = typer.Option(8, "--shards", help="Files per table and round; a unit never spans two."),
             seed: int = typer.Option(2019, "--seed"),
             out_dir: Path = typer.Option(..., "--out", help="Facts directory to write (replaced atomically).")) -> None:
    """Synthetic facts at scale, laid out like real facts: OUT/<table>/round=R/part-SSS.parquet."""
    def go():
        import resource
        import time

        from govindex.check.run import load
        from govindex.cli.outputs import out_dir as checked_dir
        from govindex.diagnostics import UsageError
        from govindex.synth.bench import bench_owned
        from govindex.synth.bench import generate as run_generate

        # Before the work: OUT is replaced whole, so an existing one must be bench facts.
        target = checked_dir(out_dir, replace=True, owned=bench_owned(out_dir))
        rs = load(units_from)
        n_pages = parse_count(pages, "--pages")
        counts = {"pages": n_pages,
                  "posts": parse_count(posts, "--posts") if posts else n_pages // 30,
                  "search": parse_count(search, "--search") if search else n_pages // 60}
        for item in rows:
            table, _, n = item.partition("=")
            if table not in rs.tables or not n:
                raise UsageError(f"--rows: expected TABLE=N with a table of the rule set "
                                 f"({', '.join(rs.tables)}), got {item!r}")
            counts[table] = parse_count(n, "--rows")
        if "pages" not in rs.tables:
            raise UsageError(f"{units_from} declares no table `pages` (--pages sets its rows); "
                             f"tables: {', '.join(rs.tables)}")
        t0 = time.perf_counter()
        manifest = run_generate(rs, target, {t: k for t, k in counts.items() if t in rs.tables},
                                default_rows=max(30 * len(rs.units), n_pages // 300), rounds=rounds,
                                shards=shards, seed=seed,
                                progress=lambda t, r, k: out.print(f"  {t:<14} round {r}  {k:>12,} rows"))
        took = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in target.rglob("*.parquet"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        total = sum(k for per in manifest["rows"].values() for k in per.values())
        out.print(f"wrote {target}: {total:,} rows, {size / 1e6:,.0f} MB in {took:.1f} s "
                  f"({total / took / 1e6:.2f} M rows/s), peak RSS {peak:,.0f} MB")
    _run(go)
