"""How far a round's manual collection has come (``manual progress``): per point and per
collector, from the round's rows (:mod:`govindex.collect.manual_merge` writes them with their
provenance) and its dispute register (:mod:`govindex.collect.manual_disputes`).

Definitions, per point (every unit of the rule set is expected to have every manual point):

- 应填 expected: the units of the rule set;
- 已填 entered: units with a row for the point (a value);
- 已核验 verified: entered rows a second collector entered alike (``verified_by``), or that were
  adjudicated (``resolved_by``);
- 有争议 disputed: units whose cell has an open dispute (two collectors, two values);
- 未填 missing: expected − entered.

Per collector (the row's ``collector``; rows without one are ``(未署名)``): 应填 expected — the
cells of the books made for them (``manual template --collector``), recorded in the round's
assignment register when such a book is imported (:mod:`govindex.collect.manual_assignments`;
``—`` for a collector without one) —, entered, verified (their entries confirmed by a second
collector or a resolution), 核验他人 verifications they made of others' entries, disputed (open
disputes they are on either side of) and 未填 missing — their assigned cells that no row of the
round holds yet, whoever entered it. The total line sums the points.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from govindex.collect.manual import check_round, manual_points, manual_table
from govindex.collect.manual_assignments import expected_cells
from govindex.collect.manual_disputes import open_disputes
from govindex.collect.manual_merge import PART, _read
from govindex.diagnostics import FactsError, display_width
from govindex.ir import RuleSet

UNNAMED = "(未署名)"
POINT_HEAD = ("点位", "应填", "已填", "已核验", "有争议", "未填", "完成率")
WHO_HEAD = ("采集人", "应填", "已填", "已核验", "核验他人", "有争议", "未填")


@dataclass
class Progress:
    """The counts of one round; rows of ``points`` are (id, label, expected, entered, verified,
    disputed, missing), of ``collectors`` (name, entered, verified, verifications, disputed)."""

    round: int
    units: int
    points: list[tuple[str, str, int, int, int, int, int]] = field(default_factory=list)
    collectors: list[tuple[str, int | None, int, int, int, int, int | None]] = field(default_factory=list)

    def total(self) -> tuple[int, int, int, int, int]:
        sums = [sum(int(p[i]) for p in self.points) for i in range(2, 7)]
        return sums[0], sums[1], sums[2], sums[3], sums[4]

    def render(self) -> str:
        """Two tables (points, collectors) and a total line, in Chinese."""
        rows = [[f"{pid} {label}", *map(str, p), _rate(p[1], p[0])] for pid, label, *p in self.points]
        exp, ent, ver, dis, mis = self.total()
        lines = [f"第 {self.round} 轮人工采集进度：{self.units} 个单位 × {len(self.points)} 个人工点位"]
        lines += _table(POINT_HEAD, rows)
        lines.append(f"合计：应填 {exp}，已填 {ent}（{_rate(ent, exp)}），已核验 {ver}，有争议 {dis}，未填 {mis}")
        lines.append("")
        lines += _table(WHO_HEAD, [[name, *("—" if v is None else str(v) for v in c)] for name, *c in self.collectors])
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        keys = ("expected", "entered", "verified", "disputed", "missing")
        return {"round": self.round, "units": self.units,
                "points": [{"point": pid, "label": label, **dict(zip(keys, p, strict=True))}
                           for pid, label, *p in self.points],
                "collectors": [{"collector": name, **dict(zip(("expected", "entered", "verified", "verifications",
                                                               "disputed", "missing"), c, strict=True))}
                               for name, *c in self.collectors],
                "total": dict(zip(keys, self.total(), strict=True))}


def _rate(n: int, of: int) -> str:
    return f"{n / of:.0%}" if of else "—"


def _table(head: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    widths = [max(display_width(r[i]) for r in [list(head), *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0] + " " * (widths[0] - display_width(cells[0]))
        rest = [" " * (w - display_width(c)) + c for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(list(head)), *(line(r) for r in rows)]


def progress(rs: RuleSet, round_no: int, facts_dir: Path) -> Progress:
    """The progress of round ``round_no`` of the rule set's manual table in ``facts_dir``."""
    check_round(rs, round_no)
    table = manual_table(rs)
    if not Path(facts_dir).is_dir():
        what = "is not a directory" if Path(facts_dir).exists() else "does not exist"
        raise FactsError(f"facts directory {facts_dir} {what}\n  hint: pass the directory manual import writes "
                         "into (--facts DIR)")
    round_dir = Path(facts_dir) / table / f"{rs.round_column}={round_no}"
    df = _read(round_dir / PART) if (round_dir / PART).exists() else pl.DataFrame()
    rows = [] if df.is_empty() else df.to_dicts()
    disputes = open_disputes(round_dir)
    out = Progress(round_no, len(rs.units))
    units = {u.code for u in rs.units}
    for p in (p for p in manual_points(rs) if p.table == table):
        mine = {str(r[rs.unit_column]) for r in rows if r["point"] == p.id and r["value"] is not None} & units
        ok = {str(r[rs.unit_column]) for r in rows if r["point"] == p.id and (r.get("verified_by") or
                                                                             r.get("resolved_by"))} & mine
        dis = {u for (u, pt) in disputes if pt == p.id}
        out.points.append((p.id, p.label, len(units), len(mine), len(ok), len(dis), len(units - mine)))
    held = {(str(r[rs.unit_column]), r["point"]) for r in rows if r["value"] is not None}
    points = {p.id for p in manual_points(rs) if p.table == table}
    assigned = expected_cells(round_dir, units, points)
    out.collectors = [(n, None if n not in assigned else len(assigned[n]), e, v, k, d,
                       None if n not in assigned else len(assigned[n] - held))
                      for n, e, v, k, d in _collectors(rows, disputes, assigned)]
    return out


def _collectors(rows: list[dict], disputes: dict, assigned: dict) -> list[tuple[str, int, int, int, int]]:
    entered, verified, checks, disputed = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    for r in rows:
        who = r.get("collector") or UNNAMED
        entered[who] += 1
        if r.get("verified_by") or r.get("resolved_by"):
            verified[who] += 1
        if r.get("verified_by"):
            checks[r["verified_by"]] += 1
    for ds in disputes.values():
        for d in ds:
            for who in {d.held.collector or UNNAMED, d.entered.collector or UNNAMED}:
                disputed[who] += 1
    names = sorted(entered.keys() | checks.keys() | disputed.keys() | assigned.keys())
    return [(n, entered[n], verified[n], checks[n], disputed[n]) for n in names]
