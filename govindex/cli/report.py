"""``govindex report``: a results directory → one self-contained HTML page (charts and tables)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from govindex.cli.analyze import SdKind
from govindex.cli.base import _run, app, out


@app.command()
def report(results: Path = typer.Argument(..., help="A results directory written by `score --out`."),
           previous: Path = typer.Option(None, "--previous", help="The previous year's results directory."),
           out_file: Path = typer.Option(None, "--out", help="The HTML file to write (default: RESULTS/report.html)."),
           clusters: int = typer.Option(4, "--clusters", min=0, help="k for k-means over L2 score rates (0 = none)."),
           reference_region: str = typer.Option(None, "--reference-region",
                                                help="Region the others are compared with (default 东部, "
                                                     "else the region with the highest mean total)."),
           region_attr: str = typer.Option(None, "--region-attr", help="Unit attribute of regions (default: macro_region)."),
           province_attr: str = typer.Option(None, "--province-attr",
                                             help="Unit attribute of provinces (default: province)."),
           sd: SdKind = typer.Option(SdKind.population, "--sd",
                                     help="Standard deviations: population (divide by n, default) or sample (n − 1)."),
           from_published: int = typer.Option(None, "--from-published", min=0, max=10, metavar="DIGITS",
                                              help="Derived figures from the values rounded half up at DIGITS "
                                                   "decimals, as published (see `analyze`).")) -> None:
    """An HTML report of a results directory that works offline: summary, charts and every table of `analyze`.

    Charts: the distribution of totals with the grade breaks, regions, provinces, the score-rate
    profile, clusters and, with --previous, the change of means and the units that moved most.
    """
    def go():
        from govindex.analysis.analyze import Options, analyze, load_results
        from govindex.cli.outputs import out_file as checked_file
        from govindex.report.html import build, corrections_of, language_of, render, rounds_of, write

        t0 = time.perf_counter()
        res = load_results(results)
        target = out_file or results / "report.html"
        if target.is_dir():
            target = target / "report.html"
        target = checked_file(target)  # before the work: a device, a FIFO or a missing directory is refused
        prev = load_results(previous) if previous is not None else None
        doc = analyze(res, prev, Options(region_attr, province_attr, reference_region, clusters, sd=sd.value,
                                            published=from_published))
        html = render(build(res, doc, prev, rounds_of(results), corrections=corrections_of(results),
                           language=language_of(results)))
        write(target, html)
        out.print(f"wrote {target} ({len(html.encode('utf-8')) / 1024:.0f} KB) in {time.perf_counter() - t0:.2f}s",
                  markup=False, highlight=False)
    _run(go)
