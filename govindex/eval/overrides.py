"""Corrections after publication: ``FACTS/overrides.csv`` — appeals upheld, errors found — applied
at scoring (docs §10 "Corrections: overrides").

One record replaces the probe's value ``x`` (or its status) of one point for one unit in one
round (a blank ``round``: every round of the rule set). It is applied where the evaluator has the
probe values and statuses per unit × round and before anything reads them, so everything after —
the formula, the missing-data policy, stages across units, the rounds policy, the tree, ranks —
follows exactly as if the facts had said so.

    read        FACTS/overrides.csv → [Override], every problem an F12x diagnostic at its line
    check_rows  the same checks on records in memory (``override add`` checks before it writes)
    apply       the probe frame (unit × round) → the frame overridden, [AppliedOverride]
    flag_units  ``ov:<point>`` columns of the units frame (true where an override was applied)
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from govindex import ir
from govindex.diagnostics import Diagnostic, FactsError, File, Record, did_you_mean
from govindex.eval.compile import ENTRY_EPS, ROUND, entry_allowed, value_col
from govindex.ir import RuleSet

FILE = "overrides.csv"
COLUMNS = ("unit", "point", "round", "value", "status", "reason", "by", "at", "reference")
REQUIRED = ("unit", "point", "reason", "by", "at")
STATUSES = ("ok", "no_data", "not_applicable", "error")
OV_PREFIX = "ov:"


def ov_col(point: str) -> str:
    """The units frame's flag: an override was applied to ``point`` for the unit."""
    return OV_PREFIX + point


@dataclass(frozen=True, slots=True)
class Override:
    """One record of ``overrides.csv`` (``line``: where it starts, 1-based, the header is 1)."""

    unit: str
    point: str
    round: int | None  # None: every round of the rule set
    value: float | None
    status: str  # one of STATUSES
    reason: str
    by: str
    at: str
    reference: str = ""
    line: int = 0
    path: str = FILE


@dataclass(frozen=True, slots=True)
class AppliedOverride:
    """An override as scoring applied it, in one round: what the facts gave and what replaced it."""

    unit: str
    point: str
    round: int
    old_value: float | bool | None
    old_status: str
    new_value: float | None
    new_status: str
    reason: str
    by: str
    at: str
    reference: str
    line: int
    unit_name: str = ""
    point_name: str = ""

    def to_json(self) -> dict[str, Any]:
        old = float(self.old_value) if isinstance(self.old_value, (bool, int)) else self.old_value
        return {"unit": self.unit, "unit_name": self.unit_name, "point": self.point, "point_name": self.point_name,
                "round": self.round, "old_value": old, "old_status": self.old_status, "new_value": self.new_value,
                "new_status": self.new_status, "reason": self.reason, "by": self.by, "at": self.at,
                "reference": self.reference, "line": self.line}


# ------------------------------------------------------------------ reading and checking


def read(rs: RuleSet, facts_dir: Path) -> list[Override]:
    """The overrides kept beside the facts (none when there is no ``overrides.csv``). Raises one
    :class:`FactsError` listing every problem, each at its line, before anything is scored."""
    path = facts_dir / FILE
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise overrides_error([Diagnostic("F129", f"not UTF-8 (byte {exc.start})", File(str(path)),
                                          "save the file as UTF-8 CSV")]) from None
    overrides, problems = parse(rs, text, str(path))
    if problems:
        raise overrides_error(problems)
    return overrides


def parse(rs: RuleSet, text: str, path: str) -> tuple[list[Override], list[Diagnostic]]:
    """The records of ``text`` (an overrides CSV) checked against ``rs``, and the problems found."""
    rows, problems = _rows(text, path)
    if problems:
        return [], problems
    return check_rows(rs, rows, path)


def _rows(text: str, path: str) -> tuple[list[tuple[int, dict[str, str]]], list[Diagnostic]]:
    """``(line, record)`` per CSV record; a header that does not fit is the one problem."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], [Diagnostic("F129", "an empty file", File(path), "the header is " + ",".join(COLUMNS))]
    header = [h.strip() for h in header]
    problems = [Diagnostic("F129", f"unknown column `{h}`", Record(path, 1, column=h),
                           did_you_mean(h, COLUMNS) or "the columns are " + ",".join(COLUMNS))
                for h in header if h not in COLUMNS]
    problems += [Diagnostic("F129", f"no column `{c}`", Record(path, 1), "the header is " + ",".join(COLUMNS))
                 for c in (*REQUIRED, "value") if c not in header and not (c == "value" and "status" in header)]
    if len(set(header)) != len(header):
        problems.append(Diagnostic("F129", "a column named twice", Record(path, 1), "keep one of each"))
    rows, line = [], reader.line_num + 1
    for rec in reader:
        if any(f.strip() for f in rec):
            if len(rec) != len(header):
                problems.append(Diagnostic("F129", f"{len(rec)} field(s) where the header has {len(header)}",
                                           Record(path, line), "quote a field that holds a comma"))
            else:
                rows.append((line, {h: f.strip() for h, f in zip(header, rec)}))
        line = reader.line_num + 1
    return rows, problems


def check_rows(rs: RuleSet, rows: Iterable[tuple[int, dict[str, str]]],
               path: str) -> tuple[list[Override], list[Diagnostic]]:
    """Every record checked (F120–F128), then duplicates across records (F127)."""
    out: list[Override] = []
    problems: list[Diagnostic] = []
    for line, rec in rows:
        o, found = _record(rs, line, rec, path)
        problems += found
        if o is not None:
            out.append(o)
    problems += _duplicates(out, path)
    return out, problems


def _record(rs: RuleSet, line: int, rec: dict[str, str], path: str) -> tuple[Override | None, list[Diagnostic]]:
    def at(column: str) -> Record:
        return Record(path, line, column=column)

    get = rec.get
    found: list[Diagnostic] = []
    unit, point = get("unit", ""), get("point", "")
    u = rs.unit_by(unit) if unit else None
    if u is None:
        found.append(Diagnostic("F122", f"no unit `{unit}` in the registry" if unit else "no unit", at("unit"),
                                did_you_mean(unit, [x.code for x in rs.units]) or "give a unit code of the registry"))
    elif u.code != unit:
        found.append(Diagnostic("F122", f"`{unit}` is a name, not a code", at("unit"), f"write its code {u.code}"))
    node = rs.nodes.get(point)
    if node is None:
        found.append(Diagnostic("F120", f"no point `{point}` in rule set `{rs.name}`" if point else "no point",
                                at("point"), did_you_mean(point, [p.id for p in rs.points]) or
                                "give the id of a point (govindex show lists them)"))
    elif not node.is_point:
        found.append(Diagnostic("F121", f"`{point}` is an indicator, not a point", at("point"),
                                "override the points under it: an indicator's score follows from them"))
    rnd = _round(rs, get("round", ""), at("round"), found)
    value, status = _value_status(rs, node if node is not None and node.is_point else None, get("value", ""),
                                  get("status", ""), at, found)
    for col, what in (("reason", "why the figure changes (the appeal, the error found)"), ("by", "who decided")):
        if not get(col, ""):
            found.append(Diagnostic("F124", f"no `{col}`", at(col), f"say {what}: a correction is published with it"))
    when = get("at", "")
    if not _valid_date(when):
        found.append(Diagnostic("F128", f"`{when}` is not a date" if when else "no date", at("at"),
                                "write YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] (ISO 8601, no UTC offset)"))
    if found:
        return None, found
    return Override(unit, point, rnd, value, status, get("reason", ""), get("by", ""), when,
                    get("reference", ""), line, path), []


def _round(rs: RuleSet, text: str, where: Record, found: list[Diagnostic]) -> int | None:
    if not text:
        return None
    try:
        r = int(text)
    except ValueError:
        r = None
    if r is None or r not in rs.rounds:
        found.append(Diagnostic("F123", f"no round `{text}` in rule set `{rs.name}`", where,
                                f"its rounds are {', '.join(map(str, sorted(rs.rounds)))}; leave the cell empty "
                                "for every round"))
    return r


def _value_status(rs: RuleSet, p: Any, vtext: str, stext: str, at: Any,
                  found: list[Diagnostic]) -> tuple[float | None, str]:
    """The new value (or None) and status: a value alone is ``ok``; ``ok`` needs one; the other
    statuses take none."""
    status = stext or ("ok" if vtext else "")
    if status not in STATUSES:
        hint = did_you_mean(stext, STATUSES) or "one of " + ", ".join(STATUSES)
        found.append(Diagnostic("F125", f"`{stext}` is no status" if stext else "neither a value nor a status",
                                at("status" if stext else "value"), hint if stext else
                                "give the new value, or a status (no_data, not_applicable, error)"))
        return None, status
    if status != "ok":
        if vtext:
            found.append(Diagnostic("F125", f"a value ({vtext}) with status {status}", at("value"),
                                    "a value is scored with status ok: leave status empty or ok, or remove the value"))
        return None, status
    if not vtext:
        found.append(Diagnostic("F125", "status ok without a value", at("value"), "give the new value"))
        return None, status
    try:
        v = float(vtext)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        found.append(Diagnostic("F125", f"`{vtext}` is not a number", at("value"), "write a number: 3, 0.5"))
        return None, status
    if p is not None:
        _allowed(p, v, at("value"), found)
    return v, status


def _allowed(p: Any, v: float, where: Record, found: list[Diagnostic]) -> None:
    """F126 unless ``v`` may be the probe's value: one of ``values:``, inside ``range:``, 0/1 for
    a probe that is true/false — what a manual entry may be (:func:`govindex.eval.compile.entry_ok`)."""
    values, rng = entry_allowed(p.settings)
    if p.probe is not None and p.probe.type == "bool":
        values = (0.0, 1.0)
    if values is not None and not any(abs(v - a) <= ENTRY_EPS * max(1.0, abs(a)) for a in values):
        allowed = ", ".join(f"{a:g}" for a in values)
        found.append(Diagnostic("F126", f"{v:g} is not an allowed value of `{p.id}`", where,
                                f"one of {allowed}" + (" (the probe is true/false: 1 or 0)"
                                                       if p.probe is not None and p.probe.type == "bool" else "")))
    elif rng is not None and not rng[0] - ENTRY_EPS <= v <= rng[1] + ENTRY_EPS:
        found.append(Diagnostic("F126", f"{v:g} is outside the range of `{p.id}`", where,
                                f"a number from {rng[0]:g} to {rng[1]:g} (its `range:`)"))
    elif _counts(p) and not float(v).is_integer():
        found.append(Diagnostic("F126", f"{v:g} is not a whole number, and `{p.id}` counts", where,
                                f"its probe is a {p.probe.fn} of rows: give a whole number"))


def _counts(p: Any) -> bool:
    """A probe that counts rows (``count``, ``distinct``): its values are whole numbers, whatever
    the column type the engine holds them in."""
    return isinstance(p.probe, ir.Agg) and p.probe.fn in ("count", "distinct")


def _valid_date(text: str) -> bool:
    if not text or text[-1] in "Zz" or "+" in text[10:] or "-" in text[10:]:
        return False
    try:
        (date.fromisoformat if len(text) == 10 else datetime.fromisoformat)(text)
    except ValueError:
        return False
    return True


def _duplicates(overrides: list[Override], path: str) -> list[Diagnostic]:
    """F127 for a second override of the same unit × point × round (a blank round overlaps each)."""
    seen: dict[tuple[str, str], list[Override]] = {}
    out = []
    for o in overrides:
        before = seen.setdefault((o.unit, o.point), [])
        first = next((b for b in before if b.round is None or o.round is None or b.round == o.round), None)
        if first is not None:
            rnd = "every round" if o.round is None or first.round is None else f"round {o.round}"
            out.append(Diagnostic("F127", f"a second override of {o.point} for {o.unit} in {rnd} (first at line "
                                  f"{first.line})", Record(path, o.line, column="point"),
                                  "keep one: edit the first record, or remove it and keep this one"))
        before.append(o)
    return out


def overrides_error(problems: list[Diagnostic], outcome: str = "nothing was scored") -> FactsError:
    """All ``problems`` of the overrides file in one error, in line and column order, then the count."""
    order = {c: i for i, c in enumerate(COLUMNS)}
    problems = sorted(problems, key=lambda d: (getattr(d.location, "line", 0), order.get(d.column, -1)))
    lines = [d.render() for d in problems]
    lines.append(f"{len(problems)} problem(s) in the overrides; {outcome}")
    return FactsError("\n".join(lines), problems)


# ------------------------------------------------------------------ applying


def apply(rs: RuleSet, df: pl.DataFrame, overrides: Sequence[Override],
          status_col: Any) -> tuple[pl.DataFrame, tuple[AppliedOverride, ...]]:
    """``df`` (one row per unit × round, ``v:<point>`` and ``st:<point>``) with each override's
    value and status in place of the probe's; an override of a round not scored is not applied."""
    if not overrides:
        return df, ()
    round_ids = df[ROUND].unique().sort().to_list()
    applied: list[AppliedOverride] = []
    by_point: dict[str, list[tuple[Override, int]]] = {}
    for o in overrides:
        for r in ([o.round] if o.round is not None else round_ids):
            if r in round_ids:
                by_point.setdefault(o.point, []).append((o, r))
    for point, items in by_point.items():
        v, st = value_col(point), status_col(point)
        _check_type(df.schema[v], point, items)
        targets = pl.DataFrame({"code": [o.unit for o, _ in items], ROUND: [r for _, r in items],
                                "__ov_v": [o.value for o, _ in items], "__ov_s": [o.status for o, _ in items]},
                               schema={"code": pl.String, ROUND: pl.Int64, "__ov_v": pl.Float64, "__ov_s": pl.String})
        hits = df.select("code", ROUND, v, st).join(targets.select("code", ROUND), on=["code", ROUND], how="semi")
        old = {(c, r): (x, s) for c, r, x, s in hits.iter_rows()}  # what the facts gave, before
        df = df.join(targets, on=["code", ROUND], how="left", maintain_order="left")
        hit = pl.col("__ov_s").is_not_null()
        df = df.with_columns(pl.when(hit).then(pl.col("__ov_v").cast(df.schema[v])).otherwise(pl.col(v)).alias(v),
                             pl.when(hit).then(pl.col("__ov_s")).otherwise(pl.col(st)).alias(st)).drop("__ov_v", "__ov_s")
        for o, r in items:
            x, s = old[(o.unit, r)]
            applied.append(AppliedOverride(o.unit, point, r, x, s, o.value, o.status, o.reason, o.by, o.at,
                                           o.reference, o.line, _unit_name(rs, o.unit), rs.nodes[point].label))
    return df, tuple(sorted(applied, key=lambda a: (a.unit, a.point, a.round)))


def _unit_name(rs: RuleSet, code: str) -> str:
    u = rs.unit_by(code)
    return u.name if u is not None else ""


def _check_type(dtype: pl.DataType, point: str, items: list[tuple[Override, int]]) -> None:
    """An integer probe (a count) takes whole numbers only: 2.5 pages is no fact."""
    if not dtype.is_integer():
        return
    bad = [o for o, _ in items if o.value is not None and not float(o.value).is_integer()]
    if bad:
        o = bad[0]
        raise overrides_error([Diagnostic("F126", f"{o.value:g} is not a whole number, and `{point}` counts",
                                          Record(o.path, o.line, column="value"), "give a whole number")])


def flag_units(units: pl.DataFrame, applied: Sequence[AppliedOverride]) -> pl.DataFrame:
    """``ov:<point>`` for every point some override was applied to: true for those units."""
    by_point: dict[str, set[str]] = {}
    for a in applied:
        by_point.setdefault(a.point, set()).add(a.unit)
    return units.with_columns([pl.col("code").is_in(sorted(codes)).alias(ov_col(p)) for p, codes in by_point.items()])


# ------------------------------------------------------------------ explain


def for_unit(applied: Sequence[AppliedOverride], unit: str) -> dict[str, list[dict[str, Any]]]:
    """The overrides applied to ``unit``, by point, as JSON."""
    out: dict[str, list[dict[str, Any]]] = {}
    for a in applied:
        if a.unit == unit:
            out.setdefault(a.point, []).append(a.to_json())
    return out


def attach(node: dict[str, Any], by_point: dict[str, list[dict[str, Any]]]) -> None:
    """Put ``overrides`` on the points of an explain tree that have some."""
    if node.get("id") in by_point and node.get("kind") not in ("indicator", "ref"):
        node["overrides"] = by_point[node["id"]]
    for child in node.get("children", ()):
        attach(child, by_point)


def render_lines(x: dict[str, Any], pad: str) -> list[str]:
    """``override r2: 0 → 1 (ok) — reason; by 张三 at 2019-12-03; ref 申诉函`` per override of point ``x``."""
    out = []
    for o in x.get("overrides", ()):
        ref = f"; ref {o['reference']}" if o["reference"] else ""
        out.append(f"{pad}    override r{o['round']}: {_shown(o['old_value'], o['old_status'])} → "
                   f"{_shown(o['new_value'], o['new_status'])} — {o['reason']}; by {o['by']} at {o['at']}{ref}")
    return out


def _shown(value: float | None, status: str) -> str:
    v = "—" if value is None else f"{value:.4g}"
    return v if status == "ok" else f"{v} ({status})"

