"""Parsed rule files → a checked :class:`govindex.ir.RuleSet`, before any fact is read.

All problems are gathered and reported at once; :func:`load` raises :class:`RuleError` when
any is an error (warnings pass).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TypeVar, cast

from govindex import ir
from govindex.check.expr import Ctx, Scope, did_you_mean, lower
from govindex.check.functions import AGGREGATORS, COLUMN_TYPES, MISSING_POLICIES, ROUND_POLICIES, ROUNDING_MODES
from govindex.check.size import large
from govindex.diagnostics import Diagnostic, RuleError
from govindex.ir import ROOT, Clean, Grading, Marker, Node, Rounding, RuleSet, Table, Unit
from govindex.lang import nodes as n
from govindex.lang.parse import parse_dir

RULESET_KEYS = {"total_label", "year", "units", "key", "name_column", "groups", "unit_column", "round_column", "rounds",
                "max_total", "rounding", "missing", "rounds_policy", "aggregate", "description", "source"}
MARKER_KEYS = {"table", "where", "into", "column", "description", "source"}
CLEAN_KEYS = {"table", "drop_when", "dedupe", "description", "source"}
GRADING_KEYS = {"method", "classes", "sublevels", "cuts", "window", "min_class", "description", "source"}
GRADING_METHODS = {"difference_trend": "breaks at the most significant gaps of the sorted totals",
                   "thresholds": "fixed cut-off totals"}
INDICATOR_KEYS = {"max", "weight", "aggregate", "missing", "description", "source"}
POINT_KEYS = {"kind", "max", "weight", "probe", "score", "missing", "rounds", "values", "range",
              "description", "source"}
_EPS = 1e-9
_T = TypeVar("_T")


def load(root: Path) -> RuleSet:
    """Parse and check a rule set directory; raise :class:`RuleError` if it has errors."""
    rs, diags = check(root)
    errors = [d for d in diags if d.is_error]
    if errors or rs is None:
        raise RuleError(errors)
    return rs


def check(root: Path) -> tuple[RuleSet | None, list[Diagnostic]]:
    """Every diagnostic of the rule set at ``root``, and the rule set when it has no errors."""
    files, diags = parse_dir(root)
    if diags:
        return None, diags
    rs, diags = _Checker(root, files).run()
    return rs, sorted(diags, key=lambda d: (not d.is_error, d.span.path, d.span.line, d.span.col))


class _Checker:
    def __init__(self, root: Path, files: list[n.RuleFile]):
        self.root = root if root.is_dir() else root.parent
        self.files = files
        self.diags: list[Diagnostic] = []
        self.items = [it for f in files for it in f.items]
        self.registry_read = False

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None:
        self.diags.append(Diagnostic(code, msg, span, hint))

    def run(self) -> tuple[RuleSet | None, list[Diagnostic]]:
        decl = self._ruleset_decl()
        settings = self._settings(decl.settings if decl else (), RULESET_KEYS, "ruleset")
        tables, valid_src = self._tables()
        lets = self._lets(tables)
        units, attrs = self._units(settings, decl)
        year, groups = self._year(settings), self._groups(settings, attrs)
        unit_col = _text(settings.get("unit_column"), "unit")
        round_col = _text(settings.get("round_column"), "round")
        for t in tables.values():
            if unit_col not in t.columns:
                self.err("E207", f"table `{t.name}` has no unit column `{unit_col}`", t.span,
                         f"every fact table needs the column `{unit_col}: str` (the ruleset's unit_column)")
        rounds = self._rounds(settings, decl)
        for key in ("units", "key", "name_column", "unit_column", "round_column", "total_label", "description",
                    "source"):
            if key in settings and not isinstance(settings[key], n.String):
                self.err("E207", f"`{key}` takes a quoted string", settings[key].span, f'e.g. {key}: "…"')
        for key, table in (("missing", MISSING_POLICIES), ("rounds_policy", ROUND_POLICIES)):
            if key in settings and _policy_name(settings[key], table) is None:
                self.err("E207", f"unknown {key} `{_show(settings[key])}`", settings[key].span,
                         did_you_mean(_show(settings[key]), table) or "one of " + ", ".join(table))
        scope = Scope({t.name: t.columns for t in tables.values()}, lets, self.diags)
        for t in tables.values():
            src = valid_src.get(t.name)
            if src is not None:
                e, ty = lower(src, Ctx("row", table=t.name), scope)
                if ty not in ("bool", None):
                    self.err("E106", f"`valid when` needs a condition, found {ty}", src.span)
                tables[t.name] = Table(t.name, t.columns, e, t.span)
        markers = self._markers(tables, scope)
        cleaning = self._cleaning(tables, scope)
        nodes = _Tree(self, settings, scope, decl).build()
        self._undeclared_markers(markers, nodes, tables)
        for name in lets:
            if name not in scope.used_lets:
                self.err("W501", f"`let {name}` is never used", _let_span(self.items, name), "remove it or use it")
        for t in tables.values():
            if t.name not in scope.used_tables:
                self.err("W502", f"table `{t.name}` is declared but no probe reads it", t.span,
                         "remove it, or it is read only by collection")
        tests = [it for it in self.items if isinstance(it, n.TestDecl)]
        self._tests(tests, tables, nodes, units)
        rounding = self._rounding(settings)
        grading = self._grading(nodes[ROOT].max if ROOT in nodes else None, len(units))
        if any(d.is_error for d in self.diags) or decl is None:
            return None, self.diags
        rs = RuleSet(decl.name, self.root, settings, units, attrs, unit_col, round_col, rounds, rounding,
                     tables, nodes, {k: v for k, v in lets.items()}, tests, self.files, grading, markers, cleaning,
                     year, groups)
        return rs, self.diags

    # ------------------------------------------------------------------ ruleset header
    def _ruleset_decl(self) -> n.RulesetDecl | None:
        decls = [it for it in self.items if isinstance(it, n.RulesetDecl)]
        if not decls:
            first = self.files[0].path if self.files else str(self.root)
            self.err("E301", "no `ruleset` declaration", n.Span(first, 1, 1, 1, 1),
                     'one file must declare: ruleset "名称" { units: "units.csv" ... }')
            return None
        for extra in decls[1:]:
            self.err("E303", "a second `ruleset` declaration", extra.span, f"the first is at {decls[0].span}")
        return decls[0]

    def _settings(self, items: tuple[n.Setting, ...], allowed: set[str], what: str) -> dict[str, n.Expr]:
        out: dict[str, n.Expr] = {}
        for s in items:
            if s.key not in allowed:
                self.err("E208", f"unknown setting `{s.key}` on {what}", s.span,
                         did_you_mean(s.key, allowed) or "settings: " + ", ".join(sorted(allowed)))
            elif s.key in out:
                self.err("E201", f"setting `{s.key}` given twice", s.span)
            else:
                out[s.key] = s.value
        return out

    def _units(self, settings: dict[str, n.Expr], decl: n.RulesetDecl | None) -> tuple[list[Unit], list[str]]:
        spec = settings.get("units")
        if decl is None:
            return [], []
        if not isinstance(spec, n.String):
            self.err("E206" if spec is None else "E207", "the ruleset needs `units: \"file.csv\"`",
                     spec.span if spec else decl.span, "a CSV with columns code,name[,province,...]")
            return [], []
        path = Path(decl.span.path).parent / spec.value
        key = _text(settings.get("key"), "code")
        name_col = _text(settings.get("name_column"), "name")
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                table = list(csv.reader(fh))
        except (OSError, ValueError, csv.Error) as exc:  # ValueError: undecodable text, NUL in the path
            self.err("E302", f"cannot read the units registry {path}: {exc}", spec.span, "a UTF-8 CSV file")
            return [], []
        header = [h.strip() for h in table[0]] if table else []
        if key not in header or name_col not in header:
            self.err("E302", f"{path} needs columns `{key}` and `{name_col}`", spec.span)
            return [], []
        attrs = [c for c in header if c not in (key, name_col)]
        units, seen = [], set()
        for i, cells in enumerate(table[1:], start=2):
            if not cells:
                continue
            if len(cells) != len(header):
                self.err("E302", f"{path}:{i}: {len(cells)} fields, the header has {len(header)}", spec.span,
                         "quote cells that contain commas")
                continue
            r = dict(zip(header, cells))
            code = (r[key] or "").strip()
            if not code or code in seen:
                self.err("E302", f"{path}:{i}: {'empty' if not code else 'duplicate'} unit code {code!r}", spec.span)
                continue
            seen.add(code)
            units.append(Unit(code, (r[name_col] or "").strip(), {a: (r[a] or "").strip() for a in attrs}))
        self.registry_read = True
        return units, attrs

    def _rounds(self, settings: dict[str, n.Expr], decl: n.RulesetDecl | None) -> dict[int, date]:
        spec = settings.get("rounds")
        if spec is None:
            return {1: date.today()}
        if not isinstance(spec, n.MapLit) or not spec.pairs:
            self.err("E207", "`rounds` maps round numbers to reference dates", spec.span, 'e.g. {1: "2018-12-10"}')
            return {}
        out = {}
        for p in spec.pairs:
            day = _iso_date(p.value)
            if not (isinstance(p.key, float) and 0 < p.key < 1e9 and p.key == int(p.key)) or day is None:
                self.err("E207", "a round is `N: \"YYYY-MM-DD\"`", p.span, 'e.g. {1: "2018-12-10"}')
            else:
                out[int(p.key)] = day
        return out

    def _rounding(self, settings: dict[str, n.Expr]) -> Rounding:
        out = Rounding()
        spec = settings.get("rounding")
        if spec is None:
            return out
        if not isinstance(spec, n.MapLit):
            self.err("E207", "`rounding` is a map", spec.span, '{mode: "half_up", digits: 2, at: "output"}')
            return out
        for p in spec.pairs:
            v = p.value
            if p.key == "mode" and isinstance(v, n.String) and v.value in ROUNDING_MODES:
                out = replace(out, mode=cast(ir.RoundingMode, v.value))
            elif p.key == "digits" and isinstance(v, n.Number) and 0 <= v.value <= 10 and v.value == int(v.value):
                out = replace(out, digits=int(v.value))
            elif p.key == "at" and isinstance(v, n.String) and v.value in ("output", "points"):
                out = replace(out, at="output" if v.value == "output" else "points")
            else:
                self.err("E207", f"bad rounding entry `{p.key_text}`", p.span,
                         f"mode: one of {', '.join(ROUNDING_MODES)}; digits: 0–10; at: \"output\" or \"points\"")
        return out

    def _year(self, settings: dict[str, n.Expr]) -> int | None:
        e = settings.get("year")
        if e is None:
            return None
        if isinstance(e, n.Number) and e.value == int(e.value) and 1000 <= e.value <= 9999:
            return int(e.value)
        self.err("E207", "`year` is the evaluation year, a whole number", e.span, "e.g. year: 2019")
        return None

    def _groups(self, settings: dict[str, n.Expr], attrs: list[str]) -> tuple[str, ...]:
        e = settings.get("groups")
        if e is None:
            return ()
        items = _items(e, n.String)
        if items is None:
            self.err("E207", "`groups` lists columns of the units registry, as strings", e.span,
                     'e.g. groups: ["province", "macro_region"]')
            return ()
        for i in items:
            if self.registry_read and i.value not in attrs:
                self.err("E207", f"`groups` names {i.value!r}, which is not a column of the units registry", i.span,
                         did_you_mean(i.value, attrs) or f"registry columns: {', '.join(attrs) or 'none'}")
        return tuple(i.value for i in items)

    # ------------------------------------------------------------------ markers and cleaning
    def _row_table(self, s: dict[str, n.Expr], key: str, tables: dict[str, Table], span: n.Span, code: str,
                   what: str) -> str | None:
        t = s.get(key)
        if not isinstance(t, n.Name) or t.id not in tables:
            got = t.id if isinstance(t, n.Name) else ""
            self.err(code, f"{what} needs `{key}:` naming a declared table" + (f"; there is no table `{got}`" if got else ""),
                     t.span if t is not None else span, did_you_mean(got, tables) or f"tables: {', '.join(tables)}")
            return None
        return t.id

    def _condition(self, e: n.Expr | None, table: str, scope: Scope, code: str, span: n.Span,
                   key: str) -> ir.Expr | None:
        if e is None:
            self.err(code, f"needs `{key}:` — a condition on the table's rows", span)
            return None
        scope.used_tables.add(table)
        out, t = lower(e, Ctx("row", table=table), scope)
        if t not in ("bool", None):
            self.err("E106", f"`{key}` needs a condition (true/false), found {t}", e.span)
        return out

    def _markers(self, tables: dict[str, Table], scope: Scope) -> list[Marker]:
        out: dict[str, Marker] = {}
        for m in (it for it in self.items if isinstance(it, n.MarkerDecl)):
            s = self._settings(m.settings, MARKER_KEYS, f"marker `{m.id}`")
            table = self._row_table(s, "table", tables, m.span, "E212", f"marker `{m.id}`")
            into = self._row_table(s, "into", tables, m.span, "E212", f"marker `{m.id}`") if "into" in s else "pages"
            column = _text(s.get("column"), "markers")
            if into is not None and (into not in tables or tables[into].columns.get(column) != "list[str]"):
                self.err("E212", f"marker `{m.id}` goes into `{into}.{column}`, which is not a declared list[str] column",
                         m.span, "set `into: <table>` and `column: \"markers\"` to a list[str] column")
            when = self._condition(s.get("where"), table, scope, "E212", m.span, "where") if table else None
            if m.id in out:
                self.err("E201", f"marker `{m.id}` declared twice", m.span, f"first at {out[m.id].span}")
            elif table and when is not None and into:
                out[m.id] = Marker(m.id, m.label, table, when, into, column, m.span)
        return list(out.values())

    def _cleaning(self, tables: dict[str, Table], scope: Scope) -> list[Clean]:
        out: dict[str, Clean] = {}
        for c in (it for it in self.items if isinstance(it, n.CleanDecl)):
            s = self._settings(c.settings, CLEAN_KEYS, f"clean `{c.id}`")
            table = self._row_table(s, "table", tables, c.span, "E213", f"clean `{c.id}`")
            if table is None:
                continue
            scope.used_tables.add(table)
            when: ir.Expr | None = None
            dedupe: tuple[str, ...] = ()
            if ("drop_when" in s) == ("dedupe" in s):
                self.err("E213", f"clean `{c.id}` needs exactly one of `drop_when:` and `dedupe:`", c.span,
                         'drop_when: contains_any(url, ["/ad/"])  or  dedupe: [content_hash]')
                continue
            if "drop_when" in s:
                when = self._condition(s["drop_when"], table, scope, "E213", c.span, "drop_when")
            else:
                d = s["dedupe"]
                names = _items(d, n.Name)
                if not names:
                    self.err("E213", "`dedupe` lists the columns whose equal values make a duplicate", d.span,
                             "e.g. dedupe: [content_hash]")
                    continue
                dedupe = tuple(i.id for i in names)
                for i in names:
                    if i.id not in tables[table].columns:
                        self.err("E102", f"table `{table}` has no column `{i.id}`", i.span,
                                 did_you_mean(i.id, tables[table].columns))
            if c.id in out:
                self.err("E201", f"clean `{c.id}` declared twice", c.span)
            else:
                out[c.id] = Clean(c.id, c.label, table, when, dedupe, c.span)
        return list(out.values())

    def _undeclared_markers(self, markers: list[Marker], nodes: dict[str, Node], tables: dict[str, Table]) -> None:
        declared: dict[tuple[str, str], set[str]] = {}
        for m in markers:
            declared.setdefault((m.into, m.into_column), set()).add(m.id)
        if not declared:
            return
        for node in nodes.values():
            for test in marker_tests(node.probe):
                known = declared.get((test.table, test.column))
                if known is not None and test.literal not in known:
                    self.err("W503", f"`{node.id}` tests marker {test.literal!r} on {test.table}.{test.column}, "
                             "which no `marker` declares", test.node.span,
                             did_you_mean(test.literal, known) or "declare it, or extraction never sets it")

    # ------------------------------------------------------------------ grading
    def _grading(self, max_total: float | None, n_units: int) -> Grading | None:
        decls = [it for it in self.items if isinstance(it, n.GradingDecl)]
        if not decls:
            return None
        for extra in decls[1:]:
            self.err("E211", "a second `grading` declaration", extra.span, f"the first is at {decls[0].span}")
        g = decls[0]
        s = self._settings(g.settings, GRADING_KEYS, "grading")
        method = s.get("method")
        if not (isinstance(method, n.Name) and method.id in GRADING_METHODS):
            self.err("E211", "grading needs `method: difference_trend` or `method: thresholds`",
                     method.span if method else g.span, did_you_mean(getattr(method, "id", ""), GRADING_METHODS))
            return None
        classes = self._grading_classes(s.get("classes"), g.span)
        ids = [c for c, _ in classes]
        subs = s.get("sublevels")
        sublevels: set[str] = set()
        if subs is not None:
            sub_items = _items(subs, n.String)
            if sub_items is None:
                self.err("E211", "`sublevels` lists class ids as strings", subs.span, 'e.g. sublevels: ["A", "B", "C"]')
            else:
                for i in sub_items:
                    if i.value not in ids:
                        self.err("E211", f"`sublevels` names unknown class {i.value!r}", i.span, did_you_mean(i.value, ids))
                    sublevels.add(i.value)
        cuts = self._grading_cuts(method.id, s.get("cuts"), ids, max_total, g.span)
        window = self._grading_int(s.get("window"), 5)
        min_class = self._grading_int(s.get("min_class"), max(1, round(n_units * 0.03)))
        return Grading(g.label, cast(ir.GradingMethod, method.id), tuple(classes), frozenset(sublevels), cuts, window,
                       min_class, g.span)

    def _grading_classes(self, e: n.Expr | None, span: n.Span) -> list[tuple[str, str]]:
        if not isinstance(e, n.MapLit) or len(e.pairs) < 2 or not all(isinstance(p.value, n.String) for p in e.pairs):
            self.err("E211", "grading needs `classes:` — at least two, best first, each with a label",
                     e.span if e is not None else span,
                     'e.g. classes: {A: "创新领先", B: "积极追赶", C: "稳步推进", D: "亟待发展"}')
            return []
        return [(str(p.key if not isinstance(p.key, float) else p.key_text), p.value.value) for p in e.pairs
                if isinstance(p.value, n.String)]

    def _grading_cuts(self, method: str, e: n.Expr | None, ids: list[str], max_total: float | None,
                      span: n.Span) -> dict[str, float]:
        if method != "thresholds":
            if e is not None:
                self.err("E211", "`cuts` belong to `method: thresholds`", e.span, "difference_trend finds its own breaks")
            return {}
        if not isinstance(e, n.MapLit) or not all(isinstance(p.value, n.Number) for p in e.pairs):
            self.err("E211", "thresholds need `cuts:` — the lowest total of each class but the last",
                     e.span if e is not None else span, "e.g. cuts: {A: 80, B: 60, C: 45}")
            return {}
        cuts = {str(p.key): p.value.value for p in e.pairs if isinstance(p.value, n.Number)}
        for p in e.pairs:
            if str(p.key) not in ids[:-1]:
                self.err("E211", f"cut for {p.key_text}: not a class, or the last class (which takes the rest)", p.span,
                         "give a cut for every class but the last")
        for c in ids[:-1]:
            if c not in cuts:
                self.err("E211", f"class {c} has no cut: a gap between classes", e.span, f"add {c}: <lowest total of {c}>")
        ordered = [cuts[c] for c in ids[:-1] if c in cuts]
        if any(a <= b for a, b in zip(ordered, ordered[1:])):
            self.err("E211", "cuts must fall from the best class to the worst: classes overlap", e.span,
                     " > ".join(f"{c}: {cuts[c]:g}" for c in ids[:-1] if c in cuts))
        if max_total and any(not 0 <= v <= max_total for v in cuts.values()):
            self.err("E211", f"cuts must lie within 0 … {max_total:g}", e.span)
        return cuts

    def _grading_int(self, e: n.Expr | None, default: int) -> int:
        if e is None:
            return default
        if isinstance(e, n.Number) and 1 <= e.value <= 10_000 and e.value == int(e.value):
            return int(e.value)
        self.err("E211", "a whole number from 1 is expected", e.span)
        return default

    # ------------------------------------------------------------------ tables and lets
    def _tables(self) -> tuple[dict[str, Table], dict[str, n.Expr]]:
        """The declared tables (``valid`` not yet lowered) and their ``valid when`` as written."""
        out: dict[str, Table] = {}
        valid: dict[str, n.Expr] = {}
        for it in self.items:
            if not isinstance(it, n.TableDecl):
                continue
            if it.name in out:
                self.err("E201", f"table `{it.name}` declared twice", it.span, f"first at {out[it.name].span}")
                continue
            cols: dict[str, str] = {}
            for c in it.columns:
                if c.type not in COLUMN_TYPES:
                    self.err("E207", f"unknown column type `{c.type}`", c.span,
                             did_you_mean(c.type, COLUMN_TYPES) or "types: " + ", ".join(COLUMN_TYPES))
                elif c.name in cols:
                    self.err("E201", f"column `{c.name}` declared twice in `{it.name}`", c.span)
                else:
                    cols[c.name] = c.type
            out[it.name] = Table(it.name, cols, None, it.span)
            if it.valid is not None:
                valid[it.name] = it.valid
        return out, valid

    def _lets(self, tables: dict[str, Table]) -> dict[str, n.Expr]:
        out: dict[str, n.Expr] = {}
        for it in self.items:
            if isinstance(it, n.LetDecl):
                if it.name in out or it.name in tables:
                    self.err("E201", f"`{it.name}` is declared twice", it.span)
                out[it.name] = it.value
        return out

    # ------------------------------------------------------------------ inline tests
    def _tests(self, tests: list[n.TestDecl], tables: dict[str, Table], nodes: dict[str, Node],
               units: list[Unit]) -> None:
        names: dict[str, n.TestDecl] = {}
        codes = {u.code for u in units}
        for t in tests:
            if t.name in names:
                self.err("E201", f"test \"{t.name}\" declared twice", t.span)
            names[t.name] = t
            for g in t.givens:
                if g.table not in tables:
                    self.err("E401", f"test gives rows for unknown table `{g.table}`", g.span, did_you_mean(g.table, tables))
                    continue
                cols = tables[g.table].columns
                for row in g.rows.items:
                    if not isinstance(row, n.MapLit):
                        self.err("E401", "a given row is a map {column: value}", row.span)
                        continue
                    for p in row.pairs:
                        if p.key not in cols:
                            self.err("E401", f"table `{g.table}` has no column `{p.key_text}`", p.span,
                                     did_you_mean(str(p.key), cols))
            for ex in t.expects:
                if ex.node not in nodes:
                    self.err("E401", f"expectation on unknown node `{ex.node}`", ex.span, did_you_mean(ex.node, nodes))
                if codes and ex.unit not in codes:
                    self.err("E401", f"expectation on unknown unit {ex.unit!r}", ex.span, "use a code of the units registry")
                if not isinstance(ex.value, (n.Number, n.Null)):
                    self.err("E401", "an expectation compares with a number or null", ex.value.span)


@dataclass(frozen=True, slots=True)
class MarkerTest:
    """A literal tested against a ``list[str]`` column: ``has``, ``has_any``, ``has_all``,
    ``"x" in column`` and ``coverage`` over a list column."""

    node: ir.Expr
    table: str
    column: str
    literal: str


def marker_tests(e: ir.Expr | None) -> list[MarkerTest]:
    """Every literal an expression tests against a list column, in reading order."""
    out = []
    for x in ir.walk(e):
        col, lits = None, []
        if isinstance(x, ir.RowCall) and x.fn in ("has", "has_any", "has_all"):
            col, lits = x.args[0], x.literals(1)
        elif isinstance(x, ir.Agg) and x.fn == "coverage" and x.items is not None:
            col, lits = x.arg, [str(v) for v in x.items.values]
        elif isinstance(x, ir.Op) and x.op in ("in", "not in") and isinstance(x.args[0], ir.Const) \
                and isinstance(x.args[0].value, str):
            col, lits = x.args[1], [x.args[0].value]
        if isinstance(col, ir.Column) and col.type == "list":
            out += [MarkerTest(x, col.table, col.name, lit) for lit in lits]
    return out


def _items(e: n.Expr | None, kind: type[_T]) -> list[_T] | None:
    """The items of a list literal when each is a ``kind`` (a string, a name), else None."""
    if not isinstance(e, n.ListLit) or not all(isinstance(i, kind) for i in e.items):
        return None
    return [i for i in e.items if isinstance(i, kind)]


def _iso_date(e: n.Expr) -> date | None:
    if not isinstance(e, n.String):
        return None
    try:
        return date.fromisoformat(e.value)
    except ValueError:
        return None


def _text(e: n.Expr | None, default: str) -> str:
    return e.value if isinstance(e, n.String) else default


def _num(e: n.Expr | None) -> float | None:
    return e.value if isinstance(e, n.Number) else None


def _show(e: n.Expr) -> str:
    return getattr(e, "id", None) or str(getattr(e, "value", "?"))


def _policy_name(e: n.Expr | None, table: dict[str, str]) -> str | None:
    if isinstance(e, n.Null):
        return "null"
    return e.id if isinstance(e, n.Name) and e.id in table else None


def _let_span(items: list[n.Item], name: str) -> n.Span:
    for it in items:
        if isinstance(it, n.LetDecl) and it.name == name:
            return it.span
    return n.NOWHERE


class _Tree:
    """Builds the indicator tree: parents, levels, effective maxima, checked probes and formulas."""

    def __init__(self, ck: _Checker, settings: dict[str, n.Expr], scope: Scope, decl: n.RulesetDecl | None):
        self.ck, self.settings, self.scope, self.decl = ck, settings, scope, decl
        self.decls: dict[str, n.IndicatorDecl | n.PointDecl] = {}
        self.large_tables: set[ir.Expr] = set()  # threshold tables already warned about (W504)
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {ROOT: []}

    def build(self) -> dict[str, Node]:
        for it in self.ck.items:
            if isinstance(it, (n.IndicatorDecl, n.PointDecl)):
                self._collect(it, None)
        self._attach_under()
        out: dict[str, Node] = {}
        total = _num(self.settings.get("max_total"))
        root_agg = self._aggregate(self.settings.get("aggregate"))
        rspan = self.decl.span if self.decl else n.NOWHERE
        if total is None and root_agg in ("wmean", "mean", "geomean"):
            self.ck.err("E206", f"the ruleset aggregates by {root_agg} and needs `max_total:`", rspan,
                        "e.g. max_total: 100 — the children's maxima follow from their weights")
            total = 100.0
        elif total is None:
            total = sum(_num(dict((s.key, s.value) for s in self.decls[c].settings).get("max")) or 0
                        for c in self.children[ROOT])
        label = _text(self.settings.get("total_label"), "总分")
        self._emit(ROOT, label, None, 0, total, None, root_agg, "null", rspan, out, {})
        return out

    def _collect(self, d: n.IndicatorDecl | n.PointDecl, parent: str | None) -> None:
        if d.id in self.decls or d.id == ROOT:
            first = self.decls[d.id].span if d.id in self.decls else "reserved for the whole tree"
            self.ck.err("E201", f"duplicate id `{d.id}`", d.span, f"first declared at {first}")
            return
        self.decls[d.id] = d
        self.children.setdefault(d.id, [])
        if parent is not None:
            if d.under is not None:
                self.ck.err("E207", f"`{d.id}` is nested in `{parent}` and also says `under {d.under}`", d.span,
                            "use one or the other")
            self.parent[d.id] = parent
        if isinstance(d, n.IndicatorDecl):
            for c in d.children:
                self._collect(c, d.id)

    def _attach_under(self) -> None:
        for d in self.decls.values():
            if d.id in self.parent:
                continue
            if d.under is None:
                if isinstance(d, n.PointDecl):
                    self.ck.err("E203", f"point `{d.id}` is outside any indicator", d.span,
                                "nest it in an indicator or write `point id \"名称\" under <indicator> { ... }`")
                    continue
                self.parent[d.id] = ROOT
            elif d.under not in self.decls or isinstance(self.decls[d.under], n.PointDecl):
                self.ck.err("E204", f"`under {d.under}`: no indicator `{d.under}`", d.span,
                            did_you_mean(d.under, [k for k, v in self.decls.items() if isinstance(v, n.IndicatorDecl)]))
                continue
            else:
                self.parent[d.id] = d.under
        # order children by declaration: nested first in their file order, then `under` in file order
        for d in self.decls.values():
            p = self.parent.get(d.id)
            if p is not None:
                self.children.setdefault(p, []).append(d.id)
        for start in self.decls:
            seen: list[str] = []
            cur = start
            while cur in self.parent and cur != ROOT:
                if cur in seen:
                    self.ck.err("E205", f"indicators form a cycle: {' → '.join(seen + [cur])}", self.decls[start].span,
                                "each indicator has exactly one parent")
                    for c in seen:
                        self.parent.pop(c, None)
                    break
                seen.append(cur)
                cur = self.parent[cur]

    def _aggregate(self, e: n.Expr | None) -> ir.Aggregator:
        if e is None:
            return "sum"
        if isinstance(e, n.Name) and e.id in AGGREGATORS:
            return cast(ir.Aggregator, e.id)
        self.ck.err("E207", "unknown aggregator", e.span,
                    did_you_mean(getattr(e, "id", ""), AGGREGATORS) or "one of " + ", ".join(AGGREGATORS))
        return "sum"

    def _policy(self, e: n.Expr | None, table: dict[str, str], default: str | None, what: str, span: n.Span) -> str:
        if e is None:
            if default is None:
                self.ck.err("E209", f"{what} has no missing-data policy", span,
                            "add `missing: zero|exclude|null` to it or to the ruleset")
                return "zero"
            return default
        if isinstance(e, n.Name) and e.id in table:
            return e.id
        if isinstance(e, n.Null) and "null" in table:  # `null` is a keyword, not a name
            return "null"
        self.ck.err("E207", "unknown policy", e.span, did_you_mean(getattr(e, "id", ""), table) or "one of " + ", ".join(table))
        return default or next(iter(table))

    def _emit(self, ident: str, label: str, parent: str | None, level: int, max_: float, weight: float | None,
              agg: ir.Aggregator, missing: str, span: n.Span, out: dict[str, Node], settings: dict[str, n.Expr]) -> None:
        kids = [c for c in self.children.get(ident, []) if c in self.decls and self.parent.get(c) == ident]
        node_children = tuple(kids)
        out[ident] = Node(ident, label, "indicator", parent, level, max_, weight, agg, cast(ir.MissingPolicy, missing), "",
                          None, None,
                          node_children, span, settings)
        if not kids:
            if ident != ROOT:
                self.ck.err("E210", f"indicator `{ident}` has no children", span, "give it points or sub-indicators")
            return
        kid_settings = {c: self.ck._settings(self.decls[c].settings,
                                             POINT_KEYS if isinstance(self.decls[c], n.PointDecl) else INDICATOR_KEYS,
                                             f"`{c}`") for c in kids}
        maxima = self._child_maxima(ident, agg, max_, kids, kid_settings, span)
        for c in kids:
            d, s = self.decls[c], kid_settings[c]
            if isinstance(d, n.PointDecl):
                self._point(d, ident, level + 1, maxima[c], _num(s.get("weight")), s, out)
            else:
                # An indicator's own null propagates unless it says otherwise (the ruleset's
                # `missing:` is the default for points only).
                miss = self._policy(s.get("missing"), MISSING_POLICIES, "null", f"indicator `{c}`", d.span)
                self._emit(c, d.label, ident, level + 1, maxima[c], _num(s.get("weight")),
                           self._aggregate(s.get("aggregate")), miss, d.span, out, s)

    def _child_maxima(self, ident: str, agg: str, max_: float, kids: list[str], kid_settings: dict[str, dict[str, n.Expr]],
                      span: n.Span) -> dict[str, float]:
        out: dict[str, float] = {}
        if agg in ("wmean", "mean", "geomean"):
            weights = {}
            for c in kids:
                s = kid_settings[c]
                w = _num(s.get("weight"))
                if "max" in s:
                    self.ck.err("E207", f"`{c}` sets `max` but `{ident}` aggregates by {agg}", s["max"].span,
                                "children of a weighted node give `weight:`; their max follows from it")
                if w is None:
                    if agg == "mean":
                        w = 1.0
                    else:
                        self.ck.err("E206", f"`{c}` needs `weight:` (its parent `{ident}` uses {agg})",
                                    self.decls[c].span)
                        w = 1.0
                if w <= 0:
                    self.ck.err("E207", "a weight must be positive", s["weight"].span)
                    w = 1.0
                weights[c] = w
            tot = sum(weights.values())
            return {c: max_ * w / tot for c, w in weights.items()}
        for c in kids:
            if "weight" in kid_settings[c]:
                self.ck.err("E207", f"`{c}` sets `weight` but `{ident}` aggregates by {agg}", kid_settings[c]["weight"].span,
                            "weights are used by wmean, mean and geomean parents; give `max:` here")
            m = _num(kid_settings[c].get("max"))
            if m is None:
                self.ck.err("E206", f"`{c}` needs `max:`", self.decls[c].span,
                            f"its parent `{ident}` adds up its children's maxima")
                m = 0.0
            elif m <= 0:
                self.ck.err("E207", "a maximum must be positive", kid_settings[c]["max"].span)
            out[c] = m
        total = sum(out.values())
        if agg == "sum" and abs(total - max_) > _EPS * max(1.0, max_):
            where = span if ident != ROOT else (self.decl.span if self.decl else span)
            parts = " + ".join(f"{out[c]:g}" for c in kids[:12]) + (" + …" if len(kids) > 12 else "")
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, not its max {max_:g}", where,
                        f"{parts} = {total:g}; fix a child's max, or use `aggregate: capped_sum` for bonus points")
        if agg == "capped_sum" and total < max_ - _EPS:
            self.ck.err("E202", f"children of `{ident}` add up to {total:g}, below its max {max_:g}", span,
                        "the maximum can never be reached")
        return out

    def _point(self, d: n.PointDecl, parent: str, level: int, max_: float, weight: float | None, s: dict[str, n.Expr],
               out: dict[str, Node]) -> None:
        kind = s.get("kind")
        if not (isinstance(kind, n.Name) and kind.id in ("technical", "manual")):
            self.ck.err("E206" if kind is None else "E207", f"point `{d.id}` needs `kind: technical` or `kind: manual`",
                        kind.span if kind else d.span)
        probe_src, score_src = s.get("probe"), s.get("score")
        probe = score = None
        ptype = None
        if probe_src is None:
            self.ck.err("E206", f"point `{d.id}` needs `probe:`", d.span, "e.g. probe: any(pages, where: has(markers, \"x\"))")
        else:
            probe, ptype = lower(probe_src, Ctx("probe", point=d.id), self.scope)
            if ptype not in (None, "num", "bool"):
                self.ck.err("E106", f"a probe yields a number or true/false, not {ptype}", probe_src.span)
        if score_src is None:
            self.ck.err("E206", f"point `{d.id}` needs `score:`", d.span, "e.g. score: presence(x)")
        else:
            score, stype = lower(score_src, Ctx("formula", x_type=ptype or "num"), self.scope)
            if stype not in (None, "num", "bool"):
                self.ck.err("E106", f"a formula yields a number, not {stype}", score_src.span)
        for key, e, src in (("probe", probe, probe_src), ("score", score, score_src)):
            for w in large(d.id, key, e, src.span if src is not None else d.span, self.large_tables):
                self.ck.err("W504", w.message, w.span, w.hint)
        default_missing = self.settings.get("missing")
        dm = _policy_name(default_missing, MISSING_POLICIES)
        miss = self._policy(s.get("missing"), MISSING_POLICIES, dm, f"point `{d.id}`", d.span)
        default_rounds = self.settings.get("rounds_policy")
        dr = default_rounds.id if isinstance(default_rounds, n.Name) and default_rounds.id in ROUND_POLICIES else "latest"
        rounds = self._policy(s.get("rounds"), ROUND_POLICIES, dr, f"point `{d.id}`", d.span)
        for key in ("values", "range"):
            v = s.get(key)
            if v is not None and not (isinstance(v, n.ListLit) and v.items and all(isinstance(i, n.Number) for i in v.items)
                                      and (key == "values" or len(v.items) == 2)):
                self.ck.err("E207", f"`{key}` is a list of numbers" + (" [lo, hi]" if key == "range" else ""), v.span)
        out[d.id] = Node(d.id, d.label, cast(ir.Kind, kind.id if isinstance(kind, n.Name) else "technical"), parent, level,
                         max_, weight, "", cast(ir.MissingPolicy, miss), cast(ir.RoundsPolicy, rounds), probe, score, (),
                         d.span, s, probe_src, score_src)
