"""The channels registry: which online channels each unit has, one CSV per evaluation year.

The file is UTF-8 (a BOM is tolerated) with the header ``unit,kind,url,name``::

    unit,kind,url,name
    511500,portal,http://www.yibin.gov.cn/,宜宾市人民政府
    511500,weibo,宜宾发布,宜宾发布

``kind`` is one of :data:`KINDS`. Web kinds (:data:`WEB_KINDS`) are crawled and need an http(s)
URL; the others (accounts and apps) take an account id or a URL. Every bad row is reported at
once, each as ``path:line:col: message`` where ``col`` is the position of the offending column,
in one :class:`~govindex.collect.errors.ChannelsError`.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from govindex.collect.errors import ChannelsError, Problem

COLUMNS = ("unit", "kind", "url", "name")


class Kind(StrEnum):
    """A channel's kind."""

    PORTAL = "portal"
    SERVICE = "service"
    OPENDATA = "opendata"
    MOBILE = "mobile"
    WEIBO = "weibo"
    WECHAT = "wechat"
    APP = "app"
    MINIPROGRAM = "miniprogram"


KINDS = tuple(k.value for k in Kind)
WEB_KINDS = frozenset({Kind.PORTAL, Kind.SERVICE, Kind.OPENDATA, Kind.MOBILE})


class Channel(BaseModel):
    """One channel of one unit: a site to crawl, or an account or app read by an adapter."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, extra="forbid")

    unit: str
    kind: Kind
    url: str
    name: str = ""

    @property
    def is_web(self) -> bool:
        """Whether the crawler fetches this channel (portal, service, opendata, mobile)."""
        return self.kind in WEB_KINDS

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise ValueError("empty unit code")
        units: Collection[str] | None = (info.context or {}).get("units")
        if units is not None and value not in units:
            close = difflib.get_close_matches(value, list(units), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ValueError(f"unknown unit code `{value}`{hint}")
        return value

    @field_validator("url")
    @classmethod
    def _url_fits_kind(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if not value:
            raise ValueError("empty url")
        if kind in WEB_KINDS or "://" in value:
            problem = http_url_problem(value)
            if problem:
                raise ValueError(problem)
        elif any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise ValueError(f"account id `{value}` contains whitespace or control characters")
        return value


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL with a host, or None if it is one."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return f"url `{url}` contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"bad url `{url}`: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        return f"url `{url}` has scheme `{shown}`; expected an http:// or https:// URL"
    if not parts.hostname:
        return f"url `{url}` has no host"
    return None


def load_channels(path: Path, units: Collection[str] | None = None) -> list[Channel]:
    """Read and validate a channels registry; ``units`` is the set of known unit codes.

    Raises :class:`ChannelsError` listing every problem of the file.
    """
    text, problems = _read_text(path)
    if text is None:
        raise ChannelsError(problems)
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    problems = _check_header(str(path), header)
    if problems:
        raise ChannelsError(problems)
    assert header is not None
    position = {name.strip(): i for i, name in enumerate(header)}
    channels: list[Channel] = []
    seen: dict[tuple[str, str, str], int] = {}
    line = rows.line_num + 1
    for record in rows:
        start, line = line, rows.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        channel = _validate_row(str(path), start, record, position, units, problems)
        if channel is None:
            continue
        key = (channel.unit, channel.kind.value, channel.url)
        if key in seen:
            problems.append(Problem(str(path), start, position["url"] + 1,
                                    f"duplicate channel: same unit, kind and url as line {seen[key]}"))
            continue
        seen[key] = start
        channels.append(channel)
    if problems:
        raise ChannelsError(problems)
    return channels


def _read_text(path: Path) -> tuple[str | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(str(path), 0, 0, f"cannot read the channels file: {exc.strerror or exc}")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [Problem(str(path), line, col, "not UTF-8; save the registry as UTF-8 CSV")]


def _check_header(path: str, header: list[str] | None) -> list[Problem]:
    if header is None:
        return [Problem(path, 1, 1, f"empty file; expected the header {','.join(COLUMNS)}")]
    names = [h.strip() for h in header]
    problems = [Problem(path, 1, i + 1, f"unknown column `{n}`; expected {','.join(COLUMNS)}")
                for i, n in enumerate(names) if n not in COLUMNS]
    problems += [Problem(path, 1, i + 1, f"column `{n}` appears twice")
                 for i, n in enumerate(names) if n in COLUMNS and n in names[:i]]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        problems.append(Problem(path, 1, len(names) + 1, f"missing column(s) {', '.join(missing)}"))
    return problems


def _validate_row(path: str, line: int, record: list[str], position: dict[str, int],
                  units: Collection[str] | None, problems: list[Problem]) -> Channel | None:
    if len(record) != len(position):
        problems.append(Problem(path, line, min(len(record), len(position)) + 1,
                                f"expected {len(position)} fields, found {len(record)}"))
        return None
    data = {name: record[i] for name, i in position.items()}
    try:
        return Channel.model_validate(data, context={"units": units})
    except ValidationError as exc:
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else "unit"
            problems.append(Problem(path, line, position.get(column, 0) + 1, _message(err)))
        return None


def _message(err: ErrorDetails) -> str:
    if err["type"] == "enum":
        return f"unknown channel kind `{err['input']}`; expected one of {', '.join(KINDS)}"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
