"""``govindex analyze``: the report's statistics from a results directory (SPEC §1.5)."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path

import typer

from govindex.cli.base import _run, app, out


class AnalyzeFormat(StrEnum):
    text = "text"
    json = "json"
    md = "md"


class SdKind(StrEnum):
    population = "population"
    sample = "sample"


@app.command()
def analyze(results: Path = typer.Argument(..., help="A results directory written by `score --out`."),
            previous: Path = typer.Option(None, "--previous", help="The previous year's results directory."),
            format: AnalyzeFormat = typer.Option(AnalyzeFormat.text, "--format", help="text, json or md"),
            out_dir: Path = typer.Option(None, "--out", help="Write analysis.json and analysis.md here."),
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
                                               help="Compute derived figures (rates of means, shares of the "
                                                    "reference, ratios, ranges, changes) from the values rounded "
                                                    "half up at DIGITS decimals, as a report publishes them "
                                                    "(default: from the exact values).")) -> None:
    """The report's statistics from a results directory; with --previous, every figure's change.

    Means, rates, shares, regions, provinces, dispersion and range, L3 rates, grades, k-means
    clusters and, year over year, absolute and relative changes and the units that rose or fell most.
    """
    def go():
        from govindex.analysis.analyze import Options, load_results
        from govindex.analysis.analyze import analyze as run_analyze
        from govindex.analysis.render import to_markdown
        from govindex.cli.outputs import out_dir as checked_dir

        t0 = time.perf_counter()
        target = checked_dir(out_dir) if out_dir else None  # before the work
        res = load_results(results)
        prev = load_results(previous) if previous is not None else None
        opts = Options(region_attr, province_attr, reference_region, clusters, sd=sd.value, published=from_published)
        doc = run_analyze(res, prev, opts)
        elapsed = time.perf_counter() - t0
        written = _write(target, doc, to_markdown(doc)) if target else []
        if format == AnalyzeFormat.json:
            sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        elif format == AnalyzeFormat.md:
            sys.stdout.write(to_markdown(doc))
        else:
            _text(doc, elapsed)
            for w in written:
                out.print(f"wrote {w}", markup=False, highlight=False)
    _run(go)


def _text(doc: dict, elapsed: float) -> None:
    from rich.table import Table
    from rich.text import Text

    from govindex.analysis.render import report

    r = report(doc)
    out.print(f"[bold]{r.title}[/bold] ({elapsed:.2f}s)", highlight=False)
    for s in r.summary:
        out.print(f"  {s}", markup=False, highlight=False)
    for t in r.tables:
        table = Table(title=t.title, title_justify="left", title_style="bold")
        for i, c in enumerate(t.columns):
            table.add_column(c, justify="right" if i in t.right else "left")
        for row in t.rows:
            table.add_row(*[Text(c) for c in row])  # names are data, not markup
        out.print()
        out.print(table)
        if t.note:
            out.print(t.note, markup=False, highlight=False)
    if r.notes:
        out.print()
        for n in r.notes:
            out.print(f"note: {n}", markup=False, highlight=False)


def _write(out_dir: Path, doc: dict, md: str) -> list[Path]:
    """analysis.json and analysis.md, both or neither (:func:`govindex.fsio.commit`)."""
    from govindex.fsio import commit

    return commit(out_dir, {out_dir / "analysis.json": json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                            out_dir / "analysis.md": md})
