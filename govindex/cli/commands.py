"""Rule-set commands: check, score, explain, test, fmt, show."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path

import typer

from govindex.cli.base import Format, _num, _run, app, err, out


@app.command()
def check(rules: Path = typer.Argument(..., help="Rule set directory (or one .rules file)."),
          format: Format = typer.Option(Format.text, "--format", help="text or json"),
          strict: bool = typer.Option(False, "--strict", help="Warnings are errors (exit 1).")) -> None:
    """Check a rule set without reading any facts: diagnostics, or a summary of the tree."""
    from govindex.check.run import check as run_check
    from govindex.ir import ROOT

    t0 = time.perf_counter()
    rs, diags = run_check(rules)
    errors = [d for d in diags if d.is_error]
    summary: dict = {"ruleset": rs.name if rs else None, "diagnostics": [d.to_json() for d in diags]}
    if rs is not None:
        levels: dict[int, int] = {}
        for x in (x for x in rs.indicators if not x.is_ref):  # a ref is a second place, not a node
            levels[x.level] = levels.get(x.level, 0) + 1
        pts = rs.points
        summary.update({
            "levels": [levels[k] for k in sorted(levels)],
            "points": {"total": len(pts), "technical": sum(p.kind == "technical" for p in pts),
                       "manual": sum(p.kind == "manual" for p in pts)},
            # as scores.json: the total's scale, and the `max_total` written beside it when `scale:` is declared
            "max_total": rs.nodes[ROOT].scale,
            **({"max_total_in_method": rs.nodes[ROOT].max} if rs.nodes[ROOT].own_scale is not None else {}),
            "units": len(rs.units), "tables": sorted(rs.tables),
            "rounds": sorted(rs.rounds), "tests": sum(len(t.expects) for t in rs.tests)})
    failed = bool(errors) or rs is None or (strict and bool(diags))
    if format == Format.json:
        from govindex.results import strict_json

        out.print_json(strict_json(summary))
        raise typer.Exit(1 if failed else 0)
    if diags:  # plain text, written at once: rich takes ~0.2 ms a diagnostic, 50 s for 250,000
        err.file.write("".join(d.render() + "\n" for d in diags))
        err.file.flush()
    if errors or rs is None:
        err.print(f"\n{len(errors)} error(s), {len(diags) - len(errors)} warning(s)", style="bold red")
        raise typer.Exit(1)
    lv = " / ".join(f"L{i + 1} {n}" for i, n in enumerate(summary["levels"]))
    p = summary["points"]
    out.print(f"[bold]{rs.name}[/bold]: ok ({time.perf_counter() - t0:.2f}s)")
    out.print(f"  indicators  {lv}")
    out.print(f"  points      {p['total']} ({p['technical']} technical, {p['manual']} manual)")
    out.print(_max_total(summary) if rs.has_total else "  total       none (categories only)")
    out.print(f"  units       {summary['units']}   rounds {', '.join(map(str, summary['rounds']))}   "
              f"tables {', '.join(summary['tables'])}")
    if diags:
        out.print(f"  warnings    {len(diags)}")
    if failed:
        err.print(f"\n{len(diags)} warning(s), errors under --strict", style="bold red")
        raise typer.Exit(1)


def _max_total(summary: dict) -> str:
    """``max total   1 (scale:; max_total 3 in the method)``: the scale the total is reported on."""
    line = f"  max total   {summary['max_total']:g}"
    if "max_total_in_method" in summary:
        line += f" (scale:; max_total {summary['max_total_in_method']:g} in the method)"
    return line


def _load_rules(rules: Path, strict: bool):
    """The checked rule set; its warnings printed (a W503 marker scores 0 everywhere: say so),
    and fatal under ``--strict``."""
    from govindex.check.run import check as run_check
    from govindex.diagnostics import RuleError

    rs, diags = run_check(rules)
    errors = [d for d in diags if d.is_error]
    if errors or rs is None:
        raise RuleError(errors)
    for d in diags:
        err.print(d.render(), markup=False, highlight=False)
    if strict and diags:
        err.print(f"\n{len(diags)} warning(s), errors under --strict", style="bold red")
        raise typer.Exit(1)
    return rs


def _score(rules: Path, facts: Path, round_: int | None, executor: str = "local", ray_address: str | None = None,
           strict: bool = False):
    from govindex.diagnostics import UsageError
    from govindex.eval.evaluate import evaluate
    from govindex.eval.explain import load_sources
    from govindex.eval.overrides import read as read_overrides
    from govindex.fsio import recover_commits

    rs = _load_rules(rules, strict)
    if facts.is_dir():  # a write a kill interrupted (`extract`) is completed or undone before reading
        recover_commits(facts)
    if round_ is not None and round_ not in rs.rounds:
        raise UsageError(f"no round {round_}; the rule set declares rounds {sorted(rs.rounds)}")
    sources = load_sources(rs, facts)
    overrides = read_overrides(rs, facts) if facts.is_dir() else []  # FACTS/overrides.csv, checked first
    rounds = [round_] if round_ is not None else None
    if executor == "local":
        return rs, evaluate(rs, sources, rounds, overrides=overrides), sources
    from govindex.eval.executor import RayExecutor
    from govindex.eval.facts import Sources, partitions

    if executor != "ray":
        raise UsageError(f"unknown executor {executor!r}; use local or ray")
    parts = Sources({t: partitions(rs, facts, t) for t in sources}, sources.files)  # files: to locate bad pages
    ray = RayExecutor(address=ray_address)
    try:
        return rs, evaluate(rs, parts, rounds, executor=ray, overrides=overrides), sources
    finally:
        ray.shutdown()


@app.command()
def score(rules: Path = typer.Argument(..., help="Rule set directory."),
          facts: Path = typer.Option(..., "--facts", help="Facts directory."),
          round_: int = typer.Option(None, "--round", help="Score one round alone."),
          out_dir: Path = typer.Option(None, "--out", help="Write parquet, CSV and JSON results here."),
          format: Format = typer.Option(Format.text, "--format"),
          top: int = typer.Option(20, "--top", min=0, help="Rows of the ranking to show (0 = all)."),
          executor: str = typer.Option("local", "--executor",
                                       help="local, or ray: each facts partition as a Ray task ('govindex[ray]')."),
          ray_address: str = typer.Option(None, "--ray-address", help="An existing Ray cluster (default: a local one)."),
          strict: bool = typer.Option(False, "--strict", help="Fail (exit 1, nothing written) on any check warning "
                                      "or integrity problem: rows dropped, units without facts, a point with no data."),
          csv_bom: bool = typer.Option(True, "--csv-bom/--no-csv-bom",
                                       help="Start the CSV files of --out with a UTF-8 byte-order mark, so that "
                                       "Excel on a Chinese Windows reads them as UTF-8.")
          ) -> None:
    """Score every unit: a ranked table, or JSON; with --out, result files. The integrity report
    (rows dropped and why, units without facts, no-data shares) goes to stderr."""
    def go():
        from govindex import provenance
        from govindex.cli.outputs import out_dir as checked_dir
        from govindex.results import derived_in, owned, strict_json, to_json, wide_table, write_outputs

        target = checked_dir(out_dir, replace=True, owned=owned) if out_dir else None  # before the work
        derived = derived_in(target) if target else []
        t0 = time.perf_counter()
        rs, sc, sources = _score(rules, facts, round_, executor, ray_address, strict)
        elapsed = time.perf_counter() - t0
        _integrity(sc, strict)
        # Which method and data produced the results (docs §16): for the outputs that record it.
        prov = provenance.build(rs, facts, sources, sys.argv, getattr(sc, "overrides_applied", ())) \
            if target or format == Format.json else None
        written = write_outputs(sc, target, provenance=prov, csv_bom=csv_bom) if target else []
        if derived:
            err.print(f"note: replaced the previous results in {target}; {', '.join(derived)} (made from them) "
                      f"went with them", markup=False, highlight=False)
        if format == Format.json:
            sys.stdout.write(strict_json(to_json(sc, prov)) + "\n")
            return
        _ranking(rs, wide_table(sc), top, elapsed)
        if sc.graded is not None:
            _grading(sc)
        if sc.summaries is not None:
            _summaries(sc)
        if sc.overrides_applied:  # corrections of FACTS/overrides.csv (eval/overrides.py)
            n = len(sc.overrides_applied)
            out.print(f"{n} override{'s' if n != 1 else ''} applied (unit × point × round; `override list`, "
                      "scores.json \"corrections\")", markup=False, highlight=False)
        for w in written:
            out.print(f"wrote {w}")
    _run(go)


def _integrity(sc, strict: bool) -> None:
    from govindex.diagnostics import FactsError
    from govindex.eval.integrity import render_text

    if sc.integrity is None:
        return
    err.print(render_text(sc.integrity), markup=False, highlight=False)
    problems = sc.integrity.problems()
    if strict and problems:
        raise FactsError("--strict: " + "; ".join(problems) + " (see the integrity report above)")


def _ranking(rs, wide, top: int, elapsed: float) -> None:
    from rich.table import Table

    digits = rs.rounding.digits

    l1 = [x for x in rs.indicators if x.level == 1]
    title = f"{rs.name} — {wide.height} units, scored in {elapsed:.2f}s"
    if not rs.has_total:
        title += " — categories only, no total (total: none), units in code order"
    t = Table(title=title, title_justify="left")
    for col in ("rank", "code", "name", *rs.unit_attrs[:1]) if rs.has_total else ("code", "name", *rs.unit_attrs[:1]):
        t.add_column(col, justify="right" if col == "rank" else "left")
    # The root's label when the rule set names it (`total_label`), else the column's name.
    label = rs.nodes["total"].label if "total_label" in rs.settings else "total"
    if rs.has_total:
        t.add_column(f"{label} /{rs.nodes['total'].scale:g}", justify="right", style="bold")  # on its scale
    graded = "grade" in wide.columns
    if graded:
        t.add_column("grade")
    # Folded, not cut: "服务供给能力" and "服务响应能力" cut to width both read "服务 …" (issue 14).
    for x in l1:
        t.add_column(f"{x.label} /{x.scale:g}", justify="right", overflow="fold")
    rows = wide.rows(named=True)
    for r in rows[: top or None]:
        # The published tie label ("=14") when the total is ranked with labels (`kl:total`).
        head = [r.get("rank_label:total") or str(r["rank"] or "—"), r["code"], r["name"]] if rs.has_total \
            else [r["code"], r["name"]]
        t.add_row(*head, *[r[a] or "" for a in rs.unit_attrs[:1]],
                  *([_num(r["total"], digits)] if rs.has_total else []), *([r["sublevel"] or "—"] if graded else []),
                  *[_num(r[x.id], digits) for x in l1])
    out.print(t)
    if top and len(rows) > top:
        out.print(f"… {len(rows) - top} more (use --top 0 for all, --out DIR for files)")


def _summaries(sc) -> None:
    from govindex.results import summaries_json

    digits = sc.rs.rounding.digits  # the values are rounded to the rule set's digits: show those
    for s in summaries_json(sc):
        by = f" by {s['by']}" if s["by"] else ""
        out.print(f"{s['label']} ({s['aggregate']} across units{by}):")
        for r in s["rows"]:
            group = f" [{r['group']}]" if s["by"] else ""
            value = f"{r['value']:g}" if s["aggregate"] == "count" and r["value"] is not None else _num(r["value"], digits)
            out.print(f"  {r['node']}{group} {value}  ({r['units']} unit(s), {r['missing']} without a score)")


def _grading(sc) -> None:
    from govindex.results import grading_summary

    g = grading_summary(sc)
    digits = sc.rs.rounding.digits  # the figures are rounded by `rounding:`: shown at its digits
    parts = [f"{c['id']} {c['label']} {c['count']}" + (f" (≥ {_num(c['lowest'], digits)})" if c["lowest"] is not None else "")
             for c in g["classes"]]
    out.print(f"{g['label']} ({g['method']}): " + " · ".join(parts))
    for b in g["breaks"]:
        out.print(f"  break after rank {b['after_rank']}: {b['name']} ({b['code']}) {_num(b['score'], digits)}, "
                  f"gap {_num(b['gap'], digits)}")


@app.command()
def explain(rules: Path = typer.Argument(..., help="Rule set directory."),
            facts: Path = typer.Option(..., "--facts", help="Facts directory."),
            unit: str = typer.Option(..., "--unit", help="Unit code or name."),
            node: str = typer.Option(None, "--node", help="Only this indicator or point."),
            round_: int = typer.Option(None, "--round", help="Score one round alone."),
            format: Format = typer.Option(Format.text, "--format"),
            limit: int = typer.Option(3, "--limit", min=0, help="Evidence rows per probe aggregate."),
            all_rows: bool = typer.Option(False, "--all", help="Every evidence row (no --limit)."),
            compact: bool = typer.Option(None, "--compact/--full",
                                         help="One line per point, or the full trace with evidence "
                                              "(default: compact for a whole unit, full with --node).")) -> None:
    """How one unit's score came about: formula, probe values, the evidence rows of each probe.

    The evidence is the rows that determine a probe's value: the rows carrying each marker of a
    coverage, the newest row of a recency, the summed column of a sum, the manual entry with its
    collector and cell. A whole unit is shown compact (one line per point) unless --full."""
    def go():
        from govindex.eval.explain import explain as run_explain
        from govindex.eval.explain import find_unit, render_compact, render_text
        from govindex.results import strict_json

        rs, sc, sources = _score(rules, facts, round_)
        short = compact if compact is not None else node is None
        doc = run_explain(sc, find_unit(rs, unit), node, sources, limit=None if all_rows else limit,
                          facts_dir=facts if facts.is_dir() else None, archive=_crawl_index(facts),
                          with_evidence=format == Format.json or not short)  # compact text shows none
        if format == Format.json:
            sys.stdout.write(strict_json(doc, indent=1) + "\n")
            return
        digits = rs.rounding.digits  # the figures as published: rounded by `rounding:`, shown at its digits
        text = render_compact(doc, lambda v: _num(v, digits), digits) if short else \
            render_text(doc, lambda v: _num(v, digits))
        out.print(text, markup=False, highlight=False)
    _run(go)


def _crawl_index(facts: Path):
    """The crawl index of every round under ``facts/crawl`` (where each page is archived), or None."""
    from govindex.collect.index import read_index

    rounds = sorted((facts / "crawl").glob("round=*/index")) if facts.is_dir() else []
    frames = [read_index(d) for d in rounds]
    frames = [f for f in frames if f.height]
    if not frames:
        return None
    import polars as pl

    return pl.concat(frames, how="vertical_relaxed")


def _ordered_lines(stream, lines: list[str]) -> None:
    """Whole lines on ``stream``, after everything already written to the other standard stream:
    when stdout and stderr share one pipe (``2>&1``) the failures and the summary arrive each on
    its own line and in the order written, whatever either stream buffers (plain text, no colour)."""
    if not lines:
        return
    for s in (sys.stdout, sys.stderr):
        s.flush()
    stream.write("".join(line + "\n" for line in lines))
    stream.flush()


@app.command("test")
def test_cmd(rules: Path = typer.Argument(..., help="Rule set directory.")) -> None:
    """Run the inline `test` blocks of a rule set."""
    def go():
        from govindex.check.run import load
        from govindex.eval.inline_tests import run_tests

        rs = load(rules)
        results = run_tests(rs)
        failed = [r for r in results if not r.passed]
        tests = len({r.test for r in results})
        _ordered_lines(err.file, [f"{r.expect.span}: FAIL test \"{r.test}\": {r.describe()}" for r in failed])
        _ordered_lines(out.file, [f"{len(results) - len(failed)} passed, {len(failed)} failed ({tests} test blocks)"])
        if failed:
            raise typer.Exit(1)
    _run(go)


@app.command()
def fmt(rules: list[Path] = typer.Argument(..., help="Rule set directories or files."),
        check_only: bool = typer.Option(False, "--check", help="Only report files that would change.")) -> None:
    """Rewrite rule files in canonical layout (comments kept)."""
    def go():
        from govindex.cli.outputs import out_file as checked_file
        from govindex.diagnostics import RuleError
        from govindex.fsio import write_file
        from govindex.lang.fmt import format_file
        from govindex.lang.parse import no_rule_files, parse_text, read_rule_text, rule_files

        changed, paths, problems = [], [], []
        for r in rules:
            found = rule_files(r)
            paths += found
            problems += [] if found else [no_rule_files(r)]
        for p in paths:
            try:  # a file that cannot be read or parsed is reported; the others are still formatted
                text = read_rule_text(p)
                # Layout only: a byte-order mark the file starts with is kept (Windows editors add one).
                new = text[: text.startswith("\ufeff")] + format_file(parse_text(text, str(p)))
            except RuleError as exc:
                problems += exc.diagnostics
                continue
            if new != text:
                changed.append(p)
                if not check_only:  # atomically; a linked file is written through, with a note
                    write_file(checked_file(p), new)
        verb = "would reformat" if check_only else "reformatted"
        for p in changed:
            out.print(f"{verb} {p}")
        unchanged = len(paths) - len(changed) - len({d.span.path for d in problems if d.code != "E003"})
        out.print(f"{len(changed)} file(s) {verb}, {unchanged} unchanged")
        if problems:
            raise RuleError(problems)
        if check_only and changed:
            raise typer.Exit(1)
    _run(go)



class ShowFormat(StrEnum):
    rules = "rules"
    json = "json"


@app.command()
def show(rules: Path = typer.Argument(..., help="Rule set directory."),
         format: ShowFormat = typer.Option(ShowFormat.rules, "--format", help="rules (canonical text) or json")) -> None:
    """The resolved rule set — `extends`, `include` and edits applied — as one canonical text."""
    def go():
        from govindex.check.run import load
        from govindex.lang.fmt import format_resolved

        rs = load(rules)
        text = format_resolved(rs.files)
        if format == ShowFormat.rules:
            sys.stdout.write(text)
            return
        from govindex.lang.compose import show_items

        out.print_json(data={"ruleset": rs.name, "items": show_items(rs.files)})
    _run(go)
