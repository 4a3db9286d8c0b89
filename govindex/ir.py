"""The checked rule set: what ``check`` produces and ``compile``/``evaluate`` consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from govindex.lang import nodes as n

ROOT = "total"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: dict[str, str]
    valid: n.Expr | None
    span: n.Span


@dataclass(frozen=True, slots=True)
class Node:
    """An indicator (``kind`` = "indicator") or an evaluation point (technical/manual)."""

    id: str
    label: str
    kind: str  # indicator | technical | manual
    parent: str | None
    level: int  # 0 for the root, 1 for L1 ...
    max: float
    weight: float | None
    aggregate: str  # for indicators
    missing: str
    rounds: str  # for points
    probe: n.Expr | None
    score: n.Expr | None
    children: tuple[str, ...]
    span: n.Span
    settings: dict[str, n.Expr] = field(default_factory=dict)

    @property
    def is_point(self) -> bool:
        return self.kind != "indicator"


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    attrs: dict[str, str]


@dataclass(frozen=True, slots=True)
class Grading:
    """How totals become classes: ``difference_trend`` breaks or fixed ``thresholds``."""

    label: str
    method: str  # difference_trend | thresholds
    classes: tuple[tuple[str, str], ...]  # (id, label), from the best class down
    sublevels: frozenset[str]  # classes split evenly into three (A+, A, A-)
    cuts: dict[str, float]  # thresholds: lowest total of each class but the last
    window: int  # difference_trend: neighbours on each side that set the local trend
    min_class: int  # difference_trend: fewest units in a class
    span: n.Span


@dataclass(frozen=True, slots=True)
class Marker:
    """Extraction sets ``id`` in the list column ``into_column`` of ``into`` for rows of ``table``
    (the raw extraction table) where ``where`` holds."""

    id: str
    label: str
    table: str
    where: n.Expr
    into: str
    into_column: str
    span: n.Span


@dataclass(frozen=True, slots=True)
class Clean:
    """A cleaning rule: drop rows of ``table`` where ``when`` holds, or all but the first row of
    each group of equal ``dedupe`` columns. ``label`` is the reason reported with the counts."""

    id: str
    label: str
    table: str
    when: n.Expr | None
    dedupe: tuple[str, ...]
    span: n.Span


@dataclass(slots=True)
class RuleSet:
    name: str
    root_dir: Path
    settings: dict[str, n.Expr]
    units: list[Unit]
    unit_attrs: list[str]  # registry columns beyond code and name, in file order
    unit_column: str
    round_column: str
    rounds: dict[int, date]
    rounding: dict[str, object]
    tables: dict[str, Table]
    nodes: dict[str, Node]  # pre-order, root first
    lets: dict[str, n.Expr]
    tests: list[n.TestDecl]
    files: list[n.RuleFile]
    grading: Grading | None = None
    markers: list[Marker] = field(default_factory=list)
    cleaning: list[Clean] = field(default_factory=list)

    @property
    def points(self) -> list[Node]:
        return [x for x in self.nodes.values() if x.is_point]

    @property
    def indicators(self) -> list[Node]:
        return [x for x in self.nodes.values() if not x.is_point and x.id != ROOT]

    def table_has_round(self, table: str) -> bool:
        return self.round_column in self.tables[table].columns

    def unit_by(self, code_or_name: str) -> Unit | None:
        for u in self.units:
            if code_or_name in (u.code, u.name):
                return u
        return None
