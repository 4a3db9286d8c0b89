"""Links of an HTML page: where the crawler can go next.

Followed: ``<a href>``, ``<area href>``, ``<frame src>`` and ``<iframe src>`` (frames are how
many older government portals are built), resolved against ``<base href>`` when the page has one,
canonicalised and de-duplicated in document order. Anything that is not http(s) — ``javascript:``,
``mailto:``, ``tel:`` — is dropped by :func:`~govindex.collect.urls.canonicalize`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser

from govindex.collect.urls import canonicalize

_SELECTOR = "a[href], area[href], frame[src], iframe[src]"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def extract_links(html: str, url: str) -> list[str]:
    """The canonical, distinct link targets of ``html`` fetched from ``url``, in document order."""
    tree = LexborHTMLParser(html)
    base = url
    node = tree.css_first("base[href]")
    if node is not None:
        href = node.attributes.get("href") or ""
        base = canonicalize(href, base=url) or url
    seen: dict[str, None] = {}
    for node in tree.css(_SELECTOR):
        target = node.attributes.get("src" if node.tag in ("frame", "iframe") else "href")
        if not target:
            continue
        link = resolve(target, base)
        if link is not None:
            seen.setdefault(link, None)
    return list(seen)


def resolve(href: str, base: str) -> str | None:
    """``canonicalize(href, base)``, cached on the part of ``base`` that the result depends on.

    Navigation links repeat on every page of a site; keyed this way (origin for ``/path``, the
    directory for ``path``, nothing for absolute URLs) most of them are resolved once per site.
    """
    href = href.strip()
    if _SCHEME.match(href):
        context = ""
    elif href.startswith("//"):
        context = base  # protocol-relative: rare, and odd ones ("//") depend on the whole base
    elif href.startswith("/"):
        path_start = base.find("/", base.find("//") + 2)
        context = (base[:path_start] if path_start > 0 else base) + "/"
    elif href and href[0] not in "?#":
        context = base.split("?", 1)[0].rsplit("/", 1)[0] + "/"
    else:
        context = base
    return _resolve(href, context)


@lru_cache(maxsize=200_000)
def _resolve(href: str, context: str) -> str | None:
    return canonicalize(href, base=context or None)
