"""Resolving a disagreement: the adjudicated value of a unit × point, recorded in the round.

``manual resolve --unit U --point P --value V --reason … --by NAME`` (or ``--file res.csv`` with
columns ``unit,point,value,reason,by``, one resolution per line) writes, under the round's lock
and atomically, the round's row for U × P with:

- ``value`` = V (checked against the point's ``values:``/``range:``);
- ``resolved_by`` = NAME, ``resolution`` = the reason, ``resolved_at`` = now;
- the entry's provenance (``collector``, ``source_file``, ``source_cell``) from the disputed
  side that holds V, or ``resolution`` and the adjudicator when neither does.

The round's open disputes of U × P are marked ``resolved`` in the dispute register
(:mod:`govindex.collect.manual_disputes`). After it, an import of either book goes through: an
entry of a resolved cell never changes it (M304, a warning) unless ``--replace``. Every problem
is gathered first, and any one refuses all (nothing written): M123 resolution-no-reason,
M124 bad-resolution (unknown unit, not a manual point, a value not allowed, no adjudicator).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from govindex.collect.imports import check_layout, typed_frame, write_partition
from govindex.collect.manual import ManualImportError, ManualPoint, check_round, manual_points, manual_table, num
from govindex.collect.manual_disputes import Dispute, read_register, write_register
from govindex.collect.manual_merge import PART, PROVENANCE, _existing, _held_elsewhere, _locked
from govindex.diagnostics import Diagnostic, File, Location, Record, did_you_mean
from govindex.eval.facts import schema
from govindex.ir import RuleSet

COLUMNS = ("unit", "point", "value", "reason", "by")


@dataclass(frozen=True, slots=True)
class Resolution:
    """One adjudicated cell, and where it was given (an option, or a line of a resolutions file)."""

    unit: str
    point: str
    value: str
    reason: str
    by: str
    where: Location


def from_file(path: Path) -> list[Resolution]:
    """The resolutions of a CSV file (UTF-8, a header naming :data:`COLUMNS`)."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    head = [h.strip() for h in rows[0]] if rows else []
    lost = [c for c in COLUMNS if c not in head]
    if lost:
        raise ManualImportError(str(path), [Diagnostic("M124", f"no column {', '.join(lost)} in the header",
                                                       Record(str(path), 1), f"the header is {','.join(COLUMNS)}")],
                                what="not a resolutions file")
    at = {c: head.index(c) for c in COLUMNS}
    return [Resolution(_get(row, at["unit"]), _get(row, at["point"]), _get(row, at["value"]), _get(row, at["reason"]),
                       _get(row, at["by"]), Record(str(path), n))
            for n, row in enumerate(rows[1:], start=2) if any(x.strip() for x in row)]


def _get(row: list[str], i: int) -> str:
    return row[i].strip() if i < len(row) else ""


def resolve(rs: RuleSet, round_no: int, facts_dir: Path, items: list[Resolution], source: str) -> list[str]:
    """Record every resolution of ``items`` in round ``round_no`` (all or none); the lines to print."""
    check_round(rs, round_no)
    table = manual_table(rs)
    check_layout(Path(facts_dir), table)  # a table kept as one file would be hidden by the round's directory
    points = {p.id: p for p in manual_points(rs) if p.table == table}
    values = _check(rs, points, items, source)
    round_dir = Path(facts_dir) / table / f"{rs.round_column}={round_no}"
    dest = round_dir / PART
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    with _locked(round_dir):
        held = _held_elsewhere(rs, round_dir, dest)
        clash = [Diagnostic("M124", f"{r.unit} × {r.point} is held by {held[r.unit, r.point]} (not written by "
                            "manual import)", r.where, "correct that file; resolve only manually entered cells")
                 for r in items if (r.unit, r.point) in held]
        if clash:
            raise ManualImportError(source, clash, what="cannot resolve")
        disputes = read_register(round_dir)
        existing = _existing(rs, table, round_no, dest)
        rows = {(str(row[rs.unit_column]), str(row["point"])): row for row in existing.iter_rows(named=True)}
        lines = []
        for r, v in zip(items, values, strict=True):
            old = rows.get((r.unit, r.point))
            rows[r.unit, r.point] = _resolved(rs, round_no, r, v, old, disputes, now)
            lines.append(f"resolved {r.unit} × {r.point} = {num(v)} by {r.by} ({r.reason})"
                         + (f"; was {num(old['value'])}" if old and old["value"] != v else ""))
        want: dict[str, pl.DataType] = {**schema(rs, table)}
        want.update({c: pl.String() for c in PROVENANCE if c not in want})
        want.update({c: t for c, t in existing.schema.items() if c not in want})
        merged = typed_frame(list(rows.values()), want, [rs.unit_column, "point"])
        write_partition(merged, dest, {"writer": "govindex manual resolve", "source": Path(source).name})
        write_register(round_dir, disputes)
    return lines


def _resolved(rs: RuleSet, round_no: int, r: Resolution, v: float, old: dict | None, disputes: list[Dispute],
              now: str) -> dict:
    """The round's row for ``r``: the adjudicated value with the provenance of the side that held it."""
    row = dict(old) if old else {rs.unit_column: r.unit, rs.round_column: round_no, "point": r.point, "note": ""}
    mine = [d for d in disputes if d.key == (r.unit, r.point) and d.status == "open"]
    sides = [s for d in mine for s in (d.held, d.entered) if s.value == v]
    if sides:
        book, _, cell = sides[0].cell.partition(":")
        row.update(collector=sides[0].collector, source_file=book, source_cell=cell)
    elif not old or old["value"] != v:
        row.update(collector=r.by, source_file="resolution", source_cell="", entered_at=now)
    row.update(value=v, resolved_by=r.by, resolution=r.reason, resolved_at=now)
    for d in mine:
        d.status, d.resolution = "resolved", {"value": v, "by": r.by, "reason": r.reason, "at": now}
    return row


def _check(rs: RuleSet, points: dict[str, ManualPoint], items: list[Resolution], source: str) -> list[float]:
    probs, values = [], []
    for r in items:
        p = points.get(r.point)
        v = _number(r.value)
        bad = _problems(rs, points, r, p, v)
        probs += bad
        values.append(v if v is not None else 0.0)
    if probs:
        raise ManualImportError(source, probs, what=f"{len(probs)} bad resolution{'s' if len(probs) != 1 else ''}")
    return values


def _problems(rs: RuleSet, points: dict[str, ManualPoint], r: Resolution, p: ManualPoint | None,
              v: float | None) -> list[Diagnostic]:
    def at(column: str, option: str) -> Location:
        return replace(r.where, column=column) if isinstance(r.where, Record) else File(option)

    out = []
    if not r.reason:
        out.append(Diagnostic("M123", f"the resolution of {r.unit} × {r.point} gives no reason", at("reason", "--reason"),
                              "say why this value was chosen (what the reviewer saw)"
                              + ("" if isinstance(r.where, Record) else ": --reason \"…\"")))
    if not r.by:
        out.append(Diagnostic("M124", "no adjudicator", at("by", "--by"),
                              "name who decided" + ("" if isinstance(r.where, Record) else ": --by NAME")))
    if r.unit not in {u.code for u in rs.units}:
        hint = did_you_mean(r.unit, [u.code for u in rs.units], n=2) or "give the unit's code"
        out.append(Diagnostic("M124", f"unknown unit code `{r.unit}`", at("unit", "--unit"), hint))
    if p is None:
        hint = did_you_mean(r.point, points, n=2) or "resolve a manual point (listed in the template's sheet 说明)"
        out.append(Diagnostic("M124", f"`{r.point}` is not a manual point", at("point", "--point"), hint))
    elif v is None or not p.allows(v):
        out.append(Diagnostic("M124", f"`{r.value}` is not an allowed value of {r.point}", at("value", "--value"),
                              f"allowed: {p.allowed_text()}"))
    return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
