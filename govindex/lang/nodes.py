"""The AST of the rules language: frozen, slotted dataclasses, each with a source span.

Spans are excluded from equality so that ``parse(format(x)) == parse(x)`` compares meaning,
not layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from govindex.diagnostics import NOWHERE as NOWHERE  # re-exported: nodes carry spans
from govindex.diagnostics import Span as Span


def _span() -> Span:
    return field(default=NOWHERE, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str = field(compare=False, default="")
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Null:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Kwarg:
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    fn: str
    args: tuple[Expr, ...]
    kwargs: tuple[Kwarg, ...]
    span: Span = _span()

    def kwarg(self, name: str) -> Expr | None:
        for kw in self.kwargs:
            if kw.name == name:
                return kw.value
        return None


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / == != < <= > >= and or in "not in"
    left: Expr
    right: Expr
    span: Span = _span()
    # The author wrote parentheses around this `and`/`or` (kept by the formatter for the reader,
    # though precedence may make them redundant); layout, not meaning: excluded from equality.
    paren: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Expr
    else_: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Pair:
    key: float | str
    value: Expr
    key_text: str = field(compare=False, default="")
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MapLit:
    pairs: tuple[Pair, ...]
    span: Span = _span()


Expr = Number | String | Bool | Null | Name | Call | Unary | Binary | If | ListLit | MapLit


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of ``e``, in reading order (a call's keyword values last)."""
    if isinstance(e, Call):
        return (*e.args, *(k.value for k in e.kwargs))
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, Unary):
        return (e.operand,)
    if isinstance(e, If):
        return (e.cond, e.then, e.else_)
    if isinstance(e, ListLit):
        return e.items
    if isinstance(e, MapLit):
        return tuple(p.value for p in e.pairs)
    return ()


def walk(e: Expr | None) -> Iterator[Expr]:
    """``e`` and every expression inside it, parents first, in reading order."""
    stack = [e] if e is not None else []
    while stack:
        x = stack.pop()
        yield x
        stack.extend(reversed(children(x)))


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RulesetDecl:
    name: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # "str", "int", "float", "bool", "date", "datetime", "list[str]"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableDecl:
    name: str
    columns: tuple[Column, ...]
    valid: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PointDecl:
    id: str
    label: str
    under: str | None
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IndicatorDecl:
    id: str
    label: str
    under: str | None
    settings: tuple[Setting, ...]
    children: tuple[IndicatorDecl | PointDecl | RefDecl, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RefDecl:
    """``ref target { weight: … }`` inside an indicator: the node ``target``, declared elsewhere,
    counted here too with its own weight or maximum (computed once)."""

    target: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LetDecl:
    """``let name = expr``, or a function ``let name(p1, p2) = expr`` (``params`` non-empty)."""

    name: str
    value: Expr
    span: Span = _span()
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Given:
    table: str
    rows: ListLit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expect:
    unit: str
    node: str
    op: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TestDecl:
    name: str
    givens: tuple[Given, ...]
    expects: tuple[Expect, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class GradingDecl:
    label: str
    settings: tuple[Setting, ...]
    span: Span = _span()
    id: str | None = None  # `grading groups "…" {…}`: named, so that several may grade one node


@dataclass(frozen=True, slots=True)
class MarkerDecl:
    """``marker id "label" { table: … when: … }`` — a flag that extraction sets on matching rows."""

    id: str
    label: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CleanDecl:
    """``clean id "reason" { table: … drop_when: … }`` or ``{ table: … dedupe: [columns] }``."""

    id: str
    label: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SummaryDecl:
    """``summary id "label" { of: [nodes], aggregate: mean, by: attr }`` — a node's score across
    units published as a result of its own."""

    id: str
    label: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class StatisticDecl:
    """``statistic id "label" { where: …, by: attr, among: other }`` — the units for which a
    condition on their scores holds, counted by ``analyze`` (docs §14c)."""

    id: str
    label: str
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """``d in "datasets.csv"`` (a CSV next to the rule file) or ``d in [{id: "a", …}, …]``."""

    var: str
    source: String | ListLit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TemplateDecl:
    """``template id for d in …, q in … { point "{d.id}_{q.id}" "…" { max: q.weight … } }``: the
    body repeated for every row (every combination of rows) of the sources. In the body, ids,
    labels and strings may hold ``{d.column}``; expressions may use ``d.column`` (an
    :class:`Name` with a dot). Expanded away by :mod:`govindex.lang.templates` before checking."""

    id: str
    sources: tuple[TemplateSource, ...]
    body: tuple[IndicatorDecl | PointDecl, ...]
    span: Span = _span()


Decl = (RulesetDecl | TableDecl | IndicatorDecl | PointDecl | LetDecl | TestDecl | GradingDecl | MarkerDecl | CleanDecl
        | SummaryDecl | StatisticDecl | TemplateDecl)


# ---------------------------------------------------------------- composition (lang/compose.py)


@dataclass(frozen=True, slots=True)
class ExtendsDecl:
    """``extends "../2019"``: this rule set is that one (a directory) plus this one's edits."""

    path: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IncludeDecl:
    """``include "../shared/markers.rules"``: that file's declarations belong to this rule set."""

    path: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unset:
    """``unset key`` inside an ``override``: the inherited setting is dropped (its default applies)."""

    key: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OverrideDecl:
    """``override <kind> <id> ["label"] { settings; unset key }`` — some settings of an inherited
    item changed, the rest kept. ``kind`` is point, indicator, marker, clean, summary, ruleset,
    grading (``target`` its id, "" for an unnamed one), table (``columns``/``valid``) or let
    (``value``)."""

    kind: str
    target: str
    label: str | None
    settings: tuple[Setting, ...]
    unsets: tuple[Unset, ...] = ()
    columns: tuple[Column, ...] = ()
    valid: Expr | None = None
    value: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RemoveDecl:
    """``remove <kind> <id>`` (an indicator with its subtree); ``remove test "name"``."""

    kind: str
    target: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MoveDecl:
    """``move point <id> under <indicator> [before|after <sibling>]`` — settings kept."""

    kind: str
    target: str
    parent: str
    place: str | None = None  # "before" or "after"
    sibling: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RenameDecl:
    """``rename point <id> to <new id>`` — same place, label and settings."""

    kind: str
    target: str
    new: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReplaceDecl:
    """``replace <declaration>`` — the inherited item of that kind and id redefined wholly, in its place."""

    item: Decl
    span: Span = _span()


Edit = ExtendsDecl | IncludeDecl | OverrideDecl | RemoveDecl | MoveDecl | RenameDecl | ReplaceDecl
Item = Decl | Edit


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    col: int
    text: str


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)


def setting(settings: tuple[Setting, ...], key: str) -> Setting | None:
    """The setting named ``key``, or None."""
    for s in settings:
        if s.key == key:
            return s
    return None
