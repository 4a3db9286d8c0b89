"""The channels registry: which online channels each unit has, one CSV per evaluation year.

The file is UTF-8 (a BOM is tolerated) with the header ``unit,kind,url,name``::

    unit,kind,url,name
    511500,portal,http://www.yibin.gov.cn/,宜宾市人民政府
    511500,weibo,宜宾发布,宜宾发布

``kind`` is one of :data:`KINDS`. Web kinds (:data:`WEB_KINDS`) are crawled and need an http(s)
URL; the others (accounts and apps) take an account id or a URL. Every bad row is reported at
once, each a :class:`~govindex.diagnostics.Diagnostic` (codes C1xx) at its line and column —
``channels.csv:3 [unit]: error[C104 bad-unit]: …`` — in one
:class:`~govindex.collect.errors.ChannelsError`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from govindex.collect.errors import ChannelsError
from govindex.diagnostics import Diagnostic, File, Record, did_you_mean

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


class _Bad(ValueError):
    """A value a validator refuses: its problem code, message and hint."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
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
            raise _Bad("C104", "empty unit code")
        units: Collection[str] | None = (info.context or {}).get("units")
        if units is not None and value not in units:
            raise _Bad("C104", f"unknown unit code `{value}`", did_you_mean(value, units, n=1))
        return value

    @field_validator("url")
    @classmethod
    def _url_fits_kind(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if not value:
            raise _Bad("C106", "empty url")
        if kind in WEB_KINDS or "://" in value:
            problem = http_url_problem(value)
            if problem:
                raise _Bad("C106", problem)
        elif any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise _Bad("C106", f"account id `{value}` contains whitespace or control characters")
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
            problems.append(Diagnostic("C107", f"duplicate channel: same unit, kind and url as line {seen[key]}",
                                       Record(str(path), start, column="url")))
            continue
        seen[key] = start
        channels.append(channel)
    if problems:
        raise ChannelsError(problems)
    return channels


def _read_text(path: Path) -> tuple[str | None, list[Diagnostic]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic("C101", f"cannot read the channels file: {exc.strerror or exc}", File(str(path)))]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [Diagnostic("C101", f"not UTF-8 (byte {col} of the line); save the registry as UTF-8 CSV",
                                 Record(str(path), line))]


def _check_header(path: str, header: list[str] | None) -> list[Diagnostic]:
    if header is None:
        return [Diagnostic("C102", f"empty file; expected the header {','.join(COLUMNS)}", Record(path, 1))]
    names = [h.strip() for h in header]
    problems = [Diagnostic("C102", f"unknown column `{n}`; expected {','.join(COLUMNS)}", Record(path, 1, column=n))
                for n in names if n not in COLUMNS]
    problems += [Diagnostic("C102", f"column `{n}` appears twice", Record(path, 1, column=n))
                 for i, n in enumerate(names) if n in COLUMNS and n in names[:i]]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        problems.append(Diagnostic("C102", f"missing column(s) {', '.join(missing)}", Record(path, 1)))
    return problems


def _validate_row(path: str, line: int, record: list[str], position: dict[str, int],
                  units: Collection[str] | None, problems: list[Diagnostic]) -> Channel | None:
    if len(record) != len(position):
        problems.append(Diagnostic("C103", f"expected {len(position)} fields, found {len(record)}", Record(path, line),
                                   "quote fields that contain commas"))
        return None
    data = {name: record[i] for name, i in position.items()}
    try:
        return Channel.model_validate(data, context={"units": units})
    except ValidationError as exc:
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else "unit"
            problems.append(_problem(err, Record(path, line, column=column)))
        return None


def _problem(err: ErrorDetails, where: Record) -> Diagnostic:
    if err["type"] == "enum":
        return Diagnostic("C105", f"unknown channel kind `{err['input']}`; expected one of {', '.join(KINDS)}", where)
    bad = (err.get("ctx") or {}).get("error")
    if isinstance(bad, _Bad):
        return Diagnostic(bad.code, bad.message, where, bad.hint)
    return Diagnostic("C103", str(err["msg"]).removeprefix("Value error, "), where)
