"""The checked rule set: what ``check`` produces and every later pass consumes.

Two parts:

- the **model** — :class:`RuleSet`, its tables, nodes (indicators and points), units, grading,
  markers and cleaning rules, with their policies as ``Literal`` types and :class:`Rounding`;
- the **expression IR** — what probes, formulas, ``valid when`` rules, markers and cleaning
  conditions mean once checked: frozen, slotted nodes, each with its result type, every call
  resolved (an :class:`Agg` knows its table, row filter and argument; a :class:`Formula` its
  numeric parameters; a :class:`RowCall` its literal arguments). A ``let`` is lowered once per
  context and the same node object is used wherever the ``let`` is, so the IR is a DAG, not a
  tree: ``walk`` visits each distinct node once and the compiler computes each once. A ``let``
  is not a node of its own: its body is. A wrapper would make moving an expression into a
  ``let`` a change of meaning (for ``diff``) and a case in every pass; the name stays in the
  syntax (:attr:`Node.probe_src`, :attr:`RuleSet.lets`).

Nodes compare by structure (source spans and number texts excluded) and hash by a cached hash,
so equal subexpressions, written twice or shared through a ``let``, are one key for the
compiler. ``to_syntax`` turns IR back into syntax, lets expanded, for display.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

from govindex.lang import nodes as n

ROOT = "total"

# ------------------------------------------------------------------ kinds and policies

Kind = Literal["indicator", "technical", "manual"]
Aggregator = Literal["sum", "capped_sum", "mean", "wmean", "wavg", "geomean", "geomean_product", "min", "max"]
MissingPolicy = Literal["zero", "exclude", "null"]
Reason = Literal["no_data", "not_applicable", "error"]  # why a point has no rate (its status when not ok)
RoundsPolicy = Literal["latest", "mean", "max", "min", "share"]
RoundingMode = Literal["half_up", "half_even", "decimal_half_up", "decimal_half_even", "binary_half_up",
                       "r", "floor", "ceil", "truncate", "up", "down"]
GradingMethod = Literal["difference_trend", "thresholds", "conditions"]
UnitStatFn = Literal["quantile", "median", "mean", "min", "max", "count"]

# Types of the language: num, bool, str, datetime, list (a list[str] column), strs (a list of
# string literals), nums (a list of number literals), map (a {number: rate} table), null.
Type = Literal["num", "bool", "str", "datetime", "list", "strs", "nums", "map", "null"]
OpName = Literal["neg", "not", "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in"]
AggFn = Literal["any", "count", "distinct", "approx_distinct", "sum", "mean", "min", "max", "median", "ratio",
                "coverage", "days_since", "entry"]
RowFn = Literal["has", "has_any", "has_all", "contains", "contains_any", "matches", "starts_with", "ends_with",
                "length", "days_between", "present"]
FormulaFn = Literal["presence", "linear", "ramp", "goalpost", "log_scale", "sqrt_scale", "minmax", "zscore", "rank",
                    "best_ratio", "lognormal", "decay", "sigmoid", "clamp", "min", "max", "avg", "log", "sqrt", "abs",
                    "coalesce", "round", "floor", "ceil", "exp", "ln", "pow", "units_mean", "units_median", "units_sd",
                    "units_skewness", "units_kurtosis", "units_quantile", "units_kth_largest", "units_count",
                    "strict_min", "strict_max", "strict_avg"]
Value: TypeAlias = float | str | bool | datetime | None


def _span() -> n.Span:
    return field(default=n.NOWHERE, compare=False, repr=False)


# ------------------------------------------------------------------ expression IR

_KEYS: dict[type[Expr], tuple[str, ...]] = {}


class Expr:
    """Base of the IR nodes: equality by structure, a hash computed once (trees can be deep)."""

    __slots__ = ("_hash",)
    _hash: int
    type: Type  # the result type (a field of every node)
    span: n.Span  # where it is written (a field of every node, not compared)

    def _key(self) -> tuple[object, ...]:
        cls = type(self)
        keys = _KEYS.get(cls)
        if keys is None:
            keys = _KEYS[cls] = tuple(f.name for f in fields(self) if f.compare)  # type: ignore[arg-type]  # every subclass is a dataclass; this base is not
        return tuple(getattr(self, k) for k in keys)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((type(self).__name__, *self._key())))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Expr) or type(other) is not type(self) or self._hash != other._hash:
            return False
        return self._key() == other._key()


@dataclass(frozen=True, slots=True, eq=False)
class Const(Expr):
    """A literal. A string compared with a date is resolved to a ``datetime`` here."""

    value: Value
    type: Type
    text: str = field(default="", compare=False)  # as written: number text, or a date's string
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class Column(Expr):
    """A column of the row being filtered (row context only)."""

    name: str
    table: str
    type: Type
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class X(Expr):
    """The probe's value, in a point's formula."""

    type: Type
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class ListConst(Expr):
    """A list of literals: ``["a", "b"]`` (type ``strs``) or ``[1, 2]`` (``nums``)."""

    items: tuple[Const, ...]
    type: Type
    span: n.Span = _span()

    @property
    def values(self) -> list[Value]:
        return [i.value for i in self.items]


@dataclass(frozen=True, slots=True, eq=False)
class MapConst(Expr):
    """A threshold table ``{n: rate}``: thresholds as written, rates are expressions."""

    pairs: tuple[tuple[float, Expr], ...]
    keys: tuple[str, ...] = field(default=(), compare=False)  # thresholds as written
    type: Type = "map"
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class Op(Expr):
    """An operator: ``neg``/``not`` on one argument; arithmetic, comparison, logic, ``in`` on two."""

    op: OpName
    args: tuple[Expr, ...]
    type: Type
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class Cond(Expr):
    """``if cond then then else else_``."""

    cond: Expr
    then: Expr
    else_: Expr
    type: Type
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class RowCall(Expr):
    """A row function. Arguments in parameter order; the literal ones (``has``'s marker, the
    keywords of ``contains_any``, a pattern) are :class:`Const` / :class:`ListConst`."""

    fn: RowFn
    args: tuple[Expr, ...]
    type: Type
    span: n.Span = _span()

    def literal(self, i: int) -> str:
        """The text literal at argument ``i``."""
        a = self.args[i]
        assert isinstance(a, Const) and isinstance(a.value, str)
        return a.value

    def literals(self, i: int) -> list[str]:
        """The text literals at argument ``i``: one (``has``) or a list (``has_any``)."""
        a = self.args[i]
        if isinstance(a, ListConst):
            return [str(v) for v in a.values]
        return [self.literal(i)]


@dataclass(frozen=True, slots=True, eq=False)
class Agg(Expr):
    """An aggregate over a fact table, one value per unit and round, as the checker resolved it:
    the row filter ``where``, the argument ``arg`` (the value of sum/mean/…, the condition of
    ratio, the column of coverage/days_since), the expected ``items`` of coverage, and for
    ``entry`` the ``point`` whose value it reads."""

    fn: AggFn
    table: str
    type: Type
    where: Expr | None = None
    arg: Expr | None = None
    items: ListConst | None = None
    point: str | None = None
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class Formula(Expr):
    """A function of values: a scoring formula, a normalisation across units, or maths (also on
    rows: log, sqrt, abs, clamp, coalesce). ``params``: keyword parameters resolved to numbers."""

    fn: FormulaFn
    args: tuple[Expr, ...]
    type: Type
    params: tuple[tuple[str, Const], ...] = ()
    span: n.Span = _span()
    where: Expr | None = None  # a statistic across units (§9b): the units it counts

    def param(self, name: str, default: float | None = None) -> float:
        """The number given for ``name:`` (or ``default``)."""
        for k, v in self.params:
            if k == name:
                assert isinstance(v.value, float)
                return v.value
        if default is None:
            raise KeyError(f"{self.fn} has no parameter {name}")
        return default


@dataclass(frozen=True, slots=True, eq=False)
class Steps(Expr):
    """A threshold table: the rate of the highest threshold ≤ ``arg`` (``down``: lowest ≥)."""

    arg: Expr
    table: MapConst
    down: bool
    type: Type = "num"
    span: n.Span = _span()


@dataclass(frozen=True, slots=True, eq=False)
class UnitStat(Expr):
    """A statistic across units of a grading's measure (``q(x, 0.75)``, ``median(x)``): one number
    for all units, over the units where ``arg`` is not null and ``where`` holds. ``p`` and
    ``qtype`` are the quantile's probability and R type (``quantile`` only)."""

    fn: UnitStatFn
    arg: Expr
    type: Type = "num"
    p: float = 0.5
    qtype: int = 7
    where: Expr | None = None
    span: n.Span = _span()
    by: str | None = None  # `by: region` / `by: groups`: over the units sharing this unit's value of it


@dataclass(frozen=True, slots=True, eq=False)
class NodeRef(Expr):
    """A child of the indicator whose ``gate:`` reads it: its rate (score / max, 0–1), null when
    its score is null."""

    node: str
    type: Type = "num"
    span: n.Span = _span()


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of ``e``, in reading order."""
    return _CHILDREN[type(e)](e)


_CHILDREN: dict[type[Expr], Callable[[Any], tuple[Expr, ...]]] = {
    Const: lambda e: (),
    Column: lambda e: (),
    X: lambda e: (),
    ListConst: lambda e: e.items,
    MapConst: lambda e: tuple(v for _, v in e.pairs),
    Op: lambda e: e.args,
    Cond: lambda e: (e.cond, e.then, e.else_),
    RowCall: lambda e: e.args,
    Agg: lambda e: tuple(x for x in (e.arg, e.items, e.where) if x is not None),
    Formula: lambda e: e.args if e.where is None else (*e.args, e.where),
    Steps: lambda e: (e.arg, e.table),
    UnitStat: lambda e: (e.arg,) if e.where is None else (e.arg, e.where),
    NodeRef: lambda e: (),
}


def walk(*roots: Expr | None) -> Iterator[Expr]:
    """Every distinct node under ``roots``, each once (the IR is a DAG), parents before
    children, in reading order."""
    seen: set[Expr] = set()
    stack = [r for r in reversed(roots) if r is not None]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        yield e
        stack.extend(reversed(children(e)))


def aggregates(*roots: Expr | None) -> list[Agg]:
    """The aggregates under ``roots``, in reading order, each once."""
    return [x for x in walk(*roots) if isinstance(x, Agg)]


# ------------------------------------------------------------------ back to syntax


def to_syntax(e: Expr) -> n.Expr:
    """``e`` as a syntax tree, lets expanded: what ``diff`` and ``explain`` print through
    :func:`govindex.lang.fmt.format_expr`. Shared nodes give shared syntax objects."""
    memo: dict[int, n.Expr] = {}

    def go(x: Expr) -> n.Expr:
        out = memo.get(id(x))
        if out is None:
            out = memo[id(x)] = _SYNTAX[type(x)](x, go)
        return out

    return go(e)


def _const_syntax(e: Const) -> n.Expr:
    if e.type == "num":
        assert isinstance(e.value, float)
        return n.Number(e.value, e.text, e.span)
    if e.type == "bool":
        return n.Bool(bool(e.value), e.span)
    if e.type == "null":
        return n.Null(e.span)
    return n.String(e.text if e.type == "datetime" else str(e.value), e.span)


def _op_syntax(e: Op, go: Callable[[Expr], n.Expr]) -> n.Expr:
    if e.op in ("neg", "not"):
        return n.Unary("-" if e.op == "neg" else "not", go(e.args[0]), e.span)
    return n.Binary(e.op, go(e.args[0]), go(e.args[1]), e.span)


def _agg_syntax(e: Agg, go: Callable[[Expr], n.Expr]) -> n.Expr:
    args = [n.Name(e.table)] + [go(x) for x in (e.arg, e.items) if x is not None]
    kwargs = (n.Kwarg("where", go(e.where)),) if e.where is not None else ()
    return n.Call(e.fn, tuple(args), kwargs, e.span)


def _map_syntax(e: MapConst, go: Callable[[Expr], n.Expr]) -> n.Expr:
    texts = e.keys or ("",) * len(e.pairs)
    return n.MapLit(tuple(n.Pair(k, go(v), t) for (k, v), t in zip(e.pairs, texts)), e.span)


_SYNTAX: dict[type[Expr], Callable[[Any, Callable[[Expr], n.Expr]], n.Expr]] = {
    Const: lambda e, go: _const_syntax(e),
    Column: lambda e, go: n.Name(e.name, e.span),
    X: lambda e, go: n.Name("x", e.span),
    ListConst: lambda e, go: n.ListLit(tuple(go(i) for i in e.items), e.span),
    MapConst: _map_syntax,
    Op: _op_syntax,
    Cond: lambda e, go: n.If(go(e.cond), go(e.then), go(e.else_), e.span),
    RowCall: lambda e, go: n.Call(e.fn, tuple(go(a) for a in e.args), (), e.span),
    Agg: _agg_syntax,
    Formula: lambda e, go: n.Call(e.fn, tuple(go(a) for a in e.args), tuple(n.Kwarg(k, go(v)) for k, v in e.params)
                                  + ((n.Kwarg("where", go(e.where)),) if e.where is not None else ()),
                                  e.span),
    Steps: lambda e, go: n.Call("steps_down" if e.down else "steps", (go(e.arg), go(e.table)), (), e.span),
    UnitStat: lambda e, go: _stat_syntax(e, go),
    NodeRef: lambda e, go: n.Name(e.node, e.span),
}


def _stat_syntax(e: UnitStat, go: Callable[[Expr], n.Expr]) -> n.Expr:
    args = (go(e.arg), n.Number(e.p, repr(e.p))) if e.fn == "quantile" else (go(e.arg),)
    typed = e.fn == "quantile" and e.qtype != 7
    kw: tuple[n.Kwarg, ...] = (n.Kwarg("type", n.Number(float(e.qtype), str(e.qtype))),) if typed else ()
    kw += (n.Kwarg("where", go(e.where)),) if e.where is not None else ()
    return n.Call(e.fn, args, kw, e.span)


# ------------------------------------------------------------------ the model


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: dict[str, str]  # column → declared type (str, int, float, bool, date, datetime, list[str])
    valid: Expr | None
    span: n.Span


@dataclass(frozen=True, slots=True)
class Node:
    """An indicator (``kind`` = "indicator") or an evaluation point (technical/manual).

    A point's ``probe`` and ``score`` are checked IR; ``probe_src`` and ``score_src`` the
    expressions as written (lets not expanded)."""

    id: str
    label: str
    kind: Kind
    parent: str | None
    level: int  # 0 for the root, 1 for L1 ...
    max: float
    weight: float | None
    aggregate: Aggregator | Literal[""]  # "" for points
    missing: MissingPolicy
    rounds: RoundsPolicy | Literal[""]  # "" for indicators
    probe: Expr | None
    score: Expr | None
    children: tuple[str, ...]
    span: n.Span
    settings: dict[str, n.Expr] = field(default_factory=dict)
    probe_src: n.Expr | None = None
    score_src: n.Expr | None = None
    own_scale: float | None = None  # `scale:` as declared (evaluated), None when not declared
    round: Rounding | None = None  # `round:`: the node's score rounded, and what its parent aggregates
    ref: str | None = None  # `ref target { … }`: this node counts `target` (computed once) here too
    stages: Stages | None = None  # cross-unit stages (denominate → impute → treat → normalise), §9b
    missing_by: tuple[tuple[Reason, MissingPolicy], ...] = ()  # a point's policy per reason (`missing: {…}`)
    not_applicable: Expr | None = None  # a point's `not_applicable:` condition (unit × round, like a probe)
    error: Expr | None = None  # a point's `error:` condition (unit × round): the probe failed
    gate: Gate | None = None  # an indicator's `gate:`
    rank: Ranking | None = None  # `rank:` (or the rule set's `ranks:`): ranked across units, k:/kl: columns
    score_on_scale: bool = False  # a point's `score_on: scale`: its formula gives its value on `scale:` (docs §5)

    def policy(self, reason: Reason) -> MissingPolicy:
        """What the parent does with this node when it has no score for ``reason``."""
        return dict(self.missing_by).get(reason, self.missing)

    @property
    def is_ref(self) -> bool:
        """A reference: ``target``'s rate × this node's ``max`` (see :mod:`govindex.eval.refs`)."""
        return self.ref is not None

    @property
    def is_point(self) -> bool:
        return self.kind != "indicator"

    @property
    def scale(self) -> float:
        """The scale the node is reported on: its declared ``scale:``, else its effective maximum.
        Outputs show rate × scale; what the node contributes to its parent stays rate × ``max``."""
        return self.max if self.own_scale is None else self.own_scale


@dataclass(frozen=True, slots=True)
class Gate:
    """An indicator's ``gate:``: where ``when`` holds (over its children's rates, :class:`NodeRef`)
    it scores ``0`` (``score`` = "zero") or null, whatever its children add up to; ``reason`` is
    what ``why:<node>`` says."""

    when: Expr
    score: Literal["zero", "null"]
    reason: str
    span: n.Span


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    attrs: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rounding:
    """How scores are rounded: ``mode`` to ``digits`` decimals, ``at`` the output only or at
    every point too."""

    mode: RoundingMode = "half_up"
    digits: int = 2
    at: Literal["output", "points"] = "output"


TieMethod = Literal["min", "dense", "average", "max", "ordinal"]


@dataclass(frozen=True, slots=True)
class Ranking:
    """How a node is ranked across units (:mod:`govindex.eval.ranks`): higher is better; values
    compared after rounding to ``digits`` significant digits; ``ties`` as R's ``rank``;
    ``on`` the unrounded value or the reported one; within groups of the registry column ``by``."""

    ties: TieMethod = "min"
    on: Literal["value", "reported"] = "value"
    by: str | None = None
    digits: int = 12


@dataclass(frozen=True, slots=True)
class Grading:
    """How totals become classes: ``difference_trend`` breaks or fixed ``thresholds``."""

    label: str
    method: GradingMethod
    classes: tuple[tuple[str, str], ...]  # (id, label), from the best class down
    sublevels: frozenset[str]  # classes split evenly into three (A+, A, A-)
    cuts: dict[str, float]  # thresholds: lowest total of each class but the last
    window: int  # difference_trend: neighbours on each side that set the local trend
    min_class: int  # difference_trend: fewest units in a class
    span: n.Span
    node: str = ROOT  # the node graded (its null value: no grade)
    value: Literal["unrounded", "reported"] = "unrounded"  # reported: rounded as written (`rounding:`)
    floor: float = 2.0  # difference_trend: a gap's local trend is floored at this many mean gaps
    measures: tuple[tuple[str, str], ...] = ()  # conditions: (name, node id)
    conditions: tuple[tuple[str, Expr], ...] = ()  # conditions: (class id, condition); a class without one takes the rest
    id: str | None = None  # `grading groups "…"`: the grading's name (several may grade one node)
    within: str | None = None  # `within: groups`: graded separately within each class of that grading
    needs: tuple[str, ...] = ()  # the gradings (ids) this one reads: `within:`, `by:`, a class in a condition


@dataclass(frozen=True, slots=True)
class Marker:
    """Extraction sets ``id`` in the list column ``into_column`` of ``into`` for rows of ``table``
    (the raw extraction table) where ``where`` holds."""

    id: str
    label: str
    table: str
    where: Expr
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
    when: Expr | None
    dedupe: tuple[str, ...]
    span: n.Span


SummaryAggregate = Literal["mean", "sum", "min", "max", "count"]


@dataclass(frozen=True, slots=True)
class Summary:
    """``summary id "label" { of: …, aggregate: …, by: … }``: each node of ``nodes`` summarised
    across units (over all units, or per value of the unit attribute ``by``) into a results table
    of its own. See :mod:`govindex.eval.summaries`."""

    id: str
    label: str
    nodes: tuple[str, ...]
    aggregate: SummaryAggregate
    by: str | None
    span: n.Span


@dataclass(frozen=True, slots=True)
class Statistic:
    """``statistic id "label" { where: …, by: …, among: … }``: the units whose scores meet
    ``where``, counted by ``analyze`` (docs §14c; :mod:`govindex.analysis.statistics`).

    ``where`` is the condition lowered by :mod:`govindex.check.statistics` to a small JSON tree
    (carried as is in ``scores.json`` "statistics"); ``text`` is the condition as written."""

    id: str
    label: str
    where: dict[str, Any]
    text: str
    nodes: tuple[str, ...]  # the nodes the condition reads
    needs_previous: bool  # reads `previous(…)` or `change(…)`: computed only with --previous
    by: str | None  # a registry column: also counted per group
    among: str | None  # another statistic: the share is of its units, not of all
    span: n.Span
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "text": self.text, "where": self.where, "nodes": list(self.nodes),
                "needs_previous": self.needs_previous, "by": self.by, "among": self.among,
                "description": self.description}


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
    rounding: Rounding
    tables: dict[str, Table]
    nodes: dict[str, Node]  # pre-order, root first
    lets: dict[str, n.Expr]  # as written
    tests: list[n.TestDecl]
    files: list[n.RuleFile]
    grading: Grading | None = None
    markers: list[Marker] = field(default_factory=list)
    cleaning: list[Clean] = field(default_factory=list)
    year: int | None = None
    groups: tuple[str, ...] = ()  # registry columns that group units for analysis
    node_gradings: tuple[Grading, ...] = ()  # gradings of nodes other than the total (`node:`)
    has_total: bool = True  # False: `total: none` — the index publishes its categories, no total
    summaries: tuple[Summary, ...] = ()
    named_gradings: tuple[Grading, ...] = ()  # a node's further gradings, each named (`g:<node>:<id>`)
    # name → parameters of each function `let f(a, b) = …` (its body is in `lets`, as written)
    let_params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    statistics: tuple[Statistic, ...] = ()  # `statistic` declarations (docs §14c)

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


# ------------------------------------------------------------------ cross-unit stages (§9b)

StageDirection = Literal["higher", "lower"]


@dataclass(frozen=True, slots=True)
class Denominate:
    """The value divided by ``by`` (a numeric registry column, or another point's probe value in
    the same round), then multiplied by ``scale``."""

    by: str
    by_point: bool
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Impute:
    """A missing value (status ``no_data``) replaced: ``mean``/``median`` of the round's values
    of all units or of the unit's group (``by``), ``latest`` earlier round with data, or a
    ``constant``."""

    method: Literal["mean", "median", "latest", "constant"]
    by: str | None = None
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class Treat:
    """Outlier treatment across units: COINr's skew/kurtosis-driven Winsorisation with the
    ``log_CT`` fallback (``winsorise``), or fixed quantile caps (``caps``)."""

    method: Literal["winsorise", "caps"]
    skew: float = 2.0
    kurtosis: float = 3.5
    max_points: int = 5
    fallback: Literal["log", "none"] = "log"
    lo: float = 0.05
    hi: float = 0.95
    type: int = 7


@dataclass(frozen=True, slots=True)
class Normalise:
    """The value across units mapped to a rate in [0, 1]; within groups when ``by`` is given."""

    method: Literal["minmax", "zscore", "rank", "percentile", "goalposts", "target", "fraction"]
    direction: StageDirection = "higher"
    by: str | None = None
    mean: float = 0.0  # zscore: the value at z = 0, on the node's scale
    sd: float = 1.0  # zscore: the value of one SD, on the node's scale
    worst: float = 0.0  # goalposts
    best: float = 1.0  # goalposts
    target: float = 0.0  # target
    keep: Literal["rate", "value"] = "rate"  # "value": the z itself, unbounded, not a rate (§9b)


@dataclass(frozen=True, slots=True)
class Stages:
    """The stages of a node in their one order: denominate → impute → treat → normalise."""

    denominate: Denominate | None = None
    impute: Impute | None = None
    treat: Treat | None = None
    normalise: Normalise | None = None


def keeps_value(x: Node) -> bool:
    """Whether node ``x``'s stage keeps a value, not a rate (``normalise: {…, keep: "value"}``, §9b)."""
    return x.stages is not None and x.stages.normalise is not None and x.stages.normalise.keep == "value"
