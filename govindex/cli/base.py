"""What every command module of the CLI shares: the ``app`` they add their commands to, the two
consoles, and the one error wrapper (``_run``) through which every command reports a user's mistake
without a traceback. The package's ``__init__`` imports the command modules; they import this."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from govindex.diagnostics import GovindexError, RuleError

# `-h` as well as `--help`, on every command (sub-commands inherit the setting from the group).
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="govindex: a declarative rules engine for evaluation indicators.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        from govindex.provenance import version_line

        out.print(version_line(), markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="Print the govindex and Python versions and exit.")) -> None:
    """govindex: a declarative rules engine for evaluation indicators."""


class Format(StrEnum):
    text = "text"
    json = "json"


def _fail(exc: GovindexError) -> NoReturn:
    if isinstance(exc, RuleError):
        for d in exc.diagnostics:
            err.print(d.render(), markup=False, highlight=False)
        n = len(exc.diagnostics)
        err.print(f"\n{n} error{'s' if n != 1 else ''}", style="bold red")
    else:
        text = str(exc)
        # Rendered diagnostics say `error[CODE name]` themselves: no second "error:" before them.
        prefix = "" if _LOCATED.match(text) else "error: "
        err.print(prefix + text, markup=False, highlight=False)
    raise typer.Exit(exc.exit_code)


_LOCATED = re.compile(r"[^\n]*?: (error|warning|skipped)\[[A-Z]\d{3} ")


def _run(fn: Callable[[], T]) -> T | None:
    """``fn()``, with every error the user can cause printed (no traceback) and turned into the exit
    code: a :class:`GovindexError`, and an ``OSError`` that escaped the checks — a path that is
    missing or of the wrong kind, a port in use — said with the path it is about."""
    try:
        return fn()
    except GovindexError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(GovindexError(_os_message(exc)))
    return None  # not reached: _fail exits


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.filename is None:
        return what
    both = f"{exc.filename} → {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    return f"{both}: {what}"


def _num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"
