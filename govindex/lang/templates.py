"""Templates: points and indicators generated from rows of metadata (docs §6a)::

    template entries for d in "datasets.csv", q in "questions.csv" {
      point "{d.id}_{q.id}" "{d.label}: {q.label}" under "{d.id}" {
        max: q.weight
        probe: max(answers, yes, where: dataset == d.id and question == q.id)
      }
    }

:func:`expand_templates` is a syntax tree → syntax tree pass, run after parsing (and composition)
and before checking: every template is replaced, where it stands, by its body repeated for each
row of its source (each combination of rows, the first source outermost). In the body
``{d.col}`` in an id, a label, ``under`` or a string is the row's text; ``d.col`` as an
expression is the row's value — a number when the column holds numbers, else a string.

Every span of a generated item is the template's, with ``via``: the rows it was made from
(``datasets.csv:7``, then ``questions.csv:3``); a value taken from a cell points at the template
place with ``via`` the cell. A metadata mistake is reported at its row or cell (E320–E327).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from govindex.diagnostics import Diagnostic, did_you_mean
from govindex.diagnostics.location import origin
from govindex.lang import nodes as n
from govindex.lang.source import BOM, SourceError, read_source

_NAME = re.compile(r"(?!(and|or|not|in|if|then|else|true|false|null|under|when)\b)"
                   r"[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*")  # grammar.lark's NAME
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_HOLE = re.compile(r"\{(\w+)\.(\w+)\}")  # `{d.label}` inside a string


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    span: n.Span  # the cell: its file, line and column


@dataclass(frozen=True, slots=True)
class _Row:
    cells: dict[str, _Cell]
    span: n.Span  # the row (col 0 for a CSV row; the map literal for a list source)


@dataclass
class _Table:
    var: str
    columns: list[str]
    rows: list[_Row]
    numeric: set[str]


def expand_templates(files: list[n.RuleFile]) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """Every template of ``files`` replaced by the items it generates; the metadata diagnostics."""
    ex = _Expander()
    out = [replace(f, items=tuple(it for item in f.items for it in ex.item(f, item))) for f in files]
    return out, ex.diags


class _Expander:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.seen: set[str] = set()  # places already reported: a bad row is reported once
        self.ids: dict[str, tuple[_Row, ...]] = {}  # generated id → the rows that made it

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None:
        key = f"{code} {span}"
        if key not in self.seen:
            self.seen.add(key)
            self.diags.append(Diagnostic(code, msg, span, hint))

    def item(self, f: n.RuleFile, it: n.Item) -> tuple[n.Item, ...]:
        if not isinstance(it, n.TemplateDecl):
            return (it,)
        before = len(self.diags)
        tables = [_read_source(self, Path(f.path).parent, s) for s in self._sources(it)]
        if len(self.diags) > before or any(t is None for t in tables):
            return ()
        ok_tables = [t for t in tables if t is not None]
        _Refs(self, it, ok_tables).check()
        if len(self.diags) > before:
            return ()
        out: list[n.Item] = []
        for combo in itertools.product(*(t.rows for t in ok_tables)):
            env = _Env(self, {t.var: (t, r) for t, r in zip(ok_tables, combo, strict=True)}, _via(combo))
            out.extend(env.node(b, None) for b in it.body)
        return tuple(out) if len(self.diags) == before else ()

    def _sources(self, it: n.TemplateDecl) -> list[n.TemplateSource]:
        names: dict[str, n.TemplateSource] = {}
        for s in it.sources:
            if s.var in names:
                self.err("E327", f"the template variable `{s.var}` is named twice", s.span,
                         "give each source of the template its own variable")
            names[s.var] = s
        return list(names.values())


def n_quote(template_id: str) -> str:
    return f'"{template_id}"' if "{" in template_id else f"`{template_id}`"


def _via(rows: tuple[_Row, ...]) -> n.Span:
    """The rows as a chain of origins: the first source's row, then the next one's …"""
    via: n.Span | None = None
    for r in reversed(rows):
        via = replace(r.span, via=via)
    assert via is not None  # a template has at least one source (grammar)
    return via


# ---------------------------------------------------------------- reading a source


def _read_source(ex: _Expander, base: Path, s: n.TemplateSource) -> _Table | None:
    if isinstance(s.source, n.ListLit):
        return _list_table(ex, s.var, s.source)
    path = base / s.source.value
    shown = str(path)
    try:
        text = read_source(path, "metadata file").removeprefix(BOM)
    except SourceError as exc:
        where = n.Span(shown, exc.line, exc.col, exc.line, exc.col + 1) if exc.line else s.source.span
        ex.err("E320", exc.message, where, exc.hint or f"a template reads a CSV file next to {base / '*.rules'}")
        return None
    return _csv_table(ex, s.var, shown, text, s.source.span)


def _csv_table(ex: _Expander, var: str, path: str, text: str, named_at: n.Span) -> _Table | None:
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[_Cell] | None = None
    rows: list[_Row] = []
    last = 0
    try:
        for fields_ in reader:
            line, last = last + 1, reader.line_num
            if not any(x.strip() for x in fields_):
                continue
            cells = _cells(path, line, last, raw[line - 1] if line <= len(raw) else "", fields_)
            if header is None:
                header = cells
                if not _header_ok(ex, header):
                    return None
                continue
            if len(cells) != len(header):
                ex.err("E321", f"this row has {len(cells)} field{'s' * (len(cells) != 1)}, the header "
                       f"{len(header)}", n.Span(path, line, 1, line, len(raw[line - 1]) + 1),
                       "quote a field that holds a comma (\"a, b\"); give every row one field per column")
                continue
            rows.append(_Row({h.text: c for h, c in zip(header, cells, strict=True)}, n.Span(path, line, 0, line, 0)))
    except csv.Error as exc:
        ex.err("E320", f"cannot read the CSV: {exc}", n.Span(path, last + 1, 1, last + 1, 2), "check the quotes")
        return None
    if header is None or not rows:
        ex.err("E320", f"{path} has {'no header' if header is None else 'no rows'}", named_at,
               "a metadata file is a CSV: a header line naming the columns, then one line per row")
        return None
    return _Table(var, [h.text for h in header], rows, set())


def _header_ok(ex: _Expander, header: list[_Cell]) -> bool:
    ok, names = True, set()
    for h in header:
        if not re.fullmatch(r"\w+", h.text) or h.text in names:
            why = "is named twice" if h.text in names else "is not a name a template can use"
            ex.err("E320", f"the column `{h.text}` {why}", h.span,
                   "columns are named once, with letters, digits and _ (a template writes `d.column`)")
            ok = False
        names.add(h.text)
    return ok


def _cells(path: str, line: int, last: int, text: str, values: list[str]) -> list[_Cell]:
    """The fields of one row with their columns (a row over several lines: column 1)."""
    starts = _starts(text) if line == last else []
    if len(starts) != len(values):
        starts = [1] * len(values)
    ends = [s - 1 for s in starts[1:]] + [len(text) + 1]
    return [_Cell(v.strip(), n.Span(path, line, s, line, max(e, s + 1)))
            for v, s, e in zip(values, starts, ends, strict=True)]


def _starts(line: str) -> list[int]:
    out, quoted = [1], False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(i + 2)
    return out


def _list_table(ex: _Expander, var: str, lit: n.ListLit) -> _Table | None:
    """``[{id: "a", weight: 5}, …]``: each map a row, its keys the columns (the first map's)."""
    rows: list[_Row] = []
    columns: list[str] = []
    for k, item in enumerate(lit.items):
        if not isinstance(item, n.MapLit):
            ex.err("E320", "a row of a template's list is a map", item.span, 'e.g. {id: "budget", label: "Budget"}')
            continue
        cells = {}
        for p in item.pairs:
            v = p.value
            if not isinstance(v, (n.Number, n.String)):
                ex.err("E320", f"`{p.key_text}` is not a number or a string", v.span,
                       "metadata values are literals: 5, 0.5, \"text\"")
                break
            cells[str(p.key)] = _Cell(v.text or str(v.value) if isinstance(v, n.Number) else v.value, v.span)
        else:
            _add_row(ex, k, cells, item, columns, rows)
    if not rows and not ex.diags:
        ex.err("E320", "the template's list has no rows", lit.span, "list one map per row")
    return _Table(var, columns, rows, set()) if rows else None


def _add_row(ex: _Expander, k: int, cells: dict[str, _Cell], item: n.MapLit, columns: list[str],
             rows: list[_Row]) -> None:
    if k == 0:
        columns.extend(cells)
    elif set(cells) != set(columns):
        diff = sorted(set(columns) ^ set(cells))
        ex.err("E321", f"this row's keys differ from the first row's ({', '.join(diff)})", item.span,
               "give every row the same keys")
        return
    rows.append(_Row(cells, item.span))


# ---------------------------------------------------------------- what the body uses


@dataclass(frozen=True, slots=True)
class _Use:
    var: str
    col: str
    span: n.Span
    strict: bool  # in an id, a label or an expression: the cell must not be empty
    expr: bool  # a value in an expression (the column's type matters)


class _Refs:
    """The metadata a template's body names: unknown variables and columns, empty and
    non-numeric cells are reported once, before any row is expanded."""

    def __init__(self, ex: _Expander, it: n.TemplateDecl, tables: list[_Table]):
        self.ex, self.it = ex, it
        self.tables = {t.var: t for t in tables}
        self.uses: list[_Use] = []

    def check(self) -> None:
        for b in self.it.body:
            self._node(b)
        for u in self.uses:
            t = self.tables[u.var]
            if u.col not in t.columns:
                self.ex.err("E323", f"`{u.var}` has no column `{u.col}`", u.span,
                            did_you_mean(u.col, t.columns) or f"its columns: {', '.join(t.columns)}")
        for t in self.tables.values():
            used = {u.col for u in self.uses if u.var == t.var and u.expr and u.col in t.columns}
            t.numeric = {c for c in used if _mostly_numbers([r.cells[c].text for r in t.rows])}
            self._cells(t)

    def _cells(self, t: _Table) -> None:
        strict = {u.col for u in self.uses if u.var == t.var and u.strict and u.col in t.columns}
        for r in t.rows:
            for c in sorted(strict):
                cell = r.cells[c]
                if not cell.text:
                    self.ex.err("E326", f"`{c}` is empty in this row", cell.span,
                                f"the template uses `{t.var}.{c}` in an id, a label or a value: fill it in")
                elif c in t.numeric and not _NUMBER.fullmatch(cell.text):
                    self.ex.err("E322", f"`{cell.text}` in column `{c}` is not a number", cell.span,
                                f"the other rows of `{c}` hold numbers; write one, e.g. 10 or 0.5")

    def _node(self, d: n.IndicatorDecl | n.PointDecl | n.RefDecl) -> None:
        if isinstance(d, n.RefDecl):
            self._settings(d.settings)
            return
        for text in (d.id, d.label, d.under or ""):
            self._holes(text, d.span, True)
        self._settings(d.settings)
        for c in getattr(d, "children", ()):
            self._node(c)

    def _settings(self, settings: tuple[n.Setting, ...]) -> None:
        for s in settings:
            for e in n.walk(s.value):
                if isinstance(e, n.String):
                    self._holes(e.value, e.span, False)
                elif isinstance(e, n.Name) and "." in e.id:
                    var, col = e.id.split(".", 1)
                    if var in self.tables:
                        self.uses.append(_Use(var, col, e.span, True, True))

    def _holes(self, text: str, span: n.Span, strict: bool) -> None:
        for m in _HOLE.finditer(text):
            var, col = m.group(1), m.group(2)
            if var not in self.tables:
                self.ex.err("E327", f"`{{{var}.{col}}}`: the template has no variable `{var}`", span,
                            f"its variables: {', '.join(self.tables)}")
            else:
                self.uses.append(_Use(var, col, span, strict, False))


def _mostly_numbers(texts: list[str]) -> bool:
    """A column holds numbers when more than half of its filled cells read as numbers."""
    filled = [t for t in texts if t]
    return 2 * sum(1 for t in filled if _NUMBER.fullmatch(t)) > len(filled)


# ---------------------------------------------------------------- one combination of rows


class _Env:
    """The body of a template for one combination of rows."""

    def __init__(self, ex: _Expander, rows: dict[str, tuple[_Table, _Row]], via: n.Span):
        self.ex, self.rows, self.via = ex, rows, via

    def text(self, s: str) -> str:
        return _HOLE.sub(lambda m: self.rows[m.group(1)][1].cells[m.group(2)].text
                         if m.group(1) in self.rows else m.group(0), s)

    def node(self, d: Any, parent: str | None) -> Any:
        if isinstance(d, (n.PointDecl, n.IndicatorDecl)):
            ident = self._id(d)
            out = replace(d, id=ident, label=self.text(d.label), under=self.text(d.under) if d.under else None,
                          settings=tuple(self.node(s, ident) for s in d.settings), span=self._span(d.span))
            if isinstance(out, n.IndicatorDecl):
                out = replace(out, children=tuple(self.node(c, ident) for c in out.children))
            return out
        return self.value(d)

    def _id(self, d: n.PointDecl | n.IndicatorDecl) -> str:
        ident = self.text(d.id)
        if not _NAME.fullmatch(ident):
            self.ex.err("E325", f"the generated id `{ident}` is not a name", self._blame(d, set(self.rows)),
                        "an id is letters, digits, _ or 汉字, not starting with a digit: change this cell, "
                        "or build the id from another column")
        rows = tuple(r for _, r in self.rows.values())
        first = self.ex.ids.setdefault(ident, rows)
        if first is not rows:
            differ = {v for (v, (_, r)), r0 in zip(self.rows.items(), first, strict=False) if r is not r0}
            was = ", ".join(origin(r0.span) for (_, (_, r)), r0 in zip(self.rows.items(), first, strict=False)
                            if r is not r0) or "another template"
            self.ex.err("E324", f"the id `{ident}` is generated twice (first from {was})", self._blame(d, differ),
                        f"each row needs its own value in the columns of the id {n_quote(d.id)}")
        return ident

    def _blame(self, d: n.PointDecl | n.IndicatorDecl, among: set[str]) -> n.Span:
        """The cell of ``among``'s rows that a generated id is made of (else the template line)."""
        for m in _HOLE.finditer(d.id):
            if m.group(1) in among:
                return self.rows[m.group(1)][1].cells[m.group(2)].span
        return self._span(d.span)

    def _span(self, span: n.Span) -> n.Span:
        return replace(span, via=self.via)

    def value(self, x: Any) -> Any:
        """``x`` with its spans generated from the rows, ``d.col`` replaced by the cell's value and
        ``{d.col}`` in strings by its text."""
        if isinstance(x, n.Name) and "." in x.id and x.id.split(".", 1)[0] in self.rows:
            var, col = x.id.split(".", 1)
            table, row = self.rows[var]
            cell = row.cells[col]
            span = replace(x.span, via=cell.span)
            if col in table.numeric:
                return n.Number(float(cell.text), cell.text, span)
            return n.String(cell.text, span)
        if isinstance(x, n.String):
            return n.String(self.text(x.value), self._span(x.span))
        if isinstance(x, tuple):
            return tuple(self.value(v) for v in x)
        if isinstance(x, n.Span):
            return self._span(x)
        if hasattr(x, "__dataclass_fields__"):
            return type(x)(**{f.name: self.value(getattr(x, f.name)) for f in fields(x)})
        return x
