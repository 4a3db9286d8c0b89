"""One way to write outputs: every file and directory govindex writes goes through here.

Three shapes, one temp-name scheme (``.govindex-<name>.<pid>.<token>.<kind>``, always in the
directory of the thing it becomes, so a rename never crosses a filesystem):

* :func:`write_file` — one file, atomically: a temp sibling is written, flushed and fsynced,
  renamed over the target, and the directory is fsynced. A reader sees the old file or the new.
* :func:`replace_dir` — a directory as **one generation** (a results directory): every file is
  written into a temp sibling directory and fsynced, a ``generation.json`` manifest (id, size and
  sha256 of every file) last; then the directory is swapped in whole — with one atomic
  ``renameat2(RENAME_EXCHANGE)`` where the kernel and filesystem have it, else by renaming the old
  one aside, the new one in, and removing the old. After a kill -9 at any instant the path holds
  the complete old or the complete new directory; in the two-rename case, for the instant between
  the renames, it holds nothing and :func:`recover_dir` (run by the next writer and reader) puts
  the new one in place.
* :func:`commit` — several files into an existing directory (a facts directory), all or nothing:
  a plan is recorded, every file staged next to its destination and fsynced, then the plan becomes
  the journal by one rename (the commit point) and the renames are done. The plan and the journal
  live in ``.govindex-journal.<pid>.<token>.commit/`` in that directory. The next
  :func:`recover_commits` (run by the next writer, and by ``score`` before it reads facts) rolls a
  journal forward, or an uncommitted plan back (removing the directories it had made).

Temps are stale when the process named in them is gone; the next write to the same place (and
:func:`recover_dir`, :func:`recover_commits`) removes them. A pid reused by a live process keeps
its temps until that process ends: conservative, never wrong. One writer per target at a time.

Missing parent directories are created (the command line says so first). What is refused
(:class:`~govindex.diagnostics.OutputError`, exit 1): a parent that cannot be created or written,
anything but a regular file where a file goes (directories, device nodes such as ``/dev/full``,
FIFOs, sockets), anything but a directory of ours where a directory goes, and any symbolic link:
the writers never replace a link and never write through one. The command line resolves a link
the user named as ``--out`` with :func:`file_target` / :func:`dir_target` and says so
(``Target.notes``) before writing to the link's target.

A test hook: ``GOVINDEX_FSIO_KILL_AFTER=N`` makes the process SIGKILL itself right after the N-th
filesystem step (``GOVINDEX_FSIO_TRACE=1`` prints each step to stderr), so kill tests hit every
point deterministically.
"""

from __future__ import annotations

from govindex.fsio.base import KILL_ENV, PREFIX, TRACE_ENV, fsync_path, kind_of, stale_temps, step
from govindex.fsio.files import write_file
from govindex.fsio.generation import MANIFEST, check_manifest, recover_dir, replace_dir, write_manifest
from govindex.fsio.journal import commit, recover_commits
from govindex.fsio.target import Target, dir_target, file_target, refuse_link

__all__ = ["KILL_ENV", "MANIFEST", "PREFIX", "TRACE_ENV", "Target", "check_manifest", "commit", "dir_target",
           "file_target", "fsync_path", "kind_of", "recover_commits", "recover_dir", "refuse_link", "replace_dir",
           "stale_temps", "step", "write_file", "write_manifest"]
