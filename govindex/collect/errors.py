"""The error tree of ``probes``, the collection package.

    GovindexError (govindex.diagnostics)   anything the user can cause; the CLI prints it, never a traceback
    └── ProbesError                 a collection problem (exit 1)
        ├── ChannelsError           a channels registry has bad rows; ``problems`` lists every one (C codes)
        ├── ArchiveError            a WARC file, its index or a crawl journal cannot be read
        └── FetchError              one fetch failed; ``kind`` is an :class:`ErrorKind`
            └── GuardError          the scheme or the resolved address is refused

A :class:`FetchError` never leaves the crawler: a failed fetch becomes an index row whose
``error`` column holds its kind, so a failure is a fact, never an absent page. The kinds are a
closed set (:class:`ErrorKind`).

Other collection modules (extraction, manual entry, adapters) hang their errors under
:class:`ProbesError` too.
"""

from __future__ import annotations

from enum import StrEnum

from govindex.diagnostics import Diagnostic, GovindexError


class ErrorKind(StrEnum):
    """Why a fetch produced no usable page: the values of the index's ``error`` column."""

    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECT = "connect"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    ROBOTS = "robots"
    TOO_LARGE = "too_large"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BLOCKED_ADDRESS = "blocked_address"
    BAD_SCHEME = "bad_scheme"
    OUT_OF_SCOPE = "out_of_scope"
    DECODE = "decode"


class ProbesError(GovindexError):
    """Base of the collection errors a user can cause."""


class ChannelsError(ProbesError):
    """A channels registry has problems; ``problems`` (also ``diagnostics``) holds all of them, in
    file order, each at its record and column: ``channels.csv:3 [unit]: error[C104 bad-unit]: …``."""

    def __init__(self, problems: list[Diagnostic]):
        self.problems = self.diagnostics = problems
        super().__init__("\n".join(d.render() for d in problems))


class ArchiveError(ProbesError):
    """A WARC file, the crawl index or the frontier journal is missing or unreadable."""


class FetchError(ProbesError):
    """One fetch failed with a ``kind`` from the closed set :class:`ErrorKind`."""

    def __init__(self, kind: ErrorKind, message: str):
        self.kind = kind
        super().__init__(f"{kind}: {message}")


class GuardError(FetchError):
    """The URL's scheme or one of its resolved addresses is not allowed."""
