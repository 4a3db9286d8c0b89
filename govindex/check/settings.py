"""Reading the values of settings (``key: value`` in a block) and the limits numbers must keep."""

from __future__ import annotations

import math
import re
from typing import Protocol

from govindex.lang import nodes as n


class Reporter(Protocol):
    """What a pass over part of a rule set needs of the rule-set checker: the declarations, the
    one way to report, and the reading of a block's settings."""

    items: list[n.Item]

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None: ...

    def _settings(self, items: tuple[n.Setting, ...], allowed: set[str], what: str) -> dict[str, n.Expr]: ...

# Every maximum, weight and total lies within [AMOUNT_FLOOR, LIMIT], and so does every node's
# effective maximum (a weighted share, a sum of maxima). Beyond 2**53 ≈ 9e15 a float no longer
# holds whole numbers exactly; within these bounds the evaluator's sums and products of scores
# (at most a few thousand terms of two amounts each) can neither overflow nor underflow, so no
# total is ever inf or NaN. Formula constants (cap, lo, hi, span...) keep within ±LIMIT likewise.
LIMIT = 1e15
AMOUNT_FLOOR = 1e-9


def plain(v: float) -> str:
    """A number as people write it: ``1e15``, ``1e-9``, ``0.5`` (not ``1e+15``, ``1e-09``)."""
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", f"{v:g}")


AMOUNT_HINT = f"maxima, weights and max_total are numbers from {plain(AMOUNT_FLOOR)} to {plain(LIMIT)}"


def amount_problem(v: float) -> str:
    """Why ``v`` cannot be a maximum, weight or total ("… is 0: not positive"); "" when it can."""
    if not math.isfinite(v):
        return f"{plain(v)} is not a finite number"
    if v <= 0:
        return f"{plain(v)} is not positive"
    if v < AMOUNT_FLOOR:
        return f"{plain(v)} is below {plain(AMOUNT_FLOOR)}, too small to score with"
    if v > LIMIT:
        return f"{plain(v)} is above {plain(LIMIT)}, where floats stop holding whole numbers exactly"
    return ""


def constant_problem(v: float) -> str:
    """Why ``v`` cannot be a formula's constant (cap, lo, hi, span...); "" when it can."""
    if not math.isfinite(v):
        return f"{plain(v)} is not a finite number"
    if abs(v) > LIMIT:
        return f"{plain(v)} is beyond ±{plain(LIMIT)}, where sums of it can overflow"
    return ""


def text_value(e: n.Expr | None, default: str) -> str:
    """A quoted string's value, else ``default``."""
    return e.value if isinstance(e, n.String) else default


def number_value(e: n.Expr | None) -> float | None:
    """A number literal's value, else None."""
    return e.value if isinstance(e, n.Number) else None


def shown(e: n.Expr) -> str:
    """A short rendering of a setting's value for messages."""
    return getattr(e, "id", None) or str(getattr(e, "value", "?"))


def policy_name(e: n.Expr | None, table: dict[str, str]) -> str | None:
    """The policy a value names (``null`` is a keyword, not a name), or None if it names none."""
    if isinstance(e, n.Null):
        return "null"
    return e.id if isinstance(e, n.Name) and e.id in table else None
