"""Collection commands: ``manual template|import``, ``import``, ``collect``, ``extract``,
``web serve``, ``demo``."""

import json
import sys
from pathlib import Path

import typer

# The CLI is the one place that wires collection and the rest together; this module is that place
# for the collection commands (``govindex.collect`` imports only the fact contract).
from govindex.cli.base import Format, _run, app, err, out


def register(app: typer.Typer) -> None:
    """Add the collection commands to ``app``."""
    register_collection(app)
    register_web(app)

    manual = typer.Typer(help="Manual collection: Excel templates for the manual points, and their import.",
                         no_args_is_help=True)
    app.add_typer(manual, name="manual")

    @manual.command("template")
    def manual_template(rules: Path = typer.Argument(..., help="Rule set directory."),
                        round_: int = typer.Option(..., "--round", help="Collection round."),
                        out_file: Path = typer.Option(..., "--out", help="The workbook to write (.xlsx)."),
                        units: str = typer.Option("", "--units",
                                                  help="Only these units: codes or names (comma-separated), "
                                                       "attr=value filters (province=河北省), or a file of codes."),
                        points: str = typer.Option("", "--points", help="Only these manual points (comma-separated ids)."),
                        collector: str = typer.Option("", "--collector", help="Who fills this book (采集人).")) -> None:
        """Write the workbook collectors fill: units × manual points, with allowed values.

        --units/--points/--collector: one collector's share of a team."""
        def go():
            from dataclasses import replace

            from govindex.check.run import load
            from govindex.cli.outputs import out_file as checked_file
            from govindex.collect.manual import manual_points, write_template
            from govindex.collect.manual_assign import select

            target = checked_file(out_file)  # before the work: a directory, device or FIFO is refused
            rs = load(rules)
            every = manual_points(rs)
            assign = replace(select(rs, units, points, every), collector=collector.strip())
            path = write_template(rs, round_, target, assign)
            n_units = len(assign.units) if assign.units is not None else len(rs.units)
            n_points = len(assign.points) if assign.points is not None else len(every)
            who = f", collector {assign.collector}" if assign.collector else ""
            out.print(f"wrote {path}: {n_units} units × {n_points} manual points, round {round_}{who}")
        _run(go)

    @manual.command("compare")
    def manual_compare(book_a: Path = typer.Argument(..., help="A filled book."),
                       book_b: Path = typer.Argument(..., help="The same cells filled by a second collector."),
                       rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
                       round_: int = typer.Option(None, "--round", help="Collection round (default: the books')."),
                       format: Format = typer.Option(Format.text, "--format")) -> None:
        """Double entry: every cell two books fill differently (exit 1 if any), and those only one fills."""
        def go():
            from govindex.check.run import load
            from govindex.collect.manual_compare import compare_books

            cmp = compare_books(load(rules), book_a, book_b, round_)
            if str(format) == "json":
                sys.stdout.write(json.dumps(cmp.to_json(), ensure_ascii=False) + "\n")
            else:
                out.print(cmp.render(), markup=False, highlight=False)
            if cmp.disagree:
                raise typer.Exit(1)
        _run(go)

    @manual.command("resolve")
    def manual_resolve(rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
                       round_: int = typer.Option(..., "--round", help="Collection round."),
                       facts: Path = typer.Option(..., "--facts", help="Facts directory holding the round."),
                       unit: str = typer.Option("", "--unit", help="The unit's code."),
                       point: str = typer.Option("", "--point", help="The manual point's id."),
                       value: str = typer.Option("", "--value", help="The adjudicated value."),
                       reason: str = typer.Option("", "--reason", help="Why (required)."),
                       by: str = typer.Option("", "--by", help="Who decided."),
                       file: Path = typer.Option(None, "--file",
                                                 help="A CSV of resolutions: unit,point,value,reason,by.")) -> None:
        """Record the adjudicated value of a disputed cell (who, why, when); its import then goes through."""
        def go():
            from govindex.check.run import load
            from govindex.cli.outputs import out_dir as checked_dir
            from govindex.collect.manual_resolve import Resolution, from_file, resolve
            from govindex.diagnostics import File, UsageError

            rs = load(rules)
            target = checked_dir(facts)  # before the work: a file, device or unwritable place is refused
            if file is None and not (unit and point and value):
                raise UsageError("give --unit, --point and --value (with --reason and --by), or --file")
            items = from_file(file) if file is not None else [Resolution(unit.strip(), point.strip(), value.strip(),
                                                                         reason.strip(), by.strip(), File("manual resolve"))]
            lines = resolve(rs, round_, target, items, str(file) if file else "manual resolve")
            out.print("\n".join(lines), markup=False, highlight=False)
        _run(go)

    @manual.command("progress")
    def manual_progress(rules: Path = typer.Argument(..., help="Rule set directory."),
                        round_: int = typer.Option(..., "--round", help="Collection round."),
                        facts: Path = typer.Option(..., "--facts", help="Facts directory holding the round."),
                        format: Format = typer.Option(Format.text, "--format")) -> None:
        """How much of the round is entered, verified, disputed and missing, per point and per collector."""
        def go():
            from govindex.check.run import load
            from govindex.collect.manual_progress import progress

            p = progress(load(rules), round_, facts)
            if str(format) == "json":
                sys.stdout.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
            else:
                out.print(p.render(), markup=False, highlight=False)
        _run(go)

    @manual.command("import")
    def manual_import(workbook: Path = typer.Argument(..., help="A filled template (.xlsx)."),
                      rules: Path = typer.Option(..., "--rules", help="Rule set directory."),
                      round_: int = typer.Option(..., "--round", help="Collection round."),
                      facts: Path = typer.Option(..., "--facts", help="Facts directory to write into."),
                      force: bool = typer.Option(False, "--force", help="Accept a template of another round/rule set."),
                      replace: bool = typer.Option(False, "--replace",
                                                   help="Replace the round: remove its rows this book does not hold."),
                      collector: str = typer.Option("", "--collector",
                                                    help="Who collected rows whose 采集人 cell is blank."),
                      format: Format = typer.Option(Format.text, "--format")) -> None:
        """Check every cell, then merge the entries into the round by unit × point (or import nothing).

        Entries are added or change the round's rows (old → new, reported); every other row is
        kept — a blank cell is "not collected", never a removal. --replace makes the book the
        round's whole content."""
        def go():
            from govindex.check.run import load
            from govindex.cli.outputs import out_dir as checked_dir
            from govindex.collect.manual_import import import_workbook

            target = checked_dir(facts)  # before the work: a file, device or unwritable place is refused
            report = import_workbook(workbook, load(rules), round_, target, force=force, replace=replace,
                                     collector=collector)
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
                   replace: bool = typer.Option(False, "--replace",
                                                help="Replace the partition even if another source wrote it."),
                   format: Format = typer.Option(Format.text, "--format")) -> None:
        """Import Weibo/WeChat posts or search results from an export or an HTTP API.

        Each source has its own partition (part-NAME.parquet): importing the same source again
        replaces its previous rows and nothing else; a partition of anything else is refused
        without --replace."""
        def go():
            from govindex.check.run import load
            from govindex.collect.adapters import import_records
            from govindex.diagnostics import UsageError

            pairs = {}
            for m in mapping or []:
                col, sep, field = m.partition("=")
                if not sep:
                    raise UsageError(f"--map takes column=field, got {m!r}")
                pairs[col] = field or None
            report = import_records(load(rules), table, round_, source, facts, pairs or None, skip_bad, name=name,
                                    replace=replace)
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
            from govindex.check.run import load
            from govindex.cli.outputs import out_dir as checked_dir
            from govindex.collect.channels import load_channels
            from govindex.collect.crawl import CrawlConfig
            from govindex.collect.pipeline import extract_round

            target = checked_dir(facts)  # before the work: a file, device or unwritable place is refused
            rs = load(rules)
            chans = load_channels(channels, units={u.code for u in rs.units})
            config = CrawlConfig(max_depth=depth, max_pages=max_pages, delay=delay, per_host=per_host,
                                 concurrency=concurrency, allow_loopback=allow_loopback, obey_robots=not no_robots)
            # with --format json, stdout holds the JSON document alone: the bars go to stderr
            summary = _crawl_with_progress(chans, round_, target, config, err if str(format) == "json" else out)
            with _record_bar() as progress:
                report = extract_round(rs, round_, target, progress)
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
            from govindex.check.run import load
            from govindex.collect.pipeline import extract_round

            rs = load(rules)
            with _record_bar() as progress:
                report = extract_round(rs, round_, facts, progress)
            out.print(report.summary(), markup=False, highlight=False)
        _run(go)


def register_web(app: typer.Typer) -> None:
    """``web serve`` (the synthetic government web) and ``demo`` (the whole pipeline on it)."""
    web = typer.Typer(help="The synthetic government web, for tests and demos.", no_args_is_help=True)
    app.add_typer(web, name="web")

    @web.command("serve")
    def web_serve(units: int = typer.Option(None, "--units", help="How many units (default: all of the registry)."),
                  seed: int = typer.Option(2019, "--seed"),
                  registry: Path = typer.Option(None, "--registry", help="Units CSV (default rules/2019/units.csv)."),
                  out_dir: Path = typer.Option(Path("synthweb"), "--dir",
                                               help="Where to write web.json, ground_truth.json, channels.csv."),
                  host: str = typer.Option("127.0.0.1", "--host"),
                  port: int = typer.Option(0, "--port", help="0: any free port."),
                  slow_seconds: float = typer.Option(30.0, "--slow-seconds", help="Delay of the slow-response trap.")
                  ) -> None:
        """Serve a synthetic government web on loopback (each site on its own 127.x address) until Ctrl-C."""
        def go() -> None:
            from govindex.cli.outputs import out_dir as checked_dir
            from govindex.synth.web import generate, serve

            target = checked_dir(out_dir)  # before serving: a file, device or unwritable place is refused
            w = generate(registry, seed=seed, n_units=units)
            server = serve(w, host, port, slow_seconds=slow_seconds)
            try:
                server.write(target)
                out.print(f"serving {len(w.units)} units on port {server.port}; hub {server.hub}")
                out.print(f"channels: {target}/channels.csv   ground truth: {target}/ground_truth.json   "
                          "(Ctrl-C to stop)")
                server.wait()
            except KeyboardInterrupt:
                pass
            finally:
                server.close()
        _run(go)

    @app.command()
    def demo(rules: Path = typer.Option(Path("rules/2019"), "--rules", help="Rule set to score with."),
             units: int = typer.Option(24, "--units", help="Units in the synthetic web."),
             seed: int = typer.Option(2019, "--seed"),
             out_dir: Path = typer.Option(Path("demo-out"), "--out", help="Where the web, archive and facts go."),
             top: int = typer.Option(0, "--top", help="Rows of the ranking (0: every demo unit).")) -> None:
        """Serve a synthetic web, collect a round, score it, print the ranking — the pipeline in one command."""
        def go():
            import dataclasses
            import time

            from govindex.check.run import load
            from govindex.cli.commands import _ranking
            from govindex.cli.outputs import out_dir as checked_dir
            from govindex.eval.evaluate import evaluate
            from govindex.eval.explain import load_sources
            from govindex.provenance import build as build_provenance
            from govindex.results import wide_table, write_outputs
            from govindex.synth.demo import run_demo

            t0 = time.perf_counter()
            target = checked_dir(out_dir)  # before the work: a file, device or unwritable place is refused
            rs = load(rules)
            with _bars() as progress:
                result = run_demo(rs, target, units, seed, progress=progress,
                                  log=lambda m: out.print(m, markup=False, highlight=False))
            _print_summary(result.crawl)
            out.print(result.extract.summary(), markup=False, highlight=False)
            out.print("imported from the web's API: " + ", ".join(f"{t} {n}" for t, n in result.imported.items()))
            t1 = time.perf_counter()
            # Grades and normalisations over the demo's units only: the other units have no facts.
            demo_rs = dataclasses.replace(rs, units=[u for u in rs.units if u.code in set(result.units)])
            sources = load_sources(demo_rs, result.facts)
            sc = evaluate(demo_rs, sources, [max(rs.rounds)])
            write_outputs(sc, target / "results", provenance=build_provenance(demo_rs, result.facts, sources, sys.argv))
            _ranking(demo_rs, wide_table(sc), top, time.perf_counter() - t1)
            out.print(f"manual points were not collected (no collectors in a demo): status no_data, scored per the rules.\n"
                      f"results in {target / 'results'}; the whole demo took {time.perf_counter() - t0:.0f}s")
        _run(go)


class _bars:
    """Rich progress bars fed by the crawler's progress callback, on ``console`` (stdout by default)."""

    def __init__(self, console=None):
        self.console = console or out

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description:>6}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.console)
        self.bar.__enter__()
        self.sites = self.bar.add_task("sites", total=None, info="")
        self.pages = self.bar.add_task("pages", total=None, info="")
        return self.update

    def update(self, p) -> None:
        self.bar.update(self.sites, total=p.sites_total, completed=p.sites_done, info="")
        self.bar.update(self.pages, completed=p.pages, info=f"errors {p.errors}")

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


class _record_bar:
    """A progress bar of archived records read, on stderr and only when stderr is a terminal (a
    pipe or a log gets nothing extra); the callback is None otherwise."""

    def __enter__(self):
        if not err.is_terminal:
            self.bar = None
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err)
        self.bar.__enter__()
        self.task = self.bar.add_task("records", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        assert self.bar is not None
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _crawl_with_progress(chans, round_no: int, facts: Path, config, console=None):
    from govindex.collect.crawl import crawl_sync

    with _bars(console) as progress:
        return crawl_sync(chans, round_no, facts, config, progress)


def _summary_json(s) -> dict:
    return {"round": s.round, "sites": s.sites, "pages": s.pages, "fetched_now": s.fetched_now,
            "by_status": {str(k): v for k, v in s.by_status.items()}, "by_error": s.by_error, "skipped": s.skipped,
            "collection_rate": s.collection_rate, "elapsed": s.elapsed, "pages_per_second": s.pages_per_second,
            "discarded": s.discarded}


def _print_summary(s) -> None:
    rates = list(s.collection_rate.values())
    full = sum(r >= 1 for r in rates)
    out.print(f"round {s.round}: {s.pages} pages in the archive ({s.fetched_now} fetched now, "
              f"{s.pages_per_second:.0f}/s), {s.sites} sites")
    out.print("  by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(s.by_status.items(), key=lambda kv: str(kv[0]))))
    if s.by_error:
        out.print("  by error:  " + ", ".join(f"{k}: {v}" for k, v in sorted(s.by_error.items())))
    if s.discarded:
        out.print(f"  {s.discarded} archived records of an interrupted run were never committed: cut, and fetched again")
    if rates:
        out.print(f"  collection rate: {sum(rates) / len(rates):.1%} of channels on average; "
                  f"{full} of {len(rates)} units fully collected")


def _report(report, format, out) -> None:
    if str(format) == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    else:
        out.print(report.summary(), markup=False, highlight=False)


register(app)
