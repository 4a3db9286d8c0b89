"""The report's charts: the ``analyze`` dict (and the unit scores behind it) → inline SVG strings.

Each function picks the figures one chart needs and hands plain data to :mod:`govindex.report.charts`.
Labels come from the results (indicator names, class labels, region and province names).
"""

from __future__ import annotations

import numpy as np

from govindex.analysis.analyze import TOTAL, Results
from govindex.analysis.render import num, pct, signed
from govindex.report import charts as ch

CLASS_COLOURS = ("#1a7f4b", "#2c7fb8", "#e69f00", "#d7301f")  # A B C D; further classes use the palette
UP, DOWN = "#0072B2", "#D55E00"


def _colour(i: int, first: tuple[str, ...] = ()) -> str:
    return first[i] if i < len(first) else ch.PALETTE[(i - len(first)) % len(ch.PALETTE)]


def _total(doc: dict) -> dict:
    return doc["indicators"][0]


# --- distribution of totals --------------------------------------------------------------------


def distribution(res: Results, doc: dict) -> list[ch.Chart]:
    """The sorted totals with the breaks, and a histogram stacked by class with the cut lines."""
    g = doc["grading"]
    totals = res.scores[TOTAL]
    ranked = sorted(((float(t), u) for u, t in zip(res.units, totals) if not np.isnan(t)),
                    key=lambda tu: (-tu[0], tu[1]["code"]))
    if g:
        classes = [ch.Series(c["id"], f"{c['id']} {c['label'] or ''}（{c['count']}）".strip(), _colour(i, CLASS_COLOURS))
                   for i, c in enumerate(g["classes"])]
    else:
        classes = [ch.Series("", f"全部 all（{len(ranked)}）", ch.PALETTE[0])]
    points = [(u["name"], t, (u.get("grade") or "") if g else "") for t, u in ranked]
    breaks = [(b["after_rank"], b["name"] or b["code"], ranked[b["after_rank"] - 1][0])
              for b in (g["breaks"] if g else []) if 0 < b["after_rank"] < len(ranked)]
    ids = [c.key for c in classes]
    cuts = [((ranked[a - 1][0] + ranked[a][0]) / 2, _cut_label(ids, i)) for i, (a, _, _) in enumerate(breaks)]
    n = len(ranked)
    how = f"{g['label'] or '等级'}（{g['method']}）" if g else "未分等级"
    desc = (f"{n} 个单位的总分从高到低排列，{how}；" +
            "；".join(f"第 {a} 名 {name} {num(s)} 之后断开" for a, name, s in breaks))
    return [ch.sorted_scores("chart-sorted", f"总分排序与等级断点 Sorted totals and grade breaks（{n}）", desc, points,
                             classes, breaks, doc["max_total"]),
            ch.histogram("chart-histogram", "总分分布 Distribution of totals",
                         f"{n} 个单位的总分直方图，按等级堆叠，虚线为等级分界。",
                         [(t, p[2]) for (t, _), p in zip(ranked, points)], classes, cuts, doc["max_total"])]


def _cut_label(ids: list[str], i: int) -> str:
    return f"{ids[i]} | {ids[i + 1]}" if i + 1 < len(ids) else ""


# --- regions and provinces -----------------------------------------------------------------------


def regions(doc: dict) -> list[ch.Chart]:
    """Mean total per region with its share of the reference region; L1 score rates per region."""
    total = _total(doc)
    ref = doc["reference_region"]
    names = [r["name"] for r in total["regions"]]
    colours = {n: _colour(i) for i, n in enumerate(names)}
    bars = [ch.Bar(r["name"], r["mean"], colours[r["name"]], f"{num(r['mean'])}（{ref} 的 {pct(r['share_of_reference'])}）",
                   f"{r['name']}：{r['n']} 个单位，均分 {num(r['mean'])}，为 {ref} 的 {pct(r['share_of_reference'])}")
            for r in total["regions"]]
    first = ch.hbars("chart-regions", f"区域平均总分 Mean total by region（参照 {ref}）",
                     "各区域平均总分及其占参照区域均分的比例：" +
                     "；".join(f"{b.label} {b.text}" for b in bars),
                     bars, doc["max_total"], (total["mean"], f"全国 {num(total['mean'])}"), row=30)
    levels = [x for x in doc["indicators"] if x["level"] <= 1]
    values = []
    shown: dict[float, str] = {}  # each bar's percentage → its label, rounded once from the rate itself
    for x in levels:
        by = {r["name"]: r["rate"] for r in x["regions"] or []}
        values.append([None if by.get(n) is None else by[n] * 100 for n in names])
        shown |= {by[n] * 100: pct(by[n], 1)[:-1] for n in names if by.get(n) is not None}
    series = [ch.Series(n, n, colours[n]) for n in names]
    second = ch.grouped_bars("chart-regions-rates", "各区域得分率 Score rates by region",
                             "总分及各一级指标在各区域的得分率（%）。", [x["name"] for x in levels], series, values,
                             100.0, fmt=lambda v: shown[v], unit="得分率 %")
    return [first, second]


def provinces(res: Results, doc: dict) -> ch.Chart:
    """Province means of the total, highest first, coloured by region, with the national mean."""
    total = _total(doc)
    p = total["provinces"]
    region_of = _region_of(res, doc)
    colours = {n: _colour(i) for i, n in enumerate(doc["regions"])}
    bars = [ch.Bar(g["name"], g["mean"], colours.get(region_of.get(g["name"]), ch.MUTED),
                   f"{num(g['mean'])}（{g['n']}）",
                   f"{g['name']}（{region_of.get(g['name'], '')}）：{g['n']} 个单位，均分 {num(g['mean'])}，"
                   f"标准差 {num(g['sd'])}") for g in p["groups"]]
    key = [ch.Series(n, n, colours[n]) for n in doc["regions"]]
    desc = (f"{len(bars)} 个省份的平均总分，从高到低。最高 {p['highest']['name']} {num(p['highest']['mean'])}，"
            f"最低 {p['lowest']['name']} {num(p['lowest']['mean'])}，比值 {num(p['ratio'])}；"
            f"省份均值标准差 {num(p['sd'])}。") if p["highest"] else "无省份数据。"
    return ch.hbars("chart-provinces", "省份平均总分 Province means of the total", desc, bars, doc["max_total"],
                    (total["mean"], f"全国 {num(total['mean'])}"), key if doc["region_attr"] else None, row=19)


def _region_of(res: Results, doc: dict) -> dict[str, str]:
    """Each province's region: the one most of its units are in."""
    pa, ra = doc["province_attr"], doc["region_attr"]
    if not pa or not ra:
        return {}
    seen: dict[str, dict[str, int]] = {}
    for u in res.units:
        if u.get(pa) and u.get(ra):
            c = seen.setdefault(str(u[pa]), {})
            c[str(u[ra])] = c.get(str(u[ra]), 0) + 1
    return {p: max(c, key=lambda r: c[r]) for p, c in seen.items()}


# --- score-rate profile --------------------------------------------------------------------------


def profile(doc: dict) -> ch.Chart:
    """L2 score rates grouped under their L1 (L1 when there are no L2), the 60% line, last year's rates."""
    ind = doc["indicators"]
    rows = [x for x in ind if x["level"] == 2] or [x for x in ind if x["level"] == 1]
    l1 = {x["id"]: (i, x) for i, x in enumerate(x for x in ind if x["level"] == 1)}
    before = {x["id"]: x["rate"]["previous"] for x in (doc["previous"] or {}).get("indicators", [])}
    bars = []
    for x in rows:
        i, parent = l1.get(x["parent"], (l1[x["id"]][0] if x["id"] in l1 else 0, None))
        prev = before.get(x["id"])
        tip = f"{x['name']}：均分 {num(x['mean'])} / {num(x['max'])}，得分率 {pct(x['rate'])}"
        bars.append(ch.Bar(x["name"], (x["rate"] or 0) * 100, _colour(i), pct(x["rate"]),
                           tip + (f"（上年 {pct(prev)}）" if prev is not None else ""),
                           None if prev is None else prev * 100,
                           f"{parent['name']}  {pct(parent['rate'])}" if parent else ""))
    key = [ch.Series("prev", "竖线：上年得分率 tick: previous year", ch.INK)] if before else None
    level = "二级" if rows and rows[0]["level"] == 2 else "一级"
    return ch.hbars("chart-profile", f"{level}指标得分率 Score rates (L{rows[0]['level'] if rows else 2})",
                    f"{len(rows)} 个{level}指标的全国得分率（均分 / 满分），虚线为 60%：" +
                    "；".join(f"{b.label} {b.text}" for b in bars), bars, 100.0, (60.0, "60%"), key)


# --- clusters ------------------------------------------------------------------------------------


def clusters(res: Results, doc: dict) -> list[ch.Chart]:
    """Units on the first two principal components of their rates, coloured by cluster; the profiles."""
    c = doc["clusters"]
    names = {x["id"]: x["name"] for x in doc["indicators"]}
    feats = c["features"]
    cluster_of = {m["code"]: k["id"] for k in c["clusters"] for m in k["members"]}
    index = [i for i, u in enumerate(res.units) if u["code"] in cluster_of]
    maxima = {x["id"]: x["max"] for x in doc["indicators"]}
    x = np.column_stack([res.scores[f][index] / maxima[f] for f in feats])
    coords, explained = pca(x, res.scores[TOTAL][index])
    colours = {k["id"]: _colour(j) for j, k in enumerate(c["clusters"])}
    points = [(float(coords[r, 0]), float(coords[r, 1]), colours[cluster_of[res.units[i]["code"]]],
               f"{res.units[i]['name']}：总分 {num(float(res.scores[TOTAL][i]))}，第 {cluster_of[res.units[i]['code']]} 类")
              for r, i in enumerate(index)]
    key = [ch.Series(str(k["id"]), f"第 {k['id']} 类：{k['size']} 个，均分 {num(k['mean_total'])}", colours[k["id"]])
           for k in c["clusters"]]
    scatter = ch.scatter("chart-clusters", f"聚类 Clusters（k-means, k = {c['k']}）",
                         f"{len(points)} 个单位在其得分率的前两个主成分上的位置，按类着色。", points, key,
                         f"主成分 1 PC1（解释 {pct(explained[0])}）", f"主成分 2 PC2（解释 {pct(explained[1])}）")
    heat = ch.heatmap("chart-cluster-profiles", "各类得分率 Cluster profiles",
                      "每一类单位在各指标上的平均得分率（%），颜色越深得分率越高。",
                      [ch.Series(str(k["id"]), f"第 {k['id']} 类（{k['size']}）", colours[k["id"]]) for k in c["clusters"]],
                      [names.get(f, f) for f in feats], [[k["rates"][f] for f in feats] for k in c["clusters"]])
    return [scatter, heat]


def pca(x: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The rows of ``x`` on its first two principal components, and the share of variance each explains.

    Signs are fixed so that the first component grows with the total and the second's largest
    loading is positive: the same input always gives the same picture.
    """
    n, d = x.shape
    if n < 2:
        return np.zeros((n, 2)), [0.0, 0.0]
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    var = s ** 2
    comps = np.zeros((2, d))
    comps[: min(2, len(vt))] = vt[:2]
    scores = xc @ comps.T
    if np.std(scores[:, 0]) > 0 and np.std(totals) > 0 and np.corrcoef(scores[:, 0], totals)[0, 1] < 0:
        scores[:, 0] *= -1
    if comps[1].any() and comps[1][np.argmax(np.abs(comps[1]))] < 0:
        scores[:, 1] *= -1
    total = var.sum() or 1.0
    explained = [float(var[i] / total) if i < len(var) else 0.0 for i in range(2)]
    return scores, explained


# --- year over year ------------------------------------------------------------------------------


def changes(doc: dict) -> list[ch.Chart]:
    """The change of every matched mean (total, L1, L2); the units whose total rose or fell most."""
    p = doc["previous"]
    bars = [ch.Bar(x["name"], x["mean"]["change"], UP if x["mean"]["change"] >= 0 else DOWN,
                   f"{num(x['mean']['previous'])} → {num(x['mean']['current'])}（{signed(x['mean']['change'])}）",
                   strong=x["level"] <= 1)
            for x in p["indicators"] if x["mean"]["change"] is not None]
    means = ch.diverging("chart-change-means", f"均分变化 Change of means（{p['ruleset']} → {doc['ruleset']}）",
                         "总分、一级和二级指标全国均分的变化：" + "；".join(f"{b.label} {b.text}" for b in bars), bars)
    m = p["movers"]
    movers = [*m["total_up"], *reversed(m["total_down"])]
    mbars = [ch.Bar(u["name"], u["change"], UP if u["change"] >= 0 else DOWN, signed(u["change"]),
                    f"{u['name']}：{num(u['previous'])} → {num(u['current'])}（{signed(u['change'])}）") for u in movers]
    if not mbars:
        return [means]
    riser = ch.diverging("chart-change-movers", "总分升降最多的单位 Units whose total rose or fell most",
                         f"总分上升最多的 {len(m['total_up'])} 个和下降最多的 {len(m['total_down'])} 个单位。", mbars)
    return [means, riser]
