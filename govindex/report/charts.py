"""Inline SVG charts for the HTML report: plain data in, one ``<svg>`` string out.

Every chart is self-contained markup (no script, no external font or image): a ``viewBox`` so it
scales with the page, ``role="img"`` with a ``<title>`` and ``<desc>`` for screen readers, and a
``<title>`` on every mark so that hovering shows its figure. Marks carry a class (``bar``, ``pt``,
``cell``) so that a test can count them. Text is escaped here; callers pass plain strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from govindex.analysis.render import num, pct

W = 960  # viewBox width of every chart; the page scales it to the column
FONT = 13
INK, MUTED, GRID = "#1f2933", "#616e7c", "#d9dee4"
# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class Series:
    """A named colour: a grade class, a region, a cluster, an L1 indicator."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    colour: str
    text: str = ""  # printed after the bar
    tip: str = ""  # hover text (defaults to label and text)
    marker: float | None = None  # a tick on the bar, e.g. last year's value
    group: str = ""  # a heading row above the first bar of a new group
    strong: bool = False  # a bold label (an L1 among L2s)


def esc(s: object) -> str:
    return escape(str(s), quote=True)


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 × a power of ten apart)."""
    if hi - lo <= 0:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick_text(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True, slots=True)
class Chart:
    """An ``<svg>`` and its title; ``__html__`` lets a template insert the markup unescaped."""

    id: str
    title: str
    markup: str

    def __html__(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def svg(cid: str, height: float, title: str, desc: str, body: list[str]) -> Chart:
    """Wrap marks into an accessible ``<svg>``: ``cid`` is its element id (and the title/desc prefix)."""
    i = esc(cid)
    head = (f'<svg id="{i}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height:.0f}" '
            f'role="img" aria-labelledby="{i}-t {i}-d" font-size="{FONT}" fill="{INK}">'
            f'<title id="{i}-t">{esc(title)}</title><desc id="{i}-d">{esc(desc)}</desc>')
    return Chart(cid, title, head + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}{extra}>{esc(s)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = GRID, dash: str = "", width: float = 1) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"{d}/>')


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str, cls: str = "bar") -> str:
    return (f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{max(h, 0.0):.1f}" '
            f'fill="{colour}"><title>{esc(tip)}</title></rect>')


def legend(items: list[Series], x: float, y: float, width: float = W - 40) -> tuple[list[str], float]:
    """Swatches in rows from (x, y); returns the marks and the y below them."""
    out, cx, cy = [], x, y
    for s in items:
        w = 22 + _text_width(s.label)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 20
        out.append(f'<rect x="{cx:.1f}" y="{cy - 10:.1f}" width="12" height="12" rx="2" fill="{s.colour}"/>')
        out.append(_text(cx + 17, cy, s.label, cls="legend"))
        cx += w + 14
    return out, cy + 12


def _label_room(bars: list[Bar]) -> float:
    """Width for the row labels of bar charts: the longest label, within [60, 320]."""
    return min(320.0, max(60.0, max((_text_width(b.label) for b in bars), default=0) + 16))


def _text_width(s: str, size: float = FONT) -> float:
    """Rough advance of a label: CJK glyphs are square, Latin about half as wide."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in s)


# --- charts ----------------------------------------------------------------------------------


def sorted_scores(cid: str, title: str, desc: str, points: list[tuple[str, float, str]], classes: list[Series],
                  breaks: list[tuple[int, str, float]], y_max: float) -> Chart:
    """Scores from high to low (x: rank), coloured by class, a dashed line after each break unit.

    ``points`` are (name, score, class key) sorted high → low; ``breaks`` (units above, name, score).
    Break labels sit above the plot and class labels below it, each in as many rows as they need
    not to overlap.
    """
    n = len(points)
    left, right, plot = 56, 16, 300
    px = lambda i: left + (i + 0.5) / max(n, 1) * (W - left - right)
    cuts = [((px(after - 1) + px(after)) / 2, f"{name} {num(score)}") for after, name, score in breaks]
    above = _place([(x, s) for x, s in cuts], left, W - right, 11, beside=True)
    edges = [0, *[b[0] for b in breaks], n]
    spans = [(c, a, b) for c, (a, b) in zip(classes, zip(edges, edges[1:])) if b > a]
    below = _place([((px(a) + px(b - 1)) / 2, c.label) for c, a, b in spans], left, W - right, FONT)
    top = 30 + 14 * (max((lane for *_, lane in above), default=-1) + 1)
    bottom = 30 + 16 * (max((lane for *_, lane in below), default=0) + 1)
    h = top + plot + bottom
    lo = math.floor(min((p[1] for p in points), default=0) / 10) * 10
    hi = min(y_max, math.ceil(max((p[1] for p in points), default=y_max) / 10) * 10) or y_max
    hi = hi if hi > lo else lo + 10
    py = lambda v: top + (hi - v) / (hi - lo) * plot
    colour = {c.key: c.colour for c in classes}
    body = _y_axis(ticks(lo, hi), py, left, W - right)
    body.append(_text(8, 16, "总分 total", cls="axis"))
    for i, (name, v, cls) in enumerate(points):
        tip = f"{i + 1}. {name} {num(v)} {cls}".strip()
        body.append(f'<circle class="pt" cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.6" fill="{colour.get(cls, MUTED)}">'
                    f"<title>{esc(tip)}</title></circle>")
    for (x, _), (tx, anchor, label, lane) in zip(cuts, above):
        body.append(_line(x, top - 6 - 14 * lane, x, top + plot, INK, "4 3"))
        body.append(_text(tx, top - 10 - 14 * lane, label, anchor, "note"))
    for (c, _, _), (tx, anchor, label, lane) in zip(spans, below):
        body.append(_text(tx, top + plot + 16 + 16 * lane, label, anchor, "legend", f' fill="{c.colour}" font-weight="600"'))
    body += [_text(px(i), h - 8, str(i + 1), "middle", "tick") for i in (0, n - 1) if n]
    body.append(_text((left + W - right) / 2, h - 8, "排名 rank", "middle", "axis"))
    return svg(cid, h, title, desc, body)


def _place(labels: list[tuple[float, str]], lo: float, hi: float, size: float,
           beside: bool = False) -> list[tuple[float, str, str, int]]:
    """Positions for labels at x (centred, or ``beside`` a line: right of it, left when no room),
    kept within [lo, hi], in rows (lanes) so that no two overlap: (x, anchor, text, lane), in the
    order given."""
    spans = []
    for x, s in labels:
        w = _text_width(s, size)
        if beside:
            a, anchor, tx = (x + 4, "start", x + 4) if x + 4 + w <= hi else (x - 4 - w, "end", x - 4)
        else:
            a = min(max(x - w / 2, lo), hi - w)
            anchor, tx = "middle", a + w / 2
        spans.append((a, a + w, tx, anchor, s))
    lanes: list[list[tuple[float, float]]] = []
    out: list[tuple[float, str, str, int]] = [(0.0, "", "", 0)] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        a, b, tx, anchor, s = spans[i]
        lane = next((k for k, used in enumerate(lanes) if all(b + 8 <= u0 or a >= u1 + 8 for u0, u1 in used)),
                    len(lanes))
        if lane == len(lanes):
            lanes.append([])
        lanes[lane].append((a, b))
        out[i] = (tx, anchor, s, lane)
    return out


def histogram(cid: str, title: str, desc: str, values: list[tuple[float, str]], classes: list[Series],
              cuts: list[tuple[float, str]], x_max: float) -> Chart:
    """Counts of scores per bin, stacked by class; a dashed line at each grade cut (x, label)."""
    left, right, top, bottom = 48, 16, 30, 60
    h = 320
    vals = [v for v, _ in values] or [0.0]
    width = _bin_width(max(vals) - min(vals))
    lo = math.floor(min(vals) / width) * width
    hi = max(lo + width, math.ceil(min(max(vals), x_max) / width + 1e-9) * width)
    if hi <= max(vals):
        hi += width
    nbins = round((hi - lo) / width)
    counts = [{c.key: 0 for c in classes} for _ in range(nbins)]
    for v, cls in values:
        b = min(nbins - 1, int((v - lo) // width))
        counts[b][cls] = counts[b].get(cls, 0) + 1
    peak = max((sum(c.values()) for c in counts), default=1) or 1
    y_hi = ticks(0, peak, 4)[-1] if ticks(0, peak, 4)[-1] >= peak else peak
    px = lambda v: left + (v - lo) / (hi - lo) * (W - left - right)
    py = lambda c: top + (y_hi - c) / y_hi * (h - top - bottom)
    body = _y_axis(ticks(0, y_hi, 4), py, left, W - right)
    for b in range(nbins):
        base = 0
        for c in reversed(classes):  # the best class on top
            k = counts[b].get(c.key, 0)
            if k:
                x0 = px(lo + b * width)
                body.append(_rect(x0 + 1, py(base + k), px(lo + (b + 1) * width) - x0 - 2, py(base) - py(base + k),
                                  c.colour, f"{lo + b * width:g}–{lo + (b + 1) * width:g}: {k} ({c.label})"))
                base += k
    for t in ticks(lo, hi, 10):
        body.append(_text(px(t), h - bottom + 16, _tick_text(t), "middle", "tick"))
    for (x, _), (tx, anchor, label, lane) in zip(cuts, _place([(px(x), s) for x, s in cuts], left, W - right, 11, True)):
        body.append(_line(px(x), top - 8, px(x), h - bottom, INK, "4 3"))
        body.append(_text(tx, top + 2 + 13 * lane, label, anchor, "note"))
    body.append(_text((left + W - right) / 2, h - bottom + 34, "总分 total", "middle", "axis"))
    body.append(_text(10, top - 14, "单位数 units", cls="axis"))
    marks, _ = legend(classes, left, h - 10)
    return svg(cid, h, title, desc, body + marks)


def _bin_width(spread: float) -> float:
    for w in (0.5, 1, 2, 2.5, 5, 10, 20, 25, 50):
        if spread / w <= 30:
            return float(w)
    return 10 ** math.ceil(math.log10(spread / 30))


def _y_axis(values: list[float], py, x0: float, x1: float) -> list[str]:
    out = []
    for t in values:
        out.append(_line(x0, py(t), x1, py(t)))
        out.append(_text(x0 - 6, py(t) + 4, _tick_text(t), "end", "tick"))
    return out


def hbars(cid: str, title: str, desc: str, bars: list[Bar], x_max: float, ref: tuple[float, str] | None = None,
          key: list[Series] | None = None, label_width: float | None = None, row: float = 22) -> Chart:
    """Horizontal bars from 0 to ``x_max``, one per row, with a dashed reference line (value, label).

    ``label_width`` defaults to the room the longest label needs.
    """
    top, right = 28, 150
    label_width = label_width or _label_room(bars)
    groups = sum(1 for i, b in enumerate(bars) if b.group and (i == 0 or bars[i - 1].group != b.group))
    h0 = top + row * len(bars) + 22 * groups
    px = lambda v: label_width + max(0.0, v) / x_max * (W - label_width - right) if x_max > 0 else label_width
    body = [_line(px(t), top - 6, px(t), h0, GRID) for t in ticks(0, x_max, 5)]
    body += [_text(px(t), top - 10, _tick_text(t), "middle", "tick") for t in ticks(0, x_max, 5)]
    if ref is not None:  # behind the bars and their figures
        body.append(_line(px(ref[0]), top - 4, px(ref[0]), h0, INK, "5 3", 1.2))
    y: float = top
    prev_group = None
    for b in bars:
        if b.group and b.group != prev_group:
            body.append(_text(8, y + 15, b.group, cls="group"))
            y += 22
        prev_group = b.group
        body.append(_text(label_width - 8, y + row / 2 + 4, b.label, "end", "label"))
        body.append(_rect(px(0), y + 3, px(b.value) - px(0), row - 6, b.colour, b.tip or f"{b.label} {b.text}"))
        if b.marker is not None:
            body.append(f'<path class="marker" d="M{px(b.marker):.1f} {y + 1:.1f}v{row - 2:.1f}" stroke="{INK}" '
                        f'stroke-width="2"><title>{esc(b.tip or b.label)}</title></path>')
        body.append(_text(_value_x(px(b.value), px(b.marker or 0), b.text, px(ref[0]) if ref else None),
                          y + row / 2 + 4, b.text, cls="value"))
        y += row
    if ref is not None:
        body.append(_text(px(ref[0]) + 4, y + 14, ref[1], cls="note"))
        y += 18
    if key:
        marks, y = legend(key, 8, y + 22)
        body += marks
    return svg(cid, y + 8, title, desc, body)


def _value_x(bar_end: float, marker: float, text: str, ref: float | None, size: float = 12) -> float:
    """Where a bar's figure starts: right of the bar and of last year's tick; when the reference
    line (the 60 % line) would run through the figure, right of that line instead."""
    x = max(bar_end, marker) + 6
    if ref is not None and x - 3 <= ref <= x + _text_width(text, size) + 3:
        x = ref + 6
    return x


def grouped_bars(cid: str, title: str, desc: str, groups: list[str], series: list[Series],
                 values: list[list[float | None]], y_max: float, fmt=lambda v: num(v, 1), unit: str = "") -> Chart:
    """Vertical bars: one cluster per group, one bar per series (``values[group][series]``)."""
    left, right, top, bottom = 48, 16, 24, 70
    h = 330
    gw = (W - left - right) / max(len(groups), 1)
    bw = min(40.0, gw * 0.8 / max(len(series), 1))
    py = lambda v: top + (y_max - v) / y_max * (h - top - bottom)
    body = _y_axis(ticks(0, y_max, 5), py, left, W - right)
    for g, name in enumerate(groups):
        x0 = left + g * gw + (gw - bw * len(series)) / 2
        for s, ser in enumerate(series):
            v = values[g][s]
            if v is None:
                continue
            x = x0 + s * bw
            body.append(_rect(x + 1, py(v), bw - 2, py(0) - py(v), ser.colour, f"{name} · {ser.label}: {fmt(v)}{unit}"))
            body.append(_text(x + bw / 2, py(v) - 4, fmt(v), "middle", "tiny"))
        body.append(_text(left + (g + 0.5) * gw, h - bottom + 18, name, "middle", "label"))
    if unit:
        body.append(_text(10, top - 10, unit, cls="axis"))
    marks, _ = legend(series, left, h - 22)
    return svg(cid, h, title, desc, body + marks)


def scatter(cid: str, title: str, desc: str, points: list[tuple[float, float, str, str]], key: list[Series],
            x_label: str, y_label: str) -> Chart:
    """Points (x, y, colour, tip) on two axes scaled to their range, with a legend below."""
    left, right, top, bottom = 56, 16, 20, 90
    h = 460
    xs = [p[0] for p in points] or [0.0]
    ys = [p[1] for p in points] or [0.0]
    xt, yt = ticks(min(xs), max(xs), 6), ticks(min(ys), max(ys), 5)
    pad_x, pad_y = 0.03 * (max(xs) - min(xs)), 0.05 * (max(ys) - min(ys))  # room for the dots at the edges
    x0, x1 = min(xt[0], min(xs) - pad_x), max(xt[-1], max(xs) + pad_x)
    y0, y1 = min(yt[0], min(ys) - pad_y), max(yt[-1], max(ys) + pad_y)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    px = lambda v: left + (v - x0) / (x1 - x0) * (W - left - right)
    py = lambda v: top + (y1 - v) / (y1 - y0) * (h - top - bottom)
    body = _y_axis(yt, py, left, W - right)
    for t in xt:
        body.append(_line(px(t), top, px(t), h - bottom))
        body.append(_text(px(t), h - bottom + 16, _tick_text(t), "middle", "tick"))
    for x, y, colour, tip in points:
        body.append(f'<circle class="pt" cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{colour}" fill-opacity="0.8" '
                    f'stroke="#fff" stroke-width="0.6"><title>{esc(tip)}</title></circle>')
    body.append(_text((left + W - right) / 2, h - bottom + 34, x_label, "middle", "axis"))
    body.append(_text(16, top + (h - top - bottom) / 2, y_label, "middle", "axis",
                      f' transform="rotate(-90 16 {top + (h - top - bottom) / 2:.1f})"'))
    marks, _ = legend(key, left, h - 34)
    return svg(cid, h, title, desc, body + marks)


def heatmap(cid: str, title: str, desc: str, rows: list[Series], cols: list[str], values: list[list[float]]) -> Chart:
    """Rates in [0, 1] as cells (rows × cols), darker for higher, the percentage printed inside.

    The colour ramp spans the lowest to the highest value shown, so that profiles close to each
    other still differ visibly; the printed figures carry the absolute level.
    """
    left, top, cell_h = 170, 96, 30
    # Column labels are drawn at 35°: leave room on the right for the last one.
    cw = (W - left - 10 - 0.8 * _text_width(cols[-1] if cols else "")) / max(len(cols), 1)
    flat = [v for r in values for v in r]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    shade = lambda v: (v - lo) / (hi - lo) if hi > lo else 0.5
    body = []
    for j, c in enumerate(cols):
        x = left + (j + 0.5) * cw
        body.append(_text(x, top - 8, c, "start", "label", f' transform="rotate(-35 {x:.1f} {top - 8})"'))
    for i, r in enumerate(rows):
        y = top + i * cell_h
        body.append(f'<rect x="8" y="{y + 9:.1f}" width="12" height="12" rx="2" fill="{r.colour}"/>')
        body.append(_text(26, y + cell_h / 2 + 4, r.label, cls="label"))
        for j, v in enumerate(values[i]):
            body.append(_rect(left + j * cw + 1, y + 1, cw - 2, cell_h - 2, _blue(shade(v)),
                              f"{r.label} · {cols[j]}: {pct(v, 1)}", "cell"))
            body.append(_text(left + (j + 0.5) * cw, y + cell_h / 2 + 4, pct(v, 1)[:-1], "middle", "tiny",
                              f' fill="{"#fff" if shade(v) > 0.5 else INK}"'))
    return svg(cid, top + cell_h * len(rows) + 10, title, desc, body)


def _blue(t: float) -> str:
    """A light-to-dark blue ramp over t in [0, 1]."""
    t = min(1.0, max(0.0, t))
    a, b = (222, 235, 247), (8, 69, 148)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def diverging(cid: str, title: str, desc: str, bars: list[Bar], label_width: float | None = None) -> Chart:
    """Bars left (negative) or right (positive) of a zero line; colours come with the bars."""
    top, row = 16, 22
    label_width = label_width or _label_room(bars)
    h = top + row * len(bars) + 12
    m = max((abs(b.value) for b in bars), default=1.0) or 1.0
    half = (W - label_width - 20) / 2
    mid = label_width + half
    body = [_line(mid, top - 4, mid, h - 8, INK)]
    for i, b in enumerate(bars):
        y = top + i * row
        w = abs(b.value) / m * (half - 10)
        x = mid if b.value >= 0 else mid - w
        body.append(_text(label_width - 8, y + row / 2 + 4, b.label, "end", "label",
                          ' font-weight="700"' if b.strong else ""))
        body.append(_rect(x, y + 3, w, row - 6, b.colour, b.tip or f"{b.label} {b.text}"))
        # The figure goes on the other side of the zero line, where there is always room.
        tx, anchor = (mid - 6, "end") if b.value >= 0 else (mid + 6, "start")
        body.append(_text(tx, y + row / 2 + 4, b.text, anchor, "value"))
    return svg(cid, h, title, desc, body)
