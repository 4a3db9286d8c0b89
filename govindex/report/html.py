"""Results (+ their analysis) → one self-contained HTML report: the ``report`` stage.

:func:`build` turns loaded results and the ``analyze`` dict into a template context — summary
cards, sections of inline SVG charts (:mod:`govindex.report.charts`) and tables (the tables of
``analyze``, from :mod:`govindex.analysis.render`, plus the full ranking); :func:`render` fills
``templates/report.html.j2``; :func:`write` puts the page in place atomically. The page needs
nothing from the network: no CDN, no web font, no third-party script (only a few lines of its
own that sort a table when a column header is clicked).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from govindex.analysis.analyze import TOTAL, Results
from govindex.analysis.render import DASH, num, pct, report, signed
from govindex.analysis.render import Table as RenderTable
from govindex.fsio import write_file
from govindex.provenance import summary
from govindex.report.charts import Chart, esc
from govindex.report.profiles import Profile, profiles

ATTR_LABELS = {"province": ("省份", "province"), "macro_region": ("区域", "region"), "region": ("区域", "region")}
WIDE = 9  # a section with a table of more columns prints on a landscape page (@page wide)
LANGUAGES = {"zh": "zh-CN", "en": "en"}  # the rule set's `language:` → the page's lang

# Sections other slices add (e.g. the statistics): functions (results, analysis doc, bi) → a
# Section or None, placed before the full ranking in this order. Append to it; keep it small.
EXTRA_SECTIONS: list = []


class Bi:
    """Bilingual labels in the rule set's order: ``bi("总分", "Total")`` → "总分 Total" for "zh"
    (the default) and "Total 总分" for "en"; ``bi.title`` joins with " · " (headings)."""

    def __init__(self, language: str = "zh") -> None:
        self.language = language if language in LANGUAGES else "zh"

    def __call__(self, zh: str, en: str, sep: str = " ") -> str:
        return f"{zh}{sep}{en}" if self.language == "zh" else f"{en}{sep}{zh}"

    def title(self, zh: str, en: str) -> str:
        return self(zh, en, " · ")


def attr_label(attr: str, bi: Bi) -> str:
    """A registry attribute as a reader names it: ``macro_region`` → 区域 region (never the raw id)."""
    zh, en = ATTR_LABELS.get(attr, (attr, attr.replace("_", " ")))
    return zh if zh == en else bi(zh, en)


@dataclass
class Table:
    """A table of the page: ``rows`` of (text, sort key) cells; a key of "" sorts by the text."""

    caption: str
    columns: list[str]
    rows: list[list[tuple[str, str]]]
    right: set[int] = field(default_factory=set)
    note: str = ""
    tall: bool = False  # scrolls on screen (never in print)
    id: str = ""
    links: list[str] | None = None  # per row: the href of the cell in column ``link_col``
    link_col: int = -1
    search: list[str] | None = None  # per row: the text the search box matches


@dataclass
class Section:
    id: str
    title: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    note: str = ""

    @property
    def wide(self) -> bool:
        """Printed on a landscape page: a table of more than ``WIDE`` columns would be cut on A4."""
        return any(len(t.columns) > WIDE for t in self.tables)


SECTIONS = (("distribution", "得分分布与等级", "Distribution of totals and grades"),
            ("national", "全国指标", "National figures"), ("regions", "区域比较", "Regions"),
            ("provinces", "省份比较", "Provinces"), ("profile", "指标得分率", "Score-rate profile"),
            ("statistics", "统计", "Statistics"),  # the rules' `statistic` declarations (analysis/statistics.py)
            ("clusters", "聚类分析", "Clusters"), ("change", "年度变化", "Year over year"),
            ("ranking", "完整排名", "Full ranking"), ("units", "单位档案", "Unit profiles"),
            ("corrections", "更正与申诉", "Corrections"), ("more", "其他", "More tables"))


def build(res: Results, doc: dict, previous: Results | None = None, rounds: list | None = None,
          generated: str | None = None, corrections: list[dict] | None = None, language: str = "zh") -> dict:
    """The template context: title, summary cards, sections (charts, tables, unit profiles) and
    notes; ``corrections`` (scores.json's, :func:`corrections_of`) make a section of their own;
    ``language`` (the rule set's, :func:`language_of`) orders every bilingual label."""
    bi = Bi(language)
    sections = {k: Section(k, bi.title(zh, en)) for k, zh, en in SECTIONS}
    _charts(sections, res, doc, bi)
    tables = report(doc, members=None)
    for t in tables.tables:
        sections[_route(t.title, doc)].tables.append(_table(t, doc, bi))
    sections["ranking"].tables.append(_ranking(res, doc, previous, bi))
    sections["units"].profiles = profiles(res, doc["province_attr"], previous) if doc["units_scored"] else []
    sections["units"].note = bi("点击单位展开其档案；打印时只打印已展开的档案。",
                                "Click a unit to open its profile; only opened profiles are printed.")
    if corrections:
        sections["corrections"].tables.append(_corrections(corrections))
    extra = [got for hook in EXTRA_SECTIONS if (got := hook(res, doc, bi)) is not None]
    order = [*list(sections.values())[:7], *extra, *list(sections.values())[7:]]
    cards = _cards(doc, rounds, generated, bi) + ([(bi("更正", "Corrections"), str(len(corrections)))]
                                                  if corrections else [])
    return {"title": doc["ruleset"], "cards": cards, "notes": [_plain_note(n, res) for n in tables.notes],
            "sections": [s for s in order if s.charts or s.tables or s.profiles], "lang": LANGUAGES[bi.language],
            "profile_columns": _profile_columns(bi, previous is not None), "bi": bi,
            "provenance": provenance_rows(res.provenance, previous.provenance if previous is not None else None),
            "sd": doc.get("sd", "population"), "from_published": doc.get("from_published")}


def language_of(results_dir: Path) -> str:
    """The rule set's ``language:`` from ``scores.json`` ("zh" when absent: results before it existed)."""
    try:
        got = json.loads((results_dir / "scores.json").read_text(encoding="utf-8")).get("language")
    except (OSError, ValueError, AttributeError):
        return "zh"
    return got if got in LANGUAGES else "zh"


def _profile_columns(bi: Bi, previous: bool) -> list[str]:
    cols = [bi("指标", "Indicator"), bi("得分", "Score"), bi("得分率", "Rate"), bi("排名", "Rank"),
            bi("全国平均得分率", "National mean rate"), bi("本省平均得分率", "Province mean rate")]
    return cols + [bi("较上年", "Change")] if previous else cols


def _plain_note(note: str, res: Results) -> str:
    """A note of ``analyze`` with indicator ids replaced by their names ("…: key_matters" → "…: 重点事项响应度")."""
    head, sep, tail = note.rpartition(": ")
    names = {x["id"]: x["name"] for x in res.indicators}
    items = tail.split(", ")
    if not sep or not all(i in names for i in items):
        return note
    return f"{head}{sep}{', '.join(f'{names[i]}' for i in items)}"


def provenance_rows(current: dict | None, previous: dict | None = None) -> list[tuple[str, ...]]:
    """The 数据来源与方法版本 block: (label, these results[, the previous]) rows — engine, rule set
    and its short hash, facts short hash with files and rows, overrides, time. Empty when neither
    side carries provenance (results written before govindex recorded it)."""
    if current is None and previous is None:
        return []
    sides = [summary(p) if p is not None else None for p in ([current, previous] if previous is not None else [current])]

    def row(label: str, show) -> tuple[str, ...]:
        return (label, *[show(s) if s is not None else DASH for s in sides])
    return [row("引擎 Engine", lambda s: s["engine"]),
            row("规则集 Rule set", lambda s: f"{s['ruleset']} · {s['ruleset_hash']}"),
            row("数据 Facts", lambda s: f"{s['facts_hash']} · {s['files']} 个文件 files · "
                                      f"{sum(v or 0 for v in s['rows'].values()):,} 行 rows"),
            row("各表行数 Rows by table", lambda s: ", ".join(f"{t} {v:,}" for t, v in s["rows"].items() if v is not None)
                or DASH),
            row("更正 Overrides applied", lambda s: str(s["overrides"])),
            row("计算时间 Scored at (UTC)", lambda s: s["time"] or DASH)]


def render(context: dict) -> str:
    """Fill the page template (autoescaped: names in the data cannot inject markup)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("govindex.report", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(**context)


def write(path: Path, html: str) -> Path:
    """Write the page atomically (:func:`govindex.fsio.write_file`): never half a page, never over
    a device, a FIFO or a symbolic link."""
    return write_file(path, html)


def rounds_of(results_dir: Path) -> list | None:
    """The rounds scored, from ``scores.json`` (the loaded results do not keep them)."""
    try:
        return json.loads((results_dir / "scores.json").read_text(encoding="utf-8")).get("rounds")
    except (OSError, ValueError, AttributeError):
        return None


def corrections_of(results_dir: Path) -> list[dict]:
    """The overrides scoring applied (scores.json ``corrections``; none in older results)."""
    try:
        got = json.loads((results_dir / "scores.json").read_text(encoding="utf-8")).get("corrections")
    except (OSError, ValueError, AttributeError):
        return []
    return got if isinstance(got, list) else []


def _corrections(rows: list[dict]) -> Table:
    """One row per override applied: unit, point, round, old → new, reason, by, at, reference."""
    def shown(v: object, status: object) -> str:
        text = DASH if v is None else f"{float(v):g}"  # type: ignore[arg-type]  # as entered: 0.5, 1
        return text if status == "ok" else f"{text} ({status})"

    body = [[(f"{c.get('unit_name') or ''} ({c['unit']})", ""), (f"{c.get('point_name') or ''} ({c['point']})", ""),
             (str(c["round"]), str(c["round"])),
             (f"{shown(c['old_value'], c['old_status'])} → {shown(c['new_value'], c['new_status'])}", ""),
             (c["reason"], ""), (c["by"], ""), (c["at"], ""), (c.get("reference") or DASH, "")] for c in rows]
    return Table(f"更正与申诉 Corrections（{len(rows)} 项，FACTS/overrides.csv，评分时已计入 applied at scoring）",
                 ["单位 Unit", "指标点 Point", "轮次 Round", "原值 → 新值 Old → new", "理由 Reason", "决定人 By",
                  "日期 At", "依据 Reference"], body, {2})


# --- summary and routing ---------------------------------------------------------------------


def _cards(doc: dict, rounds: list | None, generated: str | None, bi: Bi) -> list[tuple[str, str]]:
    total = doc["indicators"][0]
    cards = [(bi("规则集", "Rule set"), doc["ruleset"]),
             (bi("评价单位", "Units scored"), f"{doc['units_scored']} / {doc['units_total']}"),
             (bi("轮次", "Rounds"), f"{len(rounds)} ({', '.join(map(str, rounds))})" if rounds else DASH),
             (bi("平均总分", "Mean total"), f"{num(total['mean'])} / {num(doc['max_total'])} ({pct(total['rate'])})")]
    if total["highest"]:
        cards.append((bi("最高 · 最低", "Highest · lowest"), f"{total['highest']['name']} {num(total['highest']['score'])}"
                      f" · {total['lowest']['name']} {num(total['lowest']['score'])}"))
    if doc["grading"]:
        cards.append((bi("等级", "Grades"), " · ".join(f"{c['id']} {c['count']}" for c in doc["grading"]["classes"])))
    if doc["previous"]:
        cards.append((bi("对比", "Compared with"), doc["previous"]["ruleset"]))
    cards.append((bi("生成日期", "Date"), generated or dt.date.today().isoformat()))
    return cards


# The Chinese of each ``analyze`` table title; {0}, {1}: the groups of the match (an attribute id
# among them is shown by its label, never raw).
CAPTIONS = ((r"National figures", "全国指标"), (r"Distribution", "分布"),
            (r"Means by (\w+) \(share of (.+)\)", "按{0}的均值（占{1}的比例）"), (r"Means by (\w+)", "按{0}的均值"),
            (r"Dispersion: units and (\w+) means", "离散程度：单位与{0}均值"), (r"SD within each (\w+)", "各{0}内部的标准差"),
            (r"L3 score rates: previous → current", "三级指标得分率：上年 → 本年"), (r"L3 score rates", "三级指标得分率"),
            (r"Clusters: k-means over score rates \(k = (\d+), seed (\d+)\)", "聚类：按得分率的 k 均值（k = {0}，种子 {1}）"),
            (r"Cluster members", "各类成员"), (r"Change since (.+)", "与 {0} 相比的变化"),
            (r"Share of (.+) by (\w+): previous → current", "按{1}占 {0} 的比例：上年 → 本年"),
            (r"Grades: previous → current", "等级：上年 → 本年"), (r"Rose most \(rank\)", "排名上升最多"),
            (r"Fell most \(rank\)", "排名下降最多"), (r"Rose most \(total\)", "总分上升最多"),
            (r"Fell most \(total\)", "总分下降最多"))


def caption(title: str, doc: dict, bi: Bi) -> str:
    """An ``analyze`` table title as the page shows it: bilingual, attribute ids by their labels
    ("Means by macro_region" → "按区域的均值 Means by region"), a grading method in words."""
    attrs = {a for a in (doc["province_attr"], doc["region_attr"]) if a}
    zh_of = {a: ATTR_LABELS.get(a, (a, a))[0] for a in attrs}
    en_of = {a: ATTR_LABELS.get(a, (a, a.replace("_", " ")))[1] for a in attrs}
    en = re.sub(r"\b(" + "|".join(map(re.escape, sorted(attrs, key=len, reverse=True))) + r")\b",
                lambda m: en_of[m.group(1)], title) if attrs else title
    g = doc["grading"]
    if g and title == f"{g['label'] or 'Grades'} ({g['method']})":
        method = g["method"].replace("_", " ")
        return bi(f"{g['label'] or '等级'}（{method}）", f"Grades ({method})")
    for pattern, zh in CAPTIONS:
        m = re.fullmatch(pattern, title)
        if m:
            return bi(zh.format(*[zh_of.get(x, x) for x in m.groups()]), en)
    return en


def _route(title: str, doc: dict) -> str:
    """The section an ``analyze`` table belongs in, by its title (anything unknown goes to "more")."""
    g = doc["grading"]
    rules = [("Change since", "change"), ("Share of ", "change"), ("L3 score rates: previous", "change"),
             ("Grades: previous", "change"), ("Rose most", "change"), ("Fell most", "change"),
             ("National figures", "national"), ("Distribution", "national"),
             (f"Means by {doc['region_attr']} (share", "regions"), (f"Means by {doc['province_attr']}", "provinces"),
             ("Dispersion", "provinces"), ("SD within", "provinces"), ("L3 score rates", "profile"),
             ("Clusters", "clusters"), ("Cluster members", "clusters"), ("统计 Statistics", "statistics")]
    if g:
        rules.append((f"{g['label'] or 'Grades'} ({g['method']})", "distribution"))
    return next((s for prefix, s in rules if title.startswith(prefix)), "more")


def _table(t: RenderTable, doc: dict, bi: Bi) -> Table:
    tall = len(t.rows) > 40 or any(len(c) > 300 for r in t.rows for c in r)
    attrs = {a for a in (doc["province_attr"], doc["region_attr"]) if a}
    columns = [attr_label(c, bi) if c in attrs else c for c in t.columns]
    return Table(caption(t.title, doc, bi), columns, [[(c, "") for c in r] for r in t.rows], t.right, t.note, tall)


def _ranking(res: Results, doc: dict, previous: Results | None, bi: Bi) -> Table:
    l1 = [x for x in res.indicators if x["level"] == 1]
    attrs = [a for a in (doc["province_attr"], doc["region_attr"]) if a]
    graded = doc["grading"] is not None
    before = {}
    if previous is not None:
        before = {u["code"]: (u.get("rank"), t) for u, t in zip(previous.units, previous.scores[TOTAL])}
    # (header, right-aligned)
    cols = [(bi("排名", "Rank"), True), (bi("代码", "Code"), False), (bi("名称", "Name"), False),
            *[(attr_label(a, bi), False) for a in attrs], (bi("总分", "Total"), True)]
    cols += [(bi("等级", "Grade"), False), (bi("级别", "Sub-level"), False)] if graded else []
    cols += [(x["name"], True) for x in l1]
    if previous is not None:
        cols += [(bi("上年排名", "Previous rank"), True), (bi("排名变化", "Rank change"), True),
                 (bi("总分变化", "Total change"), True)]
    rows, search = [], []
    for i, u in enumerate(res.units):
        total = res.scores[TOTAL][i]
        row = [_cell_int(u.get("rank")), (u["code"], ""), (u["name"], ""),
               *[(str(u.get(a) or DASH), "") for a in attrs], _cell_num(total)]
        if graded:
            row += [(u.get("grade") or DASH, ""), (u.get("sublevel") or DASH, _sub_key(u.get("sublevel")))]
        row += [_cell_num(res.scores[x["id"]][i]) for x in l1]
        if previous is not None:
            p_rank, p_total = before.get(u["code"], (None, float("nan")))
            moved = None if p_rank is None or u.get("rank") is None else p_rank - u["rank"]
            change = None if np.isnan(p_total) or np.isnan(total) else float(total - p_total)
            row += [_cell_int(p_rank), (signed(moved, 0), "" if moved is None else str(moved)),
                    (signed(change), "" if change is None else f"{change:.6f}")]
        rows.append(row)
        search.append(" ".join([u["code"], u["name"], *[str(u.get(a) or "") for a in attrs]]))
    title = bi(f"完整排名（{len(rows)} 个单位，点击列标题排序，点击名称看档案）",
               f"Full ranking ({len(rows)} units; click a column header to sort, a name for its profile)")
    return Table(title, [c for c, _ in cols], rows, {i for i, (_, r) in enumerate(cols) if r}, tall=True, id="ranking-table",
                 links=[f"#unit-{u['code']}" for u in res.units] if doc["units_scored"] else None, link_col=2,
                 search=search)


def _cell_num(v: float) -> tuple[str, str]:
    return (DASH, "") if v is None or np.isnan(v) else (num(float(v)), f"{float(v):.6f}")


def _cell_int(v: int | None) -> tuple[str, str]:
    return (DASH, "") if v is None else (str(v), str(v))


def _sub_key(s: str | None) -> str:
    # A+ before A before A−: sort by class, then +, plain, −.
    if not s:
        return ""
    return s[0] + {"+": "0", "-": "2", "−": "2"}.get(s[1:], "1")


# --- charts ----------------------------------------------------------------------------------


def english_first(c: Chart) -> Chart:
    """A chart titled "中文 English…" retitled "English… 中文" (figures write Chinese first)."""
    m = re.fullmatch(r"(.*?[\u4e00-\u9fff][^A-Za-z]*?) ([A-Z].*)", c.title)
    if not m:
        return c
    title = f"{m.group(2)} {m.group(1)}"
    return replace(c, title=title, markup=c.markup.replace(f">{esc(c.title)}</title>", f">{esc(title)}</title>", 1))


def _charts(sections: dict[str, Section], res: Results, doc: dict, bi: Bi) -> None:
    _figures(sections, res, doc)
    if bi.language == "en":
        for sec in sections.values():
            sec.charts = [english_first(c) for c in sec.charts]


def _figures(sections: dict[str, Section], res: Results, doc: dict) -> None:
    from govindex.report import figures as fig

    s = sections
    if doc["units_scored"]:
        s["distribution"].charts += fig.distribution(res, doc)
        s["profile"].charts.append(fig.profile(doc))
    if doc["region_attr"]:
        s["regions"].charts += fig.regions(doc)
    if doc["province_attr"]:
        s["provinces"].charts.append(fig.provinces(res, doc))
    if doc["clusters"]:
        s["clusters"].charts += fig.clusters(res, doc)
    if doc["previous"]:
        s["change"].charts += fig.changes(doc)
