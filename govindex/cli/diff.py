"""``govindex diff OLD NEW``: what changed between two rule sets and, given facts, what it does.

The command builds one JSON-ready document (edits, and with ``--facts`` the impact) and renders
it as JSON, plain text (no colours: the same bytes on a terminal and in a golden file), Markdown
tables to paste into a review, or one self-contained HTML page for reviewers
(:mod:`govindex.report.diff_page`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Set as AbstractSet
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from govindex.cli.base import _run, app, err
from govindex.diagnostics import GovindexError, display_width
from govindex.provenance import facts_manifest, ruleset_info, short

if TYPE_CHECKING:
    from govindex.ir import RuleSet

KIND_ORDER = ("added", "removed", "renamed", "moved", "changed")
_TITLES = {k: f"{k.capitalize()} indicators and points" for k in ("added", "removed", "renamed", "moved", "changed")}
_TREE = ("indicator", "point", "ref")
_INLINE = 88  # an old → new pair longer than this is shown on two lines, − and +


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    md = "md"
    html = "html"


class _FactsCommand(TyperCommand):
    """``--facts OLD_FACTS NEW_FACTS``: click options take a fixed number of values, so a second
    value of ``--facts`` is rewritten into ``--new-facts`` before parsing — when the command line
    holds one bare word more than the two rule sets need, the word right after ``--facts X`` is it.
    ``--facts X`` alone keeps its meaning: the same facts under both."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        valued = {o for p in self.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
                  for o in p.opts}
        bare: list[int] = []
        i = 0
        while i < len(args):  # the positions of the words that are not options nor their values
            a = args[i]
            if a == "--":
                bare += range(i + 1, len(args))
                break
            if a in valued:
                i += 1
            elif not a.startswith("-") or a == "-":
                bare.append(i)
            i += 1
        if len(bare) > 2:
            for k, a in enumerate(args):
                second = k + 2 if a == "--facts" else k + 1 if a.startswith("--facts=") else -1
                if second in bare:
                    args = [*args[:second], "--new-facts", *args[second:]]
                    break
        return super().parse_args(ctx, args)


@app.command("diff", cls=_FactsCommand)
def diff_cmd(old: Path = typer.Argument(..., help="The old rule set directory (e.g. last year's)."),
             new: Path = typer.Argument(..., help="The new rule set directory."),
             facts: Path = typer.Option(None, "--facts", metavar="OLD_FACTS [NEW_FACTS]",
                                        help="Score facts under both rule sets: the impact. One directory: the same "
                                             "facts under both; two: the old rules on the first, the new on the second."),
             new_facts: Path = typer.Option(None, "--new-facts", help="The new side's facts (= the second --facts)."),
             format: DiffFormat = typer.Option(DiffFormat.text, "--format", help="text, json, md or html"),
             out_file: Path = typer.Option(None, "--out", help="Write to this file (atomically) instead of stdout."),
              top: int = typer.Option(10, "--top", help="Rows of each impact table (units, nodes); 0 = all."),
             all_: bool = typer.Option(False, "--all", help="Also the consequences (derived maxima) and whole expressions.")
             ) -> None:
    """Compare two rule sets node by node; with --facts, scores and ranks under both."""
    def go():
        from govindex.check.run import load

        if new_facts is not None and facts is None:
            raise GovindexError("--new-facts needs --facts (the old side's facts): --facts OLD_FACTS NEW_FACTS")
        target = None
        if out_file is not None:
            from govindex.cli.outputs import out_file as checked_file

            target = checked_file(out_file)  # before the work: a device, a FIFO or a link is refused
        rows = top if top > 0 else None
        rs_old, rs_new = load(old), load(new)
        doc = build(rs_old, rs_new, str(old), str(new), facts, rows, new_facts)
        if format == DiffFormat.json:
            text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
        elif format == DiffFormat.md:
            text = render_md(doc, rows, all_)
        elif format == DiffFormat.html:
            from govindex.report.diff_page import page

            text = page({**doc, "tree": {"old": node_rows(rs_old), "new": node_rows(rs_new)}}, rows)
        else:
            text = render_text(doc, rows, all_)
        if target is None:
            sys.stdout.write(text)
        else:
            from govindex.fsio import write_file

            write_file(target, text)
            err.print(f"wrote {target} ({len(text.encode('utf-8')) / 1024:.0f} KB)", markup=False, highlight=False)
    _run(go)


def build(rs_old: RuleSet, rs_new: RuleSet, old_name: str, new_name: str, facts: Path | None, top: int | None,
          new_facts: Path | None = None) -> dict:
    """The document every format renders: ``edits``, ``counts`` and, with facts, ``impact``."""
    from govindex.versions.diff import diff

    edits = diff(rs_old, rs_new)
    doc: dict = {"old": {"rules": old_name, "ruleset": rs_old.name, "digits": rs_old.rounding.digits,
                         "hash": ruleset_info(rs_old)["hash"]},
                 "new": {"rules": new_name, "ruleset": rs_new.name, "digits": rs_new.rounding.digits,
                         "hash": ruleset_info(rs_new)["hash"]},
                 "counts": {k: sum(e.kind == k for e in edits) for k in KIND_ORDER},
                 "edits": [e.to_json() for e in edits]}
    if facts is not None:
        from govindex.versions.impact import impact

        doc["impact"] = impact(rs_old, rs_new, facts, new_facts).to_json(top)
        doc["old"]["facts_hash"] = _facts_hash(rs_old, facts)
        doc["new"]["facts_hash"] = _facts_hash(rs_new, new_facts or facts)
    return doc


def _facts_hash(rs: RuleSet, facts: Path) -> str:
    """The facts hash (docs §16) of what ``rs`` reads in ``facts``, as ``score`` records it."""
    from govindex.eval.explain import load_sources

    return facts_manifest(rs, facts, load_sources(rs, facts))["hash"]


def hashes_line(doc: dict) -> str:
    """``hashes  rules 84780b6d6ee6 → 967865e57bc4; facts …`` (docs §16): which method and data each side is."""
    o, n = doc["old"], doc["new"]
    line = f"hashes      rules {short(o.get('hash'))} → {short(n.get('hash'))}"
    if "facts_hash" in o:
        line += f"; facts {short(o['facts_hash'])} → {short(n.get('facts_hash'))}"
    return line


def node_rows(rs: RuleSet) -> list[dict]:
    """The indicator tree in rule order, one plain row per node (what the HTML page draws)."""
    from govindex.versions.diff import where

    return [{"id": x.id, "label": x.label, "kind": x.kind, "parent": x.parent, "level": x.level, "max": x.max,
             "weight": x.weight, "at": where(x.span)} for x in rs.nodes.values()]


# ------------------------------------------------------------------ shared helpers


def _pad(s: str, w: int, right: bool = False) -> str:
    fill = " " * max(0, w - display_width(s))
    return fill + s if right else s + fill


def _table(rows: list[list[str]], right: AbstractSet[int] = frozenset(), indent: str = "  ") -> list[str]:
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(_pad(c, widths[i], i in right) for i, c in enumerate(r))).rstrip() for r in rows]


def _show(v: object, digits: int | None = None) -> str:
    if v is None:
        return "—"
    if digits is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
        from govindex.versions.diff import show_number

        return show_number(v, digits)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _signed(v: float | int | None, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:+d}" if v else "0"
    return f"{v:+.{digits}f}" if v else f"{0:.{digits}f}"


def _num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _whole(e: dict, digits: int | None = None) -> str:
    """``technical, max 0.375, under medical`` for an added or removed node."""
    s = e["new"] if e["kind"] == "added" else e["old"]
    if s["kind"] == "ref":
        return f"ref to {s['refers_to']}, max {_show(s['max'], digits)}, under {s['parent']}"
    return f"{s['kind']}, max {_show(s['max'], digits)}, under {s['parent']}"


def _locs(e: dict) -> str:
    return " → ".join(x for x in (e["old_at"], e["new_at"]) if x) if e["old_at"] and e["new_at"] else (
        e["old_at"] or e["new_at"] or "")


def _groups(edits: list[dict]) -> tuple[list[dict], list[dict], dict[str, list[dict]]]:
    header = [e for e in edits if e["scope"] in ("ruleset", "grading")]
    tables = [e for e in edits if e["scope"] in ("table", "column", "marker", "clean", "statistic")]
    tree = {k: [e for e in edits if e["scope"] in _TREE and e["kind"] == k] for k in KIND_ORDER}
    return header, tables, tree


def _lets(edits: list[dict]) -> list[dict]:
    return [e for e in edits if e["scope"] in ("let", "function")]


def _folded(edits: list[dict]) -> int:
    """How many consequences are folded under ``edits`` (nested ones included)."""
    return sum(len(e.get("follows", [])) + _folded(e.get("follows", [])) for e in edits)


def _follows_note(e: dict) -> str:
    """``the maxima of 3 siblings follow`` for an edit with consequences; "" without."""
    fs = e.get("follows", [])
    if not fs:
        return ""
    total = [f for f in fs if f["scope"] == "ruleset"]
    kids = [f for f in fs if f["scope"] != "ruleset"]
    one, many = ("child", "children") if e.get("field") == "max" and e["scope"] != "ruleset" else ("sibling", "siblings")
    said = [f"the maximum of 1 {one} follows" if len(kids) == 1 else f"the maxima of {len(kids)} {many} follow"]
    said = said if kids else []
    return "; ".join(said + (["the total's maximum follows"] if total else []))


def _affects(e: dict, limit: int = 12) -> str:
    ids = e.get("affects", [])
    shown = ", ".join(ids[:limit]) + (f", … ({len(ids) - limit} more)" if len(ids) > limit else "")
    return f"affects {_n(len(ids), 'node')}: {shown}" if ids else "affects no node"


def _by_node(edits: list[dict]) -> list[tuple[dict, list[dict]]]:
    out: dict[str, list[dict]] = {}
    for e in edits:
        out.setdefault(e["node"], []).append(e)
    return [(v[0], v) for v in out.values()]


# ------------------------------------------------------------------ text


def render_text(doc: dict, top: int | None = 10, show_all: bool = False) -> str:
    """A grouped, plain-text summary: header, tables, lets and functions, then
    added/removed/renamed/moved/changed nodes. Consequences are counted, and listed with ``show_all``."""
    c = doc["counts"]
    digits = doc["new"].get("digits")
    folded = _folded(doc["edits"])
    lines = [f"{doc['old']['rules']} → {doc['new']['rules']}", _names(doc), hashes_line(doc),
             f"{_n(sum(c.values()), 'edit')}: " + ", ".join(f"{c[k]} {k}" for k in KIND_ORDER)
             + (f"; {_n(folded, 'consequence')} folded under {'them' if show_all else 'them (--all lists them)'}"
                if folded else "")]
    header, tables, tree = _groups(doc["edits"])
    if header:
        lines += ["", "Rule set"]
        for e in header:
            # a rule set has several gradings (other nodes', named ones): each is named by its label
            name = e["field"] if e["scope"] == "ruleset" else f"grading \"{e['node']}\" {e['field'] or ''}".strip()
            lines += _pair_lines(f"{e['kind']} {name}", e, digits=digits, show_all=show_all)
    if tables:
        lines += ["", "Tables, markers, cleaning and statistics" if any(e["scope"] == "statistic" for e in tables)
                  else "Tables, markers and cleaning"]
        for e in tables:
            kind = "" if e["scope"] in ("table", "column") else f"{e['scope']} "
            what = f"{e['kind']} {kind}{e['node']}" + (f" {e['field']}" if e["field"] and e["scope"] != "column" else "")
            lines += _pair_lines(what, e, digits=digits, show_all=show_all)
    if lets := _lets(doc["edits"]):
        lines += ["", f"Lets and functions ({len(lets)})"]
        for e in lets:
            lines += _pair_lines(f"{e['kind']} {e['scope']} {e['node']}", e, digits=digits, show_all=show_all,
                                 extra=[_affects(e)])
    for k in ("added", "removed"):
        if tree[k]:
            lines += ["", f"{_TITLES[k]} ({len(tree[k])})"]
            for e in tree[k]:
                lines.append(f"  {'+' if k == 'added' else '-'} {e['node']} {e['label']} — {_whole(e, digits)}")
                if note := _follows_note(e):
                    lines.append(f"      {note}")
                lines.append(f"      {_locs(e)}")
                lines += _follow_lines(e, "      ", digits, show_all)
    for k in ("renamed", "moved"):
        if tree[k]:
            lines += ["", f"{_TITLES[k]} ({len(tree[k])})"]
            for e in tree[k]:
                if k == "renamed":
                    why = f" ({e['evidence']})" if e.get("evidence") else ""
                    lines.append(f"  {e['old']} → {e['new']} {e['label']}{why}")
                else:
                    lines.append(f"  {e['node']} {e['label']}: under {e['old']} → under {e['new']}")
                if note := _follows_note(e):
                    lines.append(f"      {note}")
                lines.append(f"      {_locs(e)}")
                lines += _follow_lines(e, "      ", digits, show_all)
    if tree["changed"]:
        nodes = _by_node(tree["changed"])
        lines += ["", f"{_TITLES['changed']} ({_n(len(tree['changed']), 'field')} of {_n(len(nodes), 'node')})"]
        for first, es in nodes:
            lines.append(f"  {first['node']} {first['label']} ({first['scope']})")
            for e in es:
                lines += _pair_lines(e["field"], e, indent="    ", width=10, digits=digits, show_all=show_all)
    if "impact" in doc:
        lines += _impact_text(doc, top)
    return "\n".join(lines) + "\n"


def _names(doc: dict) -> str:
    a, b = doc["old"]["ruleset"], doc["new"]["ruleset"]
    return a if a == b else f"{a} → {b}"


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _pair_lines(name: str, e: dict, indent: str = "  ", width: int = 0, digits: int | None = None,
                show_all: bool = False, extra: list[str] | None = None) -> list[str]:
    """One edit: ``name  old → new`` (or its changed parts, one a line), notes, where, consequences."""
    a, b = _show(e["old"], digits), _show(e["new"], digits)
    head = indent + _pad(name, width) + "  "
    pad = " " * display_width(head)
    note = _follows_note(e)
    parts, paths = e.get("parts", []), e.get("parts_at", [])
    whole_fits = display_width(a) + display_width(b) <= _INLINE
    if e["kind"] in ("added", "removed"):
        out = [f"{head}{b if e['kind'] == 'added' else a}"]
    elif parts and (not whole_fits or all(not p for p in paths)):
        # long expressions: the smallest changed subexpressions; amounts: as written
        rows = [f"{(paths[i] + ':  ') if i < len(paths) and paths[i] else ''}{o} → {w}" for i, (o, w) in enumerate(parts)]
        out = [f"{head}{rows[0]}", *(f"{pad}{r}" for r in rows[1:])]
        if show_all and not whole_fits:
            out += [f"{pad}- {a}", f"{pad}+ {b}"]
    elif whole_fits:
        out = [f"{head}{a} → {b}"]
    else:
        out = [f"{head}- {a}", f"{pad}+ {b}"]
    if note and len(out) == 1:
        out[0] += f"; {note}"
    elif note:
        out.append(f"{pad}{note}")
    out += [f"{pad}{x}" for x in extra or []]
    return out + [f"{pad}{_locs(e)}"] + _follow_lines(e, pad, digits, show_all)


def _follow_lines(e: dict, pad: str, digits: int | None, show_all: bool) -> list[str]:
    """With ``--all``: each consequence, ``↳ node field old → new``, its own nested below it."""
    if not show_all:
        return []
    out = []
    for f in e.get("follows", []):
        name = f"↳ {f['node']} {f['field']}" if f["scope"] != "ruleset" else f"↳ {f['field']}"
        out += _pair_lines(name, f, indent=pad, digits=digits, show_all=show_all)
    return out


def facts_line(im: dict) -> str:
    """Which facts each side scored."""
    f = im["facts"]
    return f"both rule sets on {f['old']}" if f["same"] else f"old rules on {f['old']}, new rules on {f['new']}"


def _rate_moved(x: dict) -> bool:
    """A node whose score rate differs between the two sides (a node on one side only has none)."""
    return x.get("rate_change") not in (None, 0)


def _impact_text(doc: dict, top: int | None) -> list[str]:
    im = doc["impact"]
    d = im["digits"]["new"]
    total = next((x for x in im["nodes"] if x["id"] == "total"), None)
    units = {u["code"]: u for u in im["units"]}
    both = [u for u in im["units"] if u.get("present", "both") == "both"]
    up = sum(1 for u in both if (u["rank_change"] or 0) > 0)
    down = sum(1 for u in both if (u["rank_change"] or 0) < 0)
    where = f"on {im['facts']['old']}" if im["facts"]["same"] else "of two years' facts"
    lines = ["", f"Impact {where}: {im['units_scored']} units, scored in {im['seconds']['old']:.2f}s (old) "
             f"and {im['seconds']['new']:.2f}s (new)", f"  facts       {facts_line(im)}"]
    if total is not None:
        lines.append(f"  mean total  {_num(total['mean_old'], im['digits']['old'])} → {_num(total['mean_new'], d)} "
                     f"({_signed(total['mean_change'], d)})")
    lines.append(f"  ranks       {up} up, {down} down, {len(both) - up - down} unchanged")
    for side, key in (("old", "only_old"), ("new", "only_new")):
        if im.get(key):
            names = ", ".join(f"{c} {units[c]['name']}".strip() for c in im[key])
            lines.append(f"  only {side:<7}{len(im[key])} unit(s) scored under the {side} side only: {names}")
    if im["grades"]:
        g = im["grades"]
        keys = list(dict.fromkeys([*(g["old"] or {}), *(g["new"] or {})]))
        lines.append("  grades      " + " · ".join(
            f"{k} {(g['old'] or {}).get(k, '—')} → {(g['new'] or {}).get(k, '—')}" for k in keys))
        moved = sum(1 for u in both if u["grade_old"] != u["grade_new"])
        lines.append(f"              {moved} unit(s) changed grade")
    if im.get("transitions"):
        t = im["transitions"]
        lines += ["", "Grade transitions (units; rows: old grade, columns: new grade)"]
        lines += _table([["old \\ new", *t["new"]]] + [[a, *map(str, row)] for a, row in zip(t["old"], t["counts"])],
                        right=set(range(1, len(t["new"]) + 1)))
    for title, keep in (("Indicators whose score rate moved most", lambda x: x["kind"] == "indicator"),
                        ("Points whose score rate moved most", lambda x: x["kind"] != "indicator")):
        kept = [x for x in im["nodes"] if keep(x)]
        rows = [x for x in kept if _rate_moved(x)][:top]
        if kept:
            lines += ["", title]
        if rows:
            lines += _table([["node", "label", "rate old", "rate new", "change", "mean old", "mean new", "change",
                              "scale"]] + [_node_row(x, im) for x in rows], right={2, 3, 4, 5, 6, 7, 8})
        if kept:
            still = sum(not _rate_moved(x) for x in kept)
            lines.append(f"  … and {still} more whose rate did not move" if rows and still else
                         "  none: every rate is the same under both" if not rows else "")
            if lines[-1] == "":
                lines.pop()
    for title, key in (("Units whose rank moved most", "rank"), ("Units whose total moved most", "total")):
        rows = [units[c] for c in im["movers"][key]]
        lines += ["", title]
        if rows:
            lines += _table([_unit_head(im)] + [_unit_row(u, im) for u in rows], right={2, 3, 4, 5, 6, 7})
        else:
            lines.append("  none")
    return lines


def _node_row(x: dict, im: dict) -> list[str]:
    do, dn = im["digits"]["old"], im["digits"]["new"]
    scale = _show(x["scale_new"]) if x["scale_old"] == x["scale_new"] else f"{_show(x['scale_old'])} → {_show(x['scale_new'])}"
    return [_node_name(x), x["label"], _pct(x["rate_old"], do), _pct(x["rate_new"], dn), _pp(x["rate_change"], dn),
            _num(x["mean_old"], do), _num(x["mean_new"], dn), _signed(x["mean_change"], dn), scale]


def _node_name(x: dict) -> str:
    return x["id"] if x["old_id"] == x["id"] else f"{x['old_id']}→{x['id']}"


def _pct(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def _pp(v: float | None, digits: int = 2) -> str:
    """A change of rate in percentage points."""
    return "—" if v is None else (f"{v * 100:+.{digits}f}" if round(v * 100, digits) else f"{0:.{digits}f}") + " pp"


def _unit_head(im: dict) -> list[str]:
    head = ["code", "name", "total old", "total new", "change", "rank old", "rank new", "change"]
    return head + (["grade"] if im["grades"] else [])


def _unit_row(u: dict, im: dict) -> list[str]:
    do, dn = im["digits"]["old"], im["digits"]["new"]
    row = [u["code"], u["name"], _num(u["total_old"], do), _num(u["total_new"], dn), _signed(u["total_change"], dn),
           _show(u["rank_old"]), _show(u["rank_new"]), _signed(u["rank_change"])]
    if im["grades"]:
        row.append(f"{u['grade_old'] or '—'} → {u['grade_new'] or '—'}")
    return row


# ------------------------------------------------------------------ markdown


def _md_cell(v: object, code: bool = False) -> str:
    s = _show(v).replace("|", "\\|").replace("\n", " ")
    return f"`{s}`" if code and v is not None else s


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def render_md(doc: dict, top: int | None = 10, show_all: bool = False) -> str:
    """Markdown for a review: a summary line, then one table per kind of edit, then the impact.
    Consequences are counted, and listed (``↳``) with ``show_all``."""
    c = doc["counts"]
    digits = doc["new"].get("digits")
    folded = _folded(doc["edits"])
    lines = [f"## Rule changes: `{doc['old']['rules']}` → `{doc['new']['rules']}`", "", _names(doc), "",
             f"`{hashes_line(doc).replace('hashes      ', 'hashes: ')}`", "",
             f"**{_n(sum(c.values()), 'edit')}**: " + " · ".join(f"{c[k]} {k}" for k in KIND_ORDER)
             + (f" · {_n(folded, 'consequence')} folded" if folded else ""), ""]
    header, tables, tree = _groups(doc["edits"])
    if header or tables:
        lines += ["### Rule set, tables, markers, cleaning and statistics" if any(e["scope"] == "statistic" for e in tables)
                  else "### Rule set, tables, markers and cleaning", ""]
        lines += _md_table(["what", "field", "old", "new", "where"], [
            [_md_cell(e["node"] if e["scope"] != "ruleset" else "ruleset"), *_md_change(e, digits, show_all)]
            for e in _with_follows(header + tables, show_all)])
    if lets := _lets(doc["edits"]):
        lines += [f"### Lets and functions ({len(lets)})", ""]
        lines += _md_table(["name", "kind", "old", "new", "affects", "where"], [
            [f"`{e['node']}`", f"{e['kind']} {e['scope']}", *_md_change(e, digits, show_all)[1:3],
             _md_cell(", ".join(e.get("affects", []))), _md_cell(_locs(e))] for e in lets])
    for k in ("added", "removed"):
        if tree[k]:
            lines += [f"### {_TITLES[k]} ({len(tree[k])})", ""]
            lines += _md_table(["id", "label", "kind", "max", "under", "where"], [
                [f"`{e['node']}`", _md_cell(e["label"]), s["kind"], _show(s["max"], digits), f"`{s['parent']}`",
                 _md_cell(_locs(e))] for e in tree[k] for s in [e["new"] if k == "added" else e["old"]]])
    for k in ("renamed", "moved"):
        if tree[k]:
            lines += [f"### {_TITLES[k]} ({len(tree[k])})", ""]
            lines += _md_table(["id", "label", "old" + (" id" if k == "renamed" else " parent"),
                                "new" + (" id" if k == "renamed" else " parent"),
                                *(["evidence"] if k == "renamed" else []), "where"], [
                [f"`{e['node']}`", _md_cell(e["label"]), f"`{e['old']}`", f"`{e['new']}`",
                 *([_md_cell(e.get("evidence") or None)] if k == "renamed" else []), _md_cell(_locs(e))]
                for e in tree[k]])
    if tree["changed"]:
        lines += [f"### {_TITLES['changed']} ({len(tree['changed'])})", ""]
        lines += _md_table(["id", "label", "field", "old", "new", "where"], [
            [f"`{e['node']}`", _md_cell(e["label"]), *_md_change(e, digits, show_all)]
            for e in _with_follows(tree["changed"], show_all)])
    if "impact" in doc:
        lines += _impact_md(doc["impact"], top)
    return "\n".join(lines).rstrip("\n") + "\n"


_CODE = {"probe", "score", "valid when", "values", "range", "type", "when", "value", "not_applicable", "error"}


def _with_follows(edits: list[dict], show_all: bool) -> list[dict]:
    """``edits``, each followed (with ``show_all``) by its consequences, their field marked ``↳``."""
    out = []
    for e in edits:
        out.append(e)
        if show_all:
            out += [{**f, "field": f"↳ {f['node']} {f['field']}" if f["scope"] != "ruleset" else f"↳ {f['field']}"}
                    for f in _with_follows(e.get("follows", []), True)]
    return out


def _md_change(e: dict, digits: int | None, show_all: bool) -> list[str]:
    """The cells field, old, new and where of a changed setting: long expressions by their
    changed parts (``path: `old```), amounts as written, notes on what follows after the field."""
    field = (e["field"] or "") + (f" ({note})" if (note := _follows_note(e)) else "")
    code = e["field"] in _CODE or e["scope"] in ("let", "function")
    a, b = _show(e["old"], digits), _show(e["new"], digits)
    parts, paths = e.get("parts", []), e.get("parts_at", [])
    if parts and not show_all and (display_width(a) + display_width(b) > _INLINE or not any(paths)):
        def side(i: int) -> str:
            return "; ".join((f"{paths[k]}: " if k < len(paths) and paths[k] else "") + f"`{p[i]}`".replace("|", "\\|")
                             for k, p in enumerate(parts))
        return [_md_cell(field), side(0), side(1), _md_cell(_locs(e))]
    return [_md_cell(field), _md_cell(None if e["old"] is None else a, code), _md_cell(None if e["new"] is None else b, code),
            _md_cell(_locs(e))]


def _impact_md(im: dict, top: int | None) -> list[str]:
    units = {u["code"]: u for u in im["units"]}
    head = f"### Impact on `{im['facts']['old']}`" if im["facts"]["same"] else "### Impact of two years' facts"
    lines = [f"{head} ({im['units_scored']} units)", "", f"Facts: {_md_cell(facts_line(im))}.", ""]
    for side, key in (("old", "only_old"), ("new", "only_new")):
        if im.get(key):
            lines += [f"Scored under the {side} side only ({len(im[key])}): "
                      + ", ".join(_md_cell(f"{c} {units[c]['name']}".strip()) for c in im[key]) + ".", ""]
    if im["grades"]:
        g = im["grades"]
        keys = list(dict.fromkeys([*(g["old"] or {}), *(g["new"] or {})]))
        lines += _md_table(["grade", *keys], [["old", *[_show((g["old"] or {}).get(k)) for k in keys]],
                                              ["new", *[_show((g["new"] or {}).get(k)) for k in keys]]])
    if im.get("transitions"):
        t = im["transitions"]
        lines += ["#### Grade transitions (rows: old grade, columns: new grade)", ""]
        lines += _md_table(["old \\ new", *t["new"]], [[a, *map(str, row)] for a, row in zip(t["old"], t["counts"])])
    lines += ["#### Nodes whose score rate moved most", ""]
    lines += _md_table(["node", "label", "kind", "rate old", "rate new", "change", "mean old", "mean new", "change",
                        "scale"], [[f"`{_node_name(x)}`", _md_cell(x["label"]), x["kind"], *_node_row(x, im)[2:]]
                                   for x in [y for y in im["nodes"] if _rate_moved(y)][:top]])
    for title, key in (("Units whose rank moved most", "rank"), ("Units whose total moved most", "total")):
        lines += [f"#### {title}", ""]
        rows = [_unit_row(units[c], im) for c in im["movers"][key]]
        lines += _md_table(_unit_head(im), rows) if rows else ["none", ""]
    return lines
