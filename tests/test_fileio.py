"""Atomic file replacement (reconciler.fileio), used for state, plans, snapshots, imported YAML and
the parse cache: permissions, leftovers, and a failed write that leaves the old file whole."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.fileio import atomic_write, remove_leftover_temps


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_permissions_new_kept_and_asked(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        new = tmp_path / "sub" / "new.json"
        atomic_write(new, b"1")  # the directory is made; 0644 whatever the umask
        assert new.read_bytes() == b"1" and mode(new) == 0o644
        new.chmod(0o640)
        atomic_write(new, b"2", durable=False)
        assert new.read_bytes() == b"2" and mode(new) == 0o640  # an existing file keeps its own
        atomic_write(new, b"3", mode=0o600)
        assert mode(new) == 0o600
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in new.parent.iterdir()) == ["new.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    atomic_write(path, b"old")
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_leftovers_of_an_interrupted_write_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"x")
    (tmp_path / ".state.json.0123abcd.tmp").write_bytes(b"half")
    (tmp_path / ".other.json.0123abcd.tmp").write_bytes(b"not ours")
    remove_leftover_temps(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.0123abcd.tmp", "state.json"]
