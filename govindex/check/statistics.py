"""``statistic`` declarations, checked (docs §14c): a count of units the rule set publishes.

    statistic qa_offered "提供智能问答的单位" {
      where: qa_widget > 0
    }

``where:`` is a condition on one unit, read from the results (so that ``analyze``, which reads
only the results directory, can count it). It may use

- a node id (its score), ``score(n)``, ``rate(n)`` (score ÷ the node's maximum), ``max(n)``;
- ``previous(n)``, ``previous_rate(n)``, ``change(n)`` (score − previous score): last year's
  figures, so the statistic is computed only with ``analyze --previous``;
- ``rank(total)`` (the published rank), ``units`` (the number of units with a total);
- a column of the units registry (``province == "广东"``);
- numbers, strings, ``+ - * /``, comparisons, ``and``/``or``/``not``, and
  ``all(p in [a, b, c], cond)`` / ``any(p in [a, b, c], cond)`` (``cond`` holds for every / some
  node ``p`` of the list).

``by:`` (a registry column) counts per group too; ``among:`` (another statistic) makes the share
of that statistic's units rather than of all units. The condition is lowered here to a small JSON
tree (see :func:`lower`) carried in ``scores.json`` "statistics"; its evaluation is
:mod:`govindex.analysis.statistics`. Errors: E350 (a malformed statistic or condition), E351 (an
unknown node), E352 (an unknown ``by:`` column), E353 (a second statistic of the same id), E354 (a
bad ``among:``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from govindex.check.published import by_column
from govindex.diagnostics import did_you_mean
from govindex.ir import ROOT, Node, Statistic
from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr

STATISTIC_KEYS = {"where", "by", "among", "description", "source"}
# name(node) → the figure read from the results; the ones of last year need --previous.
NODE_FUNCTIONS = {"score", "rate", "max", "previous", "previous_rate", "change", "rank"}
PREVIOUS = {"previous", "previous_rate", "change"}
QUANTIFIERS = {"all", "any"}
UNITS = "units"  # the number of units with a total
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_ARITH = {"+", "-", "*", "/"}
_HINT = "e.g. where: qa_widget > 0, or where: change(intelligence) > 1 (see docs §14c)"

Json = dict[str, Any]
_TYPE = {"num": "number", "str": "string", "bool": "condition"}


def _t(ty: str | None) -> str:
    return _TYPE.get(ty or "", str(ty))


class Checker(Protocol):
    items: list[n.Item]

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None: ...

    def _settings(self, items: tuple[n.Setting, ...], allowed: set[str], what: str) -> dict[str, n.Expr]: ...


def statistics(ck: Checker, nodes: dict[str, Node], attrs: list[str]) -> tuple[Statistic, ...]:
    """The rule set's ``statistic`` declarations, checked and lowered."""
    decls = [it for it in ck.items if isinstance(it, n.StatisticDecl)]
    ids = {d.id for d in decls}
    out: list[Statistic] = []
    seen: dict[str, n.Span] = {}
    for d in decls:
        if d.id in seen:
            ck.err("E353", f"a second statistic `{d.id}`", d.span, f"the first is at {seen[d.id]}")
            continue
        seen[d.id] = d.span
        st = _statistic(ck, d, nodes, attrs, ids)
        if st is not None:
            out.append(st)
    _cycles(ck, out)
    return tuple(out)


def _cycles(ck: Checker, stats: list[Statistic]) -> None:
    """``among:`` chains end: a statistic is never (through others) a share of itself."""
    among = {s.id: s.among for s in stats}
    for s in stats:
        seen, at = [s.id], s.among
        while at is not None and at not in seen:
            seen.append(at)
            at = among.get(at)
        if at == s.id:
            ck.err("E354", f"statistic `{s.id}` is, through `among:`, a share of itself", s.span,
                   "cycle: " + " → ".join([*seen, s.id]))


def _statistic(ck: Checker, d: n.StatisticDecl, nodes: dict[str, Node], attrs: list[str],
               ids: set[str]) -> Statistic | None:
    s = ck._settings(d.settings, STATISTIC_KEYS, f"statistic `{d.id}`")
    where = s.get("where")
    if where is None:
        ck.err("E350", f"statistic `{d.id}` needs `where:` (the condition a unit meets to be counted)", d.span, _HINT)
        return None
    low = _Lowering(ck, nodes, attrs)
    tree, ty = low.lower(where)
    if tree is not None and ty != "bool":
        ck.err("E350", f"`where:` needs a condition, found a {_t(ty)}", where.span, _HINT)
        tree = None
    by = by_column(ck, s.get("by"), attrs, "E352")
    among = _among(ck, d, s.get("among"), ids)
    desc = s.get("description")
    if tree is None or low.failed or by is False or among is False:
        return None
    return Statistic(d.id, d.label, tree, format_expr(where), tuple(low.used), low.previous,
                     by if isinstance(by, str) else None, among if isinstance(among, str) else None, d.span,
                     desc.value if isinstance(desc, n.String) else "")


def _among(ck: Checker, d: n.StatisticDecl, e: n.Expr | None, ids: set[str]) -> str | None | bool:
    if e is None:
        return None
    name = e.id if isinstance(e, n.Name) else None
    if name is not None and name in ids and name != d.id:
        return name
    others = sorted(ids - {d.id})
    ck.err("E354", "`among:` names another statistic" + ("" if name is None else f", not `{name}`"), e.span,
           did_you_mean(name or "", others) or ("statistics: " + ", ".join(others) if others else
                                                "declare the statistic whose units this one is a share of"))
    return False


@dataclass
class _Lowering:
    """A ``where:`` expression → (JSON tree, type) with type "num", "bool" or "str"; errors reported."""

    ck: Checker
    nodes: dict[str, Node]
    attrs: list[str]
    bound: dict[str, str] = field(default_factory=dict)  # quantifier variable → the node it stands for
    used: dict[str, None] = field(default_factory=dict)
    previous: bool = False
    failed: bool = False

    @property
    def names(self) -> list[str]:
        return [k for k, x in self.nodes.items() if not x.is_ref]

    def fail(self, code: str, msg: str, span: n.Span, hint: str = _HINT) -> tuple[None, None]:
        self.ck.err(code, msg, span, hint)
        self.failed = True
        return None, None

    def lower(self, e: n.Expr) -> tuple[Json | None, str | None]:
        if isinstance(e, n.Number):
            return {"num": e.value}, "num"
        if isinstance(e, n.String):
            return {"str": e.value}, "str"
        if isinstance(e, n.Bool):
            return {"bool": e.value}, "bool"
        if isinstance(e, n.Name):
            return self._name(e)
        if isinstance(e, n.Call):
            return self._call(e)
        if isinstance(e, n.Unary):
            return self._unary(e)
        if isinstance(e, n.Binary):
            return self._binary(e)
        if isinstance(e, n.If):
            return self.fail("E350", "`if` is not part of a statistic's condition", e.span,
                             "combine conditions with `and` / `or`")
        return self.fail("E350", "a statistic's condition reads numbers, strings and node figures", e.span)

    def _name(self, e: n.Name) -> tuple[Json | None, str | None]:
        if e.id in self.bound:
            return self._figure("score", self.bound[e.id]), "num"
        if e.id in self.nodes and not self.nodes[e.id].is_ref:
            return self._figure("score", e.id), "num"
        if e.id == UNITS:
            return {"units": True}, "num"
        if e.id in self.attrs:
            return {"attr": e.id}, "str"
        return self.fail("E351", f"no indicator, point or units column `{e.id}`", e.span,
                         did_you_mean(e.id, [*self.names, *self.attrs, UNITS]) or
                         "name an indicator or point of the tree, `units`, or a column of the units file")

    def _figure(self, fn: str, node: str) -> Json:
        self.used[node] = None
        self.previous = self.previous or fn in PREVIOUS
        return {"fn": fn, "node": node}

    def _call(self, e: n.Call) -> tuple[Json | None, str | None]:
        if e.fn in QUANTIFIERS:
            return self._quantifier(e)
        if e.fn not in NODE_FUNCTIONS:
            return self.fail("E350", f"`{e.fn}(…)` is not a statistic function", e.span,
                             did_you_mean(e.fn, sorted(NODE_FUNCTIONS | QUANTIFIERS)) or
                             "functions: " + ", ".join(sorted(NODE_FUNCTIONS | QUANTIFIERS)))
        if len(e.args) != 1 or e.kwargs or not isinstance(e.args[0], n.Name):
            return self.fail("E350", f"`{e.fn}(…)` takes one indicator or point id", e.span, f"e.g. {e.fn}(total)")
        arg = e.args[0]
        assert isinstance(arg, n.Name)
        node = self.bound.get(arg.id, arg.id)
        if node not in self.nodes or self.nodes[node].is_ref:
            return self.fail("E351", f"`{e.fn}(…)`: no indicator or point `{arg.id}`", arg.span,
                             did_you_mean(arg.id, self.names) or "name an indicator or point of the tree")
        if e.fn == "rank" and node != ROOT:
            return self.fail("E350", f"`rank({arg.id})`: the results publish the rank of the total only", arg.span,
                             f"write rank({ROOT})")
        return self._figure(e.fn, node), "num"

    def _quantifier(self, e: n.Call) -> tuple[Json | None, str | None]:
        hint = f"e.g. {e.fn}(p in [qa_sample_1, qa_sample_2], rate(p) == 1)"
        src = e.args[0] if e.args else None
        if (len(e.args) != 2 or e.kwargs or not isinstance(src, n.Binary) or src.op != "in"
                or not isinstance(src.left, n.Name) or not isinstance(src.right, n.ListLit) or not src.right.items):
            return self.fail("E350", f"`{e.fn}(…)` takes `name in [node, …]` and a condition", e.span, hint)
        var, items = src.left.id, src.right.items
        if var in self.nodes or var in self.bound:
            return self.fail("E350", f"`{var}` already names a node; pick another name for the variable",
                             src.left.span, hint)
        parts: list[Json] = []
        for it in items:
            if not isinstance(it, n.Name) or it.id not in self.nodes or self.nodes[it.id].is_ref:
                shown = it.id if isinstance(it, n.Name) else format_expr(it)
                return self.fail("E351", f"`{e.fn}(…)`: no indicator or point `{shown}`", it.span,
                                 did_you_mean(shown, self.names) or "list indicator or point ids")
            self.bound[var] = it.id
            tree, ty = self.lower(e.args[1])
            del self.bound[var]
            if tree is None:
                return None, None
            if ty != "bool":
                return self.fail("E350", f"`{e.fn}(…)` needs a condition, found a {_t(ty)}", e.args[1].span, hint)
            parts.append(tree)
        return {"op": e.fn, "args": parts}, "bool"

    def _unary(self, e: n.Unary) -> tuple[Json | None, str | None]:
        x, ty = self.lower(e.operand)
        if x is None:
            return None, None
        want = "bool" if e.op == "not" else "num"
        if ty != want:
            return self.fail("E350", f"`{e.op}` needs a {_TYPE[want]}, found a {_t(ty)}",
                             e.span)
        return {"op": "not" if e.op == "not" else "neg", "args": [x]}, want

    def _binary(self, e: n.Binary) -> tuple[Json | None, str | None]:
        a, ta = self.lower(e.left)
        b, tb = self.lower(e.right)
        if a is None or b is None:
            return None, None
        if e.op in ("and", "or"):
            want, out = ("bool", "bool"), "bool"
        elif e.op in _ARITH:
            want, out = ("num", "num"), "num"
        elif e.op in _COMPARE:
            ok = ta == tb and (ta in ("num", "str") or e.op in ("==", "!="))
            if not ok:
                return self.fail("E350", f"`{e.op}` compares two numbers or two strings, found a {_t(ta)} and a {_t(tb)}", e.span)
            return {"op": e.op, "args": [a, b]}, "bool"
        else:
            return self.fail("E350", f"`{e.op}` is not part of a statistic's condition", e.span)
        if (ta, tb) != want:
            return self.fail("E350", f"`{e.op}` needs two {_TYPE[want[0]]}s, found a {_t(ta)} and a {_t(tb)}", e.span)
        return {"op": e.op, "args": [a, b]}, out
