"""Collection commands, added to the ``govindex`` CLI through the ``govindex.commands`` entry
point (so that ``engine`` never imports ``probes``): ``manual template|import``, ``import``,
``collect``, ``extract``, ``web serve``, ``demo``."""

import json
import sys
from pathlib import Path

import typer

# The CLI is the one place that wires engine and probes together; this module is that place for
# the collection commands (other probes modules import only the fact contract from engine).
from engine.cli import Format, _run, out


def register(app: typer.Typer) -> None:
    """Add the collection commands to ``app``."""

    manual = typer.Typer(help="Manual collection: Excel templates for the manual points, and their import.",
                         no_args_is_help=True)
    app.add_typer(manual, name="manual")

    @manual.command("template")
    def manual_template(rules: Path = typer.Argument(..., help="Rule set directory."),
                        round_: int = typer.Option(..., "--round", help="Collection round."),
                        out_file: Path = typer.Option(..., "--out", help="The workbook to write (.xlsx).")) -> None:
        """Write the workbook collectors fill: units × manual points, with allowed values."""
        def go():
            from engine.check import load
            from probes.manual import manual_points, write_template

            rs = load(rules)
            path = write_template(rs, round_, out_file)
            out.print(f"wrote {path}: {len(rs.units)} units × {len(manual_points(rs))} manual points, round {round_}")
        _run(go)

    @manual.command("import")
    def manual_import(workbook: Path = typer.Argument(..., help="A filled template (.xlsx)."),
                      rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
                      round_: int = typer.Option(..., "--round", help="Collection round."),
                      facts: Path = typer.Option(..., "--facts", help="Facts directory to write into."),
                      force: bool = typer.Option(False, "--force", help="Accept a template of another round/rule set."),
                      format: Format = typer.Option(Format.text, "--format")) -> None:
        """Validate every cell and import all of them, or nothing (each bad cell is named)."""
        def go():
            from engine.check import load
            from probes.manual import import_workbook

            report = import_workbook(workbook, load(rules), round_, facts, force=force)
            _report(report, format, out)
        _run(go)

    @app.command("import")
    def import_cmd(rules: Path = typer.Argument(..., help="Rule set directory."),
                   table: str = typer.Option(..., "--table", help="Target table, e.g. posts or search."),
                   round_: int = typer.Option(..., "--round", help="Collection round."),
                   source: str = typer.Option(..., "--source", help="A .jsonl/.csv export or an http(s) API URL."),
                   facts: Path = typer.Option(..., "--facts", help="Facts directory to write into."),
                   mapping: list[str] = typer.Option(None, "--map", help="column=field (dotted for nested JSON)."),
                   skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave bad records out (counted)."),
                   name: str = typer.Option(None, "--name", help="Partition name (default: the source's)."),
                   format: Format = typer.Option(Format.text, "--format")) -> None:
        """Import Weibo/WeChat posts or search results from an export or an HTTP API."""
        def go():
            from engine.check import load
            from engine.errors import UsageError
            from probes.adapters import import_records

            pairs = {}
            for m in mapping or []:
                col, sep, field = m.partition("=")
                if not sep:
                    raise UsageError(f"--map takes column=field, got {m!r}")
                pairs[col] = field or None
            report = import_records(load(rules), table, round_, source, facts, pairs or None, skip_bad, name=name)
            _report(report, format, out)
        _run(go)


def _report(report, format, out) -> None:
    if str(format) == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    else:
        out.print(report.summary(), markup=False, highlight=False)
