"""The dispute register of a round: every unit × point two collectors entered differently.

A manual import that meets an entry of another collector with another value (M122) refuses the
book — the round's facts are not touched — and records the disagreement here, so that it is
known (``manual progress`` counts it) until someone adjudicates it with ``manual resolve``. The
register is ``FACTS/T/round=N/_disputes.json`` beside the round's rows (not a ``.parquet``:
scoring never reads it), written atomically under the round's lock.

Each dispute holds both sides (value, collector, ``book.xlsx:录入!G5``), when it was recorded,
and, once resolved, the adjudicated value, who decided, why and when (``status``: ``open`` →
``resolved``, or ``replaced`` when a ``--replace`` import overwrote the cell). Closed disputes stay
in the register: it is the history of the round.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from govindex.collect.registers import read_records, write_records

REGISTER = "_disputes.json"
FORMAT = "govindex-manual-disputes/1"


@dataclass
class Side:
    """One collector's entry: the value, who entered it, where (``book.xlsx:录入!G5``)."""

    value: float
    collector: str
    cell: str


@dataclass
class Dispute:
    """Two entries for one unit × point of the round that disagree, and their resolution."""

    unit: str
    point: str
    held: Side  # the round's row when the second book came
    entered: Side  # the second book's entry
    recorded_at: str
    status: str = "open"
    resolution: dict[str, object] = field(default_factory=dict)  # value, by, reason, at

    @property
    def key(self) -> tuple[str, str]:
        return self.unit, self.point


def read_register(round_dir: Path) -> list[Dispute]:
    """The round's disputes (none if it has no register); :class:`FactsError` if unreadable."""
    return read_records(round_dir / REGISTER, "disputes",
                        lambda d: Dispute(**{**d, "held": Side(**d["held"]), "entered": Side(**d["entered"])}),
                        "dispute register", "restore it from a backup, or delete it to forget the recorded disputes")


def write_register(round_dir: Path, disputes: list[Dispute]) -> None:
    """Write the register atomically (the caller holds the round's lock)."""
    write_records(round_dir / REGISTER, FORMAT, "disputes", [asdict(d) for d in disputes])


def record(round_dir: Path, new: list[Dispute]) -> None:
    """Add ``new`` disputes to the register; one already open with the same sides is not repeated."""
    disputes = read_register(round_dir)
    seen = {(d.key, d.held.cell, d.entered.cell, d.entered.value) for d in disputes if d.status == "open"}
    disputes += [d for d in new if (d.key, d.held.cell, d.entered.cell, d.entered.value) not in seen]
    write_register(round_dir, disputes)


def open_disputes(round_dir: Path) -> dict[tuple[str, str], list[Dispute]]:
    """Unit × point → its open disputes."""
    out: dict[tuple[str, str], list[Dispute]] = {}
    for d in read_register(round_dir):
        if d.status == "open":
            out.setdefault(d.key, []).append(d)
    return out


def supersede(round_dir: Path, entries: list, source: str) -> None:
    """Close the open disputes of the cells a ``--replace`` import wrote: its values won
    (``status`` ``replaced``, the book named in the resolution)."""
    disputes = read_register(round_dir)
    written = {(e.unit, e.point): e for e in entries}
    hit = [d for d in disputes if d.status == "open" and d.key in written]
    if not hit:
        return
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for d in hit:
        e = written[d.key]
        d.status = "replaced"
        d.resolution = {"value": e.value, "by": e.collector, "reason": f"--replace with {Path(source).name}", "at": now}
    write_register(round_dir, disputes)
