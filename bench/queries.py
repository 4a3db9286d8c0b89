"""The two baselines `govindex score` is measured against, over the same facts directory.

- **scan floor**: per fact table the probes read, polars reads the columns they read and does one
  ``group_by(unit, round)`` with ``len()`` and a ``null_count()`` per column (so every column is
  decoded; a bare ``len()`` would let polars read the two key columns only);
- **DuckDB**: every aggregate of the compiled plan (``govindex.eval.compile.compile_rules``: each
  ``any``/``count``/``ratio``/``coverage``/``distinct``/``entry`` … of every probe, deduplicated
  as the engine does) written as a SQL aggregate with ``FILTER (WHERE valid AND where)``, one
  ``GROUP BY unit, round`` per table, the tables joined: one statement. It computes the same
  per-unit × round aggregates as the engine's table queries (``--verify`` compares them); not the
  formulas, rates and tree, which work on 334 × rounds rows and take milliseconds.

    python bench/queries.py floor RULES FACTS     # prints {"seconds": …, "rows": …}
    python bench/queries.py duckdb RULES FACTS [--threads N] [--verify]
    python bench/queries.py sql RULES FACTS       # print the generated SQL
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govindex import ir  # noqa: E402
from govindex.ir import RuleSet  # noqa: E402
from govindex.lang import nodes as n  # noqa: E402
from govindex.synth.bench import harvest  # noqa: E402

# ----------------------------------------------------------------------------- scan floor


def floor_queries(rs: RuleSet, facts: Path) -> dict:
    """Per table the probes read: its read columns, one group_by(unit, round) touching each."""
    import polars as pl

    from govindex.eval.facts import scan

    out = {}
    for t, cols in harvest(rs).columns.items():
        keys = [rs.unit_column] + ([rs.round_column] if rs.table_has_round(t) else [])
        rest = sorted(c for c in cols if c not in keys)
        out[t] = (scan(rs, facts, t).select(*keys, *rest).group_by(keys)
                  .agg(pl.len(), *[pl.col(c).null_count().alias(f"nulls:{c}") for c in rest]))
    return out


def run_floor(rs: RuleSet, facts: Path) -> dict:
    import polars as pl

    qs = floor_queries(rs, facts)
    t0 = time.perf_counter()
    frames = pl.collect_all(list(qs.values()), engine="streaming")
    return {"seconds": time.perf_counter() - t0, "rows": sum(f.height for f in frames)}


# ----------------------------------------------------------------------------- SQL


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(v) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v)


class SqlRow:
    """A row expression of the rules language as DuckDB SQL (null semantics as polars: Kleene
    logic; a condition that is null counts as false in FILTER, as ``fill_null(False)`` does)."""

    BINOPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "+": "+", "-": "-", "*": "*",
              "and": "AND", "or": "OR"}

    def __init__(self, rs: RuleSet, table: str):
        self.cols = rs.tables[table].columns

    def is_list(self, e: n.Expr) -> bool:
        return isinstance(e, n.Name) and self.cols.get(e.id) == "list[str]"

    def is_time(self, e: n.Expr) -> bool:
        return isinstance(e, n.Name) and self.cols.get(e.id) in ("date", "datetime")

    def has(self, column: n.Expr, value: str) -> str:
        return f"list_contains({self.expr(column)}, {_lit(value)})" if self.is_list(column) \
            else f"contains({self.expr(column)}, {_lit(value)})"

    def expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Name):
            return _q(e.id)
        if isinstance(e, (n.Number, n.Bool, n.String)):
            return _lit(e.value)
        if isinstance(e, n.Null):
            return "NULL"
        if isinstance(e, n.Unary):
            return f"(NOT {self.expr(e.operand)})" if e.op == "not" else f"(-{self.expr(e.operand)})"
        if isinstance(e, n.If):
            return f"(CASE WHEN coalesce({self.expr(e.cond)}, FALSE) THEN {self.expr(e.then)} ELSE {self.expr(e.else_)} END)"
        if isinstance(e, n.Binary):
            return self.binary(e)
        if isinstance(e, n.Call):
            return self.call(e)
        raise NotImplementedError(type(e).__name__)

    def binary(self, e: n.Binary) -> str:
        if e.op in ("in", "not in"):
            if self.is_list(e.right):
                out = f"list_contains({self.expr(e.right)}, {self.expr(e.left)})"
            else:
                out = f"({self.expr(e.left)} IN ({', '.join(_lit(i.value) for i in e.right.items)}))"  # type: ignore[union-attr]
            return f"(NOT {out})" if e.op == "not in" else out
        left, right = self.expr(e.left), self.expr(e.right)
        if self.is_time(e.left) and isinstance(e.right, n.String):
            right = f"TIMESTAMP {right}"
        if self.is_time(e.right) and isinstance(e.left, n.String):
            left = f"TIMESTAMP {left}"
        if e.op == "/":
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {self.BINOPS[e.op]} {right})"

    def call(self, e: n.Call) -> str:
        a = e.args
        items = [i.value for i in a[1].items] if len(a) > 1 and isinstance(a[1], n.ListLit) else []  # type: ignore[union-attr]
        if e.fn == "has":
            return self.has(a[0], a[1].value)  # type: ignore[union-attr]
        if e.fn in ("has_any", "has_all"):
            fn = "list_has_any" if e.fn == "has_any" else "list_has_all"
            return f"{fn}({self.expr(a[0])}, [{', '.join(_lit(i) for i in items)}])"
        if e.fn == "contains_any":
            return "(" + " OR ".join(f"contains({self.expr(a[0])}, {_lit(i)})" for i in items) + ")"
        simple = {"contains": "contains", "starts_with": "starts_with", "ends_with": "ends_with",
                  "matches": "regexp_matches"}
        if e.fn in simple:
            return f"{simple[e.fn]}({self.expr(a[0])}, {self.expr(a[1])})"
        if e.fn == "length":
            return f"CAST(len({self.expr(a[0])}) AS DOUBLE)"
        if e.fn == "days_between":
            start, end = (f"TIMESTAMP {self.expr(x)}" if isinstance(x, n.String) else self.expr(x) for x in a[:2])
            return f"((epoch_us({end}) - epoch_us({start})) / 86400e6)"
        if e.fn == "present":
            return f"({self.expr(a[0])} IS NOT NULL)"
        maths = {"log": "ln", "sqrt": "sqrt", "abs": "abs", "coalesce": "coalesce"}
        if e.fn in maths:
            return f"{maths[e.fn]}({', '.join(self.expr(x) for x in a)})"
        raise NotImplementedError(e.fn)


class RowCols:
    """Per-row columns computed once in inner SELECTs (each distinct condition and value), as one
    would write it by hand: the aggregates then filter on plain boolean columns. A column that
    uses another (``uses``) goes one SELECT further out: DuckDB would re-evaluate an alias
    referenced in the same SELECT list."""

    def __init__(self) -> None:
        self.cols: dict[str, tuple[str, int]] = {}  # SQL expression → (alias, level)

    def __call__(self, sql: str, uses: tuple[str, ...] = ()) -> str:
        if sql not in self.cols:
            level = 1 + max((lv for al, lv in self.cols.values() if al in uses), default=0)
            self.cols[sql] = (f"r{len(self.cols)}", level)
        return self.cols[sql][0]

    def source(self, base: str) -> str:
        """``base`` wrapped in one ``SELECT *, …`` per level (DuckDB prunes what is not used)."""
        for level in sorted({lv for _, lv in self.cols.values()}):
            new = [f"{sql} AS {al}" for sql, (al, lv) in self.cols.items() if lv == level]
            base = "SELECT *,\n      " + ",\n      ".join(new) + f"\n    FROM ({base})"
        return base


def _aggregate(rs: RuleSet, agg: ir.Agg, rc: RowCols) -> str:
    """One aggregate (as the compiled plan keys it) → a SQL aggregate over the group. Row
    expressions are translated from their syntax (lets expanded), as one would write them."""
    t = agg.table
    row, where = SqlRow(rs, t), None if agg.where is None else ir.to_syntax(agg.where)
    cond = "__valid" if where is None else rc(f"(__valid AND coalesce({row.expr(where)}, FALSE))")

    def f(agg: str, also: str | None = None) -> str:
        return f"{agg} FILTER (WHERE {cond}{f' AND {also}' if also else ''})"

    fn = agg.fn
    a = [n.Name(t)] + [ir.to_syntax(x) for x in (agg.arg, agg.items) if x is not None]
    value = rc(row.expr(a[1])) if len(a) > 1 and fn not in ("coverage", "entry", "ratio") else ""
    if fn == "any":
        return f"({f('count(*)')} > 0)"
    if fn == "count":
        return f"CAST({f('count(*)')} AS DOUBLE)"
    if fn in ("distinct", "approx_distinct"):
        agg = "count(DISTINCT {})" if fn == "distinct" else "approx_count_distinct({})"
        return f"CAST({f(agg.format(value))} AS DOUBLE)"
    if fn in ("sum", "mean", "median", "min", "max", "days_since"):
        sql = {"sum": "sum", "mean": "avg", "median": "median", "min": "min", "max": "max", "days_since": "max"}[fn]
        out = f(f"{sql}({value})")
        if fn == "sum":  # polars sums no rows (or only nulls) to 0
            out = f"coalesce({out}, 0)"
        return f"CAST({out} AS DOUBLE)" if fn in ("sum", "mean", "median") else out
    if fn == "ratio":
        hit = rc(f"coalesce({row.expr(a[1])}, FALSE)")
        return f"({f('count(*)', hit)} / NULLIF({f('count(*)')}, 0))"
    if fn == "coverage":
        items = [i.value for i in a[2].items]  # type: ignore[union-attr]
        if not items:
            return "CAST(NULL AS DOUBLE)"
        if row.is_list(a[1]):
            tests = [rc(f"coalesce({row.has(a[1], i)}, FALSE)") for i in items]
        else:  # keywords in text: one regex pass per row that the filter keeps, as the engine's one
            alternation = "|".join(re.escape(i) for i in dict.fromkeys(items))  # Aho-Corasick pass
            found = rc(f"(CASE WHEN {cond} THEN regexp_extract_all({row.expr(a[1])}, {_lit(alternation)}) END)", (cond,))
            tests = [rc(f"coalesce(list_contains({found}, {_lit(i)}), FALSE)", (found,)) for i in items]
        hits = [f"CAST({f('count(*)', t)} > 0 AS DOUBLE)" for t in tests]
        return f"(({' + '.join(hits)}) / {len(items)})"
    if fn == "entry":
        point = agg.point
        value = rc(f"CAST({_q('value')} AS DOUBLE)")
        return f(f"avg({value})", rc(f"({_q('point')} = {_lit(point)})"))
    raise NotImplementedError(fn)


def duckdb_sql(rs: RuleSet, facts: Path) -> str:
    """One SQL statement: per table, every aggregate of the compiled plan grouped by unit × round,
    the tables joined on (unit, round). Column names are the plan's aliases (``a:pages:0`` …)."""
    from govindex.eval.compile import compile_rules
    from govindex.eval.facts import locate

    plan = compile_rules(rs)
    ctes, names = [], []
    for t, calls in plan.aggs.items():
        if not calls:
            continue
        keys = [rs.unit_column] + ([rs.round_column] if rs.table_has_round(t) else [])
        where = locate(facts, t)
        source = f"read_parquet('{where}/**/*.parquet', hive_partitioning = false)" if where.is_dir() \
            else f"read_parquet('{where}')"
        valid = rs.tables[t].valid
        valid_sql = f"coalesce({SqlRow(rs, t).expr(ir.to_syntax(valid))}, FALSE)" if valid is not None else "TRUE"
        rc = RowCols()
        aggs = [f"count(*) AS {_q(f'__rows:{t}')}", f"count(*) FILTER (WHERE __valid) AS {_q(f'__ok:{t}')}"]
        aggs += [f"{_aggregate(rs, call, rc)} AS {_q(alias)}" for call, alias in calls.items()]
        key_sql = ", ".join(_q(k) for k in keys)
        inner = rc.source(f"SELECT *, {valid_sql} AS __valid FROM {source}")
        ctes.append(f"{_q(t)} AS (\n  SELECT {key_sql},\n    " + ",\n    ".join(aggs)
                    + f"\n  FROM (\n    {inner})\n  GROUP BY {key_sql}\n)")
        names.append((t, keys))
    first, *rest = names
    body = f"SELECT * FROM {_q(first[0])}"
    for t, keys in rest:
        body += f"\nFULL JOIN {_q(t)} USING ({', '.join(_q(k) for k in keys)})"
    return "WITH " + ",\n".join(ctes) + "\n" + body


def run_duckdb(rs: RuleSet, facts: Path, threads: int | None = None):
    import duckdb

    sql = duckdb_sql(rs, facts)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    df = con.sql(sql).pl()
    return {"seconds": time.perf_counter() - t0, "rows": df.height,
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}, df


# ----------------------------------------------------------------------------- verification


def verify(rs: RuleSet, facts: Path, df) -> list[str]:
    """Compare DuckDB's aggregates with the engine's table queries: the mismatching columns."""
    import polars as pl

    from govindex.eval.compile import compile_rules
    from govindex.eval.evaluate import _table_query
    from govindex.eval.explain import load_sources

    plan, sources = compile_rules(rs), load_sources(rs, facts)
    bad = []
    for t, calls in plan.aggs.items():
        if not calls:
            continue
        keys = ["code"] + (["__round"] if rs.table_has_round(t) else [])
        ours = _table_query(rs, plan, t, sources[t], sorted(rs.rounds)).collect(engine="streaming")
        sql = df.select(pl.col(rs.unit_column).alias("code"),
                        *([pl.col(rs.round_column).alias("__round")] if rs.table_has_round(t) else []),
                        *[pl.col(a) for a in ours.columns if a not in keys]).filter(pl.col(f"__rows:{t}").is_not_null())
        both = ours.join(sql, on=keys, how="full", coalesce=True, suffix=":sql")
        fns = {alias: call.fn for call, alias in calls.items()}
        for c in ours.columns:
            if c in keys:
                continue
            a, b = both[c], both[f"{c}:sql"]
            if a.dtype.is_temporal():
                a, b = a.cast(pl.Datetime("us")), b.cast(pl.Datetime("us"))
            a, b = a.cast(pl.Float64), b.cast(pl.Float64)
            # two different sketches: polars' streaming HLL is off by ~1 at 3 values, ~7 % at 100
            slack, tol = (2.0, 0.1) if fns.get(c) == "approx_distinct" else (0.0, 1e-9)
            same = ((a - b).abs() <= slack + tol * (1 + b.abs())) | (a.is_null() & b.is_null())
            if not same.fill_null(False).all():
                bad.append(f"{c}: {int((~same.fill_null(False)).sum())} differing rows")
    return bad


def main(argv: list[str] | None = None) -> int:
    from govindex.check.run import load

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["floor", "duckdb", "sql"])
    ap.add_argument("rules", type=Path)
    ap.add_argument("facts", type=Path)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--verify", action="store_true", help="compare DuckDB's aggregates with the engine's")
    args = ap.parse_args(argv)
    rs = load(args.rules)
    if args.what == "sql":
        print(duckdb_sql(rs, args.facts))
        return 0
    if args.what == "floor":
        print(json.dumps(run_floor(rs, args.facts)))
        return 0
    res, df = run_duckdb(rs, args.facts, args.threads)
    if args.verify:
        res["mismatches"] = verify(rs, args.facts, df)
    print(json.dumps(res, ensure_ascii=False))
    return 1 if res.get("mismatches") else 0


if __name__ == "__main__":
    raise SystemExit(main())
