"""Synthetic facts at scale, for benchmarks (``govindex bench generate``).

The same layout and contract as real facts (:mod:`govindex.eval.facts`), so that ``govindex score``
reads them unchanged, but partitioned by round *and* shard::

    OUT/<table>/round=<r>/part-<shard>.parquet      shard = shard_of(unit code, shards)

A unit never spans two shards, and rows are sorted by unit within a shard. Every table that
some probe reads is written with exactly its declared columns and types; what goes into a
column follows from the rule set (:func:`harvest`): the literals the probes test on it (markers,
``site == "opendata"``, the expected lists of ``coverage``), the substrings they look for in it,
the values listed in its declaration's comment, its type and name. Units get a skewed size (big
cities have many more rows), a capability that decides which markers they have at all, and a
host name. A table scored by ``entry(T)`` (manual points) gets one row per unit × point.

Generation is vectorised (numpy draws, polars string kernels) in chunks of ``CHUNK_ROWS`` rows,
each appended as a row group to its shard's file, so memory stays bounded whatever the size;
output goes to a temporary directory renamed into place. Seeds derive from (seed, table, round,
shard, chunk): a seed gives the same facts.

This module lives in ``engine`` rather than ``probes`` because it needs only the fact contract
(the checked rule set, :mod:`govindex.eval.facts`) and is wired by the engine's CLI: ``engine`` never
imports ``probes``.
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from govindex import ir
from govindex.diagnostics import UsageError
from govindex.eval.facts import schema as table_schema
from govindex.fsio import replace_dir
from govindex.ir import RuleSet
from govindex.lang import nodes as n
from govindex.synth import harvest as harvest_ir
from govindex.synth.bench_columns import (
    MAKERS,
    SYLLABLES,
    Chunk,
    Kind,
    ListModel,
    Units,
    kind_of,
    make_list,
    normal_cdf,
    round_datetime,
)

VERSION = 2  # bump when the output for a given seed changes
CHUNK_ROWS = 250_000
BENCH_MANIFEST = "_bench.json"
FAILED_UNIT_ROUND = 0.005  # a unit's site down for a whole round: only failed fetches
MANUAL_MISSING = 0.03
_TEXT_FNS = ("contains", "contains_any", "starts_with", "ends_with")


def shard_of(code: str, shards: int) -> int:
    """The shard of a unit: a hash of its code that is stable across processes and machines."""
    return int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big") % shards


# ----------------------------------------------------------------------------- harvest


@dataclass
class Harvest:
    """What the probes of a rule set read and test, per table and column."""

    columns: dict[str, set[str]] = field(default_factory=dict)  # table → columns read
    tested: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # literals compared / has / coverage
    keywords: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # substrings looked for
    starts: dict[tuple[str, str], str] = field(default_factory=dict)  # days_between end → start column
    nullable: set[tuple[str, str]] = field(default_factory=set)  # present(column)
    entries: dict[str, list[str]] = field(default_factory=dict)  # table → points scored by entry(table)

    def add(self, into: dict, key: tuple[str, str], values: list[str]) -> None:
        into.setdefault(key, [])
        into[key] += [v for v in values if v not in into[key]]


def _strings(values: tuple[str | float, ...]) -> list[str]:
    return [v for v in values if isinstance(v, str)]


def _visit(table: str, e: ir.Expr | None, h: Harvest) -> None:
    """Columns read and literals tested by the row expression ``e`` of ``table``."""
    h.columns[table] |= harvest_ir.columns(e)
    for t in harvest_ir.tests(e):
        col = (table, t.column.name)
        if t.how in harvest_ir.LIST_TESTS or t.how in ("==", "!=", "in", "not in"):
            h.add(h.tested, col, _strings(t.values))
        elif t.how in _TEXT_FNS:
            h.add(h.keywords, col, _strings(t.values))
        elif t.how == "present":
            h.nullable.add(col)
    for start, end in harvest_ir.pairs(e):
        h.starts[(table, end)] = start


def harvest(rs: RuleSet) -> Harvest:
    """Every column the probes read, and the literals they test, of every table they read."""
    h = Harvest()
    for c in harvest_ir.calls(rs):
        a, table = c.agg, c.agg.table
        h.columns.setdefault(table, {rs.unit_column} | ({rs.round_column} if rs.table_has_round(table) else set()))
        if a.fn == "entry":
            h.entries.setdefault(table, []).append(c.point)
            h.columns[table] |= {"point", "value"}
        if a.fn == "coverage" and isinstance(a.arg, ir.Column):
            expected = _strings(harvest_ir.literal_values(a.items))
            h.add(h.tested, (table, a.arg.name), expected)
            h.add(h.keywords, (table, a.arg.name), expected)
        _visit(table, a.arg, h)
        _visit(table, a.where, h)
    for table in h.columns:
        _visit(table, rs.tables[table].valid, h)
    for m in rs.markers:
        if m.into in h.columns:
            h.add(h.tested, (m.into, m.into_column), [m.id])
    return h


def _listed(rs: RuleSet, table: str, column: str) -> list[str]:
    """Values listed in a column's trailing comment: ``site: str  # portal | service | opendata``."""
    for f in rs.files:
        for it in f.items:
            if not (isinstance(it, n.TableDecl) and it.name == table):
                continue
            for c in it.columns:
                for cm in f.comments:
                    if c.name == column and cm.line == c.span.line and cm.col > c.span.col and "|" in cm.text:
                        parts = [p.strip().strip('"') for p in cm.text.lstrip("#").split("|")]
                        parts = [p for p in parts if p != "..."]
                        if all(re.fullmatch(r"[\w.\-]*", p) for p in parts):
                            return parts
    return []


# ----------------------------------------------------------------------------- the model


@dataclass
class TableModel:
    name: str
    kinds: dict[str, Kind]  # every declared column but unit and round
    lists: dict[str, ListModel]
    entries: list[str]
    rows: int  # per round, when not an entry table


def _units(rs: RuleSet, seed: int) -> Units:
    rng = np.random.default_rng([seed, 1])
    k = len(rs.units)
    size = rng.lognormal(0.0, 1.1, k)
    logz = (np.log(size) - np.log(size).mean()) / max(np.log(size).std(), 1e-9)
    cap = 0.5 * logz + math.sqrt(0.75) * rng.standard_normal(k)
    hosts, seen = [], set()
    for u in rs.units:
        r = np.random.default_rng([seed, 2, shard_of(u.code, 2**31)])
        host = "".join(SYLLABLES[i] for i in r.integers(0, len(SYLLABLES), 2))
        while host in seen:
            host += SYLLABLES[int(r.integers(0, len(SYLLABLES)))]
        seen.add(host)
        hosts.append(f"{host}.gov.cn")
    return Units(codes=[u.code for u in rs.units], names=pl.Series([u.name for u in rs.units], dtype=pl.String),
                 hosts=pl.Series(hosts, dtype=pl.String), weight=size / size.sum(), capability=cap,
                 https=np.clip(0.35 + 0.25 * cap + 0.15 * rng.standard_normal(k), 0.0, 1.0),
                 flag_share=np.clip(0.65 + 0.15 * cap + 0.1 * rng.standard_normal(k), 0.05, 0.98))


def _list_model(pool: tuple[str, ...], units: Units, rng: np.random.Generator) -> ListModel:
    fams = [p.split("_")[0] for p in pool]  # pool is sorted: a family is a run of one prefix
    ids = {f: i for i, f in enumerate(dict.fromkeys(fams))}
    family = np.array([ids[f] for f in fams])
    lo = np.array([fams.index(f) for f in ids])
    hi = np.array([len(fams) - fams[::-1].index(f) for f in ids])
    rank = rng.permutation(len(pool))
    w = 1.0 / (rank + 1.0)
    difficulty = rng.normal(-1.0, 0.6, len(pool))
    noise = rng.normal(0.0, 0.9, (len(units.codes), len(pool)))
    return ListModel(units.capability[:, None] + noise > difficulty[None, :], w / w.sum(), family, lo, hi)


def model(rs: RuleSet, rows: dict[str, int], default_rows: int, seed: int) -> tuple[Units, list[TableModel]]:
    """The units and, for every table some probe reads, how to make its columns."""
    h, units = harvest(rs), _units(rs, seed)
    out = []
    for ti, t in enumerate(rs.tables):
        if t not in h.columns:
            continue
        kinds: dict[str, Kind] = {}
        lists: dict[str, ListModel] = {}
        for c, ty in rs.tables[t].columns.items():
            if c in (rs.unit_column, rs.round_column) or (t in h.entries and c in ("point", "value")):
                continue
            kinds[c] = kind_of(c, ty, h.tested.get((t, c), []), h.keywords.get((t, c), []), _listed(rs, t, c),
                               nullable=(t, c) in h.nullable, start=h.starts.get((t, c)))
            if kinds[c].name == "list":
                lists[c] = _list_model(kinds[c].pool, units, np.random.default_rng([seed, 3, ti, len(lists)]))
        out.append(TableModel(t, kinds, lists, h.entries.get(t, []), rows.get(t, default_rows)))
    return units, out


# ----------------------------------------------------------------------------- rows


def _order(kinds: dict[str, Kind]) -> list[str]:
    """Columns in the order they can be made: a URL after site and depth, a pair's end after its start."""
    late = {"url": 1, "query": 1, "end": 2}
    return sorted(kinds, key=lambda c: late.get(kinds[c].name, 0))


def _fail(c: Chunk, kinds: dict[str, Kind], down: np.ndarray) -> None:
    """Failed fetches: a whole unit's site down this round, and an error kind where a column of
    listed values includes the empty string ("" | timeout | dns | http_5xx …)."""
    status = next((col for col, k in kinds.items() if k.name == "status"), None)
    if status is None:
        return
    s = pl.col("s")
    frame = pl.DataFrame({"s": c.cols[status], "down": down[c.unit]})
    frame = frame.with_columns(pl.when("down").then(pl.lit(0, pl.Int64)).otherwise(s).alias("s"))
    c.cols[status] = frame["s"]
    for col, k in kinds.items():
        if k.name == "category" and "" in k.pool and len(k.pool) > 1:
            errors = [v for v in k.pool if v]
            server = [v for v in errors if "5" in v] or errors
            other = [v for v in errors if not any(ch.isdigit() for ch in v)] or errors
            pick = pl.Series(other, dtype=pl.String).gather(c.rng.integers(0, len(other), c.n))
            c.cols[col] = frame.select(pl.when((s >= 200) & (s < 500)).then(pl.lit(""))
                                       .when(s >= 500).then(pl.lit(server[0])).otherwise(pl.lit(pick))).to_series()


def _frame(rs: RuleSet, tm: TableModel, c: Chunk, r: int, down: np.ndarray, extra: dict[str, pl.Series]) -> pl.DataFrame:
    c.cols.update(extra)
    for col in _order(tm.kinds):
        k = tm.kinds[col]
        if k.name == "list":
            c.cols[col] = make_list(c, k, tm.lists[col])
        else:
            c.cols[col] = MAKERS[k.name](c, k)
    _fail(c, tm.kinds, down)
    c.cols[rs.unit_column] = pl.Series(c.units.codes, dtype=pl.String).gather(c.unit)
    if rs.table_has_round(tm.name):
        c.cols[rs.round_column] = pl.Series(np.full(c.n, r), dtype=pl.Int64)
    sch = table_schema(rs, tm.name)
    return pl.DataFrame([c.cols[col].cast(tp).alias(col) for col, tp in sch.items()])


def _entry_rows(tm: TableModel, units: Units, settings: dict, ids: np.ndarray, rng: np.random.Generator):
    """Manual entries: one row per unit × point (a few missing), values from ``values:``/``range:``."""
    pts = len(tm.entries)
    unit = np.repeat(ids, pts)
    point = np.tile(np.arange(pts), len(ids))
    keep = rng.random(len(unit)) >= MANUAL_MISSING
    unit, point = unit[keep], point[keep]
    level = normal_cdf(units.capability[unit] + rng.normal(0, 0.8, len(unit)))
    value = np.empty(len(unit))
    for j, pid in enumerate(tm.entries):
        at = point == j
        vals, rng_ = _numbers(settings[pid].get("values")), _numbers(settings[pid].get("range"))
        if vals:
            opts = np.array(vals)
            value[at] = opts[np.minimum((level[at] * len(opts)).astype(int), len(opts) - 1)]
        elif len(rng_) == 2:
            lo, hi = rng_
            value[at] = np.round((lo + (hi - lo) * level[at]) * 2) / 2
        else:
            value[at] = np.round(level[at], 2)
    extra = {"point": pl.Series(tm.entries, dtype=pl.String).gather(point), "value": pl.Series(value, dtype=pl.Float64)}
    return unit, extra


# ----------------------------------------------------------------------------- writing


_FEW_VALUES = {"category", "status", "depth", "rank", "flag", "list", "name", "person", "query", "count"}


def _numbers(e: n.Expr | None) -> list[float]:
    """The numbers of a ``values:`` or ``range:`` list (check made sure they are numbers)."""
    return [float(v.value) for v in e.items if isinstance(v, n.Number)] if isinstance(e, n.ListLit) else []


def _low_cardinality(rs: RuleSet, tm: TableModel) -> list[str]:
    """Columns worth dictionary encoding (titles, URLs, hashes and times are not)."""
    return [rs.unit_column, rs.round_column, "point", *(c for c, k in tm.kinds.items() if k.name in _FEW_VALUES)]


def _ahead(items):
    """Iterate ``items`` one step ahead in a thread: the next chunk is made while this one is
    written (numpy, polars and the parquet writer release the GIL). Order is kept."""
    q: queue.Queue = queue.Queue(maxsize=1)
    done = object()

    def run() -> None:
        try:
            for it in items:
                q.put(it)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        q.put(done)

    threading.Thread(target=run, daemon=True).start()
    while (it := q.get()) is not done:
        if isinstance(it, BaseException):
            raise it
        yield it


def _write_shard(path: Path, frames, empty: pl.DataFrame, dictionary: list[str]) -> int:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    writer, rows = None, 0
    compat = pl.CompatLevel.oldest()  # large_string / large_list: one arrow schema for every chunk
    for df in _ahead(frames):
        if writer is None:
            writer = pq.ParquetWriter(path, df.to_arrow(compat_level=compat).schema, compression="zstd",
                                      use_dictionary=dictionary)
        writer.write_table(df.to_arrow(compat_level=compat), row_group_size=CHUNK_ROWS)
        rows += df.height
    if writer is None:
        empty.write_parquet(path)
    else:
        writer.close()
    return rows


def _shard_frames(rs: RuleSet, tm: TableModel, units: Units, ti: int, r: int, shard: int, ids: np.ndarray,
                  counts: np.ndarray, down: np.ndarray, seed: int):
    date = round_datetime(rs.rounds[r])
    if tm.entries:
        rng = np.random.default_rng([seed, 4, ti, r, shard])
        unit, extra = _entry_rows(tm, units, {p: rs.nodes[p].settings for p in tm.entries}, ids, rng)
        if len(unit):
            yield _frame(rs, tm, Chunk(rng, unit, units, date), r, down, extra)
        return
    unit = np.repeat(ids, counts[ids]).astype(np.int32)
    for k, lo in enumerate(range(0, len(unit), CHUNK_ROWS)):
        rng = np.random.default_rng([seed, 5, ti, r, shard, k])
        yield _frame(rs, tm, Chunk(rng, unit[lo: lo + CHUNK_ROWS], units, date), r, down, {})


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generate(rs: RuleSet, out: Path, rows: dict[str, int], default_rows: int, rounds: int = 1, shards: int = 8,
             seed: int = 2019, progress=None) -> dict:
    """Write synthetic facts for ``rs`` into ``out`` (replaced atomically); returns the manifest
    (also written as ``out/_bench.json``): rows per table and round, parameters, seconds."""
    if not 1 <= rounds <= len(rs.rounds):
        raise UsageError(f"--rounds must be between 1 and {len(rs.rounds)} (the rule set's rounds)")
    if shards < 1:
        raise UsageError("--shards must be at least 1")
    t0 = time.perf_counter()
    units, tables = model(rs, rows, default_rows, seed)
    round_ids = sorted(rs.rounds)[:rounds]
    manifest: dict = {}

    def fill(tmp: Path) -> None:
        written = _write_tables(tmp, rs, tables, units, round_ids, shards, seed, progress)
        manifest.update({"generator": VERSION, "seed": seed, "rounds": round_ids, "shards": shards, "rows": written,
                         "seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": _peak_rss_mb()})
        (tmp / BENCH_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")

    # Swapped in whole (govindex.fsio): an existing OUT must be bench facts (it has _bench.json).
    replace_dir(out, fill, owned=bench_owned(Path(out)))
    return manifest


def _write_tables(tmp: Path, rs: RuleSet, tables: list, units, round_ids: list[int], shards: int, seed: int,
                  progress) -> dict[str, dict[int, int]]:
    """Every table's shards under ``tmp``; rows written per table and round."""
    shard = np.array([shard_of(c, shards) for c in units.codes])
    by_shard = [np.flatnonzero(shard == s) for s in range(shards)]
    written: dict[str, dict[int, int]] = {}
    for ti, tm in enumerate(tables):
        empty = pl.DataFrame(schema=table_schema(rs, tm.name))
        for r in round_ids if rs.table_has_round(tm.name) else round_ids[-1:]:
            rng = np.random.default_rng([seed, 6, ti, r])
            w = units.weight * rng.lognormal(0.0, 0.25, len(units.codes))
            counts = rng.multinomial(tm.rows, w / w.sum()) if not tm.entries else np.zeros(len(w), int)
            down = rng.random(len(units.codes)) < FAILED_UNIT_ROUND
            where = tmp / tm.name / (f"{rs.round_column}={r}" if rs.table_has_round(tm.name) else "")
            for s in range(shards):
                frames = _shard_frames(rs, tm, units, ti, r, s, by_shard[s], counts, down, seed)
                k = _write_shard(where / f"part-{s:03d}.parquet", frames, empty, _low_cardinality(rs, tm))
                written.setdefault(tm.name, {})[r] = written.get(tm.name, {}).get(r, 0) + k
            if progress:
                progress(tm.name, r, written[tm.name][r])
    return written


def bench_owned(out: Path):
    """Whether the entries of an existing ``out`` may be replaced: yes if it holds bench facts."""
    ours = (out / BENCH_MANIFEST).is_file()
    return lambda entry: ours
