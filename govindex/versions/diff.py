"""Two checked rule sets → the edit script between them (year to year, reform to baseline).

In the spirit of sqlglot's ``diff``: a pure function returning frozen :class:`Edit` records.

1. Nodes are matched by their stable ids. Among the nodes left over, a **rename** is a node whose
   id changed but which kept its label and place (its parent, itself matched), or — for a point
   — kept its place and has a near-identical, distinctive probe (one no other point shares, so
   the ubiquitous ``entry(manual)`` proves nothing), or — for an indicator — most of its
   children. Matching runs in passes, so a renamed indicator lets its renamed children match.
2. A matched node under a different (matched) parent has **moved**.
3. Every field that differs is a **changed** edit: label, kind, max, weight, scale, aggregate,
   missing (one policy, or one per reason when they differ), rounds, probe and score (compared and
   shown lets expanded, without source positions), values, range, ``round:``, ``rank:``, each
   cross-unit stage (denominate, impute, treat, normalise), ``not_applicable:``, ``error:``,
   ``gate:``, ``score_on:``. ``round:`` and ``rank:`` are compared as the node has them (a
   rule-set default included) but reported only where a node writes them: a changed default is
   one edit of the header, not one per node.
4. The rest is **added** or **removed**; the rule set header, the fact tables and their columns,
   and every grading — the total's, other nodes', the named ones (matched by their name, else by
   the node they grade, itself matched) — are compared the same way.

Every edit carries both source positions, so a reviewer can open either file at the line.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from govindex import ir
from govindex.diagnostics import RuleError
from govindex.ir import ROOT, Clean, Marker, Node, RuleSet
from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr
from govindex.lang.parse import parse_text
from govindex.versions import lets
from govindex.versions.exprdiff import parts as expr_parts
from govindex.versions.fold import fold
from govindex.versions.match import match as match
from govindex.versions.match import match_with_evidence
from govindex.versions.written import written_text

KINDS = ("added", "removed", "renamed", "moved", "changed")
_NODE_FIELDS = ("label", "kind", "max", "weight", "scale", "aggregate", "missing", "rounds", "probe", "score", "values", "range",
                "round", "rank", "denominate", "impute", "treat", "normalise", "not_applicable", "error", "gate", "score_on")
_STAGES = ("denominate", "impute", "treat", "normalise")
_REASONS: tuple[ir.Reason, ...] = ("no_data", "not_applicable", "error")
_WRITTEN_ONLY = ("round", "rank")  # inherited from the header's defaults too: reported where written
_HEADER_HANDLED = {"units", "rounds", "rounding", "max_total", "aggregate", "description", "source", "unit_column",
                   "round_column", "total_label"}
_HEADER_DEFAULTS = {"key": "code", "name_column": "name", "rounds_policy": "latest"}
_EXPRS = ("probe", "score", "not_applicable", "error", "values", "range")  # compared as written, shown as parts
_AMOUNTS = ("max", "weight", "scale")  # numbers, shown as written where written


@dataclass(frozen=True, slots=True)
class Edit:
    """One difference. ``node`` is a node id (the new id of a renamed node), a table, a
    ``table.column``, or ``ruleset``/the grading label; ``scope`` says which."""

    kind: str  # added | removed | renamed | moved | changed
    node: str
    field: str | None
    old: object
    new: object
    old_span: n.Span | None
    new_span: n.Span | None
    scope: str = "point"  # ruleset | grading | table | column | indicator | point | ref | let | function
    label: str = ""
    evidence: str = ""  # a rename's: "same label and parent" | "same probe and parent"
    follows: tuple[Edit, ...] = ()  # consequences folded under this edit (derived maxima), see fold.py
    affects: tuple[str, ...] = ()  # a let/function change: the node ids whose results it affects
    parts: tuple[tuple[str, str], ...] = ()  # smallest changed subexpressions (or a setting as written)
    paths: tuple[str, ...] = ()  # where each of ``parts`` sits ("`steps` arg 2 › key 40"; "" at the top)

    @property
    def old_at(self) -> str | None:
        return where(self.old_span)

    @property
    def new_at(self) -> str | None:
        return where(self.new_span)

    def to_json(self) -> dict:
        """The JSON record of ``govindex diff --format json``."""
        return {"kind": self.kind, "scope": self.scope, "node": self.node, "label": self.label, "field": self.field,
                "old": self.old, "new": self.new, "old_at": self.old_at, "new_at": self.new_at,
                "evidence": self.evidence, "follows": [e.to_json() for e in self.follows],
                "affects": list(self.affects), "parts": [list(p) for p in self.parts], "parts_at": list(self.paths)}


def where(span: n.Span | None) -> str | None:
    """``path:line`` of a span, the path relative to the working directory when it lies below it."""
    if span is None or span.line <= 0:
        return None
    path = span.path
    if os.path.isabs(path):
        try:
            path = str(Path(path).relative_to(Path.cwd()))
        except ValueError:
            pass
    return f"{path}:{span.line}"


def diff(old: RuleSet, new: RuleSet) -> list[Edit]:
    """The edit script turning ``old`` into ``new``; empty when they mean the same. Derived
    maxima are folded under their cause (:mod:`.fold`), lets shown once (:mod:`.lets`)."""
    m, why = match_with_evidence(old, new)
    changed = set(lets.changed_lets(old, new))
    reach = lets.closure(old, changed) | lets.closure(new, changed)
    edits = [*_header(old, new), *_gradings(old, new, m), *_tables(old, new),
             *_declared(old, new, "markers", "marker"), *_declared(old, new, "cleaning", "clean"),
             # a statistic by its condition as written, `by:` and `among:` (the lowered tree follows from the text)
             *_declared(old, new, "statistics", "statistic", skip=("where", "nodes", "needs_previous", "description")),
             *lets.let_edits(old, new, m, Edit), *_nodes(old, new, m, why, reach)]
    return fold(edits, old, new, m)


# ------------------------------------------------------------------ nodes


def _expanded(e: ir.Expr | None) -> n.Expr | None:
    """What an expression means, as syntax with lets expanded: what decides whether it changed.
    (The syntax as written would hide a changed let; the IR would tell apart what reads the same,
    an `entry` of a renamed point.)"""
    return None if e is None else ir.to_syntax(e)


def _nodes(old: RuleSet, new: RuleSet, m: dict[str, str], why: dict[str, str], reach: set[str]) -> list[Edit]:
    """Added, removed, renamed (with the evidence), moved and changed nodes, in the new tree's order."""
    digits = new.rounding.digits
    back = {b: a for a, b in m.items()}
    new_pos = {i: k for k, i in enumerate(new.nodes)}
    keyed: list[tuple[tuple, Edit]] = []
    for b, w in new.nodes.items():
        key = (new_pos[b], 0, 0)
        a = back.get(b)
        if a is None:
            keyed.append((key, _whole("added", w, None, w.span)))
            continue
        o = old.nodes[a]
        if b == ROOT:  # the root's label, max and aggregate are the header's total_label, max_total, aggregate
            continue
        edits = []
        if a != b:
            edits.append(Edit("renamed", b, "id", a, b, o.span, w.span, _scope(w), w.label, evidence=why.get(b, "")))
        if m.get(o.parent or "") != w.parent:
            edits.append(Edit("moved", b, "parent", o.parent, w.parent, o.span, w.span, _scope(w), w.label))
        edits += _fields(o, w, reach, digits)
        keyed += [(key, e) for e in edits]
    for k, (a, o) in enumerate(old.nodes.items()):
        if a in m:
            continue
        anc = o.parent
        while anc is not None and anc not in m:
            anc = old.nodes[anc].parent
        key = (new_pos[m[anc]] if anc is not None else 0, 1, k)
        keyed.append((key, _whole("removed", o, o.span, None)))
    return [e for _, e in sorted(keyed, key=lambda t: t[0])]


def _scope(x: Node) -> str:
    return "ref" if x.is_ref else "indicator" if not x.is_point else "point"


def _summary(x: Node) -> dict:
    out = {"label": x.label, "kind": x.kind, "parent": x.parent, "max": _num(x.max)}
    return out if x.ref is None else {**out, "kind": "ref", "refers_to": x.ref, "weight": _num(x.weight)}


def _whole(kind: str, x: Node, old_span: n.Span | None, new_span: n.Span | None) -> Edit:
    s = _summary(x)
    return Edit(kind, x.id, None, s if kind == "removed" else None, s if kind == "added" else None,
                old_span, new_span, _scope(x), x.label)


def _written(x: Node, f: str) -> n.Expr | None:
    """A field's expression as written (lets not expanded); the checked one when none was written."""
    e = x.probe_src if f == "probe" else x.score_src if f == "score" else x.settings.get(f)
    if e is None and f in ("probe", "score", "not_applicable", "error"):
        return _expanded(getattr(x, f))
    return e


def _value(x: Node, f: str) -> object:
    if f in _EXPRS:
        e = _written(x, f)
        return None if e is None else format_expr(e)
    if f == "aggregate" and x.is_point:
        return None
    if f == "scale":  # the declared scale: a change of max alone is not a change of scale
        return _num(x.own_scale)
    if f == "rounds" and not x.is_point:
        return None
    if f == "missing" and len({x.policy(r) for r in _REASONS}) > 1:  # a policy per reason
        return {r: x.policy(r) for r in _REASONS}
    if f in _STAGES:
        return None if x.stages is None else _plain(getattr(x.stages, f))
    if f == "score_on":
        return "scale" if x.score_on_scale else None
    if f == "round":  # a node's `round:` is part of the method: its mode and digits say it all
        return None if x.round is None else {"mode": x.round.mode, "digits": x.round.digits}
    if f in ("rank", "gate"):
        return _plain(getattr(x, f))
    v = getattr(x, f)
    return _num(v) if isinstance(v, float) else v


def _same(x: Node, y: Node, f: str) -> bool:
    if f in ("probe", "score", "not_applicable", "error"):  # what it means: lets expanded, no spans
        return _expanded(getattr(x, f)) == _expanded(getattr(y, f))
    if f in ("values", "range"):
        return x.settings.get(f) == y.settings.get(f)
    # Numbers compare exactly: a weight 0.3333333333 changed to 1/3 is a change of the method.
    return _value(x, f) == _value(y, f)


def _fields(o: Node, w: Node, reach: set[str], digits: int) -> list[Edit]:
    """The fields of a matched node that differ. An expression written alike on both sides whose
    meaning changed through a changed let is left to the let's edit; expressions written apart
    carry their smallest changed subexpressions, amounts their text as written."""
    out = []
    for f in _NODE_FIELDS:
        if f in _WRITTEN_ONLY and f not in o.settings and f not in w.settings:
            continue  # both from the header's default: its own edit says so
        if _same(o, w, f):
            continue
        pieces: list[tuple[str, str, str]] = []
        if f in _EXPRS:
            wo, ww = _written(o, f), _written(w, f)
            if lets.explained(wo, ww, reach):
                continue
            if wo is not None and ww is not None:
                pieces = [(p.path, p.old, p.new) for p in expr_parts(wo, ww)]
        elif f in _AMOUNTS and (f in o.settings or f in w.settings):
            pieces = [("", _amount_text(o, f, digits), _amount_text(w, f, digits))]
        out.append(Edit("changed", w.id, f, _value(o, f), _value(w, f), _field_span(o, f), _field_span(w, f),
                        _scope(w), w.label, parts=tuple((a, b) for _, a, b in pieces),
                        paths=tuple(p for p, _, _ in pieces)))
    return out


def _amount_text(x: Node, f: str, digits: int) -> str:
    """A ``max``/``weight``/``scale`` as written (``1/3``), else its value at the rule set's precision."""
    e = x.settings.get(f)
    if e is not None:
        return written_text(e)
    return show_number(_value(x, f), digits)  # type: ignore[arg-type]


def show_number(v: float | int | None, digits: int) -> str:
    """A number at the precision of a rule set that rounds to ``digits`` decimals: exact when it
    has at most ``digits + 2`` decimals (a maximum 0.375 at 2 digits), else rounded to ``digits``
    (1/3 → 0.33); "—" for none."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    for d in range(digits + 3):
        if abs(round(v, d) - v) <= 1e-9 * max(1.0, abs(v)):
            return f"{v:.{d}f}"
    return f"{v:.{digits}f}"


def _field_span(x: Node, f: str) -> n.Span:
    e = x.settings.get(f)
    return e.span if e is not None and e.span.line > 0 else x.span


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else round(v, 12)


# ------------------------------------------------------------------ header, grading, tables


def _plain(v: object) -> object:
    """A JSON-ready rendering of a setting or model value."""
    if isinstance(v, n.Number):
        return _num(v.value)
    if isinstance(v, (n.String, n.Bool)):
        return v.value
    if isinstance(v, (n.Null, n.Name, n.Call, n.Unary, n.Binary, n.If, n.ListLit, n.MapLit)):
        return format_expr(v)
    if isinstance(v, ir.Expr):
        return format_expr(ir.to_syntax(v))
    if isinstance(v, ir.Rounding):
        return {"mode": v.mode, "digits": v.digits, "at": v.at}
    if dataclasses.is_dataclass(v) and not isinstance(v, type) and type(v).__module__ == ir.__name__:
        # a node's settings as checked (Ranking, Gate, a stage): every field but the source position
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v) if f.name != "span"}
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, frozenset):
        return sorted(_plain(x) for x in v)  # type: ignore[type-var]  # a frozenset field holds strings (sublevels)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, float):
        return _num(v)
    return v


def _decl_span(rs: RuleSet, cls: type) -> n.Span | None:
    return next((it.span for f in rs.files for it in f.items if isinstance(it, cls)), None)


def _header(old: RuleSet, new: RuleSet) -> list[Edit]:
    so, sn = _decl_span(old, n.RulesetDecl), _decl_span(new, n.RulesetDecl)

    def at(rs: RuleSet, key: str, default: n.Span | None) -> n.Span | None:
        e = rs.settings.get(key)
        return e.span if e is not None and e.span.line > 0 else default

    pairs: list[tuple[str, object, object]] = [
        ("name", old.name, new.name),
        ("units", *_units(old, new)),
        ("rounds", _plain(old.rounds), _plain(new.rounds)),
        ("rounding", _plain(old.rounding), _plain(new.rounding)),
        ("max_total", _num(old.nodes[ROOT].max), _num(new.nodes[ROOT].max)),
        ("aggregate", old.nodes[ROOT].aggregate, new.nodes[ROOT].aggregate),
        ("total_label", old.nodes[ROOT].label, new.nodes[ROOT].label),
        ("unit_column", old.unit_column, new.unit_column),
        ("round_column", old.round_column, new.round_column),
    ]
    keys = sorted((set(old.settings) | set(new.settings)) - _HEADER_HANDLED)
    pairs += [(k, _plain(old.settings.get(k, _HEADER_DEFAULTS.get(k))), _plain(new.settings.get(k, _HEADER_DEFAULTS.get(k))))
              for k in keys]
    out = []
    for key, a, b in pairs:
        if a != b:
            out.append(Edit("changed", "ruleset", key, a, b, at(old, key, so), at(new, key, sn), "ruleset", ""))
    return out


def _units(old: RuleSet, new: RuleSet) -> tuple[object, object]:
    """Equal values when the registries hold the same units; else counts and who came and went."""
    uo, un = {u.code: u.name for u in old.units}, {u.code: u.name for u in new.units}
    if uo == un:
        return len(uo), len(un)
    gone = [f"{c} {uo[c]}" for c in sorted(uo) if c not in un]
    came = [f"{c} {un[c]}" for c in sorted(un) if c not in uo]
    renamed = [f"{c} {uo[c]} → {un[c]}" for c in sorted(uo) if c in un and uo[c] != un[c]]
    return {"count": len(uo), "removed": gone}, {"count": len(un), "added": came, "renamed": renamed}


def _grading_key(g: ir.Grading, nodes: dict[str, str] | None = None) -> str:
    """What matches a grading across versions: its name, else the node it grades (the old node
    mapped to its new id by ``nodes``): one unnamed grading per node."""
    return f"@{(nodes or {}).get(g.node, g.node)}" if g.id is None else g.id


def _every_grading(rs: RuleSet) -> list[ir.Grading]:
    return [*([rs.grading] if rs.grading is not None else []), *rs.node_gradings, *rs.named_gradings]


def _gradings(old: RuleSet, new: RuleSet, m: dict[str, str]) -> list[Edit]:
    """Every grading, matched by :func:`_grading_key`, compared field by field."""
    go = {_grading_key(g, m): g for g in _every_grading(old)}
    gn = {_grading_key(g): g for g in _every_grading(new)}
    out = []
    for key in [*go, *(k for k in gn if k not in go)]:
        out += _grading(old, new, go.get(key), gn.get(key))
    return out


def _grading(old: RuleSet, new: RuleSet, go: ir.Grading | None, gn: ir.Grading | None) -> list[Edit]:
    if go is None or gn is None:
        g = gn or go
        if g is None:
            return []
        kind = "added" if go is None else "removed"
        body = {f.name: _plain(getattr(g, f.name)) for f in dataclasses.fields(g) if f.name != "span"}
        return [Edit(kind, g.label, None, body if go else None, body if gn else None,
                     go.span if go else None, gn.span if gn else None, "grading", g.label)]
    out = []
    for f in dataclasses.fields(go):
        if f.name == "span":
            continue
        a, b = _plain(getattr(go, f.name)), _plain(getattr(gn, f.name))
        if a != b:
            out.append(Edit("changed", gn.label, f.name, a, b, _grading_span(old, go, f.name),
                            _grading_span(new, gn, f.name), "grading", gn.label))
    return out


def _grading_span(rs: RuleSet, g: ir.Grading, key: str) -> n.Span:
    """Where grading ``g`` writes ``key`` (its declaration: the one with its name and label)."""
    decl = next((it for f in rs.files for it in f.items
                 if isinstance(it, n.GradingDecl) and it.id == g.id and it.label == g.label), None)
    s = n.setting(decl.settings, key) if decl is not None else None
    return s.span if s is not None else g.span


def _declared(old: RuleSet, new: RuleSet, attr: str, scope: str, skip: tuple[str, ...] = ()) -> list[Edit]:
    """Extraction markers, cleaning rules and statistics, matched by id; every field but the span
    (and ``skip``: what follows from another field, or a description) compared."""
    items_old: dict[str, Marker | Clean | ir.Statistic] = {x.id: x for x in getattr(old, attr, ())}
    items_new: dict[str, Marker | Clean | ir.Statistic] = {x.id: x for x in getattr(new, attr, ())}
    skip = ("id", "span", *skip)
    out = []
    for ident in [*items_old, *(i for i in items_new if i not in items_old)]:
        xo, xn = items_old.get(ident), items_new.get(ident)
        either = xo or items_new[ident]
        body = {f.name: _plain(getattr(either, f.name)) for f in dataclasses.fields(either) if f.name not in skip}
        if xo is None or xn is None:
            out.append(Edit("added" if xo is None else "removed", ident, None, body if xn is None else None,
                            body if xo is None else None, xo.span if xo else None, xn.span if xn else None,
                            scope, str(body.get("label", ""))))
            continue
        for f in dataclasses.fields(xo):
            a, b = _plain(getattr(xo, f.name)), _plain(getattr(xn, f.name))
            if f.name not in skip and a != b:
                if scope == "statistic" and f.name == "text":  # the condition, as its setting is called
                    found = _text_parts(str(a), str(b))
                    out.append(Edit("changed", ident, "where", a, b, xo.span, xn.span, scope, str(_plain(xn.label)),
                                    parts=tuple((p.old, p.new) for p in found), paths=tuple(p.path for p in found)))
                    continue
                out.append(Edit("changed", ident, f.name, a, b, xo.span, xn.span, scope, str(_plain(xn.label))))
    return out


def _text_parts(old: str, new: str) -> list:
    """The smallest changed subexpressions of two conditions kept as text (a statistic's)."""
    try:
        a, b = (parse_text(f"let z = {t}").items[0] for t in (old, new))
    except RuleError:
        return []
    return expr_parts(a.value, b.value) if isinstance(a, n.LetDecl) and isinstance(b, n.LetDecl) else []


def _columns(rs: RuleSet, table: str) -> dict[str, n.Span]:
    decl = next((it for f in rs.files for it in f.items if isinstance(it, n.TableDecl) and it.name == table), None)
    return {c.name: c.span for c in decl.columns} if decl is not None else {}


def _tables(old: RuleSet, new: RuleSet) -> list[Edit]:
    out = []
    for name in [*old.tables, *(t for t in new.tables if t not in old.tables)]:
        to, tn = old.tables.get(name), new.tables.get(name)
        if to is None or tn is None:
            t = tn or to
            assert t is not None
            cols = ", ".join(f"{c}: {ty}" for c, ty in t.columns.items())
            out.append(Edit("added" if to is None else "removed", name, None, None if to is None else cols,
                            cols if to is None else None, to.span if to else None, tn.span if tn else None,
                            "table", name))
            continue
        co, cn = _columns(old, name), _columns(new, name)
        for c in [*to.columns, *(c for c in tn.columns if c not in to.columns)]:
            a, b = to.columns.get(c), tn.columns.get(c)
            if a == b:
                continue
            kind = "added" if a is None else "removed" if b is None else "changed"
            out.append(Edit(kind, f"{name}.{c}", "type", a, b, co.get(c, to.span) if a else None,
                            cn.get(c, tn.span) if b else None, "column", name))
        if _expanded(to.valid) != _expanded(tn.valid):
            a_, b_ = (None if t.valid is None else format_expr(ir.to_syntax(t.valid)) for t in (to, tn))
            out.append(Edit("changed", name, "valid when", a_, b_, to.valid.span if to.valid else to.span,
                            tn.valid.span if tn.valid else tn.span, "table", name))
    return out
