"""Generate realistic example facts for any rule set, deterministically.

    python examples/generate_facts.py RULES_DIR OUT_DIR [--seed N] [--rounds 3,4]

The row-making machinery knows nothing of the 2019 system; two tuning constants do, on purpose:
``TIERS`` cuts the units into tiers of the 2019 report's class counts (14/203/103/14 of 334) and
``L1_DIFFICULTY`` shifts the points of the 2019 first-level indicators so that their means land
near the published ones — so the example's class counts and L1 means are close to the report's by
construction (README, "The example data"). The generator loads a rule set, finds every aggregate in the
points' probes (``any``, ``count``, ``ratio``, ``coverage``, ``median``, ``entry`` …) and
the literals their filters test (markers in ``has(markers, "x")``, ``site == "service"``,
``depth <= 4``, expected lists of ``coverage``) — read from the checked IR by
:mod:`govindex.synth.harvest`, as the benchmark generator reads them — then writes, for every
unit and round, rows that give each probe a realistic chance of matching:

- every unit has a latent capability on a probit scale (macro-region shift, a random effect
  per value of the other grouping attributes, individual spread), drifting a little between
  rounds; a few of the most capable units are "big" and may have 4× as many rows;
- every literal a filter needs (a marker, ``site == "opendata"``) has a difficulty: a unit
  has it when capability plus noise clears it. A call's filter can match only if its literals
  are there, so ``any``, ``count`` and ``ratio … where`` over the same marker agree;
- every point has a level ``r`` in (0, 1) (capability, difficulty, noise); when a call is the
  whole probe, the point's own compiled formula is inverted on a grid to find the probe value
  that scores ≈ ``r`` (counts spread over orders of magnitude where the formula is a log scale,
  durations where it is a descending step table …); otherwise, or when the formula normalises
  across units, a default scale is used. Counts beyond the row budget are log-compressed;
- rows are built by forcing filters true (or false) on concrete rows: a call first claims the
  rows that already match, then recruits rows of its marker family and then any row (a page
  can be a service item, a guide and an online form at once), then creates rows; ratios,
  coverages, distinct values, sums/means/medians/extremes and recencies are then set on the
  matching rows and pinned, so later calls do not undo them; literals a unit lacks never
  appear;
- a few percent of the rows of a table with a ``valid when`` condition fail it (status 0 or
  503 with an error kind), and a handful of unit × round get only failed rows, so the "fetch
  error" status is exercised; datetimes lie within 120 days before the round's date, and a
  pair read by ``days_between`` (submitted → replied) gets delays from hours to weeks, some
  never replied;
- the manual table gets one row per unit × round × manual point, values from the point's
  ``values:`` or ``range:``, with ~3% missing cells.

Randomness comes from ``numpy.random.default_rng`` seeded by (seed, unit, round, …), so the
output is byte-for-byte identical for a seed, and one round's data does not depend on which
other rounds are generated. Files follow :mod:`govindex.eval.facts`:
``OUT/<table>/round=<r>/part-0.parquet`` (the round column kept in the file too), sorted by
unit, written to a temporary directory and renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import shutil
import sys
import time as _time
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govindex import ir  # noqa: E402
from govindex.check.functions import FORMULAS  # noqa: E402
from govindex.check.run import load  # noqa: E402
from govindex.diagnostics import GovindexError, UsageError  # noqa: E402
from govindex.eval.compile import ROUND, compile_rules, value_col  # noqa: E402
from govindex.eval.facts import schema as table_schema  # noqa: E402
from govindex.ir import RuleSet  # noqa: E402
from govindex.lang import nodes as n  # noqa: E402
from govindex.synth import harvest as harvest_ir  # noqa: E402

# ----------------------------------------------------------------------------- tuning
REGION_SHIFT = {"东部": 0.14, "中部": 0.0, "东北": -0.04, "西部": -0.08}
UNIT_SD = 0.32          # individual spread of capability (probit scale)
GROUP_SD = 0.15         # random effect of each value of other grouping attributes (province)
ROUND_SD = 0.12         # capability wobble between rounds
ROUND_DRIFT = 0.03      # slight improvement from one round to the next
FEATURE_MU, FEATURE_SD = -0.7, 0.55   # difficulty of a literal in a list column (a marker)
PLAIN_MU = -1.4         # difficulty of a plain literal (site == "opendata", platform == "douyin")
FEATURE_NOISE = 0.9     # unit × feature noise, stable across rounds
FEATURE_ROUND_NOISE = 0.3
LEVEL_MU, LEVEL_SD = -0.43, 0.6      # difficulty of a point's level
LEVEL_NOISE = 0.7
LEVEL_ROUND_NOISE = 0.25
MAX_ROWS = 35           # rows one call may ask for in one unit × round …
BIG_UNITS = 0.07        # … except in this share of the most capable units (big cities), 4× as many
WINDOW_DAYS = 120       # datetimes lie within this many days before the round's date
FAILED_ROW_SHARE = 0.03
FAILED_ROUND_SHARE = 0.005   # unit × round with only failed fetches (of tables with `valid`)
MANUAL_MISSING = 0.03
# The 2019 report found significant breaks in the sorted totals (14 A / 203 B / 103 C / 14 D):
# capability comes in tiers, best first (share of units, shift on the probit scale), so that the
# example's difference-trend grading has real gaps to find. Unit codes order ties, not chance.
TIERS = ((14 / 334, 0.55), (203 / 334, 0.0), (103 / 334, -0.30), (14 / 334, -0.75))
# Harder or easier first-level indicators (by id; others 0): the published means are supply
# 25.30/40, response 26.12/40, intelligence 11.46/20.
L1_DIFFICULTY = {"intelligence": 0.20, "response": -0.28, "supply": -0.18}

_ORGS = ["市政府办公室", "市发展和改革委员会", "市财政局", "市司法局", "市审计局", "市统计局", "市应急管理局",
         "市生态环境局", "市商务局", "市林业局", "市信访局", "市机关事务管理局", "市档案馆", "市科学技术局"]
_ACTS = ["关于印发工作方案的通知", "年度工作要点", "关于开展专项行动的通知", "工作动态", "通知公告",
         "关于公布名单的公告", "政务信息", "办事须知", "常见问题", "工作总结", "实施意见", "会议纪要"]
_WORDS = ["城乡建设", "劳动保障", "卫生健康", "生态环境", "市场监管", "农业农村", "文化旅游", "自然资源",
          "税务", "水利", "应急管理", "商务", "司法", "统计", "林业", "信访", "科技", "体育", "人防", "气象"]


def _phi(x):
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x, float) / math.sqrt(2)))


def _squeeze(x: float, cap: float, top: float) -> float:
    """A count above half the row budget ``cap`` is log-compressed into it (``top`` → ``cap``),
    so the rows stay few while the order and spread of the counts survive."""
    half = cap / 2
    if x <= half or top <= half:
        return x
    return float(round(half + (cap - half) * math.log(x / half) / math.log(top / half)))


# ----------------------------------------------------------------------------- harvest


@dataclass
class ACall:
    """One aggregate call of a point's probe."""

    idx: int
    point: str
    call: ir.Agg
    fn: str
    table: str
    where: ir.Expr | None
    whole: bool         # the call is the point's whole probe
    family: str | None  # marker family (prefix of the first marker named in the filter)


@dataclass
class ColSpec:
    kind: str                      # enum | pool | url | title | hash | id | text | name | int | ...
    pool: list[str] = field(default_factory=list)
    cum_weights: np.ndarray | None = None
    numbers: list[float] = field(default_factory=list)


@dataclass
class Harvest:
    calls: list[ACall]
    atoms: list[tuple[str, str, str]]    # (table, column, literal) a filter requires
    cols: dict[str, dict[str, ColSpec]]
    pairs: dict[str, list[tuple[str, str]]]  # table → (start, end) datetime columns
    literals: dict[tuple[str, str], set[str]]


def _names(e) -> set[str]:
    return harvest_ir.columns(e) if e is not None else set()


_ATOM_OPS = ("in", "==")


def _atoms(rs: RuleSet, table: str, e) -> list[tuple[str, str, str]]:
    """The literals a filter needs present: markers in ``has(markers, "x")``, ``site == "x"`` …"""
    out = []
    for x in harvest_ir.tests(e):
        col = x.column.name
        if x.how in harvest_ir.LIST_TESTS or (x.how in _ATOM_OPS and (x.literal_first or x.column.type == "str")):
            for v in x.values:
                if isinstance(v, str) and (table, col, v) not in out:
                    out.append((table, col, v))
    return out


def _sat(e, table: str, absent: set) -> bool:
    """Whether a filter can match at all when the ``absent`` literals are missing."""
    if e is None:
        return True
    if isinstance(e, ir.RowCall) and e.fn in harvest_ir.LIST_TESTS and isinstance(e.args[0], ir.Column):
        ok = [(table, e.args[0].name, v) not in absent for v in e.literals(1)]
        return all(ok) if e.fn == "has_all" else any(ok)
    if isinstance(e, ir.Op) and e.op in ("and", "or"):
        if e.op == "and":
            return _sat(e.args[0], table, absent) and _sat(e.args[1], table, absent)
        return _sat(e.args[0], table, absent) or _sat(e.args[1], table, absent)
    if isinstance(e, ir.Op) and e.op in _ATOM_OPS:
        name, lit = e.args if isinstance(e.args[0], ir.Column) else e.args[::-1]
        if isinstance(name, ir.Column) and (isinstance(lit, ir.ListConst)
                                             or isinstance(lit, ir.Const) and lit.type in ("str", "datetime")):
            return any((table, name.name, v) not in absent for v in harvest_ir.literal_values(lit))
    return True


def harvest(rs: RuleSet) -> Harvest:
    """Every aggregate call of the rule set, the literals its filter needs, what columns are tested against."""
    calls, atoms = [], []
    for c in harvest_ir.calls(rs):
        a = c.agg
        need = _atoms(rs, a.table, a.where)
        atoms += [x for x in need if x not in atoms]
        family = next((v.split("_")[0] for _, col, v in need if rs.tables[a.table].columns[col] == "list[str]"), None)
        calls.append(ACall(len(calls), c.point, a, a.fn, a.table, a.where, c.whole, family))
    literals: dict[tuple[str, str], set[str]] = {}
    numbers: dict[tuple[str, str], set[float]] = {}
    pairs: dict[str, list[tuple[str, str]]] = {t: [] for t in rs.tables}
    exprs = [(c.table, c.call) for c in calls] + [(t.name, t.valid) for t in rs.tables.values() if t.valid is not None]
    for table, e in exprs:
        for x in harvest_ir.tests(e):
            if x.how not in ("present", "matches"):  # row functions and comparisons with literals
                for v in x.values:
                    into = literals if isinstance(v, str) else numbers
                    into.setdefault((table, x.column.name), set()).add(v)  # type: ignore[arg-type]
        for pair in harvest_ir.pairs(e):
            if pair not in pairs[table]:
                pairs[table].append(pair)
    cols = {t: {c: _colspec(rs, t, c, ty, literals.get((t, c), set()), numbers.get((t, c), set()))
                for c, ty in rs.tables[t].columns.items()} for t in rs.tables}
    return Harvest(calls, atoms, cols, pairs, literals)


def _enum_comment(rs: RuleSet, table: str, col: str) -> list[str]:
    """Values listed in the column's trailing comment: `site: str   # portal | service | opendata`."""
    for f in rs.files:
        for it in f.items:
            if isinstance(it, n.TableDecl) and it.name == table:
                for c in it.columns:
                    if c.name != col:
                        continue
                    for cm in f.comments:
                        if cm.line == c.span.line and cm.col > c.span.col and "|" in cm.text:
                            parts = [p.strip().strip('"') if p.strip() != '""' else "" for p in cm.text[1:].split("|")]
                            parts = [p for p in parts if p != "..."]
                            if all(re.fullmatch(r"[\w.\-]*", p) for p in parts):
                                return parts
    return []


def _colspec(rs, table, col, ty, lits: set[str], nums: set[float]) -> ColSpec:
    name = col.lower()
    if ty == "str":
        enum = _enum_comment(rs, table, col)
        if enum:
            return ColSpec("enum", enum, np.cumsum([0.55 ** i for i in range(len(enum))]))
        for kind, pat in (("url", r"url|link|href"), ("title", r"title|headline"), ("hash", r"hash|md5|sha"),
                          ("id", r"(^|_)id$"), ("text", r"text|content|body"), ("name", r"name|account"),
                          ("collector", r"collector|operator"), ("note", r"note|remark|comment")):
            if re.search(pat, name):
                return ColSpec(kind)
        pool = sorted(lits) + [w for w in _WORDS if not any(x in w for x in lits)]
        return ColSpec("pool", pool)
    if ty in ("int", "float"):
        return ColSpec(ty, numbers=sorted(nums))
    return ColSpec(ty)


# ----------------------------------------------------------------------------- row expressions


_PY_BINOPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b != 0 else None,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "and": lambda a, b: bool(a) and bool(b), "or": lambda a, b: bool(a) or bool(b),
}


def _to_dt(v):
    if isinstance(v, str):
        return datetime.fromisoformat(v)
    if isinstance(v, date) and not isinstance(v, datetime):  # a `date` column
        return datetime.combine(v, datetime.min.time())
    return v


_COMPILED: dict[int, tuple] = {}


def _ev(e, row):
    """A row expression on one row, with polars' null semantics (None = null)."""
    return _fn(e)(row)


def _fn(e):
    """``e`` compiled to a closure over a row dict, cached per expression object."""
    hit = _COMPILED.get(id(e))
    if hit is None or hit[0] is not e:
        hit = _COMPILED[id(e)] = (e, _compile(e), _names(e))
    return hit[1]


def _cols(e) -> set[str]:
    """The column names ``e`` reads (cached like :func:`_fn`)."""
    _fn(e)
    return _COMPILED[id(e)][2]


def _compile(e):
    if isinstance(e, ir.Column):
        k = e.name
        return lambda row: row.get(k)
    if isinstance(e, ir.Const):
        v = e.value
        return lambda row: v
    if isinstance(e, ir.Op) and e.op in ("not", "neg"):
        f = _fn(e.args[0])
        if e.op == "not":
            return lambda row: None if (v := f(row)) is None else not v
        return lambda row: None if (v := f(row)) is None else -v
    if isinstance(e, ir.Cond):
        c, a, b = _fn(e.cond), _fn(e.then), _fn(e.else_)
        return lambda row: a(row) if c(row) is True else b(row)
    if isinstance(e, ir.Op):
        return _compile_binary(e)
    if isinstance(e, ir.RowCall):
        return _compile_call(e)
    return lambda row: None


def _compile_binary(e):
    fl, fr = _fn(e.args[0]), _fn(e.args[1])
    if e.op == "and":
        def and_(row):
            a = fl(row)
            if a is False:
                return False
            b = fr(row)
            return False if b is False else None if a is None or b is None else True
        return and_
    if e.op == "or":
        def or_(row):
            a = fl(row)
            if a is True:
                return True
            b = fr(row)
            return True if b is True else None if a is None or b is None else False
        return or_
    if e.op in ("in", "not in"):
        neg = e.op == "not in"
        if isinstance(e.args[1], ir.ListConst):
            opts = frozenset(e.args[1].values)
            return lambda row: None if (a := fl(row)) is None else (a in opts) != neg
        return lambda row: None if (a := fl(row)) is None or (b := fr(row)) is None else (a in b) != neg
    op = _PY_BINOPS[e.op]

    def cmp(row):
        a, b = fl(row), fr(row)
        return None if a is None or b is None else op(a, b)
    return cmp


def _lit(e: ir.RowCall):
    """The literal argument of a row test: one text, or a list of them."""
    a = e.args[1]
    return a.values if isinstance(a, ir.ListConst) else a.value


_ROW_FNS = {
    "has": lambda v, s: s in v,
    "has_any": lambda v, s: any(x in v for x in s),
    "has_all": lambda v, s: all(x in v for x in s),
    "contains": lambda v, s: s in v,
    "contains_any": lambda v, s: any(x in v for x in s),
    "matches": lambda v, s: re.search(s, v) is not None,
    "starts_with": lambda v, s: v.startswith(s),
    "ends_with": lambda v, s: v.endswith(s),
}


def _compile_call(e):
    f = _fn(e.args[0]) if e.args else (lambda row: None)
    if e.fn in _ROW_FNS:
        g, s = _ROW_FNS[e.fn], _lit(e)
        return lambda row: None if (v := f(row)) is None else g(v, s)
    if e.fn == "length":
        return lambda row: None if (v := f(row)) is None else float(len(v))
    if e.fn == "present":
        return lambda row: f(row) is not None
    if e.fn == "days_between":
        g = _fn(e.args[1])

        def days(row):
            a, b = _to_dt(f(row)), _to_dt(g(row))
            return None if a is None or b is None else (b - a).total_seconds() / 86400.0
        return days
    return lambda row: None


_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "in": "not in", "not in": "in"}
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


# ----------------------------------------------------------------------------- randomness


class _Draw:
    """Buffered draws from one numpy Generator (scalar calls on a Generator are slow)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._u = self._n = np.empty(0)
        self._iu = self._in = 0

    def u(self) -> float:
        if self._iu >= len(self._u):
            self._u, self._iu = self.rng.random(4096), 0
        self._iu += 1
        return float(self._u[self._iu - 1])

    def normal(self, mu: float = 0.0, sd: float = 1.0) -> float:
        if self._in >= len(self._n):
            self._n, self._in = self.rng.standard_normal(4096), 0
        self._in += 1
        return mu + sd * float(self._n[self._in - 1])

    def int(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi)."""
        return lo + min(int(self.u() * (hi - lo)), hi - lo - 1)

    def pick(self, seq):
        return seq[self.int(0, len(seq))]

    def weighted(self, seq, cum: np.ndarray):
        return seq[min(int(np.searchsorted(cum, self.u() * cum[-1], side="right")), len(seq) - 1)]

    def poisson(self, lam: float) -> int:
        k, p, L = 0, 1.0, math.exp(-lam)
        while True:
            p *= self.u()
            if p <= L:
                return k
            k += 1

    def shuffled(self, seq) -> list:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.int(0, i + 1)
            out[i], out[j] = out[j], out[i]
        return out


# ----------------------------------------------------------------------------- rows of one table


class _Rows:
    """The rows of one table for one unit × round, with an index of list elements."""

    def __init__(self, list_cols: set[str]):
        self.rows: list[dict] = []
        self.owners: list[set[int]] = []
        self.pins: list[list[tuple[set[str], object]]] = []   # (columns, check(row)) that must hold
        self.alive: list[bool] = []
        self.index: dict[tuple[str, str], set[int]] = {}
        self.list_cols = list_cols
        self.family: dict[str, dict[int, None]] = {}  # marker family → its rows, in order

    def add(self, row: dict) -> int:
        i = len(self.rows)
        self.rows.append(row)
        self.owners.append(set())
        self.pins.append([])
        self.alive.append(True)
        for c in self.list_cols:
            for v in row.get(c) or ():
                self.index.setdefault((c, v), set()).add(i)
        return i

    def set(self, i: int, col: str, value) -> None:
        row = self.rows[i]
        if col in self.list_cols:
            for v in row.get(col) or ():
                self.index.get((col, v), set()).discard(i)
            for v in value or ():
                self.index.setdefault((col, v), set()).add(i)
        row[col] = value

    def join_family(self, fam: str | None, i: int) -> None:
        if fam is not None:
            self.family.setdefault(fam, {})[i] = None

    def snapshot(self, i: int) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.rows[i].items()}

    def restore(self, i: int, snap: dict) -> None:
        for c in self.list_cols:
            self.set(i, c, snap.get(c))
        self.rows[i] = snap

    def candidates(self, e) -> list[int]:
        ids = self._cands(e)
        if ids is None:
            return [i for i in range(len(self.rows)) if self.alive[i]]
        return sorted(i for i in ids if self.alive[i])

    def _cands(self, e):
        if e is None:
            return None
        if isinstance(e, ir.RowCall) and e.fn in harvest_ir.LIST_TESTS and isinstance(e.args[0], ir.Column):
            sets = [self.index.get((e.args[0].name, v), set()) for v in e.literals(1)]
            if not sets:
                return None
            if e.fn == "has_all":
                return set.intersection(*sets)
            return set().union(*sets)
        if isinstance(e, ir.Op) and e.op == "in" and isinstance(e.args[1], ir.Column) \
                and e.args[1].name in self.list_cols and isinstance(e.args[0], ir.Const) and e.args[0].type == "str":
            return self.index.get((e.args[1].name, e.args[0].value), set())
        if isinstance(e, ir.Op) and e.op in ("and", "or"):
            a, b = self._cands(e.args[0]), self._cands(e.args[1])
            if e.op == "and":
                return b if a is None else a if b is None else a & b
            return None if a is None or b is None else a | b
        return None

    def matching(self, e) -> list[int]:
        if e is None:
            return [i for i in range(len(self.rows)) if self.alive[i]]
        f = _fn(e)
        return [i for i in self.candidates(e) if f(self.rows[i]) is True]


# ----------------------------------------------------------------------------- the latent model


def _l1(rs: RuleSet, node: str) -> str:
    """The first-level indicator above ``node``."""
    while rs.nodes[node].level > 1:
        node = rs.nodes[node].parent  # type: ignore[assignment]
    return node



_COUNTS = ("count", "distinct", "approx_distinct")
_UNIQUE_KINDS = ("url", "title", "hash", "id")


@dataclass
class _Round:
    """One round's draws: per unit capability (0–1), literal presence, point levels (0–1)."""

    r: int
    cap: np.ndarray
    has: np.ndarray       # unit × Harvest.atoms
    level: np.ndarray     # unit × _Model.points
    big: np.ndarray       # a unit with a big web presence: more rows allowed
    failed: set[int]      # units whose fetches all fail this round


class _Model:
    """Everything fixed for a rule set and a seed: latents, difficulties, inversion grids."""

    def __init__(self, rs: RuleSet, seed: int):
        self.rs, self.seed = rs, seed
        self.h = harvest(rs)
        self.units = rs.units
        self.round_pos = {r: k for k, r in enumerate(sorted(rs.rounds))}
        nu = len(self.units)
        self.z = self._capability(np.random.default_rng([seed, 1]))
        rng = np.random.default_rng([seed, 2])
        listy = [rs.tables[t].columns[c] == "list[str]" for t, c, _ in self.h.atoms]
        self.d_atom = np.array([rng.normal(FEATURE_MU, FEATURE_SD) if li else rng.normal(PLAIN_MU, 0.5)
                                for li in listy])
        self.e_atom = rng.standard_normal((nu, len(self.h.atoms)))
        self.points = sorted({c.point for c in self.h.calls}, key=list(rs.nodes).index)
        self.point_pos = {p: k for k, p in enumerate(self.points)}
        rng = np.random.default_rng([seed, 3])
        self.d_point = rng.normal(LEVEL_MU, LEVEL_SD, len(self.points)) + np.array(
            [L1_DIFFICULTY.get(_l1(self.rs, p), 0.0) for p in self.points])
        self.e_point = rng.standard_normal((nu, len(self.points)))
        self.plan = compile_rules(rs)
        self.grids = [self._grid(c) for c in self.h.calls]
        self.valid_defaults = {t: self._valid_defaults(t) for t in rs.tables}
        self.valid_cols = {t: _names(tb.valid) for t, tb in rs.tables.items()}
        self.where_cols = [_names(c.where) for c in self.h.calls]
        self.item_tests = [self._item_tests(c) for c in self.h.calls]
        self.unread = [t for t in rs.tables if not any(c.table == t for c in self.h.calls)]
        lits = {x for vals in self.h.literals.values() for x in vals if len(x) >= 2}
        neutral = lambda words: [w for w in words if not any(x in w for x in lits)] or words  # noqa: E731
        self.titles = (neutral(_ORGS), neutral(_ACTS))  # default titles match no tested literal

    def _item_tests(self, c: ACall) -> list[tuple[str, ir.Expr]]:
        """For a coverage call: each expected item with the row test that finds it."""
        col = c.call.arg
        if c.fn != "coverage" or not isinstance(col, ir.Column) or c.call.items is None:
            return []
        fn = "has" if col.type == "list" else "contains"
        return [(x.value, ir.RowCall(fn, (col, x), "bool")) for x in c.call.items.items]

    def _capability(self, rng: np.random.Generator) -> np.ndarray:
        z = rng.normal(0.0, UNIT_SD, len(self.units))
        for attr in self.rs.unit_attrs:
            vals = [u.attrs.get(attr, "") for u in self.units]
            distinct = sorted(set(vals))
            if set(vals) <= set(REGION_SHIFT):
                z += np.array([REGION_SHIFT[v] for v in vals])
            elif 1 < len(distinct) < len(vals):
                eff = dict(zip(distinct, rng.normal(0.0, GROUP_SD, len(distinct))))
                z += np.array([eff[v] for v in vals])
        order = np.argsort(-z, kind="stable")
        shift, start = np.zeros(len(z)), 0
        for i, (share, delta) in enumerate(TIERS):
            end = len(z) if i == len(TIERS) - 1 else start + int(round(share * len(z)))
            shift[order[start:end]] = delta
            start = end
        return z + shift

    def round_state(self, r: int) -> _Round:
        """Every unit's draws for round ``r`` (the same whichever other rounds are generated)."""
        rng = np.random.default_rng([self.seed, 4, r])
        nu = len(self.units)
        zr = self.z + ROUND_DRIFT * self.round_pos.get(r, 0) + rng.normal(0, ROUND_SD, nu)
        has = (zr[:, None] - self.d_atom[None, :] + FEATURE_NOISE * self.e_atom
               + FEATURE_ROUND_NOISE * rng.standard_normal(self.e_atom.shape)) > 0
        lvl = _phi(zr[:, None] - self.d_point[None, :] + LEVEL_NOISE * self.e_point
                   + LEVEL_ROUND_NOISE * rng.standard_normal(self.e_point.shape))
        k = int(round(FAILED_ROUND_SHARE * nu))
        failed = set(np.random.default_rng([self.seed, 6, r]).choice(nu, size=k, replace=False).tolist())
        big = self.z >= np.quantile(self.z, 1 - BIG_UNITS)
        return _Round(r, _phi(zr), has, lvl, big, failed)

    # -- inverting the formula: which probe value scores about r?
    def _grid(self, c: ACall):
        if c.fn == "any":
            return np.array([0.0, 1.0]), None
        if c.fn in _COUNTS:
            xs = np.unique(np.concatenate([np.arange(0, 31), np.round(np.geomspace(31, 60 * MAX_ROWS, 80))]))
        elif c.fn in ("ratio", "coverage"):
            k = len(c.call.items.items) if c.fn == "coverage" else 100
            xs = np.arange(k + 1) / max(k, 1)
        elif c.fn == "days_since":
            xs = np.concatenate([[0.0], np.geomspace(0.05, WINDOW_DAYS, 160)])
        elif c.fn == "entry":
            node = self.rs.nodes[c.point]
            vals, rng_ = node.settings.get("values"), node.settings.get("range")
            if vals is not None:
                xs = np.array(sorted(i.value for i in vals.items))
            elif rng_ is not None:
                lo, hi = (i.value for i in rng_.items)
                xs = np.round(np.linspace(lo, hi, 21), 3)
            else:
                xs = np.linspace(0, 1, 11)
        elif self._is_days(c.call.arg):
            xs = np.concatenate([[0.0], np.geomspace(0.02, 90, 160)])
        else:
            xs = np.unique(np.concatenate([np.arange(0, 31), np.round(np.geomspace(31, 20000, 80))]))
        return xs, self._rates(c, xs)

    def _rates(self, c: ACall, xs: np.ndarray) -> np.ndarray | None:
        """The point's rate at each probe value of ``xs``, by the engine's own compiled formula;
        None unless the call is the whole probe and the formula has a fixed scale."""
        node = self.rs.nodes[c.point]
        relative = any(isinstance(x, ir.Formula) and FORMULAS[x.fn].across_units for x in ir.walk(node.score))
        if not c.whole or relative:
            return None
        grid = pl.DataFrame({value_col(c.point): xs.astype(float), ROUND: 1})
        for stage in self.plan.formula_stages[c.point]:
            grid = grid.with_columns(stage)
        rate = self.plan.formulas[c.point].cast(pl.Float64).fill_nan(None).clip(0.0, 1.0).fill_null(0.0)
        return grid.select(rate).to_series().to_numpy()

    @staticmethod
    def _is_days(e) -> bool:
        return isinstance(e, ir.RowCall) and e.fn == "days_between"

    def target(self, c: ACall, r: float, d: _Draw, big: bool = False) -> float:
        """The probe value of call ``c`` for level ``r`` (0–1); ``big``: a unit with a big web presence."""
        xs, rates = self.grids[c.idx]
        if rates is not None and rates.max() > rates.min():
            dist = np.abs(rates - r)
            cand = np.flatnonzero(dist <= dist.min() + 0.02)
            if c.fn in _COUNTS:
                lim = xs[cand].min() * 2 + 2
                cand = cand[xs[cand] <= lim]
            x = float(xs[cand[d.int(0, len(cand))]])
            return _squeeze(x, MAX_ROWS * (4 if big else 1), float(xs[-1])) if c.fn in _COUNTS else x
        # no fixed scale: a default one (normalisations across units only need a spread)
        if c.fn == "any":
            return 1.0
        if c.fn in _COUNTS:
            return float(round(1 + 29 * r))
        if c.fn in ("ratio", "coverage"):
            return min(1.0, max(0.0, r + d.normal(0, 0.08)))
        if c.fn == "days_since":
            return 90 * (1 - r) ** 1.5 + 0.2 * d.u()
        if c.fn == "entry":
            return float(xs[min(int(r * len(xs)), len(xs) - 1)])
        if self._is_days(c.call.arg):
            return 30 * (1 - r) ** 2 + 0.1
        return 1 + 299 * r

    def _valid_defaults(self, t: str) -> dict[str, object]:
        """Values of the columns in ``valid when`` that make a row valid (status → 200)."""
        v = self.rs.tables[t].valid
        out = {}
        if v is None:
            return out
        for x in ir.walk(v):
            if isinstance(x, ir.Column) and x.name not in out:
                ty = self.rs.tables[t].columns[x.name]
                nums = self.h.cols[t][x.name].numbers
                for cand in ([200, *nums, 0, 1] if ty in ("int", "float") else [True] if ty == "bool" else []):
                    if _ev(v, {x.name: cand}) is True:
                        out[x.name] = int(cand) if ty == "int" else cand
                        break
        return out


# ----------------------------------------------------------------------------- one unit × round


class _UnitRound:
    """Builds every table's rows for one unit in one round."""

    def __init__(self, m: _Model, st: _Round, ui: int):
        self.m, self.rs, self.h = m, m.rs, m.h
        self.ui, self.unit, self.rnd, self.cap, self.lvl = ui, m.units[ui], st.r, float(st.cap[ui]), st.level[ui]
        self.big, self.failed = bool(st.big[ui]), ui in st.failed
        self.absent = {a for a, ok in zip(self.h.atoms, st.has[ui]) if not ok}
        self.banned: dict[tuple[str, str], set[str]] = {}
        for t, col, v in self.absent:
            self.banned.setdefault((t, col), set()).add(v)
        self.d = _Draw(np.random.default_rng([m.seed, 5, ui, st.r]))
        self.ref = datetime.combine(self.rs.rounds[st.r], time())
        self.t: dict[str, _Rows] = {t: _Rows({c for c, ty in tb.columns.items() if ty == "list[str]"})
                                    for t, tb in self.rs.tables.items()}
        self.seq: dict[str, int] = dict.fromkeys(self.rs.tables, 0)
        self.calls = self.h.calls

    # -- defaults
    def default_row(self, t: str) -> dict:
        self.seq[t] += 1
        row = {}
        for col, ty in self.rs.tables[t].columns.items():
            row[col] = self.default_value(t, col, ty)
        row.update(self.m.valid_defaults[t])
        for a, b in self.h.pairs[t]:
            if isinstance(row.get(a), datetime):
                row[b] = self._reply(row[a])
        return row

    def _reply(self, start: datetime) -> datetime | None:
        if self.d.u() < 0.06 + 0.22 * (1 - self.cap):
            return None
        end = start + timedelta(days=math.exp(self.d.normal(math.log(0.6 + 6 * (1 - self.cap)), 1.2)))
        return None if end > self.ref else end

    def default_value(self, t: str, col: str, ty: str):
        if col == self.rs.unit_column:
            return self.unit.code
        if col == self.rs.round_column:
            return self.rnd
        d, spec, seq = self.d, self.h.cols[t][col], self.seq[t]
        if ty == "list[str]":
            return []
        if ty == "bool":
            return d.u() < 0.35 + 0.5 * self.cap
        if ty in ("datetime", "date"):
            v = self.ref - timedelta(minutes=int(d.u() * WINDOW_DAYS * 1440))
            return v if ty == "datetime" else v.date()
        if ty in ("int", "float"):
            return self._number(spec, ty)
        v = self._text(t, col, spec, seq)
        ban = self.banned.get((t, col))
        if ban and v in ban:
            v = next((p for p in self.d.shuffled(spec.pool) if p not in ban), "")
        return v

    def _number(self, spec: ColSpec, ty: str):
        d = self.d
        nums = [x for x in spec.numbers if x >= 0]
        if nums and max(nums) <= 20:
            lo = 0 if min(nums) < 1 else 1
            hi = int(max(nums)) + 3
            v = lo + min(int(abs(d.normal(0, (hi - lo) / 2.2))), hi - lo)
        else:
            v = math.exp(d.normal(math.log(1.5 + 8 * self.cap), 1.4))
        return int(round(v)) if ty == "int" else round(float(v), 3)

    def _text(self, t: str, col: str, spec: ColSpec, seq: int) -> str:
        d, code = self.d, self.unit.code
        k = spec.kind
        if k == "enum":
            if "" in spec.pool:
                return ""
            return d.weighted(spec.pool, spec.cum_weights)
        if k == "pool":
            return d.pick(spec.pool) if spec.pool else f"{col}{seq}"
        if k == "url":
            return f"http://www.{code}.gov.cn/{d.pick(['xxgk', 'zwgk', 'bsfw', 'hdjl', 'zwdt'])}/t{self.rnd}{seq:05d}.html"
        if k == "title":
            return f"{d.pick(self.m.titles[0])}{d.pick(self.m.titles[1])}（{seq}）"
        if k == "hash":
            return hashlib.blake2b(f"{self.m.seed}|{code}|{self.rnd}|{t}|{seq}".encode(), digest_size=4).hexdigest()
        if k == "id":
            return f"{code}{self.rnd}{seq:06d}"
        if k == "text":
            return f"{d.pick(self.m.titles[0])}{d.pick(self.m.titles[1])}"
        if k == "name":
            return f"{self.unit.name}{d.pick(['发布', '政务', '在线', '服务', '微政务'])}"
        if k == "collector":
            return f"c{self.ui % 12 + 1:02d}"
        return ""

    # -- forcing an expression true or false on a concrete row
    def set(self, t: str, i: int, col: str, v) -> None:
        ty = self.rs.tables[t].columns.get(col)
        if ty is None:
            return
        if v is not None:
            if ty == "int":
                v = int(round(v))
            elif ty == "float":
                v = float(v)
            elif ty == "datetime":  # within the collection window before the round's date
                v = min(max(_to_dt(v), self.ref - timedelta(days=WINDOW_DAYS)), self.ref)
        self.t[t].set(i, col, v)
        row = self.t[t].rows[i]
        for a, b in self.h.pairs[t]:
            if row.get(a) is not None and row.get(b) is not None and row[b] < row[a]:
                if col == b:
                    row[a] = row[b] - timedelta(hours=1 + 47 * self.d.u())
                else:
                    row[b] = row[a] + timedelta(hours=1 + 47 * self.d.u())

    def verify(self, t: str, i: int, changed: set[str]) -> bool:
        """The row still passes ``valid when`` and the filters of the calls it serves."""
        rows, m = self.t[t], self.m
        row = rows.rows[i]
        valid = self.rs.tables[t].valid
        if valid is not None and changed & m.valid_cols[t] and _ev(valid, row) is not True:
            return False
        return all(not (changed & m.where_cols[c]) or _ev(self.calls[c].where, row) is True
                   for c in rows.owners[i]) and all(not (changed & cols) or check(row) for cols, check in rows.pins[i])

    def pin(self, c: ACall, i: int, e, value=True) -> None:
        """Keep row ``i`` matching the call's filter, and ``e`` at ``value`` (a truth or a number)."""
        rows = self.t[c.table]
        rows.owners[i].add(c.idx)
        f = _fn(e)
        check = (lambda row: (f(row) is True) == value) if isinstance(value, bool) else (lambda row: f(row) == value)
        rows.pins[i].append((_cols(e), check))

    def attempt(self, t: str, i: int, mutate, *must: tuple) -> bool:
        """Run ``mutate()`` on row ``i``; undo it if it fails (returns False), if an ``(expr, truth)`` of
        ``must`` does not hold afterwards, or if the row stops serving the calls that own it."""
        rows = self.t[t]
        snap = rows.snapshot(i)
        if mutate() is not False:
            row = rows.rows[i]
            if all(e is None or (_ev(e, row) is True) == want for e, want in must) \
                    and self.verify(t, i, {k for k, v in snap.items() if row.get(k) != v}):
                return True
        rows.restore(i, snap)
        return False

    def force(self, t: str, i: int, e, want: bool) -> bool:
        row = self.t[t].rows[i]
        if _ev(e, row) is want:
            return True
        if isinstance(e, ir.Const) and e.type == "bool":
            return e.value == want
        if isinstance(e, ir.Op) and e.op == "not":
            return self.force(t, i, e.args[0], not want)
        if isinstance(e, ir.Column):
            self.set(t, i, e.name, want)
            return True
        if isinstance(e, ir.Op) and len(e.args) == 2:
            if e.op in ("and", "or"):
                return self._force_logic(t, i, e, want)
            if e.op in ("in", "not in"):
                return self._force_in(t, i, e, want == (e.op == "in"))
            if e.op in _MIRROR:
                return self._force_cmp(t, i, e.op if want else _FLIP[e.op], *e.args)
            return False
        if isinstance(e, ir.RowCall):
            return self._force_call(t, i, e, want)
        return False

    def _force_logic(self, t, i, e, want) -> bool:
        rows = self.t[t]
        left, right = e.args
        if (e.op == "and") == want:
            return self.force(t, i, left, want) and self.force(t, i, right, want) \
                and _ev(e, rows.rows[i]) is want
        sides = [left, right] if self.d.u() < 0.5 else [right, left]
        for s in sides:
            snap = rows.snapshot(i)
            if self.force(t, i, s, want) and _ev(e, rows.rows[i]) is want:
                return True
            rows.restore(i, snap)
        return False

    def _force_in(self, t, i, e, want) -> bool:
        cols = self.rs.tables[t].columns
        left, right = e.args
        if isinstance(right, ir.Column) and right.type == "list" and isinstance(left, ir.Const) and left.type == "str":
            return self._elem(t, i, right.name, [left.value], want, all_=True)
        if isinstance(left, ir.Column) and isinstance(right, ir.ListConst) and right.items:
            options = right.values
            if want:
                ok = [x for x in options if x not in self.banned.get((t, left.name), ())]
                if not ok:
                    return False
                self.set(t, i, left.name, self.d.pick(ok))
                return True
            for _ in range(12):
                v = self.default_value(t, left.name, cols[left.name])
                if v not in options:
                    self.set(t, i, left.name, v)
                    return True
        return False

    def _force_cmp(self, t, i, op, left, right) -> bool:
        if isinstance(left, ir.Const) and not isinstance(right, ir.Const):
            left, right, op = right, left, _MIRROR[op]
        c = _ev(right, self.t[t].rows[i])
        if c is None:
            return False
        v = self._pick(t, left, op, c)
        return v is not None and self.force_value(t, i, left, v)

    def _sample(self, t, e):
        if isinstance(e, ir.Column):
            return self.default_value(t, e.name, self.rs.tables[t].columns[e.name])
        if isinstance(e, ir.RowCall) and e.fn == "days_between":
            return math.exp(self.d.normal(math.log(3), 1.3))
        return math.exp(self.d.normal(math.log(5), 1.5))

    def _pick(self, t, left, op, c):
        is_dt = isinstance(left, ir.Column) and left.type == "datetime"
        if is_dt:
            c = _to_dt(c)
        if op == "==":
            return None if isinstance(left, ir.Column) and c in self.banned.get((t, left.name), ()) else c
        test = _PY_BINOPS[op]
        for _ in range(16):
            v = self._sample(t, left)
            if v is not None and type(v) is not bool and test(v, c):
                return v
        if isinstance(c, str):
            return c + "_" if op == "!=" else c
        if isinstance(c, bool):
            return not c
        step = timedelta(hours=1) if is_dt else (1 if isinstance(c, int) or float(c).is_integer() else 1e-3)
        return {"!=": c + step, "<": c - step, "<=": c, ">": c + step, ">=": c}[op]

    def force_value(self, t, i, e, v) -> bool:
        """Make the row expression ``e`` take the value ``v``."""
        row = self.t[t].rows[i]
        if isinstance(e, ir.Column):
            self.set(t, i, e.name, v)
            return True
        if isinstance(e, ir.RowCall) and e.fn == "days_between" and all(isinstance(a, ir.Column) for a in e.args):
            a, b = (x.name for x in e.args)  # type: ignore[attr-defined]
            v = min(v, WINDOW_DAYS - 1)
            start = _to_dt(row.get(a)) or self.ref - timedelta(days=WINDOW_DAYS * self.d.u())
            if start + timedelta(days=v) > self.ref:
                start = self.ref - timedelta(days=v + self.d.u() * min(3, WINDOW_DAYS - 1 - v))
            self.t[t].set(i, a, start)
            self.t[t].set(i, b, start + timedelta(days=v))
            return True
        if isinstance(e, ir.Op) and e.op in ("+", "-", "*", "/"):
            left, right = e.args
            other = _ev(right, row)
            if e.op == "+" and other is not None and v - other >= 0:
                return self.force_value(t, i, left, v - other)
            if e.op == "+":
                return self.force_value(t, i, right, 0) and self.force_value(t, i, left, v)
            if e.op == "-" and other is not None:
                return self.force_value(t, i, left, v + other)
            if e.op == "*" and other:
                return self.force_value(t, i, left, v / other)
            if e.op == "/" and other:
                return self.force_value(t, i, left, v * other)
        return False

    def _elem(self, t, i, col, items, want, all_) -> bool:
        """Add (all, or one of) ``items`` to a list column, or remove them all."""
        cur = list(self.t[t].rows[i].get(col) or [])
        if want:
            ban = self.banned.get((t, col), ())
            ok = [x for x in items if x not in ban]
            if not ok or (all_ and len(ok) < len(items)):
                return False
            add = ok if all_ else [self.d.pick(ok)]
            cur += [x for x in add if x not in cur]
        else:
            cur = [x for x in cur if x not in items]
        self.set(t, i, col, cur)
        return True

    def _force_call(self, t, i, e, want) -> bool:
        fn, row = e.fn, self.t[t].rows[i]
        col = e.args[0].name if isinstance(e.args[0], ir.Column) else None
        if col is None:
            return False
        if fn in ("has", "has_any", "has_all"):
            items = e.literals(1)
            if fn == "has_all" and not want:
                present = [x for x in items if x in (row.get(col) or [])]
                return self._elem(t, i, col, [self.d.pick(present)] if present else [], False, True)
            return self._elem(t, i, col, items, want, all_=(fn != "has_any"))
        if fn in ("contains", "contains_any"):
            items = e.literals(1)
            if want:
                return self._str_add(t, i, col, self.d.pick(items))
            return all(self._str_remove(t, i, col, s) for s in items)
        if fn in ("starts_with", "ends_with"):
            return self._affix(t, i, col, e.literal(1), fn == "starts_with", want)
        if fn == "present":
            if want:
                ty = self.rs.tables[t].columns[col]
                v = self.default_value(t, col, ty)
                pair = next((a for a, b in self.h.pairs[t] if b == col and row.get(a) is not None), None)
                if pair is not None:
                    v = row[pair] + timedelta(hours=1 + 300 * self.d.u() ** 2)
                self.set(t, i, col, v)
            else:
                self.set(t, i, col, None)
            return True
        if fn == "matches":
            return self._regex(t, i, col, e.literal(1), want)
        return False

    def _str_add(self, t, i, col, s) -> bool:
        spec, cur = self.h.cols[t][col], self.t[t].rows[i].get(col) or ""
        if s in cur:
            return True
        ban = self.banned.get((t, col), ())
        fits = [p for p in spec.pool if s in p and p not in ban]
        if spec.kind in ("enum", "pool") and s in ban and not fits:
            return False
        if spec.kind in ("enum", "pool") and fits:
            self.set(t, i, col, self.d.pick(fits))
        elif spec.kind in ("enum", "pool"):
            self.set(t, i, col, s)
        elif spec.kind == "url":
            self.set(t, i, col, cur.rsplit("/", 1)[0] + f"/{s}/" + cur.rsplit("/", 1)[-1])
        else:
            self.set(t, i, col, s + cur)
        return True

    def _str_remove(self, t, i, col, s) -> bool:
        spec, cur = self.h.cols[t][col], self.t[t].rows[i].get(col)
        if cur is None or s not in cur:
            return True
        others = [p for p in spec.pool if s not in p]
        self.set(t, i, col, self.d.pick(others) if spec.kind in ("enum", "pool") and others else cur.replace(s, ""))
        return True

    def _affix(self, t, i, col, s, prefix, want) -> bool:
        cur = self.t[t].rows[i].get(col) or ""
        if "://" in s and "://" in cur and prefix:
            scheme = s.split("://")[0]
            alt = {"https": "http", "http": "https"}.get(scheme, scheme + "x")
            rest = cur.split("://", 1)[1]
            self.set(t, i, col, (s + rest) if want else f"{alt}://{rest}")
            return True
        if want:
            self.set(t, i, col, s + cur if prefix else cur + s)
        else:
            self.set(t, i, col, cur[len(s):] if prefix else cur[: len(cur) - len(s)])
        return True

    def _regex(self, t, i, col, pattern, want) -> bool:
        cur = self.t[t].rows[i].get(col) or ""
        if not want:
            self.set(t, i, col, re.sub(pattern, "", cur))
            return True
        plain = re.sub(r"\\(.)", r"\1", re.sub(r"[\^$*+?()\[\]{}]|\.\*|\.\+", "", pattern.split("|")[0]))
        for cand in (cur + plain, plain + cur, plain):
            if re.search(pattern, cand):
                self.set(t, i, col, cand)
                return True
        return False

    # -- creating and claiming rows
    def create(self, t: str, where) -> int:
        rows = self.t[t]
        i = rows.add(self.default_row(t))
        if where is not None:
            self.force(t, i, where, True)
        return i

    def ensure(self, c: ACall, want: int) -> list[int]:
        """At least ``want`` rows matching the call's filter, claimed by it."""
        t, w, rows = c.table, c.where, self.t[c.table]
        have = rows.matching(w)
        for i in have[:want]:
            rows.owners[i].add(c.idx)
            rows.join_family(c.family, i)
        need = want - len(have)
        if need > 0 and w is not None and c.family is not None:
            need = self._recruit(c, have, need, rows.family.get(c.family, {}))
        if need > 0 and w is not None:
            need = self._recruit(c, have, need, range(len(rows.rows)))
        for _ in range(max(need, 0)):
            i = self.create(t, w)
            rows.owners[i].add(c.idx)
            rows.join_family(c.family, i)
            have.append(i)
        return have

    def _recruit(self, c: ACall, have: list[int], need: int, pool) -> int:
        """Make rows of ``pool`` match the call's filter too (a page can be many things at once)."""
        t, w, rows = c.table, c.where, self.t[c.table]
        pool = list(pool)
        taken, fails = set(have), 0
        start = self.d.int(0, len(pool)) if pool else 0
        for k in range(len(pool)):
            if need <= 0 or fails > 8:
                break
            i = pool[(start + k) % len(pool)]
            if i in taken or not rows.alive[i]:
                continue
            if self.attempt(t, i, partial(self.force, t, i, w, True), (w, True)):
                rows.owners[i].add(c.idx)
                rows.join_family(c.family, i)
                have.append(i)
                need -= 1
            else:
                fails += 1
        return need

    # -- the plan for one unit × round
    def build(self) -> dict[str, list[dict]]:
        work = []
        for c in self.calls:
            if c.fn == "entry":
                self._manual(c)
                continue
            present = _sat(c.where, c.table, self.absent)
            r = float(self.lvl[self.m.point_pos[c.point]])
            x = self.m.target(c, r, self.d, self.big)
            work.append((c, present, x))
        first = [(self._rows_wanted(c, x), k, c) for k, (c, ok, x) in enumerate(work) if ok]
        for want, _, c in sorted(first, key=lambda w: (-w[0], w[1])):
            if want > 0:
                self.ensure(c, want)
        for c, ok, x in work:
            if ok:
                self._shape(c, x)
        for t in self.m.unread:  # tables only collection reads: a few plain rows
            for _ in range(1 + self.d.poisson(2.0)):
                self.create(t, None)
        self._absent()
        self._failures()
        return {t: [r for r, a in zip(rows.rows, rows.alive) if a] for t, rows in self.t.items()}

    def _rows_wanted(self, c: ACall, x: float) -> int:
        d = self.d
        if c.fn == "any":
            return 1 + d.poisson(1.0)
        if c.fn in _COUNTS:
            if self._unique(c):
                return max(1, int(round(x)))
            return max(1, int(round(x))) + d.int(0, 4)
        if c.fn == "ratio":
            return d.int(4, 17)
        if c.fn == "coverage":
            return 1
        if c.fn in ("median", "mean"):
            return 2 * d.int(1, 7) + 1
        return d.int(2, 10)

    def _unique(self, c: ACall) -> bool:
        if c.fn == "count":
            return True
        v = c.call.arg
        return isinstance(v, ir.Column) and self.h.cols[c.table].get(v.name, ColSpec("")).kind in _UNIQUE_KINDS

    def _shape(self, c: ACall, x: float) -> None:
        """Second pass: ratios, coverages, distinct values, values and recency on matching rows."""
        if c.fn == "ratio":
            self._ratio(c, x)
        elif c.fn == "coverage":
            self._coverage(c, x)
        elif c.fn in ("distinct", "approx_distinct") and not self._unique(c):
            self._distinct(c, int(round(x)))
        elif c.fn in ("sum", "mean", "min", "max", "median"):
            self._values(c, x)
        elif c.fn == "days_since":
            self._recency(c, x)

    def _ratio(self, c: ACall, f: float) -> None:
        """Flip the condition on just enough matching rows that a share ``f`` of them meet it."""
        t, cond, rows = c.table, c.call.arg, self.t[c.table]
        test = _fn(cond)
        ids = rows.matching(c.where)
        yes = self.d.shuffled(i for i in ids if test(rows.rows[i]) is True)
        no = self.d.shuffled(i for i in ids if test(rows.rows[i]) is not True)
        gap = int(round(f * len(ids))) - len(yes)
        want, pool = (True, no) if gap > 0 else (False, yes)
        for i in pool:
            if gap == 0:
                break
            if self.attempt(t, i, partial(self.force, t, i, cond, want), (cond, want), (c.where, True)):
                gap += -1 if want else 1
        for i in ids:
            self.pin(c, i, cond, test(rows.rows[i]) is True)

    def _put(self, c: ACall, i: int, e, value) -> bool:
        """Give row ``i`` the value (or truth) ``value`` of ``e``, keep it matching, and pin it."""
        t, rows = c.table, self.t[c.table]
        if isinstance(value, bool):
            ok = self.attempt(t, i, partial(self.force, t, i, e, value), (e, value), (c.where, True))
        else:
            ok = self.attempt(t, i, partial(self.force_value, t, i, e, value), (c.where, True))
        if ok:
            self.pin(c, i, e, value if isinstance(value, bool) else _ev(e, rows.rows[i]))
        return ok

    def _coverage(self, c: ACall, f: float) -> None:
        """Exactly the chosen share of the expected items appears among matching rows."""
        tests = self.m.item_tests[c.idx]
        if not tests:
            return
        t, rows = c.table, self.t[c.table]
        chosen = self.d.shuffled(tests)[: int(round(f * len(tests)))]
        keep = {s for s, _ in chosen}
        ids = self.d.shuffled(rows.matching(c.where))
        for s, e in tests:
            if s not in keep:
                for i in ids:
                    if _ev(e, rows.rows[i]) is True:
                        self._put(c, i, e, False)
        used: set[int] = set()
        for _, e in chosen:
            hit = next((i for i in ids if _ev(e, rows.rows[i]) is True), None)
            if hit is not None:
                self.pin(c, hit, e)
                continue
            hit = next((i for i in ids if i not in used and self._put(c, i, e, True)), None)
            if hit is None:
                hit = self.create(t, c.where)
                ids.append(hit)
                if not self._put(c, hit, e, True):
                    continue
            used.add(hit)

    def _distinct(self, c: ACall, k: int) -> None:
        t, v = c.table, c.call.arg
        if not isinstance(v, ir.Column):
            return
        spec = self.h.cols[t][v.name]
        ban = self.banned.get((t, v.name), ())
        pool = [p for p in self.d.shuffled(spec.pool) if p not in ban] or [f"{v.name}{j}" for j in range(k)]
        values = pool[: max(k, 1)]
        for j, i in enumerate(self.t[t].matching(c.where)):
            self._put(c, i, v, values[j] if j < len(values) else self.d.pick(values))

    def _values(self, c: ACall, x: float) -> None:
        """Values of the call's expression on matching rows whose sum/mean/min/max/median is ``x``."""
        t, v, d = c.table, c.call.arg, self.d
        ids = self.t[t].matching(c.where)
        if not ids:
            return
        k = len(ids)
        if c.fn == "sum":
            w = np.array([d.u() + 0.05 for _ in range(k)])
            vals = list(x * w / w.sum())
        elif c.fn == "max":
            vals = [x * (0.1 + 0.9 * d.u()) for _ in range(k)]
            vals[d.int(0, k)] = x
        elif c.fn == "min":
            vals = [x * (1 + 2 * d.u()) + d.u() for _ in range(k)]
            vals[d.int(0, k)] = x
        else:
            vals = sorted(max(0.0, x * math.exp(d.normal(0, 0.5))) for _ in range(k))
            if c.fn == "median":
                lo, hi = (k - 1) // 2, k // 2
                vals = [min(a, x) for a in vals[:lo]] + [x] * (hi - lo + 1) + [max(a, x) for a in vals[hi + 1:]]
            else:
                shift = x - sum(vals) / k
                vals = [max(0.0, a + shift) for a in vals]
            vals = d.shuffled(vals)
        if isinstance(v, ir.Column) and self.rs.tables[t].columns.get(v.name) == "int":
            vals = self._int_spread(vals, x, c.fn)
        if c.fn in ("min", "max"):  # the extreme first, on the first row that takes it
            vals.sort(reverse=c.fn == "max")
            ids = d.shuffled(ids)
            first = next((j for j, i in enumerate(ids) if self._put(c, i, v, vals[0])), None)
            if first is not None:
                ids = ids[:first] + ids[first + 1:]
            vals = vals[1:]
        for i, val in zip(ids, vals):
            self._put(c, i, v, val)

    @staticmethod
    def _int_spread(vals: list[float], x: float, fn: str) -> list[int]:
        out = [max(0, int(round(a))) for a in vals]
        if fn == "sum":
            out[-1] = max(0, out[-1] + int(round(x)) - sum(out))
        elif fn == "mean":
            lo = int(math.floor(x))
            hi_n = int(round((x - lo) * len(out)))
            out = [lo + 1] * hi_n + [lo] * (len(out) - hi_n)
        return out

    def _recency(self, c: ACall, days: float) -> None:
        """The newest value of the column among matching rows lies ``days`` before the round's date."""
        t, colx, d = c.table, c.call.arg, self.d
        if not isinstance(colx, ir.Column):
            return
        rows = self.t[t]
        newest = self.ref - timedelta(days=days)
        for j, i in enumerate(d.shuffled(rows.matching(c.where))):
            cur = _to_dt(rows.rows[i].get(colx.name))
            if j == 0:
                self._put(c, i, colx, newest)
            elif cur is None or cur > newest:
                self._put(c, i, colx, newest - timedelta(days=d.u() * min(30, WINDOW_DAYS - days)))

    def _absent(self) -> None:
        """Literals this unit lacks are taken out of every row (a safety net: forcing avoids them)."""
        for t, col, v in sorted(self.absent):
            rows, listy = self.t[t], self.rs.tables[t].columns[col] == "list[str]"
            ids = sorted(rows.index.get((col, v), ())) if listy else \
                [i for i, r in enumerate(rows.rows) if r.get(col) == v]
            for i in ids:
                if not rows.alive[i]:
                    continue
                if listy:
                    ok = self.attempt(t, i, partial(self._elem, t, i, col, [v], False, True))
                else:
                    other = [p for p in self.h.cols[t][col].pool if p not in self.banned[(t, col)]]
                    ok = bool(other) and self.attempt(t, i, partial(self.set, t, i, col, self.d.pick(other)))
                if not ok and not rows.owners[i] and not rows.pins[i]:
                    rows.alive[i] = False

    # -- fetch errors and manual entries
    def _failures(self) -> None:
        for t, tb in self.rs.tables.items():
            if tb.valid is None:
                continue
            rows = self.t[t]
            alive = [i for i, a in enumerate(rows.alive) if a]
            if not alive:
                continue
            if self.failed:
                for i in alive:
                    rows.alive[i] = False
                extra = 2 + self.d.int(0, 5)
            else:
                extra = sum(self.d.u() < FAILED_ROW_SHARE for _ in alive)
            for _ in range(extra):
                self._failed_row(t)

    def _failed_row(self, t: str) -> None:
        tb, rows = self.rs.tables[t], self.t[t]
        i = rows.add(self.default_row(t))
        row = rows.rows[i]
        for col in self.m.valid_defaults[t]:
            for v in ((0, 503) if self.d.u() < 0.6 else (503, 0)):
                row[col] = v if tb.columns[col] == "int" else float(v)
                if _ev(tb.valid, row) is False:
                    break
        if _ev(tb.valid, row) is not False:
            self.force(t, i, tb.valid, False)
        for col, spec in self.h.cols[t].items():
            if spec.kind == "enum" and "" in spec.pool and len(spec.pool) > 1:
                kinds = [k for k in spec.pool if k]
                server = [k for k in kinds if "5" in k]
                other = [k for k in kinds if not any(ch.isdigit() for ch in k)] or kinds
                status = next((row[c] for c in self.m.valid_defaults[t] if isinstance(row.get(c), (int, float))), 0)
                row[col] = self.d.pick(server if status >= 500 and server else other)

    def _manual(self, c: ACall) -> None:
        if self.d.u() < MANUAL_MISSING:
            return
        t = c.table
        r = float(self.lvl[self.m.point_pos[c.point]])
        value = self.m.target(c, min(1.0, max(0.0, r + self.d.normal(0, 0.1))), self.d)
        i = self.t[t].add(self.default_row(t))
        self.set(t, i, "point", c.point)
        self.set(t, i, "value", value)
        if value == 0 and self.d.u() < 0.4:
            self.set(t, i, "note", self.d.pick(["页面无法打开", "未找到相关栏目", "功能不可用", "测试未通过"]))


# ----------------------------------------------------------------------------- entry points


def generate(rules_dir: Path, out_dir: Path, seed: int = 2019, rounds: list[int] | None = None) -> dict[str, int]:
    """Write example facts for the rule set at ``rules_dir`` into ``out_dir``; rows per table."""
    rs = load(Path(rules_dir))
    m = _Model(rs, seed)
    wanted = sorted(rounds or rs.rounds)
    unknown = [r for r in wanted if r not in rs.rounds]
    if unknown:
        raise UsageError(f"round(s) {unknown} are not rounds of the rule set ({sorted(rs.rounds)})")
    data: dict[str, dict[int, list[dict]]] = {t: {r: [] for r in wanted} for t in rs.tables}
    for r in wanted:
        st = m.round_state(r)
        for ui in range(len(rs.units)):
            built = _UnitRound(m, st, ui).build()
            for t, rows in built.items():
                data[t][r].extend(rows)
    return _write(rs, data, Path(out_dir))


def _frame(rs: RuleSet, table: str, rows: list[dict]) -> pl.DataFrame:
    sch = table_schema(rs, table)
    dates = [c for c, t in rs.tables[table].columns.items() if t == "date"]
    if dates:  # the model works in datetimes; a `date` column keeps the day
        rows = [{**r, **{c: r[c].date() if isinstance(r.get(c), datetime) else r.get(c) for c in dates}} for r in rows]
    df = pl.from_dicts(rows, schema=sch) if rows else pl.DataFrame(schema=sch)
    return df.sort(rs.unit_column, maintain_order=True)


def _write(rs: RuleSet, data: dict[str, dict[int, list[dict]]], out: Path) -> dict[str, int]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp"
    old = out.parent / f".{out.name}.old"
    for p in (tmp, old):
        if p.exists():
            shutil.rmtree(p)
    counts = {}
    for t, per_round in data.items():
        if rs.table_has_round(t):
            for r, rows in per_round.items():
                path = tmp / t / f"{rs.round_column}={r}" / "part-0.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                _frame(rs, t, rows).write_parquet(path, compression="zstd", compression_level=9)
            counts[t] = sum(len(rows) for rows in per_round.values())
        else:  # a table without rounds: the latest generated round's rows
            rows = per_round[max(per_round)] if per_round else []
            (tmp / t).mkdir(parents=True, exist_ok=True)
            _frame(rs, t, rows).write_parquet(tmp / t / "part-0.parquet", compression="zstd", compression_level=9)
            counts[t] = len(rows)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)
    return counts


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--rounds", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="comma-separated rounds (default: every round of the rule set)")
    args = ap.parse_args(argv)
    t0 = _time.perf_counter()
    try:
        counts = generate(args.rules_dir, args.out_dir, args.seed, args.rounds)
    except GovindexError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    took = _time.perf_counter() - t0
    for t, k in counts.items():
        print(f"{t:>16}  {k:>9,} rows")
    print(f"wrote {args.out_dir} ({_size(args.out_dir) / 1e6:.1f} MB) in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
