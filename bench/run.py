"""The scale benchmark of issue 6, reproducible from a clean clone.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/run.py --sizes 3e6,10e6,30e6 --data bench/data

For each size N (page rows in one round): generate synthetic facts with ``govindex bench
generate`` (cached per size under ``--data``: regenerated only when the size, seed, shards or
generator version differ), then, each command a fresh subprocess whose wall time and peak RSS
(``os.wait4``: the child's ``ru_maxrss``) are measured, interleaved ``--repeat`` times:

- ``govindex score RULES --facts DIR --format json > /dev/null``;
- the scan floor (``bench/queries.py floor``): the same columns read, one group_by per table;
- the same aggregates as one DuckDB query (``bench/queries.py duckdb``; ``--duckdb-repeat``);

plus ``govindex --help`` and ``govindex check RULES`` start-up, check + compile in-process, and
the per-stage profile of ``score`` (``bench/breakdown.py``) at the largest size. Raw timings go to
``bench/results.json``; the tables between the markers in ``bench/README.md`` are rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


# ----------------------------------------------------------------------------- measuring


def measure(cmd: list[str], capture: bool = False) -> dict:
    """Run ``cmd``; wall seconds, the child's peak RSS in MB, the load average before, and its
    stdout when ``capture`` (otherwise discarded, like ``> /dev/null``)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out if capture else subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{errors[-3000:]}")
    res = {"wall": round(wall, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1), "load": round(load, 2)}
    if capture:
        res["stdout"] = text
    return res


def summary(runs: list[dict], key: str = "wall") -> dict:
    vals = [r[key] for r in runs]
    return {"best": min(vals), "median": round(statistics.median(vals), 3), "n": len(vals),
            "peak_mb": max(r["peak_mb"] for r in runs)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    versions = {}
    for mod in ("polars", "duckdb", "numpy", "pyarrow"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {"nproc": os.cpu_count(), "memory_gb": round(mem / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version(), **versions, "kernel": platform.release()}


# ----------------------------------------------------------------------------- steps


def facts_for(n: int, data: Path, args) -> tuple[Path, dict]:
    """The facts directory for ``n`` pages, generated unless an identical one is cached."""
    from govindex.synth.bench import VERSION

    where = data / f"pages-{n}"
    manifest = where / "_bench.json"
    if manifest.exists():
        have = json.loads(manifest.read_text())
        key = (have["generator"], have["seed"], have["shards"], have["rounds"], have["rows"].get("pages", {}).get("1"))
        if key == (VERSION, args.seed, args.shards, [1], n):
            return where, {"cached": True, "seconds": have["seconds"], "peak_mb": have.get("peak_rss_mb"),
                           "rows": have["rows"]}
    print(f"generating {n:,} pages into {where} …", flush=True)
    run = measure([str(BIN / "govindex"), "bench", "generate", "--pages", str(n), "--units-from", args.rules,
                   "--shards", str(args.shards), "--seed", str(args.seed), "--out", str(where)])
    have = json.loads(manifest.read_text())
    return where, {"cached": False, **run, "rows": have["rows"]}


def _py(script: str, *a: str) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / script), *a]


def bench_size(n: int, facts: Path, args) -> dict:
    score_cmd = [str(BIN / "govindex"), "score", args.rules, "--facts", str(facts), "--format", "json"]
    runs: dict[str, list] = {"score": [], "floor": [], "duckdb": []}
    for i in range(args.repeat):
        print(f"  {n:,} pages, run {i + 1}/{args.repeat}", flush=True)
        runs["score"].append(measure(score_cmd))
        r = measure(_py("queries.py", "floor", args.rules, str(facts)), capture=True)
        runs["floor"].append({**r, "query": json.loads(r.pop("stdout"))["seconds"]})
        if not args.skip_duckdb and i < args.duckdb_repeat:
            r = measure(_py("queries.py", "duckdb", args.rules, str(facts)), capture=True)
            runs["duckdb"].append({**r, "query": json.loads(r.pop("stdout"))["seconds"]})
    out = {"runs": runs, "score": summary(runs["score"]), "floor": summary(runs["floor"]),
           "floor_query": summary(runs["floor"], "query")}
    if runs["duckdb"]:
        out["duckdb"], out["duckdb_query"] = summary(runs["duckdb"]), summary(runs["duckdb"], "query")
    out["size_mb"] = round(sum(p.stat().st_size for p in facts.rglob("*.parquet")) / 1e6, 1)
    return out


def startup(args) -> dict:
    helps = [measure([str(BIN / "govindex"), "--help"]) for _ in range(5)]
    checks = [measure([str(BIN / "govindex"), "check", args.rules]) for _ in range(3)]
    code = ("import json, time; t0 = time.perf_counter(); from govindex.check.run import load; "
            "from govindex.eval.compile import compile_rules; t1 = time.perf_counter(); from pathlib import Path; "
            f"rs = load(Path({args.rules!r})); compile_rules(rs); t2 = time.perf_counter(); warm = []\n"
            "for _ in range(5):\n t = time.perf_counter(); compile_rules(load(Path(" + repr(args.rules) + "))); "
            "warm.append(time.perf_counter() - t)\n"
            "print(json.dumps({'imports': t1 - t0, 'first': t2 - t1, 'warm_best': min(warm), "
            "'warm_median': sorted(warm)[2]}))")
    cc = json.loads(measure([sys.executable, "-c", code], capture=True)["stdout"])
    return {"help": summary(helps), "check_cli": summary(checks), "check_compile": {k: round(v, 3) for k, v in cc.items()}}


# ----------------------------------------------------------------------------- report


def _s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _target(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(res: dict) -> str:
    m, sizes = res["machine"], res["sizes"]
    lines = [f"Measured {res['date']} on {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, "
             f"Python {m['python']}, polars {m['polars']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}; "
             f"load average at start {res['load_start']:.2f}, at end {res['load_end']:.2f} "
             f"(other sessions share the machine). Times in seconds, memory = peak RSS in MB; "
             f"score / floor / DuckDB are whole processes (start-up included), best / median of "
             f"{res['args']['repeat']} (DuckDB: {res['args']['duckdb_repeat']}); “query” = in-process time of "
             f"the query alone.", "",
             "| pages / round | rows, all tables | parquet MB | generate s (peak MB) | score best / median | score peak MB "
             "| scan floor best / median (query) | score ÷ floor | DuckDB best (query) | DuckDB peak MB | score ÷ DuckDB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, r in sizes.items():
        g = r["generate"]
        rows = sum(sum(v.values()) for v in g["rows"].values())
        gen = _s(g["seconds"] if g.get("cached") else g["wall"]) + (f" ({g['peak_mb']:,.0f})" if g.get("peak_mb") else "")
        sc, fl, fq = r["score"], r["floor"], r["floor_query"]
        dd = r.get("duckdb")
        lines.append(
            f"| {int(n):,} | {rows:,} | {r['size_mb']:,.0f} | {gen}{' (cached)' if g.get('cached') else ''} "
            f"| {_s(sc['best'])} / {_s(sc['median'])} | {sc['peak_mb']:,.0f} | {_s(fl['best'])} / {_s(fl['median'])} "
            f"({_s(fq['best'])}) | {sc['best'] / fl['best']:.1f}× "
            + (f"| {_s(dd['best'])} ({_s(r['duckdb_query']['best'])}) | {dd['peak_mb']:,.0f} | {sc['best'] / dd['best']:.2f}× |"
               if dd else "| — | — | — |"))
    lines += ["", *render_targets(res), "", *render_profile(res)]
    return "\n".join(lines)


def render_targets(res: dict) -> list[str]:
    sizes, st = res["sizes"], res["startup"]
    keys = sorted(sizes, key=int)
    big, small = sizes[keys[-1]], sizes[keys[0]]
    sc = big["score"]["best"]
    cc = st["check_compile"]
    out = ["| target (issue 6) | measured | |", "|---|---|---|",
           f"| score at {int(keys[-1]):,} within 2× the scan floor | {sc / big['floor']['best']:.1f}× "
           f"({_s(sc)} s vs {_s(big['floor']['best'])} s) | {_target(sc <= 2 * big['floor']['best'])} |"]
    if "duckdb" in big:
        out.append(f"| no slower than DuckDB | {_s(sc)} s vs {_s(big['duckdb']['best'])} s | "
                   f"{_target(sc <= big['duckdb']['best'])} |")
    out.append(f"| peak memory < 2 GB | {big['score']['peak_mb']:,.0f} MB | {_target(big['score']['peak_mb'] < 2048)} |")
    if len(keys) > 1:
        ratio = sc / small["score"]["best"]
        factor = int(keys[-1]) / int(keys[0])
        out.append(f"| {int(keys[-1]):,} ≤ {factor * 11 / 10:.0f}× the time of {int(keys[0]):,} | {ratio:.1f}× "
                   f"| {_target(ratio <= factor * 1.1)} |")
    out.append(f"| check + compile < 0.5 s (in-process, warm) | {cc['warm_best']:.3f} s (first call after imports "
               f"{cc['first']:.3f} s; imports {cc['imports']:.3f} s) | {_target(cc['warm_best'] < 0.5)} |")
    out.append(f"| `govindex --help` < 0.5 s | {st['help']['best']:.3f} s (median {st['help']['median']:.3f}) "
               f"| {_target(st['help']['best'] < 0.5)} |")
    out.append(f"| (`govindex check rules/2019`, whole process) | {st['check_cli']['best']:.3f} s | |")
    return out


def render_profile(res: dict) -> list[str]:
    p = res.get("profile")
    if not p:
        return []
    t = p["ladder_table"]
    size = p["plan_size"][t]
    out = [f"Profile of `score` at {int(p['size']):,} pages (in-process, best of {p['repeat']}, "
           f"{p.get('date', res['date'])}, load average {p.get('load', 0):.2f}; `bench/breakdown.py`):", "",
           "| stage | seconds |", "|---|---:|",
           f"| imports (govindex.check.run, govindex.eval.compile) | {p['import_engine']:.2f} |",
           f"| check + compile | {p['check_compile']:.2f} |"]
    out += [f"| table query `{name}` alone | {s:.2f} |" for name, s in p["tables"].items()]
    out += [f"| all table queries together (`collect_all`) | {p['tables_together']:.2f} |",
            f"| `evaluate()` whole | {p['evaluate']:.2f} |",
            f"| rates, rounds and tree alone (on 334 × rounds rows) | {p['after_collect']:.2f} |", "",
            f"The `{t}` query built up step by step ({size['aggregations']} aggregations, "
            f"{size['row_columns']} row columns, {size['bit_words']} marker bit words):",
            "", "| step | seconds |", "|---|---:|"]
    out += [f"| {k.strip()} | {v:.2f} |" for k, v in p["ladder"].items()]
    return out


def write_readme(res: dict, readme: Path) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else f"# Benchmark\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{render(res)}\n{END}{tail}", encoding="utf-8")


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="3e6,10e6,30e6", help="page rows per round, comma-separated")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data", help="cache of generated facts")
    ap.add_argument("--rules", default="rules/2019")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duckdb-repeat", type=int, default=1)
    ap.add_argument("--skip-duckdb", action="store_true")
    ap.add_argument("--profile-repeat", type=int, default=2, help="0 skips the profile")
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    ap.add_argument("--readme", type=Path, default=ROOT / "bench" / "README.md")
    ap.add_argument("--profile-only", action="store_true",
                    help="keep the timings in --results, redo only the profile (after an engine change)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.profile_only:
        res = json.loads(args.results.read_text(encoding="utf-8"))
        res["profile"] = profile(args, max(int(n) for n in res["sizes"]))
        return finish(res, args)
    res: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                 "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                 "load_start": os.getloadavg()[0], "startup": startup(args), "sizes": {}}
    print(json.dumps(res["startup"]), flush=True)
    for n in sizes:
        facts, gen = facts_for(n, args.data, args)
        res["sizes"][str(n)] = {"generate": gen, **bench_size(n, facts, args)}
        r = res["sizes"][str(n)]
        print(f"  score {r['score']['best']:.2f} s, floor {r['floor']['best']:.2f} s"
              + (f", duckdb {r['duckdb']['best']:.2f} s" if "duckdb" in r else ""), flush=True)
    if args.profile_repeat:
        res["profile"] = profile(args, sizes[-1])
    res["load_end"] = os.getloadavg()[0]
    return finish(res, args)


def profile(args, n: int) -> dict:
    run = measure(_py("breakdown.py", args.rules, str(args.data / f"pages-{n}"), "--repeat", str(args.profile_repeat)),
                  capture=True)
    return {"size": n, "repeat": args.profile_repeat, "peak_mb": run["peak_mb"], "load": run["load"],
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), **json.loads(run["stdout"])}


def finish(res: dict, args) -> int:
    args.results.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_readme(res, args.readme)
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
