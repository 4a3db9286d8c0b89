"""Generate realistic example facts for any rule set, deterministically.

    python examples/generate_facts.py RULES_DIR OUT_DIR [--seed N] [--rounds 3,4]

Nothing here knows the 2019 system. The generator loads a rule set, finds every aggregate call
in the points' probes (``any``, ``count``, ``ratio``, ``coverage``, ``median``, ``entry`` …) and
the literals their filters test (markers in ``has(markers, "x")``, ``site == "service"``,
``depth <= 4``, expected lists of ``coverage``), then writes, for every unit and round, rows
that give each probe a realistic chance of matching:

- every unit has a latent capability on a probit scale (macro-region shift, a random effect
  per other grouping attribute, wide individual spread), drifting a little between rounds;
- every filter (``where``) is a feature with a difficulty: a unit *has* it when capability plus
  noise clears the difficulty; calls sharing a filter share that draw, so ``any`` and ``count``
  over the same pages agree;
- every point has a level ``r`` in (0, 1) (capability, difficulty, noise); when a call is the
  whole probe, the point's own scoring formula is inverted on a grid to find the probe value
  that scores ≈ ``r`` (so counts spread over orders of magnitude where the formula is a log
  scale, durations where it is a descending step table …); otherwise a default scale is used;
- rows are built by forcing filters true (or false) on concrete rows: a call first claims the
  rows that already match, then recruits rows of the same marker family (a page that is both
  a service item and a guide), then creates rows; ratios, coverages, distinct values, means,
  medians and recencies are then set on the matching rows; finally rows that match the filter
  of a feature the unit lacks are corrected;
- a few percent of rows of a table with a ``valid when`` condition fail it (fetch errors), and
  a handful of unit × round get only failed rows, so the "fetch error" status is exercised;
- the manual table gets one row per unit × round × manual point, values from the point's
  ``values:`` or ``range:``, with ~3% missing cells.

Randomness comes from ``numpy.random.default_rng`` seeded by (seed, unit, round, …), so the
output is byte-for-byte identical for a seed, and one round's data does not depend on which
other rounds are generated. Files follow :mod:`engine.facts`:
``OUT/<table>/round=<r>/part-0.parquet``, written to a temporary directory and renamed into
place.
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
from pathlib import Path

import numpy as np
import polars as pl

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import nodes as n  # noqa: E402
from engine.check import load  # noqa: E402
from engine.facts import schema as table_schema  # noqa: E402
from engine.functions import AGGREGATES, FORMULAS  # noqa: E402
from engine.model import RuleSet  # noqa: E402

# ----------------------------------------------------------------------------- tuning
REGION_SHIFT = {"东部": 0.45, "中部": 0.0, "东北": -0.1, "西部": -0.35}
UNIT_SD = 0.85          # individual spread of capability (probit scale)
GROUP_SD = 0.25         # random effect of each value of other grouping attributes (province)
ROUND_SD = 0.12         # capability wobble between rounds
ROUND_DRIFT = 0.03      # slight improvement from one round to the next
FEATURE_MU, FEATURE_SD = -0.55, 0.9   # difficulty of a filter that names a marker
PLAIN_MU = -1.9         # difficulty of a filter on plain columns (site == "portal", depth <= 1)
FEATURE_NOISE = 0.9     # unit × feature noise, stable across rounds
FEATURE_ROUND_NOISE = 0.3
LEVEL_MU, LEVEL_SD = -0.35, 0.6       # difficulty of a point's level
LEVEL_NOISE = 0.7
LEVEL_ROUND_NOISE = 0.25
MAX_ROWS = 240          # at most this many rows for one call in one unit × round
WINDOW_DAYS = 120       # datetimes lie within this many days before the round's date
FAILED_ROW_SHARE = 0.03
FAILED_ROUND_SHARE = 0.005   # unit × round with only failed fetches (of tables with `valid`)
MANUAL_MISSING = 0.03

_ORGS = ["市政府办公室", "市发展和改革委员会", "市财政局", "市司法局", "市审计局", "市统计局", "市应急管理局",
         "市生态环境局", "市商务局", "市林业局", "市信访局", "市机关事务管理局", "市档案馆", "市科学技术局"]
_ACTS = ["关于印发工作方案的通知", "年度工作要点", "关于开展专项行动的通知", "工作动态", "通知公告",
         "关于公布名单的公告", "政务信息", "办事须知", "常见问题", "工作总结", "实施意见", "会议纪要"]
_WORDS = ["城乡建设", "劳动保障", "卫生健康", "生态环境", "市场监管", "农业农村", "文化旅游", "自然资源",
          "税务", "水利", "应急管理", "商务", "司法", "统计", "林业", "信访", "科技", "体育", "人防", "气象"]
_DATE0 = datetime(1970, 1, 1)


def _phi(x):
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x, float) / math.sqrt(2)))


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "big")


# ----------------------------------------------------------------------------- harvest


@dataclass
class ACall:
    """One aggregate call of a point's probe."""

    idx: int
    point: str
    call: n.Call
    fn: str
    table: str
    where: n.Expr | None
    key: int            # index of its feature (the filter) in Harvest.features
    whole: bool         # the call is the point's whole probe
    family: str | None  # marker family (prefix of the first marker named in the filter)


@dataclass
class ColSpec:
    kind: str                      # enum | pool | url | title | hash | id | text | name | int | ...
    pool: list[str] = field(default_factory=list)
    weights: np.ndarray | None = None
    numbers: list[float] = field(default_factory=list)


@dataclass
class Harvest:
    calls: list[ACall]
    features: list[tuple[str, bool]]     # (key text, names a marker)
    cols: dict[str, dict[str, ColSpec]]
    pairs: dict[str, list[tuple[str, str]]]  # table → (start, end) datetime columns
    literals: dict[tuple[str, str], set[str]]


def _walk(e):
    yield e
    kids: tuple = ()
    if isinstance(e, n.Call):
        kids = (*e.args, *(k.value for k in e.kwargs))
    elif isinstance(e, n.Binary):
        kids = (e.left, e.right)
    elif isinstance(e, n.Unary):
        kids = (e.operand,)
    elif isinstance(e, n.If):
        kids = (e.cond, e.then, e.else_)
    elif isinstance(e, n.ListLit):
        kids = e.items
    elif isinstance(e, n.MapLit):
        kids = tuple(p.value for p in e.pairs)
    for k in kids:
        yield from _walk(k)


def _aggregate_calls(rs: RuleSet, e) -> list[n.Call]:
    return [x for x in _walk(e) if isinstance(x, n.Call) and x.fn in AGGREGATES and x.args
            and isinstance(x.args[0], n.Name) and x.args[0].id in rs.tables]


def _markers_named(rs: RuleSet, table: str, e) -> list[str]:
    cols = rs.tables[table].columns
    out = []
    for x in _walk(e) if e is not None else ():
        if isinstance(x, n.Call) and x.fn in ("has", "has_any", "has_all") and isinstance(x.args[0], n.Name):
            lit = x.args[1]
            out += [lit.value] if isinstance(lit, n.String) else [i.value for i in lit.items if isinstance(i, n.String)]
        elif isinstance(x, n.Binary) and x.op in ("in", "not in") and isinstance(x.right, n.Name) \
                and cols.get(x.right.id) == "list[str]" and isinstance(x.left, n.String):
            out.append(x.left.value)
    return out


def harvest(rs: RuleSet) -> Harvest:
    """Every aggregate call of the rule set, its feature, and what the columns are tested against."""
    calls, keys, features = [], {}, []
    for p in rs.points:
        found = _aggregate_calls(rs, p.probe)
        for c in found:
            table = c.args[0].id
            where = c.kwarg("where")
            markers = _markers_named(rs, table, where)
            text = f"{table}|{where!r}"
            if text not in keys:
                keys[text] = len(features)
                features.append((text, bool(markers)))
            family = markers[0].split("_")[0] if markers else None
            calls.append(ACall(len(calls), p.id, c, c.fn, table, where, keys[text], p.probe == c, family))
    literals: dict[tuple[str, str], set[str]] = {}
    numbers: dict[tuple[str, str], set[float]] = {}
    pairs: dict[str, list[tuple[str, str]]] = {t: [] for t in rs.tables}
    exprs = [(c.table, x) for c in calls for x in _walk(c.call)]
    exprs += [(t.name, x) for t in rs.tables.values() if t.valid is not None for x in _walk(t.valid)]
    for table, x in exprs:
        _harvest_one(rs, table, x, literals, numbers, pairs)
    cols = {t: {c: _colspec(rs, t, c, ty, literals.get((t, c), set()), numbers.get((t, c), set()))
                for c, ty in rs.tables[t].columns.items()} for t in rs.tables}
    return Harvest(calls, features, cols, pairs, literals)


def _harvest_one(rs, table, x, literals, numbers, pairs) -> None:
    cols = rs.tables[table].columns

    def lit(col, v):
        if isinstance(col, n.Name) and col.id in cols:
            if isinstance(v, n.String):
                literals.setdefault((table, col.id), set()).add(v.value)
            elif isinstance(v, n.Number):
                numbers.setdefault((table, col.id), set()).add(v.value)
            elif isinstance(v, n.ListLit):
                for i in v.items:
                    lit(col, i)

    if isinstance(x, n.Call) and x.args:
        if x.fn in ("has", "has_any", "has_all", "contains", "contains_any", "starts_with", "ends_with"):
            lit(x.args[0], x.args[1])
        elif x.fn == "coverage" and len(x.args) == 3:
            lit(x.args[1], x.args[2])
        elif x.fn == "days_between" and all(isinstance(a, n.Name) for a in x.args):
            if (x.args[0].id, x.args[1].id) not in pairs[table]:
                pairs[table].append((x.args[0].id, x.args[1].id))
    elif isinstance(x, n.Binary) and x.op not in ("and", "or", "+", "-", "*", "/"):
        lit(x.left, x.right)
        lit(x.right, x.left)


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
            w = np.array([0.55 ** i for i in range(len(enum))])
            return ColSpec("enum", enum, w / w.sum())
        for kind, pat in (("url", r"url|link|href"), ("title", r"title|headline"), ("hash", r"hash|md5|sha"),
                          ("id", r"(^|_)id$"), ("text", r"text|content|body"), ("name", r"name|account"),
                          ("collector", r"collector|operator"), ("note", r"note|remark|comment")):
            if re.search(pat, name):
                return ColSpec(kind)
        pool = sorted(lits) + [w for w in _WORDS if not any(l in w for l in lits)]
        return ColSpec("pool", pool)
    if ty in ("int", "float"):
        return ColSpec(ty, numbers=sorted(nums))
    return ColSpec(ty)


# ----------------------------------------------------------------------------- formulas


class _Relative(Exception):
    """The formula normalises across units: no fixed scale to invert."""


def _fx(e, x):
    """A scoring formula at probe value ``x`` (scalar mirror of engine.compile's formulas)."""
    if isinstance(e, n.Name):
        return x
    if isinstance(e, (n.Number, n.Bool)):
        return float(e.value)
    if isinstance(e, n.Null):
        return None
    if isinstance(e, n.Unary):
        v = _fx(e.operand, x)
        return None if v is None else (float(not v) if e.op == "not" else -v)
    if isinstance(e, n.If):
        return _fx(e.then, x) if _fx(e.cond, x) else _fx(e.else_, x)
    if isinstance(e, n.Binary):
        a, b = _fx(e.left, x), _fx(e.right, x)
        if a is None or b is None:
            return None
        v = _PY_BINOPS[e.op](a, b)
        return None if v is None else float(v)
    if isinstance(e, n.Call):
        if FORMULAS.get(e.fn) and FORMULAS[e.fn].across_units:
            raise _Relative
        args = [_fx(a, x) for a in e.args]
        kw = {k.name: k.value.value for k in e.kwargs if isinstance(k.value, n.Number)}
        if e.fn in ("steps", "steps_down"):
            table = sorted((float(p.key), _fx(p.value, x)) for p in e.args[1].pairs)
            v = args[0]
            if e.fn == "steps":
                hit = [r for t, r in table if v >= t]
                return hit[-1] if hit else 0.0
            hit = [r for t, r in table if v <= t]
            return hit[0] if hit else 0.0
        if any(a is None for a in args[:1]) and e.fn != "coalesce":
            return None
        return _FX_CALLS[e.fn](args, kw)
    return None


def _lognormal(v, kw):
    p10, med = kw["p10"], kw["median"]
    sigma = abs(math.log(p10) - math.log(med)) / 1.2815515655446004
    if v <= 0:
        return 1.0 if p10 < med else 0.0
    p = 0.5 * (1 + math.erf((math.log(v) - math.log(med)) / sigma / math.sqrt(2)))
    return 1 - p if p10 < med else p


_FX_CALLS = {
    "presence": lambda a, k: float(a[0] > 0),
    "linear": lambda a, k: a[0] / k["cap"],
    "ramp": lambda a, k: (a[0] - k["lo"]) / (k["hi"] - k["lo"]),
    "goalpost": lambda a, k: (a[0] - k["lo"]) / (k["hi"] - k["lo"]),
    "log_scale": lambda a, k: math.log1p(max(a[0], 0)) / math.log1p(k["cap"]),
    "sqrt_scale": lambda a, k: math.sqrt(max(a[0], 0)) / math.sqrt(k["cap"]),
    "lognormal": lambda a, k: _lognormal(a[0], k),
    "decay": lambda a, k: 0.5 ** (max(a[0], 0) / k["half_life"]),
    "sigmoid": lambda a, k: 1 / (1 + math.exp(-k.get("steepness", 1.0) * (a[0] - k["mid"]))),
    "clamp": lambda a, k: min(max(a[0], a[1]), a[2]),
    "min": lambda a, k: min(v for v in a if v is not None),
    "max": lambda a, k: max(v for v in a if v is not None),
    "avg": lambda a, k: sum(v for v in a if v is not None) / max(1, len([v for v in a if v is not None])),
    "log": lambda a, k: math.log(a[0]) if a[0] > 0 else None,
    "sqrt": lambda a, k: math.sqrt(a[0]) if a[0] >= 0 else None,
    "abs": lambda a, k: abs(a[0]),
    "coalesce": lambda a, k: next((v for v in a if v is not None), None),
}

_PY_BINOPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b != 0 else None,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "and": lambda a, b: bool(a) and bool(b), "or": lambda a, b: bool(a) or bool(b),
}


def _rate(score: n.Expr, x) -> float:
    try:
        v = _fx(score, x)
    except (ValueError, OverflowError, ZeroDivisionError, TypeError):
        return 0.0
    return 0.0 if v is None or v != v else min(1.0, max(0.0, float(v)))


# ----------------------------------------------------------------------------- row expressions


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _to_dt(v):
    return datetime.fromisoformat(v) if isinstance(v, str) else v


def _days(a, b):
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 86400.0


def _ev(e, row):
    """A row expression on one row, with polars' null semantics (None = null)."""
    if isinstance(e, n.Name):
        return row.get(e.id)
    if isinstance(e, (n.Number, n.String, n.Bool)):
        return e.value
    if isinstance(e, n.Null):
        return None
    if isinstance(e, n.Unary):
        v = _ev(e.operand, row)
        return None if v is None else (not v if e.op == "not" else -v)
    if isinstance(e, n.If):
        return _ev(e.then, row) if _ev(e.cond, row) is True else _ev(e.else_, row)
    if isinstance(e, n.Binary):
        if e.op == "and":
            return _kleene_and(_ev(e.left, row), _ev(e.right, row))
        if e.op == "or":
            return _kleene_or(_ev(e.left, row), _ev(e.right, row))
        a = _ev(e.left, row)
        if e.op in ("in", "not in"):
            b = _ev(e.right, row) if isinstance(e.right, n.Name) else [i.value for i in e.right.items]
            if a is None or b is None:
                return None
            return (a in b) if e.op == "in" else (a not in b)
        b = _ev(e.right, row)
        if a is None or b is None:
            return None
        if isinstance(a, datetime) or isinstance(b, datetime):
            a, b = _to_dt(a), _to_dt(b)
        return _PY_BINOPS[e.op](a, b)
    if isinstance(e, n.Call):
        return _ROW_EV[e.fn](e, row)
    return None


def _lit(e):
    return e.value if isinstance(e, n.String) else [i.value for i in e.items]


def _on(fn):
    def go(e, row):
        v = _ev(e.args[0], row)
        return None if v is None else fn(v, e)
    return go


_ROW_EV = {
    "has": _on(lambda v, e: _lit(e.args[1]) in v),
    "has_any": _on(lambda v, e: any(s in v for s in _lit(e.args[1]))),
    "has_all": _on(lambda v, e: all(s in v for s in _lit(e.args[1]))),
    "contains": _on(lambda v, e: _lit(e.args[1]) in v),
    "contains_any": _on(lambda v, e: any(s in v for s in _lit(e.args[1]))),
    "matches": _on(lambda v, e: re.search(_lit(e.args[1]), v) is not None),
    "starts_with": _on(lambda v, e: v.startswith(_lit(e.args[1]))),
    "ends_with": _on(lambda v, e: v.endswith(_lit(e.args[1]))),
    "length": _on(lambda v, e: float(len(v))),
    "days_between": lambda e, row: _days(_to_dt(_ev(e.args[0], row)), _to_dt(_ev(e.args[1], row))),
    "present": lambda e, row: _ev(e.args[0], row) is not None,
}

_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "in": "not in", "not in": "in"}
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
