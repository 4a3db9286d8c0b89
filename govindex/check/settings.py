"""Reading the values of settings (``key: value`` in a block) and the limits numbers must keep."""

from __future__ import annotations

from govindex.lang import nodes as n


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
