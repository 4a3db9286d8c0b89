"""Provenance: which method and which data produced a results directory (docs §16).

:func:`build` returns a JSON-ready dict that ``score`` writes into every output (``scores.json``
``"provenance"``, the parquet files' key-value metadata ``govindex.provenance``, ``provenance.json``)
and that ``analyze``, ``report`` and ``diff`` carry forward:

- ``govindex``, ``python``, ``polars``: the versions that computed it;
- ``ruleset``: ``{name, path, hash, parts}``. ``hash`` is :func:`ruleset_hash`: the sha256 of the
  *resolved* rule set (after composition and templates) as :func:`govindex.lang.fmt.format_resolved`
  writes it, less its ``# from path:line`` lines (so the hash names the method, not where its
  files lie or on which line an item starts), then the bytes of the units registry and of every
  template metadata CSV the rule set read. Each part is fed to one sha256 as
  ``<label> NUL <byte length> NUL <bytes>``, in this order: ``rules`` (the text, UTF-8),
  ``units`` (the registry), then ``template:<file name>`` for each metadata file, sorted by name.
  ``parts`` lists each part's label, file, size and own sha256, so a reviewer can recompute it;
- ``facts``: ``{dir, hash, files, tables}``. ``files`` are the files scoring read (the tables some
  probe reads, as :func:`govindex.eval.explain.load_sources` lists them, and ``overrides.csv`` when
  present), each ``{table, path (relative to dir, /-separated), bytes, sha256, rows}``, sorted by
  path; ``hash`` is the sha256 of the canonical JSON (sorted keys, no spaces) of the list of
  ``{path, bytes, sha256}``; ``tables`` gives each table's rows and rows by round;
- ``overrides``: the overrides applied at scoring (``AppliedOverride.to_json()``);
- ``command`` (argv as given), ``cwd``, ``time`` (UTC, ISO 8601), ``host``.

:func:`differences` compares two such dicts: what ``analyze --previous`` and ``report --previous``
say when the two results come from other rule sets or other facts.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govindex.ir import RuleSet

KEY = "govindex.provenance"  # the parquet key-value metadata key
OVERRIDES_FILE = "overrides.csv"


def version() -> str:
    """The installed govindex version (the package metadata; the source's ``__version__`` when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("govindex")
    except PackageNotFoundError:
        import govindex  # the package's own __init__ (its __version__)

        return govindex.__version__


def version_line() -> str:
    """``govindex 0.1.0 (python 3.12.3)``: what ``govindex --version`` prints."""
    return f"govindex {version()} (python {platform.python_version()})"


def build(rs: RuleSet, facts_dir: Path, sources: Any, argv: Sequence[str], overrides: Iterable[Any] = ()) -> dict:
    """The provenance of scoring ``rs`` on the facts in ``facts_dir``: ``sources`` is what
    :func:`govindex.eval.explain.load_sources` returned (its ``files``: table → files read),
    ``overrides`` the applied overrides (objects with ``to_json()``, or dicts)."""
    import polars as pl

    return {"govindex": version(), "python": platform.python_version(), "polars": pl.__version__,
            "ruleset": ruleset_info(rs), "facts": facts_manifest(rs, facts_dir, sources),
            "overrides": [o.to_json() if hasattr(o, "to_json") else dict(o) for o in overrides],
            "command": list(argv), "cwd": os.getcwd(), "time": now(), "host": socket.gethostname()}


def now() -> str:
    """The time, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------ the rule set


def ruleset_parts(rs: RuleSet) -> list[tuple[str, Path | None, bytes]]:
    """What the rule-set hash covers, in order: (label, file or None, bytes) — see the module doc."""
    from govindex.lang import nodes as n  # (here: analysis and the report import this module for differences())
    from govindex.lang.fmt import format_resolved

    text = "".join(line for line in format_resolved(rs.files).splitlines(keepends=True) if not line.startswith("# from "))
    parts: list[tuple[str, Path | None, bytes]] = [("rules", None, text.encode("utf-8"))]
    units = rs.settings.get("units")
    if isinstance(units, n.String):
        path = Path(units.span.path).parent / units.value  # as check/run.py reads it
        if path.is_file():
            parts.append(("units", path, path.read_bytes()))
    for path in sorted(_metadata_files(rs), key=lambda p: (p.name, str(p))):
        parts.append((f"template:{path.name}", path, path.read_bytes()))
    return parts


def _metadata_files(rs: RuleSet) -> set[Path]:
    """The template metadata CSVs the resolved items were generated from (their spans' ``via``)."""
    out: set[Path] = set()
    for f in rs.files:
        for item in f.items:
            for origin in item.span.origins():
                p = Path(origin.path)
                if p.suffix.lower() == ".csv" and p.is_file():
                    out.add(p)
    return out


def ruleset_hash(parts: Sequence[tuple[str, Path | None, bytes]]) -> str:
    """sha256 over ``<label> NUL <length> NUL <bytes>`` of each part, in order."""
    h = hashlib.sha256()
    for label, _, data in parts:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def ruleset_info(rs: RuleSet) -> dict:
    """``{name, path, hash, parts}`` of a checked rule set."""
    parts = ruleset_parts(rs)
    return {"name": rs.name, "path": str(rs.root_dir), "hash": ruleset_hash(parts),
            "parts": [{"part": label, **({"path": str(p)} if p is not None else {}), "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()} for label, p, data in parts]}


# ------------------------------------------------------------------ the facts


def file_sha256(path: Path) -> str:
    """The sha256 of a file, streamed (``hashlib.file_digest``: never the whole file in memory)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def facts_manifest(rs: RuleSet, facts_dir: Path, sources: Any) -> dict:
    """``{dir, hash, files, tables}`` of the facts scoring read (see the module doc)."""
    files_of: Mapping[str, list[Path]] = getattr(sources, "files", {})
    entries = []
    for table, files in files_of.items():
        for f in files:
            entries.append(_file_entry(facts_dir, table, f))
    overrides = facts_dir / OVERRIDES_FILE
    if overrides.is_file():
        entries.append(_file_entry(facts_dir, None, overrides))
    entries.sort(key=lambda e: e["path"])
    return {"dir": str(facts_dir), "hash": facts_hash(entries), "files": entries,
            "tables": {t: _table_rows(rs, t, sources[t]) for t in sorted(files_of) if t in sources}}


def facts_hash(entries: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of the canonical JSON of ``[{path, bytes, sha256}, …]`` sorted by path (sorted keys, no spaces)."""
    core = sorted(({"path": e["path"], "bytes": e["bytes"], "sha256": e["sha256"]} for e in entries), key=lambda e: e["path"])
    return hashlib.sha256(json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def _file_entry(facts_dir: Path, table: str | None, f: Path) -> dict:
    try:
        rel = f.relative_to(facts_dir).as_posix()
    except ValueError:
        rel = f.as_posix()
    return {"table": table, "path": rel, "bytes": f.stat().st_size, "sha256": file_sha256(f), "rows": _file_rows(f)}


def _file_rows(f: Path) -> int | None:
    """Data rows of one file: a parquet file's footer count; a CSV's records (header excluded)."""
    import csv

    import polars as pl

    if f.suffix == ".parquet":
        return int(pl.scan_parquet(f, hive_partitioning=False).select(pl.len()).collect().item())
    if f.suffix == ".csv":
        with f.open(encoding="utf-8-sig", newline="") as fh:
            return max(sum(1 for row in csv.reader(fh) if row) - 1, 0)
    return None


def _table_rows(rs: RuleSet, table: str, source: Any) -> dict:
    import polars as pl

    frames = source if isinstance(source, list) else [source]
    lf = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    if rs.table_has_round(table):
        counts = lf.group_by(rs.round_column).agg(pl.len()).collect()
        by_round = {str(r): int(n) for r, n in sorted(counts.iter_rows(), key=lambda rn: (rn[0] is None, rn[0] or 0))}
        return {"rows": sum(by_round.values()), "by_round": by_round}
    return {"rows": int(lf.select(pl.len()).collect().item())}


# ------------------------------------------------------------------ comparing two


def short(h: str | None) -> str:
    """The first 12 hex digits of a hash (``—`` when there is none)."""
    return h[:12] if h else "—"


def differences(current: Mapping[str, Any] | None, previous: Mapping[str, Any] | None) -> list[str]:
    """Notes (not errors) on where two results' inputs differ: another rule set, other facts, the same
    facts under another rule set, or one of them without provenance (none when neither has any)."""
    if current is None and previous is None:  # results written before govindex recorded it: nothing to say
        return []
    if current is None or previous is None:
        which = "the current results" if current is None else "the previous results"
        return [f"{which} carry no provenance (written before govindex recorded it): whether both come from "
                "the same rule set and facts is unknown"]
    rc, rp = current.get("ruleset", {}), previous.get("ruleset", {})
    fc, fp = current.get("facts", {}), previous.get("facts", {})
    same_rules, same_facts = rc.get("hash") == rp.get("hash"), fc.get("hash") == fp.get("hash")
    if same_rules and same_facts:
        return [f"both results come from the same rule set ({short(rc.get('hash'))}) and the same facts "
                f"({short(fc.get('hash'))})"]
    if same_rules:  # other facts under one method
        return [f"the previous results come from other facts: {short(fp.get('hash'))} (these: {short(fc.get('hash'))}), "
                f"under the same rule set ({short(rc.get('hash'))}): every change is the data's"]
    notes = [f"the previous results come from another rule set: {rp.get('name')} {short(rp.get('hash'))} "
             f"(these: {rc.get('name')} {short(rc.get('hash'))})"]
    if same_facts:
        notes.append(f"both results come from the same facts ({short(fc.get('hash'))}) scored under different "
                     "rule sets: every change is the method's")
    elif _one_directory(fc, fp):
        notes.append(f"both results read the same facts where they read the same files, but not the same files "
                     f"(the rule sets read other tables): facts {short(fp.get('hash'))} and {short(fc.get('hash'))}")
    else:
        notes.append(f"the previous results come from other facts: {short(fp.get('hash'))} "
                     f"(these: {short(fc.get('hash'))})")
    return notes


def _one_directory(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two manifests whose files in common (by path) are the same bytes, with files in common: one
    facts directory read by two rule sets that read different tables (the facts hash covers what
    each reads)."""
    fa = {f["path"]: f["sha256"] for f in a.get("files", [])}
    fb = {f["path"]: f["sha256"] for f in b.get("files", [])}
    common = fa.keys() & fb.keys()
    return bool(common) and all(fa[p] == fb[p] for p in common)


def summary(prov: Mapping[str, Any]) -> dict:
    """The short form the report shows: engine, rule set and its short hash, facts short hash, files, rows, time."""
    facts = prov.get("facts", {})
    rules = prov.get("ruleset", {})
    return {"engine": f"govindex {prov.get('govindex', '?')}", "ruleset": rules.get("name"),
            "ruleset_hash": short(rules.get("hash")), "facts_hash": short(facts.get("hash")),
            "files": len(facts.get("files", [])),
            "rows": {t: v.get("rows") for t, v in facts.get("tables", {}).items()},
            "overrides": len(prov.get("overrides", [])), "time": prov.get("time")}
