"""How large an expression is once lets are shared (``W504 large-expression``).

Sharing makes a ``let`` cost one node however often it is used, so what is left to measure is
the expression itself: its distinct IR nodes, and its threshold tables (a ``steps`` of T entries
is T tests). Either over its limit is a warning, not an error: the rule set still scores, only
slower than it needs to — usually a sign of a table generated rather than written (a ``steps``
emulating rounding, a CDF) or of one expression doing the work of several points.
"""

from __future__ import annotations

from dataclasses import dataclass

from govindex import ir
from govindex.lang import nodes as n

# The largest in the shipped rule sets (rules/2018, rules/2019, the country index) is 20 nodes
# and 4 thresholds; docs/rules-language.md §15 says why these numbers.
MAX_NODES = 500
MAX_THRESHOLDS = 50


@dataclass(frozen=True, slots=True)
class Large:
    """One W504: the message, where, and the hint."""

    message: str
    span: n.Span
    hint: str


def large(point: str, key: str, e: ir.Expr | None, span: n.Span, seen: set[ir.Expr]) -> list[Large]:
    """The W504 warnings of ``point``'s ``key`` (probe or score) written at ``span``: too many
    distinct nodes, and each threshold table too long — a table once, where it is first met,
    however many points or lets share or repeat it (``seen``: the tables already reported)."""
    out, nodes = [], 0
    for x in ir.walk(e):
        nodes += 1
        if isinstance(x, ir.MapConst) and len(x.pairs) > MAX_THRESHOLDS and x not in seen:
            seen.add(x)
            out.append(Large(f"a threshold table of {len(x.pairs)} entries (more than {MAX_THRESHOLDS}), "
                             f"in the {key} of `{point}`", x.span,
                             "a rounding grid or a smooth curve is better written as a formula: ramp, log_scale, "
                             "lognormal …"))
    if nodes > MAX_NODES:
        out.append(Large(f"the {key} of `{point}` is {nodes} distinct operations long, even with its lets shared "
                         f"(more than {MAX_NODES})", span, "split it into points, or name repeated parts with `let`"))
    return out
