"""Vectorised column makers for synthetic benchmark facts (see :mod:`govindex.synth.bench`).

Every maker takes a :class:`Chunk` — a few hundred thousand rows of one table, round and shard,
the unit of each row, a seeded generator — and returns one column as a polars Series, built
from numpy draws and polars string kernels; nothing loops over rows in Python. What a column
looks like is decided once per table by :func:`kind_of` from its declared type, its name, the
literals the probes test on it and the values listed in its declaration's comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

# ----------------------------------------------------------------------------- word lists

ORGS = ["人民政府", "政府办公室", "发展和改革委员会", "教育局", "公安局", "民政局", "司法局", "财政局",
        "人力资源和社会保障局", "自然资源和规划局", "生态环境局", "住房和城乡建设局", "交通运输局", "水利局",
        "农业农村局", "商务局", "文化广电旅游局", "卫生健康委员会", "应急管理局", "审计局", "市场监督管理局",
        "统计局", "医疗保障局", "行政审批服务局", "政务服务中心", "公共资源交易中心", "住房公积金管理中心",
        "税务局", "信访局", "档案馆"]
TOPICS = ["城乡建设", "劳动保障", "卫生健康", "生态环境", "市场监管", "农业农村", "文化旅游", "自然资源",
          "安全生产", "防汛抗旱", "脱贫攻坚", "乡村振兴", "营商环境", "优化服务", "放管服改革", "政务公开",
          "食品安全", "消防安全", "大气污染防治", "河长制", "垃圾分类", "养老服务", "就业创业", "招商引资",
          "重点项目", "财政预决算", "政府采购", "人事任免", "统计数据", "行政执法"]
ACTS = ["工作方案", "实施意见", "管理办法", "通知", "公告", "工作要点", "专项行动方案", "工作总结",
        "情况通报", "公示", "办事指南", "政策解读", "会议纪要", "新闻发布会", "答记者问", "年度报告",
        "征求意见稿", "考核结果", "名单公示", "监督检查情况"]
PHRASES = ["今天上午", "近日", "记者从有关部门获悉", "据了解", "为进一步", "市民朋友们请注意", "截至目前",
           "全市上下", "各有关单位", "广大群众", "按照统一部署", "扎实推进", "持续深化", "圆满完成",
           "取得明显成效", "欢迎转发", "点击查看详情", "办事更便捷"]
SEGMENTS = ["xxgk", "zwgk", "zfxxgk", "bmdt", "tzgg", "zcwj", "zcjd", "bsfw", "ggfw", "zwdt", "gzdt",
            "col", "art", "channel", "sjkf", "hdjl", "zmhd", "ldxx", "qlqd", "zrqd", "rsxx", "czzj",
            "jyta", "ghjh", "tjxx", "xwfb", "zwyw", "bmfw", "info", "news"]
FOREIGN_HOSTS = ["baike.baidu.com", "www.sohu.com", "news.163.com", "www.zhihu.com", "finance.sina.com.cn",
                 "www.thepaper.cn", "wenku.baidu.com", "m.sohu.com", "www.bendibao.com", "zhidao.baidu.com"]
SYLLABLES = ["an", "bai", "bao", "bei", "bin", "cang", "chang", "cheng", "chong", "da", "dong", "fu", "gan",
             "guang", "gui", "hai", "han", "hang", "he", "heng", "hu", "hua", "huai", "huang", "ji", "jia",
             "jiang", "jin", "jing", "kai", "lan", "lang", "li", "lian", "liao", "lin", "long", "lu", "luo",
             "mian", "nan", "ning", "pan", "ping", "qing", "quan", "rong", "sha", "shan", "shang", "shao",
             "tai", "tang", "tian", "tong", "wei", "wu", "xi", "xia", "xiang", "xin", "xu", "yan", "yang",
             "yi", "yin", "ying", "yong", "yu", "yuan", "yue", "zhang", "zhao", "zhen", "zhou", "zhu", "zi"]
NAME_SUFFIXES = ["发布", "政务", "微政务", "政府网", "便民服务", "12345", "政务服务", "融媒", "在线", "掌上办"]
PEOPLE = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴婷", "徐明", "孙丽"]

HTTP_STATUS = np.array([200, 301, 302, 404, 0, 503])
HTTP_SHARE = np.array([0.955, 0.006, 0.006, 0.015, 0.010, 0.008])  # ≈ 3.3 % failed fetches
DEPTH_SHARE = np.array([0.0005, 0.02, 0.10, 0.22, 0.30, 0.22, 0.1395])  # depth 0 = home pages
LIST_LEN_SHARE = np.array([0.50, 0.30, 0.12, 0.05, 0.03])  # how many list items a row carries
FAMILY_SHARE = 0.6  # a row's further markers come from its first marker's family this often
REPLY_NULL = 0.15


# ----------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Kind:
    """How to make one column: ``name`` picks the maker; ``pool`` the values it draws."""

    name: str
    pool: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    nullable: bool = False
    start: str | None = None  # the end of a days_between pair: the start column


_STR_KINDS = (("hash", r"hash|md5|sha|digest"), ("url", r"url|link|href"), ("title", r"title|headline|subject"),
              ("text", r"text|content|body|note"), ("id", r"(^|_)id$"), ("name", r"name|account"),
              ("person", r"collector|operator|author|editor"), ("query", r"query|keyword"))
_INT_KINDS = (("status", r"status"), ("depth", r"depth|level"), ("rank", r"rank|position"))


def kind_of(column: str, ty: str, tested: list[str], keywords: list[str], listed: list[str],
            nullable: bool = False, start: str | None = None) -> Kind:
    """The kind of a column from its type, its name, the literals probes test against it
    (``tested``), the substrings they look for in it (``keywords``) and the values listed in
    its declaration's comment (``listed``)."""
    low = column.lower()
    if ty == "str":
        if listed:
            return Kind("category", tuple(dict.fromkeys([*listed, *tested])))
        for name, pat in _STR_KINDS:
            if re.search(pat, low) and not (name == "name" and tested):
                return Kind(name, tuple(tested), tuple(keywords))
        return Kind("category", tuple(dict.fromkeys(tested or TOPICS[:12])))
    if ty == "int":
        return Kind(next((k for k, pat in _INT_KINDS if re.search(pat, low)), "count"))
    if ty == "list[str]":
        return Kind("list", tuple(sorted(set(tested))) or tuple(TOPICS[:10]))
    if ty in ("date", "datetime"):
        return Kind("end" if start else "moment", nullable=nullable, start=start)
    return Kind({"float": "amount", "bool": "flag"}[ty])


# ----------------------------------------------------------------------------- chunk


@dataclass
class Units:
    """Per-unit latent traits, fixed for a seed: size, capability, names, hosts."""

    codes: list[str]
    names: pl.Series
    hosts: pl.Series  # "yibin.gov.cn"
    weight: np.ndarray  # share of a table's rows
    capability: np.ndarray  # standard normal, larger for bigger units
    https: np.ndarray  # share of a unit's URLs on https
    flag_share: np.ndarray  # how often a unit's bool columns are true
    pools: dict[str, pl.Series] = field(default_factory=dict)  # string pools made once, gathered per row


@dataclass
class Chunk:
    rng: np.random.Generator
    unit: np.ndarray  # unit index of each row (int32)
    units: Units
    round_date: datetime
    cols: dict[str, pl.Series] = field(default_factory=dict)  # columns made so far

    @property
    def n(self) -> int:
        return len(self.unit)


def _pick(words: list[str] | tuple[str, ...] | pl.Series, idx: np.ndarray) -> pl.Series:
    return (words if isinstance(words, pl.Series) else pl.Series(list(words), dtype=pl.String)).gather(idx)


def _decaying(rng: np.random.Generator, k: int, n: int, decay: float) -> np.ndarray:
    p = decay ** np.arange(k)
    return rng.choice(k, size=n, p=p / p.sum())


def _category(c: Chunk, k: Kind) -> pl.Series:
    decay = 0.55 if len(k.pool) <= 6 else 0.9
    return _pick(k.pool, _decaying(c.rng, len(k.pool), c.n, decay))


def _cached(c: Chunk, key: str, make) -> pl.Series:
    if key not in c.units.pools:
        c.units.pools[key] = make()
    return c.units.pools[key]


def _where(mask: np.ndarray | pl.Series, yes: pl.Series, no: pl.Series) -> pl.Series:
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(pl.lit(yes)).otherwise(pl.lit(no))).to_series()


def _title(c: Chunk, k: Kind) -> pl.Series:
    """``[<unit>|市]<org>关于<topic><act>[（2017年第85号）]``; a quarter name a keyword a probe looks for.
    Parts are gathered from small pools (a string kernel per part, no formatting per row)."""
    r, n = c.rng, c.n
    topic = _pick(TOPICS, r.integers(0, len(TOPICS), n))
    if k.keywords:
        topic = _where(r.random(n) < 0.25, _pick(k.keywords, r.integers(0, len(k.keywords), n)), topic)
    heads = _cached(c, "heads", lambda: pl.concat([c.units.names, pl.Series(["市"])]))
    head = np.where(r.random(n) < 0.35, c.unit, len(c.units.codes))
    suffixes = _cached(c, "suffixes", lambda: pl.Series(
        [""] * 2000 + [f"（{y}年第{i}号）" for y in range(2015, 2020) for i in range(1, 401)], dtype=pl.String))
    parts = [heads.gather(head), _pick(ORGS, r.integers(0, len(ORGS), n)), pl.Series(["关于"]), topic,
             _pick(ACTS, r.integers(0, len(ACTS), n)), suffixes.gather(r.integers(0, len(suffixes), n))]
    return pl.select(pl.concat_str([pl.lit(p) for p in parts])).to_series()


def _text(c: Chunk, k: Kind) -> pl.Series:
    r, n = c.rng, c.n
    parts = [_pick(PHRASES, r.integers(0, len(PHRASES), n)), _pick(TOPICS, r.integers(0, len(TOPICS), n)),
             _pick(ACTS, r.integers(0, len(ACTS), n)), _pick(PHRASES, r.integers(0, len(PHRASES), n))]
    if k.keywords:
        parts.insert(1, _where(r.random(n) < 0.25, _pick(k.keywords, r.integers(0, len(k.keywords), n)),
                               pl.repeat("", n, eager=True)))
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator="，")).to_series()


_SUBDOMAINS = {"portal": "www", "service": "zwfw", "opendata": "data", "mobile": "m"}


def _origins(c: Chunk, sites: tuple[str, ...]) -> pl.Series:
    """Every ``scheme://host`` a unit's rows can have: unit × site × (http, https)."""
    subs = [_SUBDOMAINS.get(s, s) for s in sites]
    return pl.Series([f"{scheme}://{sub}.{host}" for host in c.units.hosts.to_list() for sub in subs
                      for scheme in ("http", "https")], dtype=pl.String)


def _directories() -> pl.Series:
    """64 directory paths for each depth 1–6 (a site has a limited set of channels): depth d at
    rows 64·d … 64·d + 63 has min(d, 4) segments; depth 0 is the home page."""
    r = np.random.default_rng(64)
    out = ["/"] * 64
    for d in range(1, 7):
        out += ["/" + "/".join(SEGMENTS[i] for i in r.integers(0, len(SEGMENTS), min(d, 4))) for _ in range(64)]
    return pl.Series(out, dtype=pl.String)


def _days(day: date) -> pl.Series:
    """``/201812/t20181203_`` for the 900 days before ``day``: where CMSs put articles."""
    days = [day - timedelta(days=i) for i in range(1, 901)]
    return pl.Series([f"/{d:%Y%m}/t{d:%Y%m%d}_" for d in days], dtype=pl.String)


def _url(c: Chunk, k: Kind) -> pl.Series:
    """``https://zwfw.<unit host>/bsfw/zcwj/201812/t20181203_4606137.html``: one host per site of a
    unit (www., zwfw., data., m.), directories by depth, article ids; search results off
    government sites land on other hosts."""
    r, n = c.rng, c.n
    depth = c.cols["depth"].to_numpy() if "depth" in c.cols else r.integers(1, 6, n)
    https = r.random(n) < c.units.https[c.unit]
    site_of = c.cols.get("site")
    sites = tuple(site_of.unique().sort().to_list()) if site_of is not None else ("portal",)
    site = np.zeros(n, dtype=np.int64) if site_of is None else \
        site_of.replace_strict(sites, list(range(len(sites))), return_dtype=pl.Int64).to_numpy()
    origin = _origins(c, sites).gather((c.unit.astype(np.int64) * len(sites) + site) * 2 + https)
    gov = next((s for col, s in c.cols.items() if s.dtype == pl.Boolean and "gov" in col), None)
    if gov is not None:
        other = _pick([f"https://{h}" for h in FOREIGN_HOSTS], r.integers(0, len(FOREIGN_HOSTS), n))
        origin = _where(gov, origin, other)
    dirs = _cached(c, "dirs", _directories).gather(depth * 64 + r.integers(0, 64, n))
    day = _cached(c, f"days:{c.round_date:%Y%m%d}", lambda: _days(c.round_date.date())).gather(r.integers(0, 900, n))
    article = pl.Series(r.integers(100_000, 9_999_999, n)).cast(pl.String)
    leaf = pl.when(pl.lit(pl.Series(depth > 0))).then(pl.concat_str(pl.lit(day), pl.lit(article), pl.lit(".html")))
    return pl.select(pl.concat_str(pl.lit(origin), pl.lit(dirs), leaf.otherwise(pl.lit("")))).to_series()


def _hash(c: Chunk, k: Kind) -> pl.Series:
    raw = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), c.n, [None, pa.py_buffer(c.rng.bytes(16 * c.n))])
    return _series(raw).bin.encode("hex")


def _id(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(c.rng.integers(10**15, 10**16, c.n, dtype=np.int64)).cast(pl.String)


def _name(c: Chunk, k: Kind) -> pl.Series:
    sfx = _pick(NAME_SUFFIXES, _decaying(c.rng, len(NAME_SUFFIXES), c.n, 0.7))
    return pl.select(pl.concat_str(pl.lit(c.units.names.gather(c.unit)), pl.lit(sfx))).to_series()


def _person(c: Chunk, k: Kind) -> pl.Series:
    return _pick(PEOPLE, c.rng.integers(0, len(PEOPLE), c.n))


def _query(c: Chunk, k: Kind) -> pl.Series:
    """The unit's name and what was asked about: the row's topic when the table has one."""
    words = k.pool or k.keywords or tuple(TOPICS)
    w = c.cols.get("topic", _pick(words, c.rng.integers(0, len(words), c.n)))
    return pl.select(pl.concat_str(pl.lit(c.units.names.gather(c.unit)), pl.lit(" "), pl.lit(w))).to_series()


def _status(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(HTTP_STATUS[c.rng.choice(len(HTTP_STATUS), c.n, p=HTTP_SHARE)], dtype=pl.Int64)


def _depth(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(c.rng.choice(len(DEPTH_SHARE), c.n, p=DEPTH_SHARE), dtype=pl.Int64)


def _rank(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(np.minimum(c.rng.geometric(0.12, c.n), 50), dtype=pl.Int64)


def _count(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(np.floor(c.rng.lognormal(1.5 + 0.4 * c.units.capability[c.unit], 1.3)), dtype=pl.Int64)


def _amount(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(np.round(c.rng.lognormal(2.0, 1.0, c.n), 2), dtype=pl.Float64)


def _flag(c: Chunk, k: Kind) -> pl.Series:
    return pl.Series(c.rng.random(c.n) < c.units.flag_share[c.unit], dtype=pl.Boolean)


def _us(d: datetime) -> int:
    return int(d.timestamp() * 1_000_000)


def _moment(c: Chunk, k: Kind) -> pl.Series:
    """Within 120 days before the round's reference date, younger more often."""
    end = _us(c.round_date)
    age = np.minimum(c.rng.exponential(30.0, c.n), 120.0) * 86_400e6
    return pl.Series((end - age).astype(np.int64)).cast(pl.Datetime("us"))


def _end(c: Chunk, k: Kind) -> pl.Series:
    """The end of a ``days_between`` pair: hours to weeks after the start; null when not (yet)."""
    assert k.start is not None  # an "end" kind is made with its start column (see the Kind table)
    start = c.cols[k.start].cast(pl.Int64).to_numpy()
    delay = c.rng.lognormal(np.log(3 * 86_400e6), 1.3, c.n)
    end = start + delay.astype(np.int64)
    keep = (end <= _us(c.round_date)) & (c.rng.random(c.n) >= REPLY_NULL)
    return pl.DataFrame({"e": end, "k": keep}).select(pl.when("k").then(pl.col("e").cast(pl.Datetime("us")))).to_series()


@dataclass
class ListModel:
    """How a ``list[str]`` column draws its items (markers, topics)."""

    avail: np.ndarray  # unit × item: whether the unit has the item at all
    weights: np.ndarray  # Zipf weights of the items
    family: np.ndarray  # family index of each item (items sharing a prefix are contiguous)
    lo: np.ndarray  # first item of each family
    hi: np.ndarray  # one past its last


def make_list(c: Chunk, k: Kind, lm: ListModel) -> pl.Series:
    """Zipf-weighted items; further items of a row mostly from the family of its first; items a
    unit lacks never appear; no item twice in a row."""
    r, n, pool = c.rng, c.n, len(k.pool)
    m = r.choice(len(LIST_LEN_SHARE), n, p=LIST_LEN_SHARE)
    row = np.repeat(np.arange(n, dtype=np.int64), m)
    first_pos = np.repeat(np.cumsum(m) - m, m)
    item = r.choice(pool, len(row), p=lm.weights)
    later = (np.arange(len(row)) != first_pos) & (r.random(len(row)) < FAMILY_SHARE)
    fam = lm.family[item[first_pos[later]]]
    item[later] = r.integers(lm.lo[fam], lm.hi[fam])
    keep = lm.avail[c.unit[row], item]
    key = np.sort(row[keep] * pool + item[keep])
    key = key[np.r_[True, key[1:] != key[:-1]]]
    row, item = key // pool, key % pool
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    values = _pick(k.pool, item).to_arrow()
    return _series(pa.LargeListArray.from_arrays(pa.array(offsets), values)).cast(pl.List(pl.String))


def _series(array: pa.Array) -> pl.Series:
    """An arrow array as a polars Series (``pl.from_arrow`` is typed for tables too)."""
    s = pl.from_arrow(array)
    assert isinstance(s, pl.Series)  # an array, not a table, is one column
    return s


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z), vectorised (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    y = np.abs(z) / np.sqrt(2)
    t = 1 / (1 + 0.3275911 * y)
    erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) \
        * np.exp(-y * y)
    return 0.5 * (1 + np.sign(z) * erf)


MAKERS = {
    "category": _category, "title": _title, "text": _text, "url": _url, "hash": _hash, "id": _id, "name": _name,
    "person": _person, "query": _query, "status": _status, "depth": _depth, "rank": _rank, "count": _count,
    "amount": _amount, "flag": _flag, "moment": _moment, "end": _end,
}


def round_datetime(d) -> datetime:
    return datetime.combine(d, time())
