"""The local store against real files: serials, lineage, the lock, corruption, crash safety."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.config.policy import StateSettings
from reconciler.errors import StateError
from reconciler.state import (
    LocalStore,
    ManagedUser,
    State,
    StoreConfig,
    encode_state,
    open_store,
)
from reconciler.state.local import FileLock, LockInfo

REPO = Path(__file__).resolve().parents[2]
TARGET = "bw"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path, TARGET)


def with_user(state: State, n: int) -> State:
    users = dict(state.users)
    users[f"u{n}"] = ManagedUser(external_id=f"u{n}", id=f"id-{n}", user_name=f"u{n}@x.org")
    return state.model_copy(update={"users": users})


def write_lock(path: Path, *, pid: int, host: str | None = None) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = LockInfo(pid=pid, host=host or socket.gethostname(), since="2024-01-01T00:00:00+00:00", token="t")
    path.write_bytes(info.to_bytes())
    return info.to_bytes()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- load and save ---------------------------------------------------------------------------


def test_load_without_a_file_gives_an_empty_state(store: LocalStore) -> None:
    state = store.load()
    assert (state.target, state.serial, state.users) == (TARGET, 0, {})
    assert not store.file.exists()


def test_save_increments_serial_and_writes_sorted_json(store: LocalStore, tmp_path: Path) -> None:
    loaded = store.load()
    with store.session("sha256:abc", "apply") as writer:
        first = writer.save(with_user(loaded, 2))
        second = writer.save(with_user(first, 1))
        assert writer.state == second
    assert (first.serial, second.serial) == (1, 2)
    assert second.lineage == loaded.lineage
    assert store.file == tmp_path / ".reconcile" / "state" / f"{TARGET}.json"
    assert store.file.read_bytes() == encode_state(second)
    assert store.load() == second
    assert list(json.loads(store.file.read_text())["users"]) == ["u1", "u2"]


def test_serial_continues_across_sessions(store: LocalStore) -> None:
    with store.session(None, "one") as writer:
        writer.save(writer.state)
    with store.session(None, "two") as writer:
        assert writer.state.serial == 1
        assert writer.save(writer.state).serial == 2


def test_a_stale_copy_cannot_be_saved(store: LocalStore) -> None:
    loaded = store.load()
    with store.session(None, "apply") as writer:
        writer.save(loaded)
        with pytest.raises(StateError, match="derived from serial 0.*stored state is at serial 1"):
            writer.save(with_user(loaded, 1))
    assert store.load().serial == 1


def test_lineage_mismatch_is_refused(store: LocalStore) -> None:
    with store.session(None, "first") as writer:
        writer.save(writer.state)
    stored = store.load()
    before = store.file.read_bytes()
    foreign = State(target=TARGET, serial=stored.serial)
    with store.session(None, "second") as writer:
        with pytest.raises(StateError, match="lineage .* it is a different state"):
            writer.save(foreign)
    assert store.file.read_bytes() == before


def test_state_of_another_target_is_refused(store: LocalStore) -> None:
    with store.session(None, "apply") as writer:
        with pytest.raises(StateError, match="target 'other'"):
            writer.save(State(target="other"))


def test_save_after_the_session_is_refused(store: LocalStore) -> None:
    with store.session(None, "apply") as writer:
        pass
    with pytest.raises(StateError, match="session .* is over"):
        writer.save(writer.state)
    assert not store.file.exists()


def test_custom_path_and_open_store(tmp_path: Path) -> None:
    store = open_store(StoreConfig(path="var/state"), tmp_path, TARGET)
    assert isinstance(store, LocalStore)
    assert store.file == tmp_path / "var" / "state" / f"{TARGET}.json"
    assert str(store.file) in store.describe()
    from_policy = open_store(StateSettings(), tmp_path, TARGET)  # type: ignore[arg-type]
    assert isinstance(from_policy, LocalStore)


# --- unusable files --------------------------------------------------------------------------


def test_corrupt_file_is_an_error_and_is_left_alone(store: LocalStore) -> None:
    store.file.parent.mkdir(parents=True)
    store.file.write_text('{"format_version": 1, "target": "bw", "users": {', encoding="utf-8")
    with pytest.raises(StateError) as err:
        store.load()
    message = str(err.value)
    assert str(store.file) in message and "corrupt" in message and "restore" in message
    with pytest.raises(StateError), store.session(None, "apply"):
        pass
    assert store.file.read_text(encoding="utf-8").endswith('"users": {')
    assert not store.lock_file.exists()


def test_unreadable_file_is_an_error(store: LocalStore) -> None:
    store.file.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(StateError, match="cannot read state file .*bw.json"):
        store.load()


def test_newer_format_version_is_an_error(store: LocalStore) -> None:
    store.file.parent.mkdir(parents=True)
    store.file.write_text(json.dumps({"format_version": 99, "target": TARGET}), encoding="utf-8")
    with pytest.raises(StateError, match="format_version 99, newer than"):
        store.load()


def test_leftover_temporary_files_are_removed(store: LocalStore) -> None:
    store.file.parent.mkdir(parents=True)
    leftover = store.file.with_name(f".{store.file.name}.deadbeef.tmp")
    leftover.write_text("{half", encoding="utf-8")
    with store.session(None, "apply") as writer:
        writer.save(writer.state)
    assert not leftover.exists()
    assert sorted(p.name for p in store.file.parent.iterdir()) == [f"{TARGET}.json"]


# --- the lock --------------------------------------------------------------------------------


def test_lock_is_held_for_the_session_and_released(store: LocalStore) -> None:
    with store.session("sha256:abc", "apply"):
        holder = LockInfo.from_bytes(store.lock_file.read_bytes())
        assert holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname()
    assert not store.lock_file.exists()


def test_lock_is_released_when_the_body_fails(store: LocalStore) -> None:
    with pytest.raises(RuntimeError), store.session(None, "apply") as writer:
        writer.save(writer.state)
        raise RuntimeError("boom")
    assert not store.lock_file.exists()
    assert store.load().serial == 1


def test_a_live_lock_is_refused_with_holder_and_remedy(store: LocalStore) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        content = write_lock(store.lock_file, pid=sleeper.pid)
        with pytest.raises(StateError) as err, store.session(None, "apply"):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    assert str(err.value) == (
        f"state for target 'bw' is locked by pid {sleeper.pid} on {socket.gethostname()} since "
        f"2024-01-01T00:00:00+00:00; if no apply is running, remove {store.lock_file}"
    )
    assert store.lock_file.read_bytes() == content


def test_a_second_session_in_the_same_process_is_refused(store: LocalStore) -> None:
    with store.session(None, "outer"):
        with pytest.raises(StateError, match=f"locked by pid {os.getpid()}"):
            with LocalStore(store.file.parents[2], TARGET).session(None, "inner"):
                pass
        assert store.lock_file.exists()


def test_a_lock_of_a_dead_pid_on_this_host_is_broken(
    store: LocalStore, caplog: pytest.LogCaptureFixture
) -> None:
    pid = dead_pid()
    write_lock(store.lock_file, pid=pid)
    with caplog.at_level(logging.WARNING, logger="reconciler.state.local"):
        with store.session(None, "apply") as writer:
            writer.save(writer.state)
    assert f"broke a stale lock on the state of target 'bw': pid {pid}" in caplog.text
    assert store.load().serial == 1 and not store.lock_file.exists()


def test_a_lock_from_another_host_is_never_broken(store: LocalStore) -> None:
    write_lock(store.lock_file, pid=dead_pid(), host="some-other-runner")
    with pytest.raises(StateError, match="on some-other-runner since"):
        with store.session(None, "apply"):
            pass
    assert store.lock_file.exists()


def test_an_unreadable_lock_file_is_refused(store: LocalStore) -> None:
    store.lock_file.parent.mkdir(parents=True)
    store.lock_file.write_text("garbage", encoding="utf-8")
    with pytest.raises(StateError, match="lock file .* is unreadable; if no apply is running, remove"):
        with store.session(None, "apply"):
            pass


def test_losing_the_lock_mid_session_stops_writes(store: LocalStore) -> None:
    with store.session(None, "apply") as writer:
        state = writer.save(writer.state)
        store.lock_file.unlink()
        with pytest.raises(StateError, match="lost the lock"):
            writer.save(state)
    assert store.load().serial == 1


def test_breaking_never_removes_a_fresh_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "t.lock", "t")
    stale = write_lock(lock.path, pid=dead_pid())
    fresh = write_lock(tmp_path / "fresh", pid=os.getpid())
    os.replace(tmp_path / "fresh", lock.path)  # a fresh lock took over after the stale one was read
    holder = LockInfo.from_bytes(stale)
    assert holder is not None
    lock._break(stale, holder)
    assert lock.path.read_bytes() == fresh
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.lock"]


# --- crash safety ----------------------------------------------------------------------------

WRITER = r"""
import sys
from pathlib import Path
from reconciler.state import LocalStore, ManagedUser

store = LocalStore(Path(sys.argv[1]), "bw")
with store.session(None, "crash loop") as writer:
    state = writer.state
    i = 0
    while True:
        i += 1
        users = {
            f"u{j}": ManagedUser(external_id=f"u{j}", id=f"id-{i}-{j}", user_name=f"user{j}@x.org")
            for j in range(300 + i % 97)
        }
        state = writer.save(state.model_copy(update={"users": users}))
        if i == 3:
            print("ready", flush=True)
"""


def test_kill_9_during_a_write_loop_leaves_a_parseable_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    store = LocalStore(tmp_path, TARGET)
    rng = random.Random(7)
    last_serial = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        state = store.load()  # parses: either the old or the new file, never a torn one
        assert state.serial >= last_serial + 3
        assert all(u.id.startswith(f"id-{state.serial - last_serial}-") for u in state.users.values())
        last_serial = state.serial
        assert store.lock_file.exists()  # the killed run's lock: stale, broken by the next run


CONTENDER = r"""
import sys, time
from pathlib import Path
from reconciler.errors import StateError
from reconciler.state import LocalStore

store = LocalStore(Path(sys.argv[1]), "bw")
done = 0
while done < int(sys.argv[2]):
    try:
        with store.session(None, "contend") as writer:
            writer.save(writer.state)
            done += 1
    except StateError as exc:
        if "is locked by" not in str(exc):
            raise
        time.sleep(0.001)
"""


def test_the_lock_excludes_concurrent_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", CONTENDER, str(tmp_path), "25"], env=env)
        for _ in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert LocalStore(tmp_path, TARGET).load().serial == 100  # no lost update


# --- the backup ------------------------------------------------------------------------------


def test_each_session_keeps_the_state_it_starts_from_as_the_backup(store: LocalStore) -> None:
    with store.session(None, "first") as writer:
        writer.save(with_user(writer.state, 1))
    assert not store.backup_file.exists()  # there was nothing to keep
    first = store.file.read_bytes()
    with store.session(None, "second") as writer:
        assert store.backup_file.read_bytes() == first
        writer.save(with_user(writer.state, 2))
        writer.save(with_user(writer.state, 3))
    assert store.backup_file.read_bytes() == first  # one copy per session, not per save
    assert store.load().serial == 3


def test_a_damaged_state_names_its_backup_and_never_overwrites_it(store: LocalStore) -> None:
    with store.session(None, "first") as writer:
        writer.save(with_user(writer.state, 1))
    with store.session(None, "second") as writer:
        writer.save(with_user(writer.state, 2))
    good = store.backup_file.read_bytes()
    store.file.write_text('{"format_version": 1, "target": "bw", "users": {', encoding="utf-8")
    with pytest.raises(StateError) as err:
        store.load()
    assert f"restore {store.file} from {store.backup_file} (the state before the last apply, serial 1" in str(err.value)
    with pytest.raises(StateError), store.session(None, "third"):
        pass
    assert store.backup_file.read_bytes() == good
    os.replace(store.backup_file, store.file)  # the remedy the message gives
    assert store.load().serial == 1 and set(store.load().users) == {"u1"}


def test_an_unusable_backup_is_not_offered(store: LocalStore) -> None:
    store.file.parent.mkdir(parents=True)
    store.backup_file.write_text("not json", encoding="utf-8")
    store.file.write_text("{", encoding="utf-8")
    with pytest.raises(StateError, match="from a backup or version control"):
        store.load()
