"""``govindex override add|list``: corrections after publication, kept in ``FACTS/overrides.csv``
and applied at scoring (:mod:`govindex.eval.overrides`, docs §10 "Corrections: overrides")."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from govindex.cli.base import Format, _run, app, out

if TYPE_CHECKING:  # polars and the engine load inside the commands: `govindex --help` stays fast
    from govindex.eval.overrides import Override
    from govindex.ir import RuleSet

override_app = typer.Typer(no_args_is_help=True, help="Corrections after publication (appeals): FACTS/overrides.csv.")
app.add_typer(override_app, name="override")


class Status(StrEnum):
    ok = "ok"
    no_data = "no_data"
    not_applicable = "not_applicable"
    error = "error"


@override_app.command("add")
def add(facts: Path = typer.Argument(..., help="Facts directory (overrides.csv is kept there)."),
        rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
        unit: str = typer.Option(..., "--unit", help="Unit code."),
        point: str = typer.Option(..., "--point", help="Point id."),
        round_: int = typer.Option(None, "--round", help="The round (default: every round of the rule set)."),
        value: str = typer.Option(None, "--value", help="The probe's new value x."),
        status: Status = typer.Option(None, "--status", help="A status instead: no_data, not_applicable, error."),
        reason: str = typer.Option(..., "--reason", help="Why (the appeal upheld, the error found)."),
        by: str = typer.Option(..., "--by", help="Who decided."),
        reference: str = typer.Option("", "--reference", help="The document it rests on (申诉函 2019-12-03)."),
        at: str = typer.Option(None, "--at", help="When (YYYY-MM-DD[ HH:MM[:SS]]; default: now).")) -> None:
    """Append one override, checked first as scoring checks the file (F120–F129); atomic."""
    def go():
        from govindex.check.run import load
        from govindex.diagnostics import UsageError

        if not facts.is_dir():
            raise UsageError(f"facts directory {facts} does not exist")
        rs = load(rules)
        fields = {"unit": unit, "point": point, "round": "" if round_ is None else str(round_),
                  "value": value or "", "status": status.value if status is not None else "", "reason": reason,
                  "by": by, "at": at or datetime.now().isoformat(sep=" ", timespec="seconds"), "reference": reference}
        o = append(rs, facts, fields)
        rnd = "every round" if o.round is None else f"round {o.round}"
        new = f"{o.value:g}" if o.value is not None else o.status
        out.print(f"added {facts / 'overrides.csv'}:{o.line}: {o.unit} {o.point} ({rnd}) → {new}",
                  markup=False, highlight=False)
    _run(go)


@override_app.command("list")
def list_(facts: Path = typer.Argument(..., help="Facts directory."),
          rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
          format: Format = typer.Option(Format.text, "--format", help="text or json")) -> None:
    """The overrides of FACTS/overrides.csv, checked against the rule set."""
    def go():
        from govindex.check.run import load
        from govindex.diagnostics import UsageError
        from govindex.eval.overrides import read
        from govindex.results import strict_json

        rs = load(rules)
        if not facts.is_dir():
            raise UsageError(f"facts directory {facts} does not exist")
        rows = to_rows(read(rs, facts))
        if format == Format.json:
            sys.stdout.write(strict_json({"overrides": rows}, indent=1) + "\n")
            return
        for r in rows:
            rnd = "all" if r["round"] is None else str(r["round"])
            new = f"{r['value']:g}" if r["value"] is not None else r["status"]
            ref = f"  [{r['reference']}]" if r["reference"] else ""
            out.print(f"{r['line']:>4}  {r['unit']}  {r['point']}  r{rnd}  → {new}  {r['reason']}  "
                      f"({r['by']}, {r['at']}){ref}", markup=False, highlight=False)
        out.print(f"{len(rows)} override(s)", markup=False, highlight=False)
    _run(go)


# ------------------------------------------------------------------ adding a record


def append(rs: RuleSet, facts_dir: Path, fields: dict[str, str]) -> Override:
    """Add one record to ``FACTS/overrides.csv`` (made with its header when absent), checked
    first with the file's records as scoring checks them: nothing is written unless the whole file
    stays valid. Atomic (:func:`govindex.fsio.write_file`), and serialised by a lock beside it so
    that two people adding at once both keep their record."""
    import fcntl

    from govindex.eval.overrides import COLUMNS, FILE, overrides_error, parse
    from govindex.fsio import write_file

    path = facts_dir / FILE
    with open(facts_dir / ".overrides.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        old = _existing(path)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if not old:
            writer.writerow(COLUMNS)
        writer.writerow([fields.get(c, "") for c in COLUMNS])
        text = old + ("" if not old or old.endswith("\n") else "\n") + buf.getvalue()
        got, problems = parse(rs, text.removeprefix("\ufeff"), str(path))
        if problems:
            raise overrides_error(problems, "nothing was added")
        write_file(path, text)
    return got[-1]


def _existing(path: Path) -> str:
    """The file's text as it is (a byte-order mark kept), or "" when there is none."""
    from govindex.diagnostics import Diagnostic, File
    from govindex.eval.overrides import overrides_error

    if not path.exists():
        return ""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise overrides_error([Diagnostic("F129", f"not UTF-8 (byte {exc.start})", File(str(path)),
                                          "save the file as UTF-8 CSV")]) from None


def to_rows(overrides: Sequence[Override]) -> list[dict[str, Any]]:
    """The records as JSON (``override list``)."""
    return [{"line": o.line, "unit": o.unit, "point": o.point, "round": o.round, "value": o.value,
             "status": o.status, "reason": o.reason, "by": o.by, "at": o.at, "reference": o.reference}
            for o in overrides]
