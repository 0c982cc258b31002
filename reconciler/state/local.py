"""The local state store: `<root>/<path>/<target>.json` (default `.reconcile/state/`).

Invariants:

* The state file is only ever replaced whole: bytes go to a temporary file in the same directory,
  which is fsynced, `os.replace`d over the state file, and the directory is fsynced. A kill -9
  at any moment leaves either the old or the new file, both parseable.
* Writes happen only while this process holds `<target>.lock`. The lock file is written complete
  (pid, host, time, a random token) to a temporary name and hard-linked into place, which fails
  if a lock exists, so a lock file is never seen half-written. A lock whose pid is dead on this
  host is stale and is broken with a warning; any other lock is a StateError naming the holder.
* A corrupt, unreadable or too-new state file is a StateError, never an empty state.

`FileLock` is shared with the git store, which keeps its lock the same way; files are replaced by
`reconciler.fileio.atomic_write`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import StateError
from reconciler.fileio import TMP_SUFFIX, atomic_write, fsync_dir, remove_leftover_temps, write_new_file
from reconciler.state.model import State
from reconciler.state.store import (
    StateStore,
    StateWriter,
    decode_state,
    encode_state,
    successor,
)

log = logging.getLogger(__name__)

# --- the lock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    since: str
    token: str

    def to_bytes(self) -> bytes:
        payload = {"pid": self.pid, "host": self.host, "since": self.since, "token": self.token}
        return (json.dumps(payload, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LockInfo | None:
        try:
            raw = json.loads(data.decode("utf-8"))
            return cls(pid=int(raw["pid"]), host=str(raw["host"]), since=str(raw["since"]),
                       token=str(raw["token"]))  # fmt: skip
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as alive)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # no safe probe: never break such a lock automatically
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLock:
    """An exclusive lock on a target's state, held by one process for a whole apply run."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target
        self._info: LockInfo | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = LockInfo(
            pid=os.getpid(),
            host=socket.gethostname(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            token=uuid.uuid4().hex,
        )
        for _ in range(5):
            if self._try_create(info):
                self._info = info
                log.debug("took lock %s", self.path)
                return
            held = self._read()
            if held is None:  # released between our attempt and the read: try again
                continue
            raw, holder = held
            if holder is not None and self._is_stale(holder):
                self._break(raw, holder)
                continue
            raise StateError(self._held_message(holder))
        raise StateError(
            f"could not take the lock {self.path} for target {self.target!r}: it keeps changing "
            "hands; another apply is starting at the same time, try again later"
        )

    def verify(self) -> None:
        """StateError unless this process still holds the lock (nobody removed or broke it)."""
        held = self._read()
        holder = held[1] if held is not None else None
        if self._info is None or holder is None or holder.token != self._info.token:
            raise StateError(
                f"lost the lock {self.path} on the state of target {self.target!r} (it was removed "
                "or taken by another process); state not written; run plan again"
            )

    def release(self) -> None:
        if self._info is None:
            return
        held = self._read()
        if held is not None and held[1] is not None and held[1].token == self._info.token:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
            log.debug("released lock %s", self.path)
        else:
            log.warning("lock %s was no longer ours when releasing it; left it alone", self.path)
        self._info = None

    @property
    def held(self) -> bool:
        return self._info is not None

    def _try_create(self, info: LockInfo) -> bool:
        tmp = self.path.with_name(f"{self.path.name}.{info.token}{TMP_SUFFIX}")
        write_new_file(tmp, info.to_bytes())
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        return True

    def _read(self) -> tuple[bytes, LockInfo | None] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the lock file {self.path}: {exc}") from None
        return raw, LockInfo.from_bytes(raw)

    @staticmethod
    def _is_stale(holder: LockInfo) -> bool:
        return (
            holder.host == socket.gethostname()
            and holder.pid != os.getpid()
            and not pid_alive(holder.pid)
        )

    def _break(self, raw: bytes, holder: LockInfo) -> None:
        """Remove a stale lock, without ever removing a fresh one taken meanwhile."""
        aside = self.path.with_name(f"{self.path.name}.stale.{uuid.uuid4().hex}{TMP_SUFFIX}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # someone else broke it first
        try:
            if aside.read_bytes() != raw:  # a fresh lock replaced the stale one: put it back
                try:
                    os.link(aside, self.path)
                except FileExistsError:
                    pass
                return
        finally:
            aside.unlink(missing_ok=True)
        log.warning(
            "broke a stale lock on the state of target %r: pid %d on %s (since %s) is gone; "
            "its apply was interrupted",
            self.target, holder.pid, holder.host, holder.since,
        )  # fmt: skip

    def _held_message(self, holder: LockInfo | None) -> str:
        if holder is None:
            return (
                f"state for target {self.target!r} is locked, but the lock file {self.path} is "
                f"unreadable; if no apply is running, remove {self.path}"
            )
        return (
            f"state for target {self.target!r} is locked by pid {holder.pid} on {holder.host} "
            f"since {holder.since}; if no apply is running, remove {self.path}"
        )


@contextmanager
def locked(lock: FileLock) -> Iterator[FileLock]:
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


# --- the local store -------------------------------------------------------------------------


def read_state_file(path: Path, *, target: str, recovery: str) -> State | None:
    """The state stored in `path`, None if there is none, StateError if it cannot be used."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror or exc}; {recovery}") from None
    return decode_state(data, target=target, where=str(path), recovery=recovery)


class LocalStore(StateStore):
    """State in a JSON file next to the project; the default backend.

    Each session (an apply) first copies the state it starts from to `<target>.json.backup`, as
    Terraform keeps `terraform.tfstate.backup`: if the state file is later damaged or edited by
    hand, the last good state is one copy away. A state that does not parse is never copied.
    """

    def __init__(self, root: Path, target: str, *, path: str = ".reconcile/state") -> None:
        self.target = target
        self.directory = Path(root) / path
        self.file = self.directory / f"{target}.json"
        self.backup_file = self.directory / f"{target}.json.backup"
        self.lock_file = self.directory / f"{target}.lock"

    def describe(self) -> str:
        return f"local state file {self.file}"

    def load(self) -> State:
        state = self._read()
        if state is None:
            log.info("no state yet for target %r at %s; starting empty", self.target, self.file)
            return State(target=self.target)
        return state

    @contextmanager
    def session(self, plan_checksum: str | None, message: str) -> Iterator[StateWriter]:
        with locked(FileLock(self.lock_file, self.target)) as lock:
            remove_leftover_temps(self.file)
            remove_leftover_temps(self.backup_file)
            stored = self._read()
            if stored is not None:  # it parsed: keep it as the backup before anything changes
                atomic_write(self.backup_file, self.file.read_bytes())
            writer = _LocalWriter(self, lock, stored)
            log.info(
                "state session for target %r: %s (plan %s)", self.target, message, plan_checksum
            )
            yield writer

    def _read(self) -> State | None:
        return read_state_file(self.file, target=self.target, recovery=self._recovery())

    def _recovery(self) -> str:
        backup = self._backup_serial()
        source = (
            f"from {self.backup_file} (the state before the last apply, serial {backup}; then run "
            "plan and review it)" if backup is not None else "from a backup or version control"
        )
        return (
            f"restore {self.file} {source}; never delete it to start over: it records which "
            "accounts and groups the reconciler owns and what it removed"
        )

    def _backup_serial(self) -> int | None:
        """The serial of a usable backup, None when there is none."""
        try:
            backup = read_state_file(self.backup_file, target=self.target, recovery="")
        except StateError:
            return None
        return None if backup is None else backup.serial

    def _write(self, state: State) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file, encode_state(state))


class _LocalWriter(StateWriter):
    def __init__(self, store: LocalStore, lock: FileLock, stored: State | None) -> None:
        self._store = store
        self._lock = lock
        self._stored = stored
        self._empty = State(target=store.target) if stored is None else None
        self._mutex = threading.Lock()

    @property
    def state(self) -> State:
        if self._stored is not None:
            return self._stored
        assert self._empty is not None
        return self._empty

    def save(self, state: State) -> State:
        with self._mutex:
            if not self._lock.held:
                raise StateError(f"the state session for {self._store.describe()} is over; not saved")
            new = successor(self._stored, state, target=self._store.target, where=self._store.describe())
            self._lock.verify()
            self._store._write(new)
            self._stored = new
        log.debug("saved state of target %r at serial %d", new.target, new.serial)
        return new
