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
    register_collection(app)

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


def register_collection(app: typer.Typer) -> None:
    """``collect`` (crawl a round, then extract) and ``extract`` (re-derive from the archive)."""

    @app.command()
    def collect(rules: Path = typer.Argument(..., help="Rule set directory."),
                channels: Path = typer.Option(..., "--channels", help="Channels registry CSV (unit,kind,url,name)."),
                round_: int = typer.Option(..., "--round", help="Collection round."),
                facts: Path = typer.Option(..., "--out", help="Facts directory (archive and fact tables)."),
                depth: int = typer.Option(6, "--depth", help="Link levels below each start page."),
                max_pages: int = typer.Option(2000, "--max-pages", help="Page cap per site (traps)."),
                delay: float = typer.Option(1.0, "--delay", help="Seconds between requests to one host."),
                per_host: int = typer.Option(1, "--per-host", help="Requests in flight per host."),
                concurrency: int = typer.Option(32, "--concurrency", help="Requests in flight in all."),
                allow_loopback: bool = typer.Option(False, "--allow-loopback",
                                                    help="Allow 127.0.0.0/8 (the synthetic web, tests)."),
                no_robots: bool = typer.Option(False, "--ignore-robots", help="Do not obey robots.txt."),
                format: Format = typer.Option(Format.text, "--format")) -> None:
        """Crawl every channel of a round (resumable: run again after Ctrl-C), archive it, extract facts."""
        def go():
            from engine.check import load
            from probes.channels import load_channels
            from probes.crawl import CrawlConfig
            from probes.pipeline import extract_round

            rs = load(rules)
            chans = load_channels(channels, units={u.code for u in rs.units})
            config = CrawlConfig(max_depth=depth, max_pages=max_pages, delay=delay, per_host=per_host,
                                 concurrency=concurrency, allow_loopback=allow_loopback, obey_robots=not no_robots)
            summary = _crawl_with_progress(chans, round_, facts, config)
            report = extract_round(rs, round_, facts)
            if str(format) == "json":
                sys.stdout.write(json.dumps({"crawl": _summary_json(summary), "extract": report.__dict__},
                                            ensure_ascii=False, default=str) + "\n")
                return
            _print_summary(summary)
            out.print(report.summary(), markup=False, highlight=False)
        _run(go)

    @app.command()
    def extract(rules: Path = typer.Argument(..., help="Rule set directory."),
                round_: int = typer.Option(..., "--round", help="Collection round."),
                facts: Path = typer.Option(..., "--facts", help="Facts directory holding crawl/round=N.")) -> None:
        """Re-derive a round's fact tables from the archive (after a rule change), without crawling."""
        def go():
            from engine.check import load
            from probes.pipeline import extract_round

            out.print(extract_round(load(rules), round_, facts).summary(), markup=False, highlight=False)
        _run(go)


def _crawl_with_progress(chans, round_no: int, facts: Path, config):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from probes.crawl import crawl_sync

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=out, transient=False) as bar:
        sites = bar.add_task("sites", total=None, info="")
        pages = bar.add_task("pages", total=None, info="")

        def progress(p) -> None:
            bar.update(sites, total=p.sites_total, completed=p.sites_done, info="")
            bar.update(pages, completed=p.pages, info=f"errors {p.errors}  {(p.url or '')[:60]}")
        return crawl_sync(chans, round_no, facts, config, progress)


def _summary_json(s) -> dict:
    return {"round": s.round, "sites": s.sites, "pages": s.pages, "fetched_now": s.fetched_now,
            "by_status": {str(k): v for k, v in s.by_status.items()}, "by_error": s.by_error, "skipped": s.skipped,
            "collection_rate": s.collection_rate, "elapsed": s.elapsed, "pages_per_second": s.pages_per_second}


def _print_summary(s) -> None:
    rates = list(s.collection_rate.values())
    full = sum(r >= 1 for r in rates)
    out.print(f"round {s.round}: {s.pages} pages in the archive ({s.fetched_now} fetched now, "
              f"{s.pages_per_second:.0f}/s), {s.sites} sites")
    out.print("  by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(s.by_status.items(), key=lambda kv: str(kv[0]))))
    if s.by_error:
        out.print("  by error:  " + ", ".join(f"{k}: {v}" for k, v in sorted(s.by_error.items())))
    if rates:
        out.print(f"  collection rate: {sum(rates) / len(rates):.1%} of channels on average; "
                  f"{full} of {len(rates)} units fully collected")


def _report(report, format, out) -> None:
    if str(format) == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    else:
        out.print(report.summary(), markup=False, highlight=False)
