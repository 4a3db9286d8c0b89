"""Evidence: for one aggregate of a probe, the rows of a unit's facts that determine its value,
chosen by what the aggregate computes (the IR says which: ``Agg.fn``, its ``where``, ``arg``,
``items``, ``point``) — never a row that fails the aggregate's condition.

=================  =====================================================================
aggregate          rows shown
=================  =====================================================================
any                rows carrying the condition (the marker), newest round first
count, distinct    a sample, plus the count (and the distinct count) per round
coverage           per expected item, the newest row that carries it; the missing items
min, max           per round, the row holding the minimum / maximum of the column
days_since         per round, the newest row (the maximum of the date)
sum, mean, median  the rows with the summed / averaged column, and the total per round
ratio              the numerator's rows and the denominator's others, both counts per round
entry              the manual rows of the point, with collector, file and cell when present
=================  =====================================================================

Each row carries the columns the aggregate reads (those its ``where`` and ``arg`` name), a few
that say which row it is (url, title, name, account, query), the archive location of a page
(``warc_file``/``offset``) and the provenance of a manual entry when the facts hold them. A
computed argument (``days_between(submitted, replied)``) is shown as a column named as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from govindex.eval.compile import row_condition, row_filter, row_value
from govindex.ir import Agg, Column, Const, Op, RowCall, RuleSet, to_syntax, walk
from govindex.lang.fmt import format_expr

LIMIT = 3  # rows per aggregate unless --limit / --all
IDENTITY = ("url", "title", "name", "account", "post_id", "query")  # which row it is
ARCHIVE = ("warc_file", "offset", "length")  # where a page is stored (the crawl's WARC)
MANUAL = ("point", "value", "collector", "note", "entered_at", "source_file", "source_cell")


def read_columns(agg: Agg) -> list[str]:
    """The columns of ``agg.table`` that the aggregate's condition and argument read, in order."""
    seen: dict[str, None] = {}
    for e in walk(agg.where, agg.arg):
        if isinstance(e, Column) and e.table == agg.table:
            seen[e.name] = None
    return sorted(seen, key=lambda c: _position(agg, c))


def _position(agg: Agg, column: str) -> int:
    text = " ".join(format_expr(to_syntax(e)) for e in (agg.where, agg.arg) if e is not None)
    return text.find(column) if column in text else len(text)


def _tested(agg: Agg) -> dict[str, list[str]]:
    """The literals the aggregate tests in each list column (markers): has/has_any/has_all, ``in``,
    and coverage's items — so that a row's long marker list can be shown by what matters."""
    out: dict[str, list[str]] = {}
    for e in walk(agg.where, agg.arg):
        if isinstance(e, RowCall) and e.fn in ("has", "has_any", "has_all") and isinstance(e.args[0], Column):
            out.setdefault(e.args[0].name, []).extend(e.literals(1))
        elif isinstance(e, Op) and e.op == "in" and isinstance(e.args[1], Column) and e.args[1].type == "list" \
                and isinstance(e.args[0], Const):
            out.setdefault(e.args[1].name, []).append(str(e.args[0].value))
    if agg.fn == "coverage" and isinstance(agg.arg, Column) and agg.arg.type == "list" and agg.items is not None:
        out.setdefault(agg.arg.name, []).extend(str(v) for v in agg.items.values)
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def arg_label(agg: Agg) -> str | None:
    """The name of the argument's column in the rows: the column itself, or the expression as written."""
    if agg.arg is None or agg.fn in ("coverage", "ratio"):
        return None
    return agg.arg.name if isinstance(agg.arg, Column) else format_expr(to_syntax(agg.arg))


def shown_columns(rs: RuleSet, agg: Agg, df: pl.DataFrame) -> list[str]:
    """The columns each evidence row shows: round, identity, what the aggregate reads, archive, manual."""
    want = [rs.round_column, *IDENTITY, *read_columns(agg)]
    label = arg_label(agg)
    if label is not None:
        want.append(label)
    if agg.fn == "entry":
        want += list(MANUAL)
    want += list(ARCHIVE)
    return [c for c in dict.fromkeys(want) if c in df.columns and c != rs.unit_column]


def evidence(rs: RuleSet, agg: Agg, df: pl.DataFrame, limit: int | None = LIMIT) -> dict[str, Any]:
    """The evidence of ``agg`` among ``df`` (one unit's rows of ``agg.table``, every column it has):
    a JSON-ready dict with the rows (as objects of their shown columns) and the counts."""
    label = arg_label(agg)
    if label is not None and label not in df.columns:
        df = df.with_columns(row_value(rs, agg.table, agg.arg).alias(label))  # type: ignore[arg-type]
    matched = df.filter(row_filter(rs, agg))
    if rs.table_has_round(agg.table):
        matched = matched.sort(rs.round_column, descending=True, maintain_order=True)
    show = shown_columns(rs, agg, df)
    out: dict[str, Any] = {"table": agg.table, "aggregate": agg.fn,
                           "filter": format_expr(to_syntax(agg.where)) if agg.where is not None else "",
                           "reads": read_columns(agg), "matched": matched.height}
    tested = _tested(agg)
    if tested:
        out["tested"] = tested
    if label is not None:
        out["column"] = label
    return out | _CHOOSE[agg.fn](_Ctx(rs, agg, matched, show, limit, label))


class _Ctx:
    __slots__ = ("rs", "agg", "rows", "show", "limit", "label")

    def __init__(self, rs: RuleSet, agg: Agg, rows: pl.DataFrame, show: list[str], limit: int | None,
                 label: str | None):
        self.rs, self.agg, self.rows, self.show, self.limit, self.label = rs, agg, rows, show, limit, label

    def head(self, df: pl.DataFrame) -> pl.DataFrame:
        return df if self.limit is None else df.head(self.limit)

    def records(self, df: pl.DataFrame) -> list[dict[str, Any]]:
        return [{k: plain(v) for k, v in r.items()} for r in df.select(self.show).iter_rows(named=True)]

    @property
    def by_round(self) -> bool:
        return self.rs.table_has_round(self.agg.table)

    def per_round(self, df: pl.DataFrame, **aggs: pl.Expr) -> list[dict[str, Any]]:
        if not self.by_round:
            return [{k: plain(v) for k, v in r.items()} for r in df.select(**aggs).iter_rows(named=True)] if aggs else []
        rc = self.rs.round_column
        got = df.group_by(rc).agg(rows=pl.len(), **aggs).sort(rc, descending=True)
        return [{"round": r.pop(rc), **{k: plain(v) for k, v in r.items()}} for r in got.iter_rows(named=True)]


def plain(v: object) -> object:
    """A value as JSON has it (dates and lists as text)."""
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def _sample(c: _Ctx) -> dict[str, Any]:
    """any / count / distinct: the rows that satisfy the condition, and the count per round."""
    out: dict[str, Any] = {"rows": c.records(c.head(c.rows)), "chosen": c.rows.height}
    if c.agg.fn != "any":
        extra = {"distinct": pl.col(c.label).drop_nulls().n_unique()} if c.label and "distinct" in c.agg.fn else {}
        out["per_round"] = c.per_round(c.rows, **extra)
    return out


def _total(fn: str) -> Callable[[str], pl.Expr]:
    return {"sum": lambda col: pl.col(col).cast(pl.Float64).sum(), "mean": lambda col: pl.col(col).mean(),
            "median": lambda col: pl.col(col).median()}[fn]


def _summed(c: _Ctx) -> dict[str, Any]:
    """sum / mean / median: the rows with the column, the largest first, and the total per round."""
    assert c.label is not None
    rows = c.rows.filter(pl.col(c.label).is_not_null())
    order = [c.rs.round_column, c.label] if c.by_round else [c.label]
    rows = rows.sort(order, descending=True, nulls_last=True, maintain_order=True)
    return {"rows": c.records(c.head(rows)), "chosen": rows.height,
            "per_round": c.per_round(rows, **{c.agg.fn: _total(c.agg.fn)(c.label)})}


def _extreme(c: _Ctx) -> dict[str, Any]:
    """min / max / days_since: per round, the row holding the extreme (the newest date)."""
    assert c.label is not None
    low = c.agg.fn == "min"
    rows = c.rows.filter(pl.col(c.label).is_not_null())
    rows = rows.sort(c.label, descending=not low, nulls_last=True, maintain_order=True)
    if c.by_round:
        rc = c.rs.round_column
        rows = rows.unique(rc, keep="first", maintain_order=True).sort(rc, descending=True)
    else:
        rows = rows.head(1)
    return {"rows": c.records(c.head(rows)), "chosen": rows.height, "extreme": "min" if low else "max"}


def _ratio(c: _Ctx) -> dict[str, Any]:
    """ratio: the rows of the numerator (condition true) and of the rest of the denominator."""
    assert c.agg.arg is not None
    hit = row_condition(c.rs, c.agg.table, c.agg.arg)
    hits, others = c.rows.filter(hit), c.rows.filter(~hit)
    return {"condition": format_expr(to_syntax(c.agg.arg)), "numerator": hits.height, "denominator": c.rows.height,
            "rows": c.records(c.head(hits)), "chosen": hits.height, "other_rows": c.records(c.head(others)),
            "per_round": c.per_round(c.rows, numerator=hit.sum())}


def _coverage(c: _Ctx) -> dict[str, Any]:
    """coverage: for each expected item, the newest row carrying it (all with --all); the missing."""
    assert c.agg.items is not None and c.agg.arg is not None
    value = row_value(c.rs, c.agg.table, c.agg.arg)
    listed = isinstance(c.agg.arg, Column) and c.agg.arg.type == "list"
    items: list[dict[str, Any]] = []
    seen: set[int] = set()
    for item in dict.fromkeys(str(v) for v in c.agg.items.values):
        carries = value.list.contains(item) if listed else value.str.contains(item, literal=True)
        rows = c.rows.filter(carries.fill_null(False))
        rounds = sorted(set(rows[c.rs.round_column].to_list()), reverse=True) if c.by_round else []
        seen |= set(rounds)
        items.append({"item": item, "found": rows.height > 0, "rows_carrying": rows.height, "rounds": rounds,
                      "rows": c.records(rows if c.limit is None else rows.head(min(c.limit, 1)))})
    every = sorted(seen | set(c.rows[c.rs.round_column].to_list()), reverse=True) if c.by_round else []
    return {"column": format_expr(to_syntax(c.agg.arg)), "items": items,
            "missing": [i["item"] for i in items if not i["found"]],
            "per_round": [{"round": r, "found": sum(r in i["rounds"] for i in items), "of": len(items)} for r in every]}


def _entry(c: _Ctx) -> dict[str, Any]:
    """entry: the manual rows of the point (every one of them: two are a conflict)."""
    return {"rows": c.records(c.rows if c.limit is None else c.rows.head(max(c.limit, 1))), "chosen": c.rows.height}


_CHOOSE: dict[str, Callable[[_Ctx], dict[str, Any]]] = {
    "any": _sample, "count": _sample, "distinct": _sample, "approx_distinct": _sample,
    "sum": _summed, "mean": _summed, "median": _summed,
    "min": _extreme, "max": _extreme, "days_since": _extreme,
    "ratio": _ratio, "coverage": _coverage, "entry": _entry,
}
