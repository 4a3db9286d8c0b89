"""The analysis as tables of formatted cells, and as Markdown.

:func:`report` turns the ``analyze`` dict into a :class:`Report` — a title, summary lines, tables
of strings and notes — that the CLI draws with rich and :func:`to_markdown` writes as Markdown.
Numbers are rounded half up to 2 decimals for display, once, from the exact value in the analysis
(:func:`govindex.analysis.stats.rounded`); rates, shares and relative changes are shown as
percentages, rounded at 2 decimals of the percentage (4 of the fraction), again once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from govindex.analysis.stats import rounded
from govindex.provenance import summary

DASH = "—"


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    right: set[int] = field(default_factory=set)  # indexes of right-aligned (numeric) columns
    note: str = ""


@dataclass(frozen=True)
class Report:
    title: str
    summary: list[str]
    tables: list[Table]
    notes: list[str]


# --- cells -----------------------------------------------------------------------------------


def _once(v: float, digits: int, shift: int = 0) -> Decimal:
    # Rounded at digits + shift decimals from the exact double, then scaled by 10^shift: exact, so a
    # percentage is never the rounding of a float product v * 100.
    r = rounded(v, digits + shift).scaleb(shift)
    return r + 0 if r else Decimal(0).quantize(r)  # no "-0.00"


def num(v: float | None, digits: int = 2) -> str:
    """A number rounded half up once from its exact value, or a dash for None."""
    return DASH if v is None else f"{_once(v, digits):f}"


def pct(v: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: 0.6325 → ``63.25%`` (0.57644962 → ``57.64%``, never 57.65)."""
    return DASH if v is None else f"{_once(v, digits, 2):f}%"


def signed(v: float | None, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
    """A change with its sign: ``+0.45``, ``-1.20 pp``; a dash for None. ``scale`` is 1 or 100
    (a fraction shown in percentage points)."""
    if v is None:
        return DASH
    if scale not in (1.0, 100.0):
        raise ValueError(f"signed(): scale {scale} (1 or 100)")
    r = _once(v, digits, 2 if scale == 100.0 else 0)
    return f"{'+' if r > 0 else ''}{r:f}{unit}"


def rel(v: float | None) -> str:
    """A relative change (a fraction) as a signed percentage: 0.311787 → ``+31.18%``."""
    return signed(v, 2, 100.0, "%")


def _arrow(d: dict, show=num, change=signed) -> str:
    """``previous → current (change, relative change)``; the relative change only where it exists."""
    r = f", {rel(d['change_rel'])}" if d.get("change_rel") is not None else ""
    return f"{show(d['previous'])} → {show(d['current'])} ({change(d['change'])}{r})"


def _count(c: int, share: float | None) -> str:
    return f"{c} ({pct(share)})"


def _pp(v: float | None) -> str:
    return signed(v, 2, 100.0, " pp")


def _label(x: dict) -> str:
    # An ideographic space indents L2 under its L1 in a terminal and in Markdown alike.
    return x["name"] if x["level"] <= 1 else f"\u3000{x['name']}"


# --- tables ----------------------------------------------------------------------------------


def report(doc: dict, members: int | None = 10) -> Report:
    """The analysis as tables; ``members`` limits the names listed per cluster (None: all)."""
    ind = doc["indicators"]
    tables = [_national(ind), _distribution(ind)]
    if doc["region_attr"]:
        tables.append(_regions(ind, doc["region_attr"], doc["reference_region"]))
    if doc["province_attr"]:
        attr = doc["province_attr"]
        tables += [_province_means(ind, attr), _dispersion(ind, attr), _within(ind, attr)]
    if doc["l3"]:
        tables.append(_l3(doc))
    if doc["grading"]:
        tables.append(_grades(doc["grading"]))
    if doc["clusters"]:
        tables += _clusters(doc, members)
    tables += _statistics(doc)  # the rules' `statistic` declarations (analysis/statistics.py)
    notes = list(doc["notes"])
    if doc["previous"]:
        tables += _previous(doc)
        notes += _unmatched(doc["previous"])
    return Report(f"{doc['ruleset']}: analysis", _summary(doc), tables, notes)


def _summary(doc: dict) -> list[str]:
    lines = [f"Units scored: {doc['units_scored']} of {doc['units_total']}"
             + (f" ({doc['units_null']} with a null total left out)" if doc["units_null"] else "")]
    lines.append("Standard deviations: population (divide by n)" if doc["sd"] == "population"
                 else "Standard deviations: sample (divide by n − 1)")
    digits = doc.get("from_published")
    lines.append("Derived figures (rates of means, shares of a reference, ratios, ranges, changes): "
                 + ("from the exact values" if digits is None else
                    f"from the values as published, rounded half up at {digits} decimals (--from-published)"))
    if doc["reference_region"]:
        lines.append(f"Region shares relative to {doc['reference_region']} ({doc['region_attr']})")
    if doc["previous"]:
        p = doc["previous"]
        lines.append(f"Compared with: {p['ruleset']} ({p['units_scored']} units scored)")
    inputs = doc.get("inputs") or {}
    for side, label in (("current", "Inputs"), ("previous", "Previous inputs")):
        if inputs.get(side):
            lines.append(f"{label}: {_inputs(inputs[side])}")
    return lines


def _inputs(prov: dict) -> str:
    """``rule set mini 5c7d0a7f4458 · facts 00440237ebd5 (3 files) · govindex 0.1.0 · scored …`` (docs §16)."""
    s = summary(prov)
    return (f"rule set {s['ruleset']} {s['ruleset_hash']} · facts {s['facts_hash']} ({s['files']} files) · "
            f"{s['engine']} · scored {s['time'] or DASH}")


def _national(ind: list[dict]) -> Table:
    rows = [[_label(x), f"L{x['level']}", num(x["max"]), num(x["mean"]), pct(x["rate"]), num(x["sd"]),
             num(x["lowest"]["score"]) if x["lowest"] else DASH, num(x["highest"]["score"]) if x["highest"] else DASH,
             ", ".join(f"{t['name']} {num(t['score'])}" for t in x["top"])] for x in ind]
    return Table("National figures", ["Indicator", "Level", "Max", "Mean", "Rate", "SD", "Min", "Max score", "Top 3"],
                 rows, {2, 3, 4, 5, 6, 7})


def _distribution(ind: list[dict]) -> Table:
    rows = [[_label(x), str(x["n"]), str(x["above_mean"]["count"]), pct(x["above_mean"]["share"]),
             str(x["rate_above_60"]["count"]), pct(x["rate_above_60"]["share"]), str(x["zero"]),
             pct(x["zero_share"])] for x in ind]
    return Table("Distribution", ["Indicator", "Units", "Above mean", "Share", "Rate > 60%", "Share", "Scored 0",
                                  "Share"], rows, {1, 2, 3, 4, 5, 6, 7})


def _regions(ind: list[dict], attr: str, ref: str | None) -> Table:
    names = [(r["name"], r["n"]) for r in ind[0]["regions"]]
    rows = []
    for x in ind:
        by = {r["name"]: r for r in x["regions"]}
        rows.append([_label(x), *[f"{num(by[n]['mean'])} ({pct(by[n]['share_of_reference'])})" if n in by else DASH
                                  for n, _ in names]])
    return Table(f"Means by {attr} (share of {ref})", ["Indicator", *[f"{n} ({c})" for n, c in names]],
                 rows, set(range(1, len(names) + 1)))


def _province_means(ind: list[dict], attr: str) -> Table:
    cols = [x for x in ind if x["level"] <= 1]
    means = {x["id"]: {g["name"]: g["mean"] for g in x["provinces"]["groups"]} for x in cols}
    rows = [[g["name"], str(g["n"]), *[num(means[x["id"]].get(g["name"])) for x in cols], num(g["sd"])]
            for g in ind[0]["provinces"]["groups"]]
    return Table(f"Means by {attr}", [attr, "Units", *[x["name"] for x in cols], f"SD of {ind[0]['name']}"],
                 rows, set(range(1, len(cols) + 3)))


def _dispersion(ind: list[dict], attr: str) -> Table:
    rows = []
    for x in ind:
        p = x["provinces"]
        rows.append([_label(x), num(p["sd"]), _named(p["highest"]), _named(p["lowest"]),
                     DASH if p["ratio"] is None else f"{num(p['ratio'])}×",
                     DASH if p["range"] is None else num(p["range"]["value"]), num(p["unit_sd"]),
                     signed(p["unit_sd_excess_pct"], unit="%")])
    return Table(f"Dispersion: units and {attr} means",
                 ["Indicator", f"SD of {attr} means", f"Highest {attr}", f"Lowest {attr}", "Ratio", "Range",
                  "Unit SD", f"Unit SD above {attr} SD"], rows, {1, 4, 5, 6, 7},
                 "Range (极差) = highest − lowest mean.")


def _named(g: dict | None) -> str:
    return DASH if g is None else f"{g['name']} {num(g['mean'])}"


def _within(ind: list[dict], attr: str) -> Table:
    def cell(gs: list[dict]) -> str:
        return ", ".join(f"{g['name']} {num(g['sd'])}" for g in gs) or DASH

    rows = [[_label(x), cell(x["provinces"]["within_sd_largest"]), cell(x["provinces"]["within_sd_smallest"])]
            for x in ind]
    return Table(f"SD within each {attr}", ["Indicator", "Largest 3", "Smallest 3"], rows,
                 note=f"A {attr} with one scored unit is not ranked.")


def _l3(doc: dict) -> Table:
    names = {x["id"]: x["name"] for x in doc["indicators"]}
    rows = [[names.get(x["parent"], x["parent"] or DASH), x["name"], num(x["max"]), num(x["mean"]), pct(x["rate"]),
             _count(x["zero"], x["zero_share"])] for x in doc["l3"]]
    return Table("L3 score rates", ["L2", "L3 indicator", "Max", "Mean", "Rate", "Scored 0"], rows, {2, 3, 4, 5})


def _grades(g: dict) -> Table:
    rows = [[c["id"], c["label"] or "", str(c["count"]), pct(c["share"]), num(c["mean"]), num(c["lowest"]),
             num(c["highest"])] for c in g["classes"]]
    subs = ", ".join(f"{k} {_count(v, g['sublevel_shares'][k])}" for k, v in g["sublevels"].items())
    breaks = "; ".join(f"after rank {b['after_rank']}: {b['name']} {num(b['score'])}" for b in g["breaks"])
    note = " ".join(s for s in (f"Sub-levels: {subs}." if subs else "", f"Breaks: {breaks}." if breaks else "") if s)
    return Table(f"{g['label'] or 'Grades'} ({g['method']})", ["Class", "Label", "Units", "Share", "Mean", "Lowest",
                                                                "Highest"], rows, {2, 3, 4, 5, 6}, note)


def _clusters(doc: dict, members: int | None) -> list[Table]:
    c = doc["clusters"]
    names = {x["id"]: x["name"] for x in doc["indicators"]}
    feats = c["features"]
    profile = [[str(k["id"]), _count(k["size"], k["share"]), num(k["mean_total"]), *[pct(k["rates"][f]) for f in feats]]
               for k in c["clusters"]]

    def listed(k: dict) -> str:
        shown = k["members"] if members is None else k["members"][:members]
        more = len(k["members"]) - len(shown)
        return ", ".join(m["name"] for m in shown) + (f" … {more} more" if more else "")

    return [Table(f"Clusters: k-means over score rates (k = {c['k']}, seed {c['seed']})",
                  ["Cluster", "Units", "Mean total", *[names.get(f, f) for f in feats]], profile,
                  set(range(1, len(feats) + 3)), "Clusters are numbered by mean total, best first."),
            Table("Cluster members", ["Cluster", "Members (by total)"],
                  [[str(k["id"]), listed(k)] for k in c["clusters"]])]


# --- year over year --------------------------------------------------------------------------


def _previous(doc: dict) -> list[Table]:
    p = doc["previous"]
    tables = [Table(f"Change since {p['ruleset']}",
                    ["Indicator", "Mean", "Rate", "Above-mean share", "Rate > 60% share", "Scored 0"],
                    [[_label(x), _arrow(x["mean"]), _arrow(x["rate"], pct, _pp),
                      _arrow(x["above_mean"]["share"], pct, _pp), _arrow(x["rate_above_60"]["share"], pct, _pp),
                      _arrow(x["zero"], str, lambda v: signed(v, 0))] for x in p["indicators"]], {1, 2, 3, 4, 5},
                    "Each cell: previous → current (change, relative change = change / previous).")]
    if p["indicators"] and p["indicators"][0]["provinces"]:
        tables += _previous_provinces(doc)
    if p["indicators"] and p["indicators"][0]["regions"]:
        names = [r["name"] for r in p["indicators"][0]["regions"]]
        rows = []
        for x in p["indicators"]:
            by = {r["name"]: r for r in x["regions"] or []}
            rows.append([_label(x), *[_arrow(by[n]["share_of_reference"], pct, _pp) if n in by else DASH
                                      for n in names]])
        tables.append(Table(f"Share of {doc['reference_region']} by {doc['region_attr']}: previous → current",
                            ["Indicator", *names], rows, set(range(1, len(names) + 1))))
    if p["l3"]:
        tables.append(Table("L3 score rates: previous → current", ["L3 indicator", "Rate"],
                            [[x["name"], _arrow(x["rate"], pct, _pp)] for x in p["l3"]], {1}))
    if p["grading"]:
        tables.append(Table("Grades: previous → current", ["Class", "Label", "Units", "Share", "Mean"],
                            [[c["id"], c["label"] or "", _arrow(c["count"], str, lambda v: signed(v, 0)),
                              _arrow(c["share"], pct, _pp), _arrow(c["mean"])] for c in p["grading"]], {2, 3, 4}))
    m = p["movers"]
    for key, title, show, change in (("rank_up", "Rose most (rank)", str, lambda v: signed(v, 0)),
                                     ("rank_down", "Fell most (rank)", str, lambda v: signed(v, 0)),
                                     ("total_up", "Rose most (total)", num, signed),
                                     ("total_down", "Fell most (total)", num, signed)):
        rows = [[u["code"], u["name"], show(u["previous"]), show(u["current"]), change(u["change"])]
                + ([rel(u["change_rel"])] if key.startswith("total") else []) for u in m[key]]
        cols = ["Code", "Name", "Previous", "Current", "Change"] + (["Relative"] if key.startswith("total") else [])
        tables.append(Table(title, cols, rows, set(range(2, len(cols))), "" if rows else "No unit moved this way."))
    return tables


def _previous_provinces(doc: dict) -> list[Table]:
    """Dispersion of the province means year over year, and each province's mean of the total."""
    p, attr = doc["previous"], doc["province_attr"]
    rows = [[_label(x), _arrow(x["provinces"]["sd"]), _arrow(x["provinces"]["range"]),
             _arrow(x["provinces"]["ratio"])] for x in p["indicators"] if x["provinces"]]
    total = p["indicators"][0]
    means = [[g["name"], _arrow(g["mean"])] for g in total["provinces"]["means"]]
    return [Table(f"Change since {p['ruleset']}: dispersion of {attr} means",
                  ["Indicator", f"SD of {attr} means", "Range (极差)", "Ratio"], rows, {1, 2, 3}),
            Table(f"Change since {p['ruleset']}: {attr} means of {total['name']}", [attr, "Mean"], means, {1})]


def _unmatched(p: dict) -> list[str]:
    u, notes = p["unmatched"], []
    if u["indicators_current"]:
        notes.append(f"indicators without a previous figure: {', '.join(u['indicators_current'])}")
    if u["indicators_previous"]:
        notes.append(f"previous indicators no longer in the tree: {', '.join(u['indicators_previous'])}")
    if u["units_current"]:
        notes.append(f"{len(u['units_current'])} unit(s) new since the previous results")
    if u["units_previous"]:
        notes.append(f"{len(u['units_previous'])} unit(s) of the previous results are gone")
    return notes


# --- the rules' statistics (analysis/statistics.py, docs §14c) ---------------------------------


def _statistics(doc: dict) -> list[Table]:
    """The section "统计 Statistics" of ``analyze`` text and Markdown: one table of every statistic,
    then one per statistic counted ``by:`` a group. Figures rounded once, by the render helpers."""
    stats = doc.get("statistics") or []
    if not stats:
        return []
    rows = []
    for s in stats:
        p = s.get("previous")
        if s["status"] != "ok":
            rows.append([s["label"], s["status"], DASH, DASH, DASH, DASH])
            continue
        rel = DASH if not p or p["change_relative"] is None else signed(p["change_relative"], 2, 100.0, "%")
        rows.append([s["label"], str(s["count"]), f"{pct(s['share'])} of {s['base']}",
                     DASH if not p else str(p["count"]), DASH if not p else f"{signed(float(p['change']), 0)} ({rel})",
                     DASH if not p or p["share_change"] is None else signed(p["share_change"], 2, 100.0, " pp")])
    conditions = "; ".join(f"{s['label']}: {s['text']}" + (f" (among {s['among']})" if s.get("among") else "")
                           for s in stats)
    out = [Table("统计 Statistics", ["Statistic", "Count", "Share", "Previous", "Change", "Share change"],
                 rows, {1, 2, 3, 4, 5}, "declared in the rules (`statistic`, docs §14c); the share is of the units "
                 f"with a total, or of the units of the statistic named by `among:`. Conditions: {conditions}")]
    for s in stats:
        if s["status"] == "ok" and s.get("by") and s["groups"]:
            grows = [[g["group"], str(g["count"]), str(g["base"]), pct(g["share"])]
                     for g in sorted(s["groups"], key=lambda g: -g["count"])]
            out.append(Table(f"统计 Statistics: {s['label']} by {s['by']}", [s["by"], "Count", "Units", "Share"],
                             grows, {1, 2, 3}))
    return out


# --- Markdown --------------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ").strip(" ") or " "


def to_markdown(doc: dict) -> str:
    """The whole analysis as one Markdown document (every cluster member listed)."""
    r = report(doc, members=None)
    out = [f"# {r.title}", "", *[f"- {s}" for s in r.summary], ""]
    for t in r.tables:
        out += [f"## {t.title}", ""]
        out.append("| " + " | ".join(_md_cell(c) for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if i in t.right else "---" for i in range(len(t.columns))) + "|")
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
        out += ["", t.note, ""] if t.note else [""]
    if r.notes:
        out += ["## Notes", "", *[f"- {n}" for n in r.notes], ""]
    return "\n".join(out)
