"""Which cells each collector was asked for: the round's assignment register.

A per-collector book (``manual template --collector 张三 --units … --points …``) carries its
assignment in its metadata; when it is imported, the assignment is recorded beside the round's
rows in ``manual/round=N/_assignments.json`` (atomically, under the round's lock, never read by
scoring), one record per collector and book file. ``manual progress`` reads it to give each
collector an expected count (the cells of their books) and a missing count (those cells no row
of the round holds yet). A book of all units and points (no ``--collector``) records nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from govindex.collect.registers import read_records, write_records

REGISTER = "_assignments.json"
FORMAT = "govindex-manual-assignments/1"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One book's assignment: who, which file, the units and points it asked for (empty: all)."""

    collector: str
    book: str
    units: tuple[str, ...]
    points: tuple[str, ...]
    at: str

    def cells(self, all_units: set[str], all_points: set[str]) -> set[tuple[str, str]]:
        units = set(self.units) & all_units if self.units else all_units
        points = set(self.points) & all_points if self.points else all_points
        return {(u, p) for u in units for p in points}


def read_assignments(round_dir: Path) -> list[Assignment]:
    """The round's assignments (none without a register); :class:`FactsError` if unreadable."""
    return read_records(round_dir / REGISTER, "assignments",
                        lambda a: Assignment(a["collector"], a["book"], tuple(a["units"]), tuple(a["points"]), a["at"]),
                        "assignment register",
                        "restore it from a backup, or delete it (progress then has no per-collector expected counts)")


def record_assignment(round_dir: Path, collector: str, book: str, units: tuple[str, ...],
                      points: tuple[str, ...]) -> None:
    """Record (or renew) one book's assignment; the caller holds the round's lock."""
    kept = [a for a in read_assignments(round_dir) if (a.collector, a.book) != (collector, book)]
    kept.append(Assignment(collector, book, units, points, datetime.now(UTC).isoformat(timespec="seconds")))
    write_records(round_dir / REGISTER, FORMAT, "assignments",
                  [asdict(a) for a in sorted(kept, key=lambda a: (a.collector, a.book))])


def expected_cells(round_dir: Path, all_units: set[str], all_points: set[str]) -> dict[str, set[tuple[str, str]]]:
    """Collector → the unit × point cells their books asked for (the union over their books)."""
    out: dict[str, set[tuple[str, str]]] = {}
    for a in read_assignments(round_dir):
        out.setdefault(a.collector, set()).update(a.cells(all_units, all_points))
    return out
