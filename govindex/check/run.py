"""Parsed rule files → a checked :class:`govindex.ir.RuleSet`, before any fact is read.

All problems are gathered and reported at once; :func:`load` raises :class:`RuleError` when
any is an error (warnings pass).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TypeVar, cast

from govindex import ir
from govindex.check import published
from govindex.check import statistics as declared_statistics
from govindex.check.expr import Ctx, Scope, lower_expr
from govindex.check.functions import COLUMN_TYPES, ROUND_POLICIES, ROUNDING_MODES
from govindex.check.grading import GRADING_KEYS, GRADING_METHODS, GradingChecker  # noqa: F401  (re-exported)
from govindex.check.inline import TestChecker
from govindex.check.settings import policy_name, shown, text_value
from govindex.check.tree import INDICATOR_KEYS, POINT_KEYS, Tree  # noqa: F401  (the key sets are re-exported)
from govindex.check.user_functions import check_definitions
from govindex.diagnostics import Diagnostic, RuleError, did_you_mean
from govindex.ir import ROOT, Clean, Marker, Node, Rounding, RuleSet, Table, Unit
from govindex.lang import nodes as n
from govindex.lang.compose import compose
from govindex.lang.parse import parse_dir
from govindex.lang.source import BOM, SourceError, read_source
from govindex.lang.templates import expand_templates

RULESET_KEYS = {"total_label", "year", "units", "key", "name_column", "groups", "unit_column", "round_column", "rounds",
                "max_total", "rounding", "round", "ranks", "missing", "missing_indicators", "rounds_policy",
                "aggregate", "description", "source", "total", "scale", "language"}
LANGUAGES = ("zh", "en")  # `language:` — the first language of the report's bilingual labels
MARKER_KEYS = {"table", "where", "into", "column", "description", "source"}
CLEAN_KEYS = {"table", "drop_when", "dedupe", "description", "source"}
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
    files, diags = compose(files, root) if not diags else (files, diags)  # extends/include/overrides (§2a)
    if diags:
        return None, diags
    files, diags = expand_templates(files)  # templates → the points and indicators of their rows
    if diags:
        return None, sorted(diags, key=lambda d: (d.span.path, d.span.line, d.span.col))
    rs, diags = _Checker(root, files).run()
    return rs, sorted(diags, key=lambda d: (not d.is_error, d.span.path, d.span.line, d.span.col))


class _Checker:
    def __init__(self, root: Path, files: list[n.RuleFile]):
        self.root = root if root.is_dir() else root.parent
        self.files = files
        self.diags: list[Diagnostic] = []
        self.items = [it for f in files for it in f.items]
        self.let_spans: dict[str, n.Span] = {}
        self.functions: dict[str, n.LetDecl] = {}  # `let f(a, b) = …`
        self.registry_read = False
        self.unit_attrs: list[str] | None = None

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None:
        self.diags.append(Diagnostic(code, msg, span, hint))

    def run(self) -> tuple[RuleSet | None, list[Diagnostic]]:
        decl = self._ruleset_decl()
        settings = self._settings(decl.settings if decl else (), RULESET_KEYS, "ruleset")
        tables, valid_src = self._tables()
        lets = self._lets(tables)
        units, attrs = self._units(settings, decl)
        self.registry = (units, attrs)  # read by check/stages.py (`by:` columns, denominators)
        year, groups = self._year(settings), self._groups(settings, attrs)
        self.unit_attrs = attrs if self.registry_read else None  # what `rank: {by: …}` may name
        unit_col = text_value(settings.get("unit_column"), "unit")
        round_col = text_value(settings.get("round_column"), "round")
        for t in tables.values():
            if unit_col not in t.columns:
                self.err("E207", f"table `{t.name}` has no unit column `{unit_col}`", t.span,
                         f"every fact table needs the column `{unit_col}: str` (the ruleset's unit_column)")
        rounds = self._rounds(settings, decl)
        for key in ("units", "key", "name_column", "unit_column", "round_column", "total_label", "description",
                    "source", "language"):
            if key in settings and not isinstance(settings[key], n.String):
                self.err("E207", f"`{key}` takes a quoted string", settings[key].span, f'e.g. {key}: "…"')
        if "language" in settings and shown(settings["language"]) not in LANGUAGES:
            self.err("E207", f"unknown language `{shown(settings['language'])}`", settings["language"].span,
                     'language: "zh" (the default: Chinese first) or "en" (English first)')
        for key, table in (("rounds_policy", ROUND_POLICIES),):  # `missing:` is read by check.missing
            if key in settings and policy_name(settings[key], table) is None:
                self.err("E207", f"unknown {key} `{shown(settings[key])}`", settings[key].span,
                         did_you_mean(shown(settings[key]), table) or "one of " + ", ".join(table))
        scope = Scope({t.name: t.columns for t in tables.values()}, lets, self.diags)
        scope.functions.decls = self.functions
        if self.functions:
            scope.functions.bodies = {**lets, **{k: fn.value for k, fn in self.functions.items()}}
        scope.functions.cyclic = check_definitions(self.functions, lets, tables, self.diags)
        for t in tables.values():
            src = valid_src.get(t.name)
            if src is not None:
                e, ty = lower_expr(src, Ctx("row", table=t.name), scope)
                if ty not in ("bool", None):
                    self.err("E106", f"`valid when` needs a condition, found {ty}", src.span)
                tables[t.name] = Table(t.name, t.columns, e, t.span)
        markers = self._markers(tables, scope)
        cleaning = self._cleaning(tables, scope)
        with_total = published.has_total(self, settings)
        nodes = Tree(self, settings, scope, decl).build()
        summaries = published.summaries(self, nodes, attrs)
        statistics = declared_statistics.statistics(self, nodes, attrs)
        self._undeclared_markers(markers, nodes, tables)
        for name in lets:
            if name not in scope.used_lets:
                self.err("W501", f"`let {name}` is never used", self.let_spans[name], "remove it or use it")
        for name, fn in self.functions.items():
            if name not in scope.used_lets:
                self.err("W501", f"function `{name}` is never called", fn.span, "remove it or call it")
        for t in tables.values():
            if t.name not in scope.used_tables:
                self.err("W502", f"table `{t.name}` is declared but no probe reads it", t.span,
                         "remove it, or it is read only by collection")
        tests = [it for it in self.items if isinstance(it, n.TestDecl)]
        TestChecker(self.err, tables, nodes, {u.code for u in units}, unit_col, round_col, set(rounds)).run(tests)
        rounding = self._rounding(settings)
        grader = GradingChecker(self)
        grading = grader.run(nodes[ROOT].max if ROOT in nodes else None, len(units), nodes, attrs)
        if any(d.is_error for d in self.diags) or decl is None:
            return None, self.diags
        rs = RuleSet(decl.name, self.root, settings, units, attrs, unit_col, round_col, rounds, rounding,
                     tables, nodes, {**lets, **{k: fn.value for k, fn in self.functions.items()}},
                     tests, self.files, grading, markers, cleaning,
                     year, groups, has_total=with_total, summaries=summaries, node_gradings=tuple(grader.others),
                     named_gradings=tuple(grader.named),
                     let_params={k: f.params for k, f in self.functions.items()},
                     statistics=statistics)
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
        path = Path(spec.span.path).parent / spec.value  # relative to the file that wrote it (an inherited header: the base)
        key = text_value(settings.get("key"), "code")
        name_col = text_value(settings.get("name_column"), "name")
        table = self._read_units(path, spec.span)
        if table is None:
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

    def _read_units(self, path: Path, span: n.Span) -> list[list[str]] | None:
        """The rows of the units registry CSV, or None after an E302 saying why not."""
        try:
            text = read_source(path, "units registry")
        except SourceError as exc:
            where = f"{path}:{exc.line}:{exc.col}: " if exc.line else ""
            self.err("E302", f"{where}{exc.message}", span, exc.hint or "a UTF-8 CSV file")
            return None
        except ValueError as exc:  # a NUL in the path
            self.err("E302", f"cannot read the units registry {path}: {exc}", span, "a UTF-8 CSV file")
            return None
        try:
            # Excel saves "CSV UTF-8" with a byte-order mark; it is not part of the first column's name.
            return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
        except csv.Error as exc:
            self.err("E302", f"cannot read the units registry {path}: {exc}", span, "a UTF-8 CSV file")
            return None

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
        out, t = lower_expr(e, Ctx("row", table=table), scope)
        if t not in ("bool", None):
            self.err("E106", f"`{key}` needs a condition (true/false), found {t}", e.span)
        return out

    def _markers(self, tables: dict[str, Table], scope: Scope) -> list[Marker]:
        out: dict[str, Marker] = {}
        for m in (it for it in self.items if isinstance(it, n.MarkerDecl)):
            s = self._settings(m.settings, MARKER_KEYS, f"marker `{m.id}`")
            table = self._row_table(s, "table", tables, m.span, "E212", f"marker `{m.id}`")
            into = self._row_table(s, "into", tables, m.span, "E212", f"marker `{m.id}`") if "into" in s else "pages"
            column = text_value(s.get("column"), "markers")
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
                if it.name in out or it.name in tables or it.name in self.functions:
                    self.err("E201", f"`{it.name}` is declared twice", it.span)
                if it.params:
                    self.functions[it.name] = it
                    continue
                out[it.name] = it.value
                self.let_spans.setdefault(it.name, it.span)  # an unused let is reported at its first
        return out


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
