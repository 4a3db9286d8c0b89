"""The ``govindex`` command line: the one place that wires the engine's stages (and the
collection commands).

Each module of this package adds commands to ``app``. Heavy modules (polars) are imported inside
commands so that ``govindex --help`` starts fast.
"""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console

from govindex.diagnostics import GovindexError, RuleError

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


def main() -> None:
    app()


# Register the commands (modules add themselves to ``app``).
from govindex.cli import analyze as _analyze  # noqa: E402,F401
from govindex.cli import bench as _bench  # noqa: E402,F401
from govindex.cli import commands as _commands  # noqa: E402,F401
from govindex.cli import diff as _diff  # noqa: E402,F401
from govindex.cli import report as _report  # noqa: E402,F401

# isort: split
# Collection commands come last in --help.
from govindex.cli import collect as _collect  # noqa: E402,F401
