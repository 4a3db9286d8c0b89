"""Reading the text files a rule set is made of (``.rules``, ``units.csv``), safely.

A path the user names may be anything: a directory called ``x.rules``, a FIFO (opening it for
reading blocks until a writer comes), a device (``/dev/zero`` never ends), a huge file, a file
in GBK. :func:`read_source` reads only regular files, at most :data:`MAX_BYTES`, and decodes
UTF-8 (a leading byte-order mark is kept in the text: the parser and the CSV reader skip it).
Every refusal is a :class:`SourceError` that says where (line and column of the first bad byte
for an encoding error) and what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_BYTES = 16 * 1024 * 1024  # far above any real rule file; below what could exhaust memory
BOM = "\ufeff"

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class SourceError(Exception):
    """Why a file cannot be read as text, with a hint and, for a decoding error, the 1-based line and
    column of the first bad byte (0 when the problem is the file as a whole)."""

    def __init__(self, message: str, line: int = 0, col: int = 0, hint: str = ""):
        super().__init__(message)
        self.message, self.line, self.col, self.hint = message, line, col, hint


def read_source(path: Path, what: str = "rule file") -> str:
    """The UTF-8 text of the regular file ``path`` (BOM kept). Raises :class:`SourceError`."""
    data = _read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(data, exc, what) from None


def _read_bytes(path: Path, what: str) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it. Checking the
    # opened descriptor (not the name) leaves no window for the path to change in between.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SourceError(f"cannot read {what} {path}: {_reason(exc)}", hint=_open_hint(exc)) from None
    try:
        st = os.fstat(fd)
        for test, kind in _KINDS:
            if test(st.st_mode):
                raise SourceError(f"{_shown(path)} is {kind}, not a {what}",
                                  hint=f"a {what} is a regular file; rename or remove this one")
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{path} is not a regular file", hint=f"a {what} is a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_BYTES + 1)  # never more, whatever st_size says
    except OSError as exc:
        raise SourceError(f"cannot read {what} {path}: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise SourceError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB, the limit for a {what}",
                          hint="split the rules into several files in the rule set directory")
    return data


def _shown(path: Path) -> str:
    """The path, and where it leads when it is a symbolic link (``x.rules → /dev/zero``)."""
    return f"{path} (→ {os.path.realpath(path)})" if os.path.islink(path) else str(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _open_hint(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "check the path"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "the file is not readable by this user"
    if exc.errno == errno.ELOOP:
        return "a symbolic link points to itself"
    return ""


def _decode_error(data: bytes, exc: UnicodeDecodeError, what: str) -> SourceError:
    start = exc.start
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    col = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
    hint = f"a {what} is UTF-8 text; save it as UTF-8"
    try:
        data.decode("gb18030")
        hint += " (it reads as GBK/GB18030: iconv -f GB18030 -t UTF-8 old > new)"
    except UnicodeDecodeError:
        pass
    return SourceError(f"not UTF-8: byte 0x{data[start]:02x} cannot be decoded", line, col, hint)
