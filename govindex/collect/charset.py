"""Decoding pages: which charset a body is in, and its text.

Chinese government sites serve GBK, GB2312 and UTF-8, often mislabelled. The order follows the
WHATWG encoding-sniffing algorithm: a byte-order mark wins (browsers honour it over any label),
then the HTTP ``Content-Type`` charset, then ``<meta charset>`` / ``<meta http-equiv
content-type>`` in the first 4 KiB, then statistical detection (charset-normalizer). GBK and
GB2312 labels decode as GB18030, their superset, so that characters outside GB2312 survive.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030",
            "cp936": "gb18030", "euc-cn": "gb18030", "csgb2312": "gb18030", "hz-gb-2312": "gb18030",
            "ms936": "gb18030", "windows-936": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252",
            "ascii": "cp1252", "us-ascii": "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_HEADER = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
TEXT_TYPES = ("text/", "application/xhtml", "application/xml", "application/json", "application/javascript")


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body's text, the charset it was decoded with and where that charset came from."""

    text: str
    charset: str
    source: str  # bom | header | meta | detected | default


def normalise(label: str) -> str | None:
    """The Python codec for a charset label (GBK and GB2312 → gb18030), or None if unknown."""
    low = label.strip().strip("\"'").lower()
    low = _ALIASES.get(low, low)
    try:
        name = codecs.lookup(low).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def is_text(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names a textual body worth decoding (HTML, XML, plain text …)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith("+xml")


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header, normalised, or None."""
    match = _HEADER.search(content_type or "")
    return normalise(match.group(1)) if match else None


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode ``body`` by BOM, header charset, meta charset, then detection; never raises."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom):].decode(name, "replace"), name, "bom")
    for source, name in (("header", header_charset(content_type)), ("meta", _meta_charset(body))):
        if name:
            return Decoded(body.decode(name, "replace"), name, source)
    return _detect(body)


def _meta_charset(body: bytes) -> str | None:
    match = _META.search(body[:4096])
    return normalise(match.group(1).decode("ascii")) if match else None


def _detect(body: bytes) -> Decoded:
    try:
        return Decoded(body.decode("utf-8"), "utf-8", "detected")
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:65536]).best()
    name = normalise(best.encoding) if best is not None else None
    if name is None:
        return Decoded(body.decode("gb18030", "replace"), "gb18030", "default")
    return Decoded(body.decode(name, "replace"), name, "detected")
