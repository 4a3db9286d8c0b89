"""Decoding pages: which charset a body is in, and its text.

Chinese government sites serve GBK, GB2312 and UTF-8, often mislabelled. The order follows the
WHATWG encoding-sniffing algorithm: a byte-order mark wins (browsers honour it over any label),
then the HTTP ``Content-Type`` charset, then ``<meta charset>`` / ``<meta http-equiv
content-type>`` in the first 4 KiB, then statistical detection (charset-normalizer). GBK and
GB2312 labels decode as GB18030, their superset, so that characters outside GB2312 survive.

A label is believed only when the body agrees with it. A declared charset that does not decode
the body cleanly (more than one bad sequence in a hundred non-ASCII bytes: a GBK body labelled
UTF-8) gives way to the next label, then to detection. A legacy label on a body that is valid
UTF-8 with non-ASCII text gives way to UTF-8: GB18030 decodes UTF-8 bytes without an error, into
mojibake, while GBK text is practically never valid UTF-8. Detection prefers GB18030 among the
equally plausible candidates (a short GBK title is as plausible as Korean to a detector).
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
_ASCII = bytes(range(128))
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
    """Decode ``body`` by BOM, header charset, meta charset, then detection; never raises.

    A declared charset the body does not fit is passed over (see the module's docstring)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom):].decode(name, "replace"), name, "bom")
    for source, declared in (("header", header_charset(content_type)), ("meta", _meta_charset(body))):
        if not declared:
            continue
        if declared != "utf-8" and _is_utf8_text(body):
            return Decoded(body.decode("utf-8", "replace"), "utf-8", "detected")
        text = _clean(body, declared)
        if text is not None:
            return Decoded(text, declared, source)
    return _detect(body)


def _non_ascii(body: bytes) -> int:
    return len(body.translate(None, _ASCII))


def _clean(body: bytes, name: str) -> str | None:
    """``body`` decoded as ``name`` if at most 1 in 100 of its non-ASCII bytes is a bad sequence
    (a stray byte, a body cut mid-character), else None."""
    text = body.decode(name, "replace")
    non_ascii = _non_ascii(body)
    allowed = max(1, non_ascii // 100) if non_ascii > 8 else 0  # a few bytes of text: no slack
    return text if text.count("\ufffd") <= allowed else None


def _is_utf8_text(body: bytes) -> bool:
    """Whether ``body`` holds non-ASCII text and is valid UTF-8 (but for a character cut at the end)."""
    if not _non_ascii(body):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(body, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _meta_charset(body: bytes) -> str | None:
    match = _META.search(body[:4096])
    return normalise(match.group(1).decode("ascii")) if match else None


def _detect(body: bytes) -> Decoded:
    try:
        return Decoded(body.decode("utf-8"), "utf-8", "detected")
    except UnicodeDecodeError:
        pass
    matches = from_bytes(body[:65536])
    best = matches.best()
    if best is None:
        return Decoded(body.decode("gb18030", "replace"), "gb18030", "default")
    tied = {normalise(m.encoding) for m in matches if m.chaos <= best.chaos}
    name = "gb18030" if "gb18030" in tied else normalise(best.encoding)
    if name is None:
        return Decoded(body.decode("gb18030", "replace"), "gb18030", "default")
    return Decoded(body.decode(name, "replace"), name, "detected")
