"""Where loaded items came from (reconciler.config.load.Sources) across files and bad items."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.load import load_project


def write(root: Path, name: str, text: str) -> None:
    path = root / "desired-state" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_each_item_is_located_in_its_own_file_even_after_a_bad_item(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write(tmp_path, "a.yaml", "users:\n  - {externalId: a1, userName: a1@example.com}\n"
                              "  - {externalId: a2, userName: a2@example.com}\n")
    write(tmp_path, "b.yaml", "users:\n  - {externalId: b1, userName: b1@example.com}\n"
                              "  - {externalId: b2, userName: b2@example.com, bogus: 1}\n"
                              "  - {externalId: b3, userName: b3@example.com}\n"
                              "groups:\n  - {externalId: g1, displayName: G1}\n")
    desired = load_project(tmp_path).desired
    assert [u.external_id for u in desired.users] == ["a1", "a2", "b1", "b3"]
    where = [str(desired.user_sources[i].where("userName")) for i in range(len(desired.users))]
    assert where == ["desired-state/a.yaml:2:32", "desired-state/a.yaml:3:32",
                     "desired-state/b.yaml:2:32", "desired-state/b.yaml:4:32"]
    assert len(desired.user_sources) == 4
    assert str(desired.user_sources[-1].where()) == "desired-state/b.yaml:4:5"
    assert str(desired.group_sources[0].where("displayName")) == "desired-state/b.yaml:6:35"
    with pytest.raises(IndexError):
        desired.user_sources[4]
