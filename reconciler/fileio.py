"""Atomic file replacement, the one way reconcile writes a file that must never be seen half-written:
state and journals, plan files, live snapshots, imported YAML, the parse cache.

Bytes go to a temporary file in the same directory (`.<name>.<random>.tmp`), which is fsynced and
`os.replace`d over the target, then the directory is fsynced. A kill -9 at any moment leaves
either the old or the new file; `remove_leftover_temps` deletes what an interrupted write left.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content.

    `mode`: the file's permissions; by default an existing file keeps its own and a new one gets
    0644 (a live snapshot, which holds personal data, asks for 0600). `durable`: fsync the file
    and the directory; a cache, which is only slower when lost, need not wait for the disk.
    """
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")
    try:
        write_new_file(tmp, data, mode=mode, durable=durable)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def remove_leftover_temps(path: Path) -> None:
    """Delete temporary files an interrupted `atomic_write(path, ...)` left behind."""
    for leftover in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        log.debug("removing leftover temporary file %s", leftover)
        leftover.unlink(missing_ok=True)


def write_new_file(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Create `path` (it must not exist) holding `data` with permissions `mode`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
