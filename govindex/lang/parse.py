"""Rule text → AST (:mod:`govindex.lang.nodes`). LALR, strict, positions on every node.

:func:`parse_text` raises only :class:`govindex.diagnostics.RuleError`, whatever the input.
"""

from __future__ import annotations

import gc
import math
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError
from lark.tree import Meta

from govindex.diagnostics import Diagnostic, RuleError
from govindex.lang import nodes as n
from govindex.lang.source import BOM, SourceError, read_source
from govindex.lang.syntax_errors import SYNTAX_EXAMPLES, syntax_diagnostic  # noqa: F401  (re-exported)

_GRAMMAR = Path(__file__).with_name("grammar.lark")

@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", strict=True,
                propagate_positions=True, maybe_placeholders=False, cache=True)


def parse_text(text: str, path: str = "<string>") -> n.RuleFile:
    """Parse one rule file's text. Raises :class:`RuleError` (E001) on a syntax error."""
    # A byte-order mark (Windows editors write one) is not text: editors do not count it as a column.
    text = text.removeprefix(BOM)
    # Lark counts lines by \n only: make every line break one, so positions match what editors show.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A parse allocates millions of small objects and frees few: the cyclic collector would walk
    # the growing trees over and over (a third of the time on a 100,000-line file, superlinear).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, path)
    finally:
        if enabled:
            gc.enable()


def _parse(text: str, path: str) -> n.RuleFile:
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise RuleError([syntax_diagnostic(exc, text, path, _parser().parse)]) from None
    except RecursionError:
        raise RuleError([_too_deep(path)]) from None
    except LarkError as exc:  # any other lark failure is still the user's text
        raise RuleError([Diagnostic("E001", f"cannot parse: {exc}", n.Span(path, 1, 1, 1, 1))]) from None
    try:
        items = _ToAst(path).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _AstError):
            raise RuleError([exc.orig_exc.diagnostic]) from None
        if isinstance(exc.orig_exc, RecursionError):
            raise RuleError([_too_deep(path)]) from None
        raise
    except RecursionError:
        raise RuleError([_too_deep(path)]) from None
    # Comments are ignored by the grammar; gather them from the text for the formatter.
    return n.RuleFile(path, tuple(items), tuple(_scan_comments(text)))


def _too_deep(path: str) -> Diagnostic:
    return Diagnostic("E001", "expression nested too deeply", n.Span(path, 1, 1, 1, 1),
                      "split it with `let` declarations")


def _scan_comments(text: str) -> list[n.Comment]:
    """Find `#` comments outside strings (the lexer drops them)."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        in_str = esc = False
        for col, ch in enumerate(line, 1):
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "#":
                out.append(n.Comment(lineno, col, line[col - 1 :].rstrip()))
                break
    return out


def read_rule_text(path: Path) -> str:
    """The text of one ``.rules`` file; E002 (at the first undecodable byte) if it cannot be read."""
    try:
        return read_source(path, "rule file")
    except SourceError as exc:
        line, col = max(exc.line, 1), max(exc.col, 1)  # the file as a whole: its first line
        span = n.Span(str(path), line, col, line, col + 1)
        raise RuleError([Diagnostic("E002", exc.message, span, exc.hint)]) from None


def parse_file(path: Path) -> n.RuleFile:
    """Read and parse one ``.rules`` file (UTF-8; regular files only, at most 16 MB)."""
    return parse_text(read_rule_text(path), str(path))


def rule_files(root: Path) -> list[Path]:
    """The ``.rules`` entries of a rule set directory, sorted, or ``[root]`` when it is not a directory.

    Entries are not filtered: a directory or FIFO named ``x.rules`` is returned so that reading
    it reports what it is, rather than it being skipped without a word.
    """
    if not root.is_dir():
        return [root]
    return sorted(root.rglob("*.rules"))


def no_rule_files(root: Path) -> Diagnostic:
    """E003: a directory without ``.rules`` files."""
    return Diagnostic("E003", f"no .rules files in {root}", n.Span(str(root), 0, 0, 0, 0),
                      "a rule set is a directory of .rules files")


def parse_dir(root: Path) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """Parse every file of a rule set; syntax errors of all files are gathered."""
    files, diags = [], []
    paths = rule_files(root)
    if not paths:
        diags.append(no_rule_files(root))
    for p in paths:
        try:
            files.append(parse_file(p))
        except RuleError as exc:
            diags.extend(exc.diagnostics)
    return files, diags


class _AstError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


Children = list[Any]  # what lark hands a rule's method: tokens and the nodes built below it


class _ToAst(Transformer[Token, Any]):
    """lark tree → AST. Each method is named after the grammar rule it builds."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.fields: list[tuple[n.Span, str]] = []  # `d.label` seen and not (yet) inside a template

    def _span(self, meta: Meta) -> n.Span:
        if getattr(meta, "empty", True):
            return n.Span(self.path, 0, 0, 0, 0)
        return n.Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> n.Span:
        line, col = tok.line or 0, tok.column or 0
        return n.Span(self.path, line, col, tok.end_line or line, tok.end_column or col + len(tok))

    def start(self, items: Children) -> list[n.Item]:
        if self.fields:  # `units: units.csv`: a dotted name means a metadata column only in a template
            span, text = self.fields[0]
            raise _AstError(Diagnostic("E001", "unexpected '.'; unquoted string", span,
                                       f'strings are written in double quotes: "{text}"; `d.column` is a '
                                       "metadata column, only inside a `template` (docs §6a)"))
        return items

    @v_args(meta=True)
    def ruleset(self, meta: Meta, c: Children) -> n.RulesetDecl:
        return n.RulesetDecl(_unquote(c[0]), tuple(c[1:]), self._span(meta))

    @v_args(meta=True)
    def marker(self, meta: Meta, c: Children) -> n.MarkerDecl:
        return n.MarkerDecl(str(c[0]), _unquote(c[1]), tuple(c[2:]), self._span(meta))

    @v_args(meta=True)
    def clean(self, meta: Meta, c: Children) -> n.CleanDecl:
        return n.CleanDecl(str(c[0]), _unquote(c[1]), tuple(c[2:]), self._span(meta))

    @v_args(meta=True)
    def summary(self, meta: Meta, c: Children) -> n.SummaryDecl:
        return n.SummaryDecl(str(c[0]), _unquote(c[1]), tuple(c[2:]), self._span(meta))

    @v_args(meta=True)
    def statistic(self, meta: Meta, c: Children) -> n.StatisticDecl:
        return n.StatisticDecl(str(c[0]), _unquote(c[1]), tuple(c[2:]), self._span(meta))

    @v_args(meta=True)
    def ref(self, meta: Meta, c: Children) -> n.RefDecl:
        return n.RefDecl(str(c[0]), tuple(c[1:]), self._span(meta))

    @v_args(meta=True)
    def grading(self, meta: Meta, c: Children) -> n.GradingDecl:
        if isinstance(c[0], Token) and c[0].type == "NAME":  # `grading groups "EGDI groups" {…}`: an id
            return n.GradingDecl(_unquote(c[1]), tuple(c[2:]), self._span(meta), str(c[0]))
        return n.GradingDecl(_unquote(c[0]), tuple(c[1:]), self._span(meta))

    @v_args(meta=True)
    def setting(self, meta: Meta, c: Children) -> n.Setting:
        return n.Setting(str(c[0]), c[1], self._span(meta))

    @v_args(meta=True)
    def table(self, meta: Meta, c: Children) -> n.TableDecl:
        cols = tuple(x for x in c[1:] if isinstance(x, n.Column))
        valids = [x for x in c[1:] if not isinstance(x, n.Column)]
        if len(valids) > 1:
            raise _AstError(Diagnostic("E001", "a table has at most one `valid when` rule",
                                       valids[1].span if hasattr(valids[1], "span") else self._span(meta),
                                       "combine the conditions with `and`"))
        return n.TableDecl(str(c[0]), cols, valids[0] if valids else None, self._span(meta))

    @v_args(meta=True)
    def column(self, meta: Meta, c: Children) -> n.Column:
        return n.Column(str(c[0]), c[1], self._span(meta))

    def coltype(self, c: Children) -> str:
        return f"{c[0]}[{c[1]}]" if len(c) == 2 else str(c[0])

    def valid(self, c: Children) -> n.Expr:
        out: n.Expr = c[0]
        return out

    def under(self, c: Children) -> str:
        return str(c[0])

    @v_args(meta=True)
    def indicator(self, meta: Meta, c: Children) -> n.IndicatorDecl:
        return self._indicator(meta, c)

    def _indicator(self, meta: Meta, c: Children) -> n.IndicatorDecl:
        ident, label, rest = str(c[0]), _unquote(c[1]), c[2:]
        under = rest[0] if rest and isinstance(rest[0], str) else None
        body = rest[1:] if under is not None else rest
        settings = tuple(x for x in body if isinstance(x, n.Setting))
        children = tuple(x for x in body if not isinstance(x, n.Setting))
        return n.IndicatorDecl(ident, label, under, settings, children, self._span(meta))

    @v_args(meta=True)
    def point(self, meta: Meta, c: Children) -> n.PointDecl:
        return self._point(meta, c)

    def _point(self, meta: Meta, c: Children) -> n.PointDecl:
        ident, label, rest = str(c[0]), _unquote(c[1]), c[2:]
        under = rest[0] if rest and isinstance(rest[0], str) else None
        body = rest[1:] if under is not None else rest
        return n.PointDecl(ident, label, under, tuple(body), self._span(meta))

    @v_args(meta=True)
    def template(self, meta: Meta, c: Children) -> n.TemplateDecl:
        span = self._span(meta)
        inside = (span.line, span.col), (span.end_line, span.end_col)
        self.fields = [f for f in self.fields if not inside[0] <= (f[0].line, f[0].col) <= inside[1]]
        sources = tuple(x for x in c[1:] if isinstance(x, n.TemplateSource))
        body = tuple(x for x in c[1:] if isinstance(x, (n.IndicatorDecl, n.PointDecl)))
        return n.TemplateDecl(str(c[0]), sources, body, span)

    @v_args(meta=True)
    def template_source(self, meta: Meta, c: Children) -> n.TemplateSource:
        src = c[1] if isinstance(c[1], n.ListLit) else n.String(_unquote(c[1]), self._tok_span(c[1]))
        return n.TemplateSource(str(c[0]), src, self._span(meta))

    def _template_id(self, tok: Token) -> str:
        return _unquote(tok) if tok.type == "STRING" else str(tok)

    @v_args(meta=True)
    def template_indicator(self, meta: Meta, c: Children) -> n.IndicatorDecl:
        return self._indicator(meta, [self._template_id(c[0]), *c[1:]])

    @v_args(meta=True)
    def template_point(self, meta: Meta, c: Children) -> n.PointDecl:
        return self._point(meta, [self._template_id(c[0]), *c[1:]])

    def template_under(self, c: Children) -> str:
        return self._template_id(c[0])

    @v_args(meta=True)
    def let(self, meta: Meta, c: Children) -> n.LetDecl:
        if len(c) == 3:  # `let f(a, b) = …`: a function
            params: tuple[str, ...] = c[1]
            for i, p in enumerate(params):
                if p in params[:i]:
                    raise _AstError(Diagnostic("E001", f"parameter `{p}` appears twice in `let {c[0]}`",
                                               self._span(meta), "give each parameter its own name"))
            return n.LetDecl(str(c[0]), c[2], self._span(meta), params)
        return n.LetDecl(str(c[0]), c[1], self._span(meta))

    def params(self, c: Children) -> tuple[str, ...]:
        return tuple(str(x) for x in c)

    def paren(self, c: Children) -> n.Expr:
        # Parentheses around an `and`/`or` are remembered for the formatter (a reader's grouping).
        inner: n.Expr = c[0]
        if isinstance(inner, n.Binary) and inner.op in ("and", "or") and not inner.paren:
            return replace(inner, paren=True)
        return inner

    @v_args(meta=True)
    def test(self, meta: Meta, c: Children) -> n.TestDecl:
        givens = tuple(x for x in c[1:] if isinstance(x, n.Given))
        expects = tuple(x for x in c[1:] if isinstance(x, n.Expect))
        return n.TestDecl(_unquote(c[0]), givens, expects, self._span(meta))

    # composition (lang/compose.py)
    @v_args(meta=True)
    def extends(self, meta: Meta, c: Children) -> n.ExtendsDecl:
        return n.ExtendsDecl(_unquote(c[0]), self._span(meta))

    @v_args(meta=True)
    def include(self, meta: Meta, c: Children) -> n.IncludeDecl:
        return n.IncludeDecl(_unquote(c[0]), self._span(meta))

    def node_kind(self, c: Children) -> str:
        return str(c[0])

    item_kind = tree_kind = node_kind

    def place(self, c: Children) -> tuple[str, str]:
        return str(c[0]), str(c[1])

    @v_args(meta=True)
    def unset(self, meta: Meta, c: Children) -> n.Unset:
        return n.Unset(str(c[0]), self._span(meta))

    def _override(self, kind: str, target: str, label: Any, body: Children, meta: Meta) -> n.OverrideDecl:
        settings = tuple(x for x in body if isinstance(x, n.Setting))
        unsets = tuple(x for x in body if isinstance(x, n.Unset))
        return n.OverrideDecl(kind, target, _unquote(label) if label is not None else None, settings, unsets,
                              span=self._span(meta))

    @v_args(meta=True)
    def override(self, meta: Meta, c: Children) -> n.OverrideDecl:
        has_label = len(c) > 2 and isinstance(c[2], Token) and c[2].type == "STRING"
        return self._override(c[0], str(c[1]), c[2] if has_label else None, c[3 if has_label else 2:], meta)

    @v_args(meta=True)
    def override_ruleset(self, meta: Meta, c: Children) -> n.OverrideDecl:
        has_label = bool(c) and isinstance(c[0], Token) and c[0].type == "STRING"
        return self._override("ruleset", "", c[0] if has_label else None, c[1 if has_label else 0:], meta)

    @v_args(meta=True)
    def override_grading(self, meta: Meta, c: Children) -> n.OverrideDecl:
        has_id = bool(c) and isinstance(c[0], Token) and c[0].type == "NAME"
        return self._override("grading", str(c[0]) if has_id else "", None, c[1 if has_id else 0:], meta)

    @v_args(meta=True)
    def override_table(self, meta: Meta, c: Children) -> n.OverrideDecl:
        t = self.table(meta, c)
        return n.OverrideDecl("table", t.name, None, (), columns=t.columns, valid=t.valid, span=t.span)

    @v_args(meta=True)
    def override_let(self, meta: Meta, c: Children) -> n.OverrideDecl:
        return n.OverrideDecl("let", str(c[0]), None, (), value=c[1], span=self._span(meta))

    @v_args(meta=True)
    def remove(self, meta: Meta, c: Children) -> n.RemoveDecl:
        return n.RemoveDecl(c[0], str(c[1]), self._span(meta))

    @v_args(meta=True)
    def remove_test(self, meta: Meta, c: Children) -> n.RemoveDecl:
        return n.RemoveDecl("test", _unquote(c[0]), self._span(meta))

    @v_args(meta=True)
    def move(self, meta: Meta, c: Children) -> n.MoveDecl:
        place, sibling = c[3] if len(c) > 3 else (None, None)
        return n.MoveDecl(c[0], str(c[1]), str(c[2]), place, sibling, self._span(meta))

    @v_args(meta=True)
    def rename(self, meta: Meta, c: Children) -> n.RenameDecl:
        return n.RenameDecl(c[0], str(c[1]), str(c[2]), self._span(meta))

    @v_args(meta=True)
    def replace(self, meta: Meta, c: Children) -> n.ReplaceDecl:
        return n.ReplaceDecl(c[0], self._span(meta))

    @v_args(meta=True)
    def given(self, meta: Meta, c: Children) -> n.Given:
        return n.Given(str(c[0]), c[1], self._span(meta))

    @v_args(meta=True)
    def expect(self, meta: Meta, c: Children) -> n.Expect:
        return n.Expect(_unquote(c[0]), str(c[1]), str(c[2]), c[3], self._span(meta))

    # expressions
    @v_args(meta=True)
    def if_(self, meta: Meta, c: Children) -> n.If:
        return n.If(c[0], c[1], c[2], self._span(meta))

    @v_args(meta=True)
    def or_(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary("or", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def and_(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary("and", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def not_(self, meta: Meta, c: Children) -> n.Unary:
        return n.Unary("not", c[0], self._span(meta))

    @v_args(meta=True)
    def compare(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary(str(c[1]), c[0], c[2], self._span(meta))

    @v_args(meta=True)
    def in_(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary("in", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def not_in(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary("not in", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def binary(self, meta: Meta, c: Children) -> n.Binary:
        return n.Binary(str(c[1]), c[0], c[2], self._span(meta))

    @v_args(meta=True)
    def neg(self, meta: Meta, c: Children) -> n.Number | n.Unary:
        if isinstance(c[0], n.Number):
            return n.Number(-c[0].value, "-" + c[0].text, self._span(meta))
        return n.Unary("-", c[0], self._span(meta))

    def _finite(self, tok: Token) -> float:
        # 1e400 reads as inf: no later stage can compute with it, so it stops here, located.
        v = float(tok)
        if not math.isfinite(v):
            raise _AstError(Diagnostic("E001", f"the number {tok} is too large", self._tok_span(tok),
                                       "numbers must be finite: below about 1.8e308 (settings far below)"))
        return v

    def number(self, c: Children) -> n.Number:
        tok = c[0]
        return n.Number(self._finite(tok), str(tok), self._tok_span(tok))

    def string(self, c: Children) -> n.String:
        return n.String(_unquote(c[0]), self._tok_span(c[0]))

    @v_args(meta=True)
    def true(self, meta: Meta, c: Children) -> n.Bool:
        return n.Bool(True, self._span(meta))

    @v_args(meta=True)
    def false(self, meta: Meta, c: Children) -> n.Bool:
        return n.Bool(False, self._span(meta))

    @v_args(meta=True)
    def null(self, meta: Meta, c: Children) -> n.Null:
        return n.Null(self._span(meta))

    def name(self, c: Children) -> n.Name:
        return n.Name(str(c[0]), self._tok_span(c[0]))

    def field(self, c: Children) -> n.Name:
        # `d.label`: a metadata column of a template's row, replaced when the template is expanded
        # (anywhere else the checker reports the unknown name).
        a, b = c[0], c[1]
        span = n.Span(self.path, a.line, a.column, b.end_line or a.line, b.end_column or a.column)
        self.fields.append((span, f"{a}.{b}"))
        return n.Name(f"{a}.{b}", span)

    @v_args(meta=True)
    def call(self, meta: Meta, c: Children) -> n.Call:
        fn, rest = c[0], [x for x in c[1:] if x is not None]
        args = tuple(x for x in rest if not isinstance(x, n.Kwarg))
        kwargs = tuple(x for x in rest if isinstance(x, n.Kwarg))
        seen_kw = False
        for x in rest:
            if isinstance(x, n.Kwarg):
                seen_kw = True
            elif seen_kw:
                raise _AstError(Diagnostic("E001", "positional argument after a named one", x.span,
                                           "put positional arguments first: f(x, cap: 3)"))
        names = [k.name for k in kwargs]
        for k in kwargs:
            if names.count(k.name) > 1:
                raise _AstError(Diagnostic("E001", f"argument `{k.name}` given twice", k.span, "give each argument once"))
        return n.Call(str(fn), args, kwargs, n.Span(self.path, fn.line, fn.column, meta.end_line, meta.end_column))

    def posarg(self, c: Children) -> n.Expr:
        out: n.Expr = c[0]
        return out

    @v_args(meta=True)
    def kwarg(self, meta: Meta, c: Children) -> n.Kwarg:
        return n.Kwarg(str(c[0]), c[1], self._span(meta))

    @v_args(meta=True)
    def list(self, meta: Meta, c: Children) -> n.ListLit:
        return n.ListLit(tuple(x for x in c if x is not None), self._span(meta))

    @v_args(meta=True)
    def map(self, meta: Meta, c: Children) -> n.MapLit:
        pairs = tuple(x for x in c if x is not None)
        keys = [p.key for p in pairs]
        for p in pairs:
            if keys.count(p.key) > 1:
                raise _AstError(Diagnostic("E001", f"key {p.key_text} appears twice", p.span, "give each key once"))
        return n.MapLit(pairs, self._span(meta))

    @v_args(meta=True)
    def pair(self, meta: Meta, c: Children) -> n.Pair:
        tok = c[0]
        if tok.type == "NUMBER":
            key: float | str = self._finite(tok)
        elif tok.type == "STRING":
            key = _unquote(tok)
        else:
            key = str(tok)
        return n.Pair(key, c[1], str(tok), self._span(meta))
