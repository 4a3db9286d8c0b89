"""How large an expression is once lets are shared (``W504 large-expression``).

Sharing makes a ``let`` cost one node however often it is used, so what is left to measure is
the expression itself: its distinct IR nodes, and its largest threshold table (a ``steps`` of T
entries is a chain of T tests). Either over its limit is a warning, not an error: the rule set
still scores, only slower than it needs to — usually a sign of a table generated rather than
written (a ``steps`` emulating rounding) or of one expression doing the work of several points.
"""

from __future__ import annotations

from dataclasses import dataclass

from govindex import ir

# The largest in the shipped rule sets (rules/2018, rules/2019, the country index) is far below
# both; see docs/rules-language.md §15 for why these numbers.
MAX_NODES = 500
MAX_THRESHOLDS = 50


@dataclass(frozen=True, slots=True)
class Size:
    nodes: int  # distinct IR nodes
    thresholds: int  # entries of the largest threshold table

    def warning(self, point: str, key: str) -> tuple[str, str] | None:
        """(message, hint) of the W504 warning for ``point``'s ``key`` (probe/score), or None."""
        if self.thresholds > MAX_THRESHOLDS:
            return (f"the {key} of `{point}` has a threshold table of {self.thresholds} entries "
                    f"(more than {MAX_THRESHOLDS})",
                    "a rounding or a smooth curve is better written as a formula: ramp, log_scale, lognormal …")
        if self.nodes > MAX_NODES:
            return (f"the {key} of `{point}` is {self.nodes} distinct operations long, even with its lets shared "
                    f"(more than {MAX_NODES})", "split it into points, or name repeated parts with `let`")
        return None


def expression_size(e: ir.Expr | None) -> Size:
    """The distinct nodes under ``e`` and its largest threshold table."""
    nodes = thresholds = 0
    for x in ir.walk(e):
        nodes += 1
        if isinstance(x, ir.MapConst):
            thresholds = max(thresholds, len(x.pairs))
    return Size(nodes, thresholds)
