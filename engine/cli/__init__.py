"""The ``govindex`` command line: the one place that wires the engine's stages (and, through the
``govindex.commands`` entry point, the collection commands of ``probes``).

Each module of this package adds commands to ``app``. Heavy modules (polars) are imported inside
commands so that ``govindex --help`` starts fast.
"""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console

from engine.errors import GovindexError, RuleError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="govindex: a declarative rules engine for evaluation indicators.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


def _fail(exc: GovindexError) -> None:
    if isinstance(exc, RuleError):
        for d in exc.diagnostics:
            err.print(d.render(), markup=False, highlight=False)
        n = len(exc.diagnostics)
        err.print(f"\n{n} error{'s' if n != 1 else ''}", style="bold red")
    else:
        err.print(f"error: {exc}", markup=False, highlight=False)
    raise typer.Exit(exc.exit_code)


def _run(fn):
    try:
        return fn()
    except GovindexError as exc:
        _fail(exc)


def _num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _plugins() -> None:
    """Commands registered by other packages under the ``govindex.commands`` entry point."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="govindex.commands"):
        ep.load()(app)


def main() -> None:
    _plugins()
    app()


# Register the commands (modules add themselves to ``app``).
from engine.cli import analyze as _analyze  # noqa: E402,F401
from engine.cli import bench as _bench  # noqa: E402,F401
from engine.cli import commands as _commands  # noqa: E402,F401
from engine.cli import diff as _diff  # noqa: E402,F401
from engine.cli import report as _report  # noqa: E402,F401
