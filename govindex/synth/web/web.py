"""``generate`` a synthetic government web, and the ``Web`` it returns (write, load, pages, render)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from govindex.diagnostics import UsageError
from govindex.fsio import write_file
from govindex.synth.web import vocab as V
from govindex.synth.web.build import Builder
from govindex.synth.web.features import capability, draw, markers_of
from govindex.synth.web.html import Ctx, render
from govindex.synth.web.model import Page, Site, Unit, abs_url, site_address, with_port
from govindex.synth.web.others import (
    TRAP_RATES,
    TRAPS,
    build_mobile,
    build_opendata,
    build_private,
    plan_duplicates,
    plant_duplicates,
    plant_junk,
    robots_for,
    trap_links,
)
from govindex.synth.web.portal import build_portal, site_name
from govindex.synth.web.service import ServiceInfo, build_service
from govindex.synth.web.social import draw_accounts, draw_apps

REGISTRY = Path(__file__).resolve().parents[3] / "rules" / "2019" / "units.csv"
TRAP_MODES = ("sampled", "all", "none")
VERSION = 1


class Web:
    """A generated web: its units (with their sites and pages), addressable by code and by host."""

    def __init__(self, seed: int, registry: list[dict], chosen: list[int], traps: str, units: list[Unit]):
        self.seed, self.registry, self.chosen, self.traps = seed, registry, chosen, traps
        self.units = units
        self.by_code = {u.code: u for u in units}
        self.by_host: dict[str, Site] = {s.host: s for u in units for s in u.sites.values()}

    def __repr__(self) -> str:
        return f"<Web seed={self.seed} units={len(self.units)} pages={sum(self.page_counts().values())}>"

    def unit(self, code: str) -> Unit:
        return self.by_code[code]

    def pages(self, code: str, *, html_only: bool = True, crawlable: bool = True) -> list[tuple[Site, Page]]:
        """The pages of a unit's sites: by default every HTML page a polite crawler can reach
        (robots-disallowed ones left out; planted junk and duplicates included)."""
        out = []
        for site in self.unit(code).sites.values():
            for page in site.pages.values():
                if html_only and page.content_type != "text/html":
                    continue
                if crawlable and page.disallowed:
                    continue
                out.append((site, page))
        return out

    def page_counts(self) -> dict[str, int]:
        return {u.code: sum(len(s.pages) for s in u.sites.values()) for u in self.units}

    def render(self, site: Site, page: Page, port: int) -> tuple[bytes, str]:
        """A page's bytes as served on ``port``, and its Content-Type."""
        return render(Ctx(port, self.seed), site, page)

    def url(self, site: Site, path: str, port: int | None = None) -> str:
        return with_port(abs_url(site.host, path), port)

    # ------------------------------------------------------------------ files
    def ground_truth(self, port: int | None = None) -> dict:
        from govindex.synth.web.truth import ground_truth
        return ground_truth(self, port)

    def channels(self, port: int, hub: str = "127.0.0.1") -> list[dict[str, str]]:
        from govindex.synth.web.truth import channels
        return channels(self, port, hub)

    def channels_csv(self, port: int, hub: str = "127.0.0.1") -> str:
        out = [",".join(("unit", "kind", "url", "name"))]
        for row in self.channels(port, hub):
            out.append(",".join(_csv_cell(row[k]) for k in ("unit", "kind", "url", "name")))
        return "\n".join(out) + "\n"

    def write(self, directory: str | Path, port: int | None = None, hub: str = "127.0.0.1") -> Path:
        """Write ``web.json`` (how to regenerate), ``ground_truth.json`` and, when the port is known,
        ``channels.csv``. URLs keep ``{port}`` where the port is not known yet."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        truth = self.ground_truth(port)
        spec = {"version": VERSION, "seed": self.seed, "traps": self.traps, "indexes": self.chosen,
                "fingerprint": fingerprint(self.ground_truth(None)), "registry": self.registry}
        _atomic(d / "web.json", json.dumps(spec, ensure_ascii=False, indent=1))
        _atomic(d / "ground_truth.json", json.dumps(truth, ensure_ascii=False, indent=1))
        if port is not None:
            _atomic(d / "channels.csv", self.channels_csv(port, hub))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Web:
        """Regenerate the web a directory was written from; raises ValueError if the generator has
        changed since (the ground truth would no longer match)."""
        spec = json.loads((Path(directory) / "web.json").read_text(encoding="utf-8"))
        web = _build(spec["seed"], spec["registry"], list(spec["indexes"]), spec["traps"])
        if fingerprint(web.ground_truth(None)) != spec["fingerprint"]:
            raise ValueError(f"{directory}: this generator no longer produces the web written there; regenerate it")
        return web


def load(directory: str | Path) -> Web:
    """:meth:`Web.load`."""
    return Web.load(directory)


def fingerprint(truth: dict) -> str:
    return hashlib.sha256(json.dumps(truth, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _atomic(path: Path, text: str) -> None:
    write_file(path, text if text.endswith("\n") else text + "\n")


def _csv_cell(v: str) -> str:
    return f'"{v}"' if any(c in v for c in ',"\n') else v


# ---------------------------------------------------------------------------- generate
def generate(units: str | Path | Sequence[dict] | None = None, seed: int = 2019, n_units: int | None = None,
             traps: str = "sampled") -> Web:
    """Generate a synthetic government web.

    ``units`` is a units registry (CSV with code,name,province,macro_region; default
    rules/2019/units.csv) or its rows as dicts; ``n_units`` takes that many units spread evenly over
    the registry (all by default). ``traps`` is ``sampled`` (each unit draws its traps), ``all``
    (every unit has every trap) or ``none``. The same arguments always give the same web, and a
    unit's sites do not depend on which other units are generated.
    """
    if traps not in TRAP_MODES:
        raise ValueError(f"traps must be one of {', '.join(TRAP_MODES)}, not {traps!r}")
    registry = _registry(units)
    n = len(registry) if n_units is None else max(0, min(n_units, len(registry)))
    chosen = sorted({round(i * len(registry) / n) for i in range(n)}) if n else []
    return _build(seed, registry, chosen, traps)


def _registry(units: str | Path | Sequence[dict] | None) -> list[dict]:
    if units is None or isinstance(units, (str, Path)):
        rows = _read_registry(Path(units or REGISTRY))
    else:
        rows = [dict(r) for r in units]
    return [{"code": str(r["code"]), "name": r["name"], "province": r.get("province", ""),
             "macro_region": r.get("macro_region", "")} for r in rows]


def _read_registry(path: Path) -> list[dict]:
    """The rows of a units CSV; :class:`UsageError` naming the path if it cannot be one."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = sorted({"code", "name"} - set(reader.fieldnames or ()))
            if missing:
                raise UsageError(f"{path} is not a units registry: no column {', '.join(missing)} "
                                 "(expected code,name,province,macro_region)")
            return list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read the units registry {path}: {why}") from exc


def _build(seed: int, registry: list[dict], chosen: Iterable[int], traps: str) -> Web:
    units = [_unit(seed, registry, i, traps) for i in chosen]
    return Web(seed, registry, list(chosen), traps, units)


def _unit(seed: int, registry: list[dict], index: int, trap_mode: str) -> Unit:
    row = registry[index]
    cap = capability(seed, row["code"], row["province"], row["macro_region"], V.REGION_SHIFT)
    unit = Unit(row["code"], row["name"], row["province"], row["macro_region"], index, cap,
                draw(seed, row["code"], cap))
    rng = random.Random(f"{seed}:sites:{unit.code}")
    portal = _site(rng, unit, "portal", site_name(unit.name), "/", gbk=0.35)
    unit.sites["portal"] = portal
    if "service_site" in unit.features:
        unit.sites["service"] = _site(rng, unit, "service", f"{unit.name}网上政务服务大厅", "/", gbk=0.1,
                                      style="trs", meta=True)
    if "opendata_site" in unit.features:
        unit.sites["opendata"] = _site(rng, unit, "opendata", f"{unit.name}公共数据开放平台", "/", gbk=0.0)
    if "mobile_version" in unit.features:
        unit.sites["mobile"] = _site(rng, unit, "mobile", f"{portal.name}手机版", "/m/", gbk=0.0)
    unit.accounts = draw_accounts(seed, unit)
    unit.apps = draw_apps(seed, unit)
    _build_sites(seed, registry, unit, trap_mode)
    _self_check(unit)
    return unit


def _site(rng: random.Random, unit: Unit, kind: str, name: str, root: str, gbk: float, style: str | None = None,
          meta: bool | None = None) -> Site:
    is_gbk = rng.random() < gbk
    label = rng.choice(["gbk", "GBK", "gb2312"]) if is_gbk else rng.choice(["utf-8", "UTF-8"])
    declared = rng.choices(["header", "meta", "both"], [0.4, 0.4, 0.2])[0]
    return Site(unit.code, kind, site_address(kind, unit.index), name, root, "gbk" if is_gbk else "utf-8", label,
                declared, rng.random() < 0.5, style or rng.choice(["trs", "trs", "hanweb"]),
                rng.random() < 0.7 if meta is None else meta, "responsive_layout" in unit.features,
                rng.choice(["_", "_", " - ", "|"]))


def _build_sites(seed: int, registry: list[dict], unit: Unit, trap_mode: str) -> None:
    portal = unit.sites["portal"]
    pb = Builder(seed, unit, portal)
    unit.traps = _traps(pb, trap_mode)
    portal.robots, portal.disallow = robots_for(pb, unit.traps)
    service = unit.sites.get("service")
    svc = build_service(seed, unit, service, "") if service else build_service(seed, unit, portal, "/zwfw")
    if service:
        service.robots = "User-agent: *\nDisallow:\n" if pb.rng.random() < 0.7 else None
    visible, hidden, _ = plant_junk(pb)
    dups = plan_duplicates(pb)
    specials = trap_links(unit.traps) + visible + ([("/zwgk/gzdt/index.html", "工作动态")] if dups else [])
    mobile = unit.sites.get("mobile")
    links = {"mobile": abs_url(mobile.host, "/") if mobile else "", "specials": specials, "hidden": hidden,
             "weibo": f"https://weibo.com/{unit.accounts['weibo']['handle']}" if "weibo" in unit.accounts else "",
             "sisters": _sisters(registry, unit), "private": "/private/" in portal.disallow}
    build_portal(pb, svc, links)
    plant_duplicates(pb, dups)
    if "/private/" in portal.disallow:
        build_private(pb)
    if mobile:
        news = [p.title.split(portal.sep)[0] for p in portal.pages.values() if p.column == "新闻中心" and p.article]
        build_mobile(Builder(seed, unit, mobile), abs_url(portal.host, "/"), news[:10])
    if "opendata" in unit.sites:
        build_opendata(Builder(seed, unit, unit.sites["opendata"]))
    for kind in TRAPS:
        if kind in unit.traps:
            text, path, expect = TRAPS[kind]
            portal.traps.append({"kind": kind, "path": path, "expect": expect})
    _ = ServiceInfo  # the service builder's result type, re-exported for callers


def _traps(b: Builder, mode: str) -> list[str]:
    if mode == "none":
        return []
    if mode == "all":
        return list(TRAPS)
    return [t for t in TRAPS if b.rng.random() < TRAP_RATES[t]]


def _sisters(registry: list[dict], unit: Unit) -> list[tuple[str, str]]:
    """Links to up to three other units of the province (their portals: off-site, maybe not served)."""
    same = [i for i, r in enumerate(registry) if r["province"] == unit.province and i != unit.index]
    near = sorted(same, key=lambda i: abs(i - unit.index))[:3]
    return [(abs_url(site_address("portal", i), "/"), site_name(registry[i]["name"])) for i in near]


def _self_check(unit: Unit) -> None:
    """A generator bug, not a user error: the pages must show exactly the unit's features."""
    shown: set[str] = set()
    for site in unit.sites.values():
        for page in site.pages.values():
            if page.content_type == "text/html" and not page.junk and not page.disallowed:
                shown |= site.expected(page)
    want = markers_of(unit.features)
    if shown != want:
        raise RuntimeError(f"synthweb: unit {unit.code} shows {sorted(shown - want)} it lacks and lacks "
                           f"{sorted(want - shown)} it has")
