"""The document of ``govindex diff`` → one self-contained HTML page for reviewers.

It reads only the plain document the other formats render (``edits`` as
:meth:`govindex.versions.diff.Edit.to_json` writes them — the newer keys ``evidence``,
``follows``, ``affects`` and ``parts`` read with defaults —, ``impact``, and ``tree``: each side's
nodes as rows), plus the rule files the edits point at, for the source excerpts. Three sections:

* **tree** — the new rule set's indicator tree with every change marked by a badge (added,
  removed, renamed, moved, changed, and "affected" on the points a ``let`` change affects), each
  badge a link to its change; a removed node is drawn, struck through, where it stood in the old
  tree;
* **changes** — one card per edit: what changed (old → new), the evidence of a rename, the
  consequences folded under it, the nodes a ``let`` change affects, and both source excerpts side
  by side (a few lines around ``old_at`` and ``new_at``, the line itself highlighted, the changed
  subexpressions — ``parts`` — marked in it);
* **impact** (with ``--facts``) — rank shifts (a histogram of rank changes and the units that
  moved most), grade transitions as a matrix, the nodes whose score rate moved most.

No network: inline CSS and SVG, no script. The page's language follows the labels: ``zh-CN`` when
they are written in Chinese, else ``en``; captions are bilingual either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from markupsafe import Markup

from govindex.provenance import short
from govindex.report import charts as ch

KINDS = ("added", "removed", "renamed", "moved", "changed")
TREE_SCOPES = ("indicator", "point", "ref")
KIND_LABELS = {"added": "新增 added", "removed": "删除 removed", "renamed": "更名 renamed", "moved": "移动 moved",
               "changed": "修改 changed", "affected": "受影响 affected"}
AROUND = 2  # lines of context on each side of the line an edit points at
UP, DOWN, SAME = "#009E73", "#D55E00", "#7f7f7f"
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Excerpt:
    """A few lines of a rule file around ``line``: (number, markup) pairs."""

    at: str
    lines: list[tuple[int, Markup]]
    line: int
    missing: bool = False


@dataclass
class Change:
    """One edit on the page."""

    anchor: str
    kind: str
    scope: str
    node: str
    label: str
    field: str | None
    old: str
    new: str
    evidence: str
    affects: list[str]
    parts: list[tuple[str, str]]
    follows: list[str]
    excerpts: list[Excerpt | None]  # [old, new]; None for the side that has none


@dataclass
class TreeRow:
    id: str
    label: str
    kind: str
    max: str
    depth: int
    badges: list[tuple[str, str]] = field(default_factory=list)  # (kind, anchor)
    removed: bool = False


def page(doc: dict, top: int | None = 10, read: Callable[[str], list[str] | None] | None = None) -> str:
    """The whole page for the diff document ``doc`` (with its ``tree``); ``read`` gives a rule file's
    lines by path (default: read from disk, relative to the working directory)."""
    return render(context(doc, top, read or _reader()))


def render(ctx: dict) -> str:
    """Fill ``templates/diff.html.j2`` (autoescaped: labels and sources cannot inject markup)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("govindex.report", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("diff.html.j2").render(**ctx)


def context(doc: dict, top: int | None, read: Callable[[str], list[str] | None]) -> dict:
    """The template context: title, cards, tree rows, change cards and impact figures."""
    changes = [_change(k, e, read) for k, e in enumerate(doc["edits"])]
    tree = tree_rows(doc.get("tree") or {"old": [], "new": []}, doc["edits"], changes)
    labels = " ".join(r["label"] for r in (doc.get("tree") or {}).get("new", []))
    c = doc["counts"]
    cards = [("规则集 Rule sets", f"{doc['old']['ruleset']} → {doc['new']['ruleset']}"),
             ("变化 Edits", f"{sum(c.values())}: " + " · ".join(f"{c[k]} {k}" for k in KINDS))]
    if "hash" in doc["old"]:  # which method each side is (docs §16)
        cards.append(("方法版本 Rule-set hashes", f"{short(doc['old']['hash'])} → {short(doc['new'].get('hash'))}"))
    im = doc.get("impact")
    if im:
        f = im["facts"]
        cards.append(("数据 Facts", f"both: {f['old']}" if f["same"] else f"old: {f['old']} · new: {f['new']}"))
        if "facts_hash" in doc["old"]:
            cards.append(("数据版本 Facts hashes", f"{short(doc['old']['facts_hash'])} → {short(doc['new'].get('facts_hash'))}"))
        cards.append(("评价单位 Units", f"{im['units_scored']} in both"
                      + (f" · {len(im['only_old'])} old only" if im.get("only_old") else "")
                      + (f" · {len(im['only_new'])} new only" if im.get("only_new") else "")))
    return {"lang": "zh-CN" if _CJK.search(labels) else "en",
            "title": f"{doc['old']['rules']} → {doc['new']['rules']}", "cards": cards, "counts": c, "kinds": KINDS,
            "kind_labels": KIND_LABELS, "tree": tree, "changes": changes,
            "impact": impact_figures(im, top) if im else None}


# --- changes and their source excerpts ---------------------------------------------------------


def _reader() -> Callable[[str], list[str] | None]:
    cache: dict[str, list[str] | None] = {}

    def read(path: str) -> list[str] | None:
        if path not in cache:
            try:
                cache[path] = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                cache[path] = None
        return cache[path]
    return read


def _text(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _change(k: int, e: dict, read: Callable[[str], list[str] | None]) -> Change:
    parts = [(str(a), str(b)) for a, b in e.get("parts") or ()]
    olds, news = [a for a, _ in parts], [b for _, b in parts]
    follows = [_follow_text(f) for f in e.get("follows") or ()]
    return Change(f"edit-{k}", e["kind"], e["scope"], e["node"], e.get("label") or "", e.get("field"),
                  _text(e.get("old")), _text(e.get("new")), e.get("evidence") or "", list(e.get("affects") or ()),
                  parts, follows, [excerpt(e.get("old_at"), read, olds), excerpt(e.get("new_at"), read, news)])


def _follow_text(f: dict) -> str:
    what = " ".join(x for x in (f.get("node") or "", f.get("field") or "") if x)
    return f"{f.get('kind', '')} {what}: {_text(f.get('old'))} → {_text(f.get('new'))}"


def excerpt(at: str | None, read: Callable[[str], list[str] | None], marks: list[str] | None = None,
            around: int = AROUND) -> Excerpt | None:
    """The lines of ``at`` (``path:line``) ± ``around``; ``marks`` (changed subexpressions) are
    wrapped in ``<mark>`` on the lines shown. None when there is no ``at``."""
    if not at or ":" not in at:
        return None
    path, _, num = at.rpartition(":")
    if not num.isdigit():
        return None
    line, text = int(num), read(path)
    if text is None or not 1 <= line <= len(text):
        return Excerpt(at, [], line, missing=True)
    lo, hi = max(1, line - around), min(len(text), line + around)
    return Excerpt(at, [(i, _marked(text[i - 1], marks or [])) for i in range(lo, hi + 1)], line)


def _marked(s: str, marks: list[str]) -> Markup:
    """``s`` escaped, every occurrence of a non-empty mark wrapped in ``<mark class="part">``."""
    found = [m for m in sorted(set(marks), key=len, reverse=True) if m and m.strip() and m in s]
    if not found:
        return Markup(escape(s))
    pattern = re.compile("|".join(re.escape(m) for m in found))
    out, pos = [], 0
    for hit in pattern.finditer(s):
        out += [escape(s[pos:hit.start()]), f'<mark class="part">{escape(hit.group())}</mark>']
        pos = hit.end()
    return Markup("".join(out) + escape(s[pos:]))


# --- the tree ----------------------------------------------------------------------------------


def tree_rows(tree: dict, edits: list[dict], changes: list[Change]) -> list[TreeRow]:
    """The new tree in rule order, with removed nodes (and their removed subtrees) placed under
    their old parent (or its new self) right after the sibling that preceded them there."""
    new, old = tree["new"], tree["old"]
    renamed = {e["old"]: e["new"] for e in edits if e["kind"] == "renamed" and e["scope"] in TREE_SCOPES}
    removed_ids = {e["node"] for e in edits if e["kind"] == "removed" and e["scope"] in TREE_SCOPES}
    badges: dict[tuple[bool, str], list[tuple[str, str]]] = {}
    for e, c in zip(edits, changes):
        if e["scope"] in TREE_SCOPES:
            key = (e["kind"] == "removed", e["node"])
            if (e["kind"], c.anchor) not in badges.get(key, []) and all(k != e["kind"] for k, _ in badges.get(key, [])):
                badges.setdefault(key, []).append((e["kind"], c.anchor))
    for e, c in zip(edits, changes):  # a let or function change: the nodes it affects point at it
        for node in e.get("affects") or ():
            if all(k != "affected" for k, _ in badges.get((False, node), [])):
                badges.setdefault((False, node), []).append(("affected", c.anchor))
    kids: dict[str | None, list[tuple[bool, dict]]] = {}
    for r in new:
        kids.setdefault(r["parent"], []).append((False, r))
    for r in old:  # removed nodes, in old order, after their old preceding sibling
        if r["id"] not in removed_ids:
            continue
        p = r["parent"] if r["parent"] in removed_ids else renamed.get(r["parent"], r["parent"])
        sibs = kids.setdefault(p, [])
        before = [s["id"] for s in old if s["parent"] == r["parent"]]
        prev = before[:before.index(r["id"])]
        at = 0
        for i, (gone, s) in enumerate(sibs):
            if (s["id"] if gone else _old_id(s["id"], renamed)) in prev:
                at = i + 1
        sibs.insert(at, (True, r))
    rows: list[TreeRow] = []

    def walk(parent: str | None, depth: int) -> None:
        for gone, r in kids.get(parent, []):
            rows.append(TreeRow(r["id"], r["label"], r["kind"], _text(r["max"]), depth,
                                badges.get((gone, r["id"]), []), gone))
            walk(r["id"], depth + 1)
    roots = [r for r in new if r["parent"] is None]
    for r in roots:  # the total is the root: its children are the L1
        rows.append(TreeRow(r["id"], r["label"], r["kind"], _text(r["max"]), 0, badges.get((False, r["id"]), [])))
        walk(r["id"], 1)
    return rows


def _old_id(new_id: str, renamed: dict[str, str]) -> str:
    return next((o for o, w in renamed.items() if w == new_id), new_id)


# --- impact figures ------------------------------------------------------------------------------


def impact_figures(im: dict, top: int | None) -> dict:
    """Charts and small tables of the impact: rank shifts, grade transitions, rates that moved."""
    units = {u["code"]: u for u in im["units"]}
    both = [u for u in im["units"] if u.get("present", "both") == "both" and u["rank_change"] is not None]
    charts = [rank_histogram([u["rank_change"] for u in both])]
    movers = [units[c] for c in im["movers"]["rank"]]
    if movers:
        charts.append(ch.diverging("chart-rank-movers", "排名变化最大的单位 Units whose rank moved most",
                                   "排名上升（右）或下降（左）最多的单位。", [
                                       ch.Bar(u["name"] or u["code"], u["rank_change"], UP if u["rank_change"] > 0 else DOWN,
                                              f"{u['rank_change']:+d}",
                                              f"{u['name']}：{u['rank_old']} → {u['rank_new']}（{u['rank_change']:+d}）")
                                       for u in movers]))
    if im.get("transitions"):
        charts.append(transition_matrix(im["transitions"]))
    nodes = [x for x in im["nodes"] if x["rate_change"] is not None and x["id"] != "total"][:top]
    if nodes:
        d = im["digits"]["new"]
        charts.append(ch.diverging("chart-node-rates", "得分率变化最大的节点 Nodes whose score rate moved most",
                                   "按得分率（均分 / 满分）变化排序，单位：百分点。", [
                                       ch.Bar(x["label"] or x["id"], x["rate_change"] * 100,
                                              UP if x["rate_change"] >= 0 else DOWN,
                                              f"{x['rate_change'] * 100:+.{d}f} pp",
                                              f"{x['label']} ({x['id']})：{_pct(x['rate_old'], d)} → {_pct(x['rate_new'], d)}",
                                              strong=x["kind"] == "indicator")
                                       for x in nodes]))
    only = [(side, units[c], _num(units[c][f"total_{side}"], im["digits"][side]))
            for side, key in (("old", "only_old"), ("new", "only_new")) for c in im.get(key) or ()]
    return {"charts": charts, "only": only,
            "summary": {"up": sum(u["rank_change"] > 0 for u in both), "down": sum(u["rank_change"] < 0 for u in both),
                        "same": sum(u["rank_change"] == 0 for u in both),
                        "regraded": sum(u["grade_old"] != u["grade_new"] for u in both)}}


def _num(v: float | None, d: int) -> str:
    return "—" if v is None else f"{v:.{d}f}"


def _pct(v: float | None, d: int) -> str:
    return "—" if v is None else f"{v * 100:.{d}f}%"


def rank_histogram(changes: list[int]) -> ch.Chart:
    """Units per rank change (binned when the changes spread wide): up green, down red, 0 grey."""
    left, right, top, bottom, h = 48, 16, 24, 48, 260
    lo, hi = min(changes, default=0), max(changes, default=0)
    width = max(1, -(-(hi - lo + 1) // 40))  # at most ~40 bars
    bins: dict[int, int] = {}
    for v in changes:
        b = v if width == 1 else (v // width) * width
        bins[b] = bins.get(b, 0) + 1
    # at least −3 … +3, so that a lone bar of unmoved units does not fill the chart
    keys = list(range(min(min(bins, default=0), -3 * width), max(max(bins, default=0), 3 * width) + 1, width))
    peak = max(bins.values(), default=1)
    step = (ch.W - left - right) / len(keys)
    py = lambda c: top + (peak - c) / peak * (h - top - bottom)  # noqa: E731
    body = [ch._line(left, py(0), ch.W - right, py(0), ch.INK)]
    for t in (range(peak + 1) if peak <= 5 else ch.ticks(0, peak, 4)):  # counts: whole ticks
        body += [ch._line(left, py(t), ch.W - right, py(t)), ch._text(left - 6, py(t) + 4, f"{t:g}", "end", "tick")]
    for i, b in enumerate(keys):
        k = bins.get(b, 0)
        name = f"{b:+d}" if width == 1 else f"{b:+d}…{b + width - 1:+d}"
        colour = SAME if b == 0 and width == 1 else UP if b > 0 else DOWN
        if k:
            body.append(ch._rect(left + i * step + 1, py(k), step - 2, py(0) - py(k), colour, f"{name}: {k}"))
        if len(keys) <= 20 or i % max(1, len(keys) // 10) == 0:
            body.append(ch._text(left + (i + 0.5) * step, h - bottom + 16, name, "middle", "tick"))
    body.append(ch._text((left + ch.W - right) / 2, h - bottom + 36, "排名变化 rank change (+ = up)", "middle", "axis"))
    body.append(ch._text(10, top - 10, "单位数 units", cls="axis"))
    return ch.svg("chart-rank-shifts", h, "排名变化分布 Rank shifts",
                  f"{len(changes)} 个单位的排名变化：上升 {sum(v > 0 for v in changes)}，下降 "
                  f"{sum(v < 0 for v in changes)}，不变 {sum(v == 0 for v in changes)}。", body)


def transition_matrix(t: dict) -> ch.Chart:
    """Units by old grade (rows) × new grade (columns), the count in each cell, the diagonal framed."""
    left, top, cell_w, cell_h = 120, 56, 90, 34
    body = [ch._text(left + len(t["new"]) * cell_w / 2, 18, "新等级 new grade", "middle", "axis"),
            ch._text(12, top - 8, "原等级 old grade", cls="axis")]
    peak = max((c for row in t["counts"] for c in row), default=0) or 1
    for j, g in enumerate(t["new"]):
        body.append(ch._text(left + (j + 0.5) * cell_w, top - 8, g, "middle", "label"))
    for i, (g, row) in enumerate(zip(t["old"], t["counts"])):
        y = top + i * cell_h
        body.append(ch._text(left - 10, y + cell_h / 2 + 4, g, "end", "label"))
        for j, c in enumerate(row):
            x = left + j * cell_w
            body.append(ch._rect(x + 1, y + 1, cell_w - 2, cell_h - 2, ch._blue(c / peak) if c else "#f4f6f8",
                                 f"{g} → {t['new'][j]}: {c}", "cell"))
            if t["new"][j] == g:
                body.append(f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2}" height="{cell_h - 2}" '
                            f'fill="none" stroke="{ch.INK}" stroke-width="1.5"/>')
            body.append(ch._text(x + cell_w / 2, y + cell_h / 2 + 5, str(c), "middle", "count",
                                 f' fill="{"#fff" if c / peak > 0.5 else ch.INK}"'))
    moved = sum(c for i, row in enumerate(t["counts"]) for j, c in enumerate(row) if t["old"][i] != t["new"][j])
    return ch.svg("chart-grade-transitions", top + cell_h * len(t["old"]) + 12, "等级变化矩阵 Grade transitions",
                  f"原等级（行）× 新等级（列）的单位数；{moved} 个单位等级改变。", body)
