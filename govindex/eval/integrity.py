"""The integrity report of one evaluation: what the facts held that scoring could not use.

Per table: rows read; rows lost because their unit code is not in the registry (with a
did-you-mean for near codes: different case, surrounding spaces, leading zeros, one character
off), because the unit code is null, or because their round is not a declared one; rows that
fail the table's own ``valid when`` rule (kept: they make a point's status ``error``). Then the
units that have no row in any table scoring reads, and per point the share of units whose status
is ``no_data`` or ``error``.

Near-miss codes are reported, never normalised: a code is data of record, and a guess could
give one unit another's facts. :meth:`Integrity.problems` lists what ``--strict`` refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from govindex.eval.compile import ROUND, ok_col, rows_col
from govindex.ir import RuleSet

SHOW_CODES = 10  # unknown codes listed per table (largest first)
SHOW_UNITS = 10  # units without facts named
SHOW_POINTS = 10  # points listed in the text report


@dataclass
class UnknownCode:
    code: str
    rows: int
    near: str | None  # a registry code it is probably meant to be
    near_name: str | None = None
    why: str = ""  # how it differs from ``near``


@dataclass
class TableCounts:
    table: str
    rows: int = 0
    unknown_unit: int = 0
    null_unit: int = 0
    undeclared_round: int = 0
    invalid: int = 0  # fail `valid when`: kept, counted as fetch errors
    unknown_codes: list[UnknownCode] = field(default_factory=list)
    unknown_codes_total: int = 0

    @property
    def dropped(self) -> int:
        return self.unknown_unit + self.null_unit + self.undeclared_round


@dataclass
class PointShare:
    id: str
    label: str
    no_data: int
    error: int


@dataclass
class Integrity:
    units: int
    tables: list[TableCounts]
    without_facts: list[tuple[str, str]]  # (code, name) of units with no row in any table
    points: list[PointShare]  # every point with some unit not ok, worst first

    def problems(self) -> list[str]:
        """What ``--strict`` makes an error: rows lost, units without facts, points with no
        usable value for any unit. Rows failing `valid when` are the rule set's own filter and
        a point's no_data share below 100 % is the data's reality; both are reported, not refused."""
        out = []
        for t in self.tables:
            for n, what in ((t.unknown_unit, "have a unit code not in the registry"),
                            (t.null_unit, "have no unit code"), (t.undeclared_round, "are in an undeclared round")):
                if n:
                    out.append(f"{n:,} row(s) of `{t.table}` {what}")
        if self.without_facts:
            out.append(f"{len(self.without_facts):,} unit(s) have no facts in any table")
        out += [f"point `{p.id}` has no usable value for any unit" for p in self.points
                if self.units and p.no_data + p.error == self.units]
        return out

    def to_json(self) -> dict[str, object]:
        """The ``integrity.json`` document."""
        return {"units": self.units, "rows": sum(t.rows for t in self.tables),
                "dropped": sum(t.dropped for t in self.tables),
                "tables": {t.table: {"rows": t.rows, "unknown_unit": t.unknown_unit, "null_unit": t.null_unit,
                                     "undeclared_round": t.undeclared_round, "invalid": t.invalid,
                                     "unknown_codes_total": t.unknown_codes_total,
                                     "unknown_codes": [vars(u) for u in t.unknown_codes]} for t in self.tables},
                "units_without_facts": {"count": len(self.without_facts),
                                        "units": [{"code": c, "name": n} for c, n in self.without_facts]},
                "points": [{"id": p.id, "name": p.label, "no_data": p.no_data, "error": p.error,
                            "share": round((p.no_data + p.error) / self.units, 4) if self.units else None}
                           for p in self.points],
                "problems": self.problems()}


# ------------------------------------------------------------------ counting


def table_counts(rs: RuleSet, table: str, df: pl.DataFrame, round_ids: list[int], all_rounds: bool) -> TableCounts:
    """Counts for one table from its aggregated frame (one row per code × round, with the row
    and valid-row counts), before it is joined to the registry."""
    codes = [u.code for u in rs.units]
    rows, code = pl.col(rows_col(table)).cast(pl.Int64), pl.col("code")
    known = code.is_in(codes).fill_null(False)
    in_round = pl.lit(True)
    if all_rounds and rs.table_has_round(table):  # with --round, other rounds are left out on purpose
        in_round = pl.col(ROUND).is_in(round_ids).fill_null(False)
    got = df.select(rows.sum().alias("rows"), rows.filter(code.is_null()).sum().alias("null"),
                    rows.filter(code.is_not_null() & ~known).sum().alias("unknown"),
                    rows.filter(known & ~in_round).sum().alias("round"),
                    (rows - pl.col(ok_col(table)).cast(pl.Int64)).filter(known & in_round).sum().alias("invalid"))
    r = got.row(0, named=True)
    out = TableCounts(table, r["rows"] or 0, r["unknown"] or 0, r["null"] or 0, r["round"] or 0, r["invalid"] or 0)
    if out.unknown_unit:
        _unknown_codes(rs, df.filter(code.is_not_null() & ~known), rows, out)
    return out


def _unknown_codes(rs: RuleSet, df: pl.DataFrame, rows: pl.Expr, out: TableCounts) -> None:
    per_code = df.group_by("code").agg(rows.sum().alias("n")).sort(["n", "code"], descending=[True, False])
    out.unknown_codes_total = per_code.height
    index, names = CodeIndex([u.code for u in rs.units]), {u.code: u.name for u in rs.units}
    for c, n in per_code.head(SHOW_CODES).iter_rows():
        near, why = index.near(c)
        out.unknown_codes.append(UnknownCode(c, n, near, names.get(near or ""), why))


def units_without_facts(rs: RuleSet, per_round: pl.DataFrame, tables: list[str]) -> list[tuple[str, str]]:
    """Units with no row in any of ``tables`` in any scored round."""
    if not tables:
        return []
    n = pl.sum_horizontal([pl.col(rows_col(t)).fill_null(0).cast(pl.Int64) for t in tables])
    empty = set(per_round.group_by("code").agg(n.sum().alias("n")).filter(pl.col("n") == 0)["code"].to_list())
    return [(u.code, u.name) for u in rs.units if u.code in empty]


def point_shares(rs: RuleSet, units: pl.DataFrame, status_of: Callable[[str], str]) -> list[PointShare]:
    """Per point, units whose status is no_data or error; only points with some, worst first."""
    cols = []
    for p in rs.points:
        st = pl.col(status_of(p.id))
        cols += [(st == "no_data").sum().alias(f"n:{p.id}"), (st == "error").sum().alias(f"e:{p.id}")]
    got = units.select(cols).row(0, named=True) if cols else {}
    out = [PointShare(p.id, p.label, got[f"n:{p.id}"], got[f"e:{p.id}"]) for p in rs.points
           if got[f"n:{p.id}"] or got[f"e:{p.id}"]]
    return sorted(out, key=lambda s: (-(s.no_data + s.error), s.id))


# ------------------------------------------------------------------ near codes


def _loose(code: str) -> str:
    return code.strip().casefold().lstrip("0")


class CodeIndex:
    """Registry codes by the keys of every code one edit away, so that each unknown code finds
    its near neighbours in time linear in its length (a did-you-mean per code, not per pair)."""

    def __init__(self, codes: list[str]):
        self.codes = set(codes)
        self.loose: dict[str, list[str]] = {}
        self.edits: dict[str, list[str]] = {}
        for c in codes:
            self.loose.setdefault(_loose(c), []).append(c)
            for i in range(len(c)):
                self.edits.setdefault(c[:i] + "\0" + c[i + 1:], []).append(c)  # one character replaced
                self.edits.setdefault(c[:i] + c[i + 1:], []).append(c)  # one character left out

    def near(self, code: str) -> tuple[str | None, str]:
        """The registry code ``code`` most probably means, and how they differ; (None, "")."""
        loose = self.loose.get(_loose(code), [])
        if len(loose) == 1:
            return loose[0], _how(code, loose[0])
        s, found = code.strip(), []
        for i in range(len(s)):
            found += self.edits.get(s[:i] + "\0" + s[i + 1:], [])
            if s[:i] + s[i + 1:] in self.codes:
                found.append(s[:i] + s[i + 1:])  # one character too many
            if i + 1 < len(s) and (swap := s[:i] + s[i + 1] + s[i] + s[i + 2:]) in self.codes:
                found.append(swap)
        found += self.edits.get(s, [])  # one character missing
        found = sorted(set(found))
        return (found[0], "one character off") if len(found) == 1 else (None, "")


def _how(code: str, near: str) -> str:
    if code.strip() == near:
        return "surrounding spaces"
    if code.strip().casefold() == near.casefold():
        return "different case"
    return "leading zeros"


# ------------------------------------------------------------------ text


def render_text(ig: Integrity) -> str:
    """The report as a few lines for the terminal."""
    rows, dropped = sum(t.rows for t in ig.tables), sum(t.dropped for t in ig.tables)
    lines = [f"facts: {rows:,} rows in {len(ig.tables)} table(s), {dropped:,} dropped"]
    for t in ig.tables:
        lines += _table_lines(t)
    if ig.without_facts:
        shown = ", ".join(f"{n} ({c})" for c, n in ig.without_facts[:SHOW_UNITS])
        more = " …" if len(ig.without_facts) > SHOW_UNITS else ""
        lines.append(f"  {len(ig.without_facts):,} of {ig.units:,} units have no facts at all: {shown}{more}")
    if ig.points:
        worst = " · ".join(_share(p, ig.units) for p in ig.points[:SHOW_POINTS])
        lines.append(f"  no data or error (share of units), {len(ig.points)} point(s): {worst}"
                     + (" …" if len(ig.points) > SHOW_POINTS else ""))
    return "\n".join(lines)


def _share(p: PointShare, units: int) -> str:
    errors = f" ({p.error} error{'s' if p.error != 1 else ''})" if p.error else ""
    return f"{p.id} {(p.no_data + p.error) / units:.0%}{errors}"


def _table_lines(t: TableCounts) -> list[str]:
    out = []
    for n, what in ((t.unknown_unit, f"unit code not in the registry ({t.unknown_codes_total:,} code(s))"),
                    (t.null_unit, "no unit code"), (t.undeclared_round, "round not declared")):
        if n:
            out.append(f"  {t.table}: {n:,} row(s) dropped: {what}")
    for u in t.unknown_codes:
        hint = f" — did you mean `{u.near}` {u.near_name}? ({u.why})" if u.near else ""
        out.append(f"    {u.code!r}: {u.rows:,} row(s){hint}")
    if t.invalid:
        out.append(f"  {t.table}: {t.invalid:,} row(s) fail its `valid when` rule (kept: they count as errors)")
    return out
