"""AST → canonical rule text. ``parse(format(x)) == x`` for every file; comments are kept.

Layout: two-space indent, one setting per line, a blank line between top-level items and
between an indicator's children, and one wherever the author left one (after a header comment,
between settings); expressions with the fewest parentheses that parse back, except those the
author wrote around an ``and``/``or`` (a reader's grouping, kept). Lines longer than 100
columns are broken at call arguments, map entries (one a line), list items, ``and``/``or``
and the right operand of arithmetic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from govindex.lang import nodes as n

WIDTH = 100
_NAME = re.compile(r"[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*")
# Words the NAME terminal excludes (grammar.lark); other keywords are names inside a map.
_KEYWORDS = {"and", "or", "not", "in", "if", "then", "else", "true", "false", "null", "under", "when"}
_PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4,
         "+": 5, "-": 5, "*": 6, "/": 6}


def format_number(v: float, text: str = "") -> str:
    if text:
        return text
    if not math.isfinite(v):
        return "1e999" if v > 0 else "-1e999" if v < 0 else "0"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def format_expr(e: n.Expr, level: int = 0) -> str:
    """One expression on one line, parenthesised only where the grammar needs it."""
    text, prec = _expr(e)
    return f"({text})" if prec < level else text


def _expr(e: n.Expr) -> tuple[str, int]:
    if isinstance(e, n.Number):
        return format_number(e.value, e.text), 8 if e.value >= 0 else 7
    if isinstance(e, n.String):
        return format_string(e.value), 8
    if isinstance(e, n.Bool):
        return ("true" if e.value else "false"), 8
    if isinstance(e, n.Null):
        return "null", 8
    if isinstance(e, n.Name):
        return e.id, 8
    if isinstance(e, n.Call):
        args = [format_expr(a) for a in e.args] + [f"{k.name}: {format_expr(k.value)}" for k in e.kwargs]
        return f"{e.fn}({', '.join(args)})", 8
    if isinstance(e, n.ListLit):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]", 8
    if isinstance(e, n.MapLit):
        return "{" + ", ".join(f"{_key(p)}: {format_expr(p.value)}" for p in e.pairs) + "}", 8
    if isinstance(e, n.Unary):
        if e.op == "not":
            return "not " + format_expr(e.operand, 3), 3
        inner = format_expr(e.operand, 7)
        return "-" + (f"({inner})" if inner.startswith("-") else inner), 7
    if isinstance(e, n.If):
        return f"if {format_expr(e.cond)} then {format_expr(e.then)} else {format_expr(e.else_)}", 0
    if isinstance(e, n.Binary):
        if e.paren and e.op in ("and", "or"):  # the author's grouping: kept, an atom
            return f"({_expr(_bare(e))[0]})", 8
        p = _PREC[e.op]
        if p == 4:  # comparisons do not chain: both sides are sums
            return f"{format_expr(e.left, 5)} {e.op} {format_expr(e.right, 5)}", 4
        return f"{format_expr(e.left, p)} {e.op} {format_expr(e.right, p + 1)}", p
    raise TypeError(f"cannot format {type(e).__name__}")


def _bare(e: n.Binary) -> n.Binary:
    return n.Binary(e.op, e.left, e.right, e.span)


def _key(p: n.Pair) -> str:
    if isinstance(p.key, float):
        return format_number(p.key, p.key_text if p.key_text[:1].isdigit() else "")
    if p.key_text.startswith('"') or not _NAME.fullmatch(p.key) or p.key in _KEYWORDS:
        return format_string(p.key)
    return p.key


class _Writer:
    def __init__(self, comments: tuple[n.Comment, ...]):
        self.comments = sorted(comments, key=lambda c: (c.line, c.col))
        self.i = 0
        self.lines: list[str] = []
        self.last = 0  # the last source line written: a gap after it is a blank line the author left

    def gap(self, line: int) -> None:
        """One blank line where the source has at least one (never right after an opening brace)."""
        if self.last and line > self.last + 1 and self.lines and not self.lines[-1].endswith(("{", "[")):
            self.blank()

    def lead(self, line: int, indent: str) -> None:
        while self.i < len(self.comments) and self.comments[self.i].line < line:
            c = self.comments[self.i]
            self.gap(c.line)  # a blank line between comment blocks, or after a header comment, is kept
            self.lines.append(indent + c.text)
            self.last = c.line
            self.i += 1
        self.gap(line)

    def trail(self, line: int) -> str:
        if self.i < len(self.comments) and self.comments[self.i].line == line:
            c = self.comments[self.i]
            self.i += 1
            return "  " + c.text
        return ""

    def emit(self, indent: str, text: str, span: n.Span, end_line: int | None = None) -> None:
        self.lead(span.line, indent)
        self.lines.append(indent + text + self.trail(end_line or span.end_line))
        self.last = max(self.last, end_line or span.end_line)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")


def format_file(f: n.RuleFile) -> str:
    """Canonical text of one rule file."""
    w = _Writer(f.comments)
    prev: n.Item | None = None
    for item in f.items:
        if not (_one_line_edit(prev) and _one_line_edit(item) and item.span.line == prev.span.end_line + 1):  # type: ignore[union-attr]
            w.blank()  # a run of one-line edits (`remove …`, `move …`) on consecutive lines stays one block
        _item(w, item, "")
        prev = item
    w.lead(10**9, "")
    while w.lines and w.lines[-1] == "":
        w.lines.pop()
    return "\n".join(w.lines) + "\n"


def format_resolved(files: list[n.RuleFile]) -> str:
    """The items of a resolved rule set (after composition) as one canonical text, each top-level
    item preceded by ``# from path:line``, the file that defined it (an edit: the editing file)."""
    w = _Writer(())
    for f in files:
        for item in f.items:
            w.blank()
            edited = sorted(_paths(item) - {item.span.path})
            w.lines.append(f"# from {item.span.path}:{item.span.line}" + (f" (edited in {', '.join(edited)})" if edited else ""))
            w.last = 0  # items come from several files: no source gap between the `# from` line and the item
            _item(w, item, "")
    return "\n".join(w.lines) + "\n"


def _paths(it: object) -> set[str]:
    """The files the parts of a declaration come from (an inherited item's overrides: the child's)."""
    out: set[str] = set()
    for part in (getattr(it, "settings", ()), getattr(it, "children", ()), getattr(it, "columns", ()),
                 getattr(it, "expects", ()), getattr(it, "givens", ())):
        for x in part:
            out.add(x.span.path)
            if isinstance(x, (n.IndicatorDecl, n.PointDecl)):
                out |= _paths(x)
    for e in (getattr(it, "value", None), getattr(it, "valid", None)):
        if e is not None and hasattr(e, "span"):
            out.add(e.span.path)
    return {p for p in out if p != n.NOWHERE.path}


def _one_line_edit(it: n.Item | None) -> bool:
    return isinstance(it, (n.ExtendsDecl, n.IncludeDecl, n.RemoveDecl, n.MoveDecl, n.RenameDecl)) or (
        isinstance(it, n.OverrideDecl) and it.kind == "let")


def _block(w: _Writer, indent: str, header: str, span: n.Span, body: Callable[[str], None]) -> None:
    w.emit(indent, header + " {", span, span.line)
    body(indent + "  ")
    w.lead(span.end_line, indent + "  ")
    if w.lines[-1] == "":
        w.lines.pop()  # no blank line before a closing brace
    w.lines.append(indent + "}" + w.trail(span.end_line))
    w.last = max(w.last, span.end_line)


def _settings(w: _Writer, indent: str, settings: tuple[n.Setting, ...]) -> None:
    for s in settings:
        lines = wrap_expr(s.value, indent, f"{s.key}: ")
        w.emit(indent, lines[0], s.span, s.span.line if len(lines) > 1 else None)
        w.lines.extend(lines[1:])
        w.last = max(w.last, s.span.end_line)


_SCALARS = (n.Number, n.String, n.Name, n.Bool, n.Null)


def wrap_expr(e: n.Expr, indent: str, prefix: str = "", width: int = WIDTH) -> list[str]:
    """``prefix + e`` on one line if it fits in ``width``; else broken at call arguments, list
    items and ``and``/``or``. The first line is returned without ``indent``, the others with it."""
    one = format_expr(e)
    if len(indent) + len(prefix) + len(one) <= width:
        return [prefix + one]
    inner = indent + "  "
    if isinstance(e, n.Binary) and e.paren and e.op in ("and", "or"):  # the author's parentheses, kept
        lines = wrap_expr(_bare(e), indent, prefix + "(", width)
        lines[-1] += ")"
        return lines
    if isinstance(e, n.Call) and (e.args or e.kwargs):
        parts = [("", a) for a in e.args] + [(f"{k.name}: ", k.value) for k in e.kwargs]
        lines = [prefix + e.fn + "("]
        for i, (kp, a) in enumerate(parts):
            sub = wrap_expr(a, inner, kp, width)
            sub[-1] += "," if i < len(parts) - 1 else ""
            lines.append(inner + sub[0])
            lines.extend(sub[1:])
        lines.append(indent + ")")
        return lines
    if isinstance(e, n.ListLit) and e.items and not all(isinstance(i, _SCALARS) for i in e.items):
        lines = [prefix + "["]  # maps, calls, lists inside: one item a line, each wrapped in turn
        for i, item in enumerate(e.items):
            sub = wrap_expr(item, inner, "", width)
            sub[-1] += "," if i < len(e.items) - 1 else ""
            lines.append(inner + sub[0])
            lines.extend(sub[1:])
        lines.append(indent + "]")
        return lines
    if isinstance(e, n.ListLit) and e.items:  # words and numbers: filled line by line
        lines, cur = [prefix + "["], ""
        items = [format_expr(i) for i in e.items]
        for i, it in enumerate(items):
            piece = it + ("," if i < len(items) - 1 else "")
            if cur and len(inner) + len(cur) + 1 + len(piece) > width:
                lines.append(inner + cur)
                cur = piece
            else:
                cur = f"{cur} {piece}" if cur else piece
        lines.append(inner + cur)
        lines.append(indent + "]")
        return lines
    if isinstance(e, n.MapLit) and e.pairs:  # one entry a line, each wrapped in turn
        lines = [prefix + "{"]
        for i, pr in enumerate(e.pairs):
            sub = wrap_expr(pr.value, inner, f"{_key(pr)}: ", width)
            sub[-1] += "," if i < len(e.pairs) - 1 else ""
            lines.append(inner + sub[0])
            lines.extend(sub[1:])
        lines.append(indent + "}")
        return lines
    if isinstance(e, n.Binary) and e.op in ("and", "or"):
        chain: list[n.Expr] = []
        x: n.Expr = e
        while isinstance(x, n.Binary) and x.op == e.op and not x.paren:
            chain.append(x.right)
            x = x.left
        chain.append(x)
        chain.reverse()
        p = _PREC[e.op]
        lines = [prefix + format_expr(chain[0], p)]
        lines += [f"{inner}{e.op} {format_expr(c, p + 1)}" for c in chain[1:]]
        return lines
    if isinstance(e, n.Binary) and _PREC[e.op] >= 5:  # a + b - c: a line per term, the operator first
        return _wrap_terms(e, indent, prefix, width)
    if isinstance(e, n.Binary) and _expr(e.right)[1] >= 5:  # a comparison: the right side may break
        return wrap_expr(e.right, indent, f"{prefix}{format_expr(e.left, 5)} {e.op} ", width)
    return [prefix + one]


def _wrap_terms(e: n.Binary, indent: str, prefix: str, width: int) -> list[str]:
    p, inner = _PREC[e.op], indent + "  "
    terms: list[tuple[str, n.Expr]] = []
    x: n.Expr = e
    while isinstance(x, n.Binary) and x.op in _PREC and _PREC[x.op] == p and not x.paren:
        terms.append((x.op, x.right))
        x = x.left
    terms.reverse()
    first = _wrap_operand(x, p, indent, prefix, width)
    lines = first[:]
    for op, t in terms:
        sub = _wrap_operand(t, p + 1, inner, f"{op} ", width)
        lines.append(inner + sub[0])
        lines.extend(sub[1:])
    return lines


def _wrap_operand(e: n.Expr, level: int, indent: str, prefix: str, width: int) -> list[str]:
    """An operand wrapped in turn when it needs no parentheses of its own, else on one line."""
    return wrap_expr(e, indent, prefix, width) if _expr(e)[1] >= level else [prefix + format_expr(e, level)]


def _item(w: _Writer, it: n.Item | n.RefDecl, indent: str) -> None:
    if isinstance(it, (n.MarkerDecl, n.CleanDecl, n.SummaryDecl, n.StatisticDecl)):
        kw = {n.MarkerDecl: "marker", n.CleanDecl: "clean", n.SummaryDecl: "summary"}.get(type(it), "statistic")
        _block(w, indent, f"{kw} {it.id} {format_string(it.label)}", it.span, lambda ind: _settings(w, ind, it.settings))
    elif isinstance(it, n.GradingDecl):
        head = f"grading {it.id + ' ' if it.id else ''}{format_string(it.label)}"
        _block(w, indent, head, it.span, lambda ind: _settings(w, ind, it.settings))
    elif isinstance(it, n.RulesetDecl):
        _block(w, indent, f"ruleset {format_string(it.name)}", it.span, lambda ind: _settings(w, ind, it.settings))
    elif isinstance(it, n.TableDecl):
        def body(ind: str) -> None:
            for c in it.columns:
                w.emit(ind, f"{c.name}: {c.type}", c.span)
            if it.valid is not None:
                w.emit(ind, f"valid when {format_expr(it.valid)}", it.valid.span)
        _block(w, indent, f"table {it.name}", it.span, body)
    elif isinstance(it, (n.IndicatorDecl, n.PointDecl)):
        kind = "indicator" if isinstance(it, n.IndicatorDecl) else "point"
        header = f"{kind} {_id(it.id)} {format_string(it.label)}" + (f" under {_id(it.under)}" if it.under else "")

        def body(ind: str) -> None:
            _settings(w, ind, it.settings)
            for child in getattr(it, "children", ()):
                w.blank()
                _item(w, child, ind)
        _block(w, indent, header, it.span, body)
    elif isinstance(it, n.TemplateDecl):
        _template(w, it, indent)
    elif isinstance(it, n.RefDecl):
        _block(w, indent, f"ref {it.target}", it.span, lambda ind: _settings(w, ind, it.settings))
    elif isinstance(it, n.LetDecl):
        head = f"let {it.name}" + (f"({', '.join(it.params)})" if it.params else "") + " = "
        lines = wrap_expr(it.value, indent, head)
        w.emit(indent, lines[0], it.span, it.span.line if len(lines) > 1 else None)
        w.lines.extend(lines[1:])
        w.last = max(w.last, it.span.end_line)
    elif isinstance(it, n.TestDecl):
        def body(ind: str) -> None:
            for g in it.givens:
                rows = g.rows.items
                if not rows:
                    w.emit(ind, f"given {g.table} []", g.span)
                    continue
                w.emit(ind, f"given {g.table} [", g.span, g.span.line)
                for k, r in enumerate(rows):
                    w.emit(ind + "  ", format_expr(r) + ("," if k < len(rows) - 1 else ""), r.span)
                w.lines.append(ind + "]")
                w.last = max(w.last, g.span.end_line)
            for ex in it.expects:
                w.emit(ind, f"expect {format_string(ex.unit)} {ex.node} {ex.op} {format_expr(ex.value)}", ex.span)
        _block(w, indent, f"test {format_string(it.name)}", it.span, body)
    elif isinstance(it, (n.ExtendsDecl, n.IncludeDecl, n.RemoveDecl, n.MoveDecl, n.RenameDecl, n.OverrideDecl,
                         n.ReplaceDecl)):
        _edit(w, it, indent)
    else:
        raise TypeError(f"cannot format {type(it).__name__}")


def _id(ident: str) -> str:
    """A node id as written: a name, or (in a template) a string such as ``"{d.id}_{q.id}"``."""
    return ident if _NAME.fullmatch(ident) and ident not in _KEYWORDS else format_string(ident)


def _template(w: _Writer, it: n.TemplateDecl, indent: str) -> None:
    """``template id for d in "a.csv", q in [...] {`` — a list source wrapped like any list — then
    the body as written (not expanded)."""
    one = f"template {it.id} for " + ", ".join(f"{s.var} in {format_expr(s.source)}" for s in it.sources) + " {"
    lines = [one]
    if len(indent) + len(one) > WIDTH:  # each list source one row a line
        lines = [f"template {it.id} for "]
        for i, src in enumerate(it.sources):
            if isinstance(src.source, n.ListLit) and src.source.items:
                rows = [format_expr(r) for r in src.source.items]
                lines[-1] += f"{src.var} in ["
                lines += [f"{indent}  {r}," for r in rows[:-1]] + [f"{indent}  {rows[-1]}", f"{indent}]"]
            else:
                lines[-1] += f"{src.var} in {format_expr(src.source)}"
            lines[-1] += ", " if i < len(it.sources) - 1 else " {"
    w.emit(indent, lines[0], it.span, it.span.line)
    w.lines.extend(lines[1:])
    for k, child in enumerate(it.body):
        if k:
            w.blank()
        _item(w, child, indent + "  ")
    w.lead(it.span.end_line, indent + "  ")
    w.lines.append(indent + "}" + w.trail(it.span.end_line))
def _edit(w: _Writer, it: n.Edit, indent: str) -> None:
    """The composition items (lang/compose.py)."""
    if isinstance(it, (n.ExtendsDecl, n.IncludeDecl)):
        kw = "extends" if isinstance(it, n.ExtendsDecl) else "include"
        w.emit(indent, f"{kw} {format_string(it.path)}", it.span)
    elif isinstance(it, n.RemoveDecl):
        target = format_string(it.target) if it.kind == "test" else it.target
        w.emit(indent, f"remove {it.kind} {target}", it.span)
    elif isinstance(it, n.MoveDecl):
        place = f" {it.place} {it.sibling}" if it.place else ""
        w.emit(indent, f"move {it.kind} {it.target} under {it.parent}{place}", it.span)
    elif isinstance(it, n.RenameDecl):
        w.emit(indent, f"rename {it.kind} {it.target} to {it.new}", it.span)
    elif isinstance(it, n.ReplaceDecl):
        w.lead(it.span.line, indent)
        at = len(w.lines)
        _item(w, it.item, indent)  # comments inside the declaration stay where they were
        w.lines[at] = indent + "replace " + w.lines[at][len(indent):]
    elif it.kind == "let" and it.value is not None:
        w.emit(indent, f"override let {it.target} = {format_expr(it.value)}", it.span)
    else:
        _override(w, it, indent)


def _override(w: _Writer, it: n.OverrideDecl, indent: str) -> None:
    head = " ".join(x for x in ("override", it.kind, it.target) if x)
    head += f" {format_string(it.label)}" if it.label is not None else ""
    if not (it.columns or it.valid or it.settings or it.unsets):  # a relabelling: `override indicator x "新" {}`
        w.emit(indent, head + " {}", it.span)
        return

    def body(ind: str) -> None:
        for c in it.columns:
            w.emit(ind, f"{c.name}: {c.type}", c.span)
        if it.valid is not None:
            w.emit(ind, f"valid when {format_expr(it.valid)}", it.valid.span)
        _settings(w, ind, it.settings)
        for u in it.unsets:
            w.emit(ind, f"unset {u.key}", u.span)
    _block(w, indent, head, it.span, body)
