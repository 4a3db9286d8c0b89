"""Where `govindex score` spends its time, in-process (polars 2 has no ``LazyFrame.profile()``, so
the pipeline is timed stage by stage and the largest table's query is rebuilt step by step):

- ``check_compile``: ``govindex.check.run.load`` + ``govindex.eval.compile.compile_rules``;
- ``tables``: each table's ``group_by(unit, round).agg(...)`` collected alone (streaming);
- ``evaluate``: the whole ``govindex.eval.evaluate.evaluate`` (all tables collected together, then
  rates, rounds and the tree); ``after_collect``: rates, rounds and tree alone (on 334 × rounds);
- ``ladder`` for the largest table, each step collected on the streaming engine:
  1. scan floor: read the columns, ``len()`` + a ``null_count()`` per column;
  2. + the round filter, validity and marker bit words (``plan.prep_exprs``), summed;
  3. + every row column (``plan.row_exprs``), each aggregated by a plain sum/max;
  4. the engine's aggregations (``plan.agg_exprs``) instead: the engine's query;
  then each kind of row column alone on top of step 2 (its extra seconds). Every step decodes
  every column the rules read, so differences are computation, not reading.

    python bench/breakdown.py RULES FACTS [--table pages] [--repeat 2]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


def _cheap(name: str, dtype) -> object:
    import polars as pl

    if dtype == pl.Boolean or dtype.is_numeric():
        return pl.col(name).cast(pl.Float64).sum()
    return pl.col(name).max()


def ladder(rs, plan, sources, table: str, round_ids: list[int], repeat: int) -> dict:
    """The largest table's query rebuilt step by step (see the module docstring). Every step
    also decodes every column the rules read (the floor's ``null_count``s), so that a step's
    extra time is computation, not reading."""
    import polars as pl

    from govindex.synth.bench import harvest

    keys = [rs.unit_column] + ([rs.round_column] if rs.table_has_round(table) else [])
    lf = sources[table]
    read = [pl.col(c).null_count().alias(f"read:{c}") for c in sorted(harvest(rs).columns[table]) if c not in keys]
    steps = {"1 scan floor": lf.group_by(keys).agg(pl.len(), *read)}
    if rs.table_has_round(table):
        lf = lf.filter(pl.col(rs.round_column).is_in(round_ids))
    prepped = lf.with_columns(plan.prep_exprs(table))
    prep = [pl.col(c).cast(pl.Int64).sum() for c in prepped.collect_schema().names()[len(lf.collect_schema().names()):]]
    steps["2 + validity, marker bit words"] = prepped.group_by(keys).agg(pl.len(), *read, *prep)
    rows = prepped.with_columns(plan.row_exprs.get(table, []))
    sch = rows.collect_schema()
    cols = [c for c in sch.names() if c.startswith("c:")]
    steps[f"3 + the {len(cols)} row columns, a plain sum/max each"] = rows.group_by(keys).agg(
        pl.len(), *read, *prep, *[_cheap(c, sch[c]) for c in cols])
    steps[f"4 the engine's query: its {len(plan.agg_exprs[table])} aggregations instead"] = rows.group_by(keys).agg(
        *read, *prep, *plan.agg_exprs[table])
    out = {name: _best(lambda q=q: q.collect(engine="streaming"), repeat) for name, q in steps.items()}
    # Row columns by kind (the compiler's keys: cond, value, ratio, words, or-word, entry …),
    # each kind alone on top of step 2: which kind of row column costs what.
    by_kind: dict[str, list] = {}
    for key, alias in plan.row_cols.get(table, {}).items():
        by_kind.setdefault(key[0], []).append(plan.row_raw[table][key].alias(alias))
    base = out["2 + validity, marker bit words"]
    for kind, exprs in by_kind.items():
        wide = prepped.with_columns(exprs)
        sch = wide.collect_schema()
        q = wide.group_by(keys).agg(pl.len(), *read, *prep, *[_cheap(e.meta.output_name(), sch[e.meta.output_name()])
                                                               for e in exprs])
        extra = _best(lambda q=q: q.collect(engine="streaming"), repeat) - base
        out[f"  row columns `{kind}` ({len(exprs)}) alone: extra over step 2"] = round(extra, 3)
    return out


def _after_collect(rs, plan, sources, round_ids: list[int], repeat: int) -> float:
    """Rates, rounds and the tree (``evaluate`` after its table queries), timed on their own."""
    from govindex.eval import evaluate as ev

    frame = ev._probe_frame(rs, plan, sources, round_ids, None)
    return _best(lambda: ev._tree(rs, ev._combine_rounds(rs, ev._rates(rs, plan, frame))), repeat)


def profile(rules: Path, facts: Path, table: str | None = None, repeat: int = 2) -> dict:
    t0 = time.perf_counter()
    from govindex.check.run import load
    from govindex.eval.compile import compile_rules
    imported = time.perf_counter() - t0

    import polars as pl

    from govindex.eval.evaluate import _table_query, evaluate
    from govindex.eval.explain import load_sources

    out: dict = {"import_engine": round(imported, 3)}
    out["check_compile"] = _best(lambda: compile_rules(load(rules)), max(repeat, 3))
    rs = load(rules)
    plan = compile_rules(rs)
    sources = load_sources(rs, facts)
    round_ids = sorted(rs.rounds)
    used = [t for t in rs.tables if plan.aggs[t]]
    queries = {t: _table_query(rs, plan, t, sources[t], round_ids) for t in used}
    out["tables"] = {t: _best(lambda q=q: q.collect(engine="streaming"), repeat) for t, q in queries.items()}
    out["tables_together"] = _best(lambda: pl.collect_all(list(queries.values()), engine="streaming"), repeat)
    out["evaluate"] = _best(lambda: evaluate(rs, sources, plan=plan), repeat)
    out["after_collect"] = _after_collect(rs, plan, sources, round_ids, max(repeat, 3))
    out["plan_size"] = {t: {"aggregations": len(plan.agg_exprs[t]), "row_columns": len(plan.row_exprs.get(t, [])),
                            "bit_words": len(plan.bits.prep(t))} for t in used}
    biggest = table or max(out["tables"], key=out["tables"].get)
    out["ladder_table"] = biggest
    out["ladder"] = ladder(rs, plan, sources, biggest, round_ids, repeat)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules", type=Path)
    ap.add_argument("facts", type=Path)
    ap.add_argument("--table", default=None, help="table for the ladder (default: the slowest)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    print(json.dumps(profile(args.rules, args.facts, args.table, args.repeat), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
