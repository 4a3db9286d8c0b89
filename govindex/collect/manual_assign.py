"""One collector's share of a round: the units and manual points of ``manual template --units
… --points … --collector …``, resolved against the rule set with a located error (and a
did-you-mean) for every name that is not one of them.

``--units`` takes unit codes or names separated by commas (``130100,邯郸市``), attribute filters
(``province=河北``: every unit whose attribute has that value), or the path of a text/CSV file
holding one code or name per line (the first column; a header line ``unit``/``code``/``单位代码``
and lines starting with ``#`` are skipped). ``--points`` takes manual point ids separated by
commas. Errors: M120 unknown-assigned-unit, M121 unknown-assigned-point.
"""

from __future__ import annotations

import csv
from pathlib import Path

from govindex.collect.manual import Assignment, ManualPoint
from govindex.diagnostics import Diagnostic, File, GovindexError, Record, did_you_mean
from govindex.ir import RuleSet, Unit

HEADERS = {"unit", "code", "单位代码", "单位名称", "name"}


class AssignmentError(GovindexError):
    """A unit or point named for a collector's book is not in the rule set; ``diagnostics`` lists
    every such name. No book was written."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(["no template written:", *(d.render() for d in diagnostics)]))


def select(rs: RuleSet, units: str, points: str, manual: list[ManualPoint]) -> Assignment:
    """The assignment the options name (an empty option: all); every bad name of both options is
    reported at once (:class:`AssignmentError`)."""
    probs: list[Diagnostic] = []
    chosen_units, chosen_points = None, None
    try:
        chosen_units = select_units(rs, units) if units else None
    except AssignmentError as exc:
        probs += exc.diagnostics
    try:
        chosen_points = select_points(rs, points, manual) if points else None
    except AssignmentError as exc:
        probs += exc.diagnostics
    if probs:
        raise AssignmentError(probs)
    return Assignment(chosen_units, chosen_points)


def select_units(rs: RuleSet, spec: str) -> tuple[Unit, ...]:
    """The units ``spec`` names, in registry order; :class:`AssignmentError` for unknown names."""
    path = Path(spec)
    items = _file_items(path) if spec and path.is_file() else _arg_items("--units", spec)
    chosen: set[str] = set()
    probs = []
    for text, where in items:
        found = _match(rs, text)
        if found:
            chosen.update(u.code for u in found)
        else:
            probs.append(Diagnostic("M120", f"no unit `{text}` in rule set `{rs.name}`", where, _unit_hint(rs, text)))
    if probs:
        raise AssignmentError(probs)
    return tuple(u for u in rs.units if u.code in chosen)


def select_points(rs: RuleSet, spec: str, points: list[ManualPoint]) -> tuple[str, ...]:
    """The manual point ids ``spec`` names, in rule-set order; :class:`AssignmentError` otherwise."""
    ids = {p.id for p in points}
    probs = []
    for text, where in _arg_items("--points", spec):
        if text in ids:
            continue
        node = rs.nodes.get(text)
        what = f"`{text}` is {'an indicator' if node.kind == 'indicator' else f'a {node.kind} point'}, not a " \
               "manual point" if node is not None else f"no manual point `{text}`"
        hint = did_you_mean(text, ids, n=2) or "the manual points are listed in the template's sheet 说明"
        probs.append(Diagnostic("M121", what, where, hint))
    if probs:
        raise AssignmentError(probs)
    named = {t for t, _ in _arg_items("--points", spec)}
    return tuple(p.id for p in points if p.id in named)


def _arg_items(option: str, spec: str) -> list[tuple[str, File]]:
    return [(t.strip(), File(option, column=t.strip())) for t in spec.replace("，", ",").split(",") if t.strip()]


def _file_items(path: Path) -> list[tuple[str, Record]]:
    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            text = row[0].strip() if row else ""
            if text and not text.startswith("#") and not (line == 1 and text in HEADERS):
                out.append((text, Record(str(path), line)))
    return out


def _match(rs: RuleSet, text: str) -> list[Unit]:
    attr, eq, value = text.partition("=")
    if eq and attr.strip() in rs.unit_attrs:
        return [u for u in rs.units if u.attrs.get(attr.strip(), "") == value.strip()]
    return [u for u in rs.units if text in (u.code, u.name)]


def _unit_hint(rs: RuleSet, text: str) -> str:
    attr, eq, value = text.partition("=")
    if eq:
        if attr.strip() not in rs.unit_attrs:
            return f"unit attributes: {', '.join(rs.unit_attrs) or 'none'}"
        values = sorted({u.attrs.get(attr.strip(), "") for u in rs.units} - {""})
        return did_you_mean(value.strip(), values, n=2) or f"no unit has {attr.strip()} = {value.strip()}"
    names = [u.code for u in rs.units] + [u.name for u in rs.units]
    return did_you_mean(text, names, n=2) or "give unit codes or names of the rule set's registry"
