"""The State model's serialisation, the successor rule, and StoreConfig."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import StateError
from reconciler.state import (
    STATE_FORMAT_VERSION,
    ManagedGroup,
    ManagedUser,
    RemovalRecord,
    State,
    StoreConfig,
    decode_state,
    encode_state,
)
from reconciler.state.store import successor

RECOVERY = "restore it from a backup"


def sample_state() -> State:
    return State(
        target="bitwarden",
        serial=4,
        users={"u2": ManagedUser(external_id="u2", id="id-2", user_name="b@x.org", origin="adopted"),
               "u1": ManagedUser(external_id="u1", id="id-1", user_name="a@x.org")},
        groups={"g1": ManagedGroup(external_id="g1", id="gid-1", display_name="Eng", members=("id-1", "id-2"))},
        removals={"u3": RemovalRecord(external_id="u3", id="id-3", user_name="c@x.org", action="disable",
                                      at="2024-05-01T00:00:00Z", reason="left \u2028 ärger \x7f\x01/\"\\ 🙂", previous_groups=("g1",))},
    )  # fmt: skip


def decode(data: bytes, target: str = "bitwarden") -> State:
    return decode_state(data, target=target, where="state.json", recovery=RECOVERY)


def test_encode_is_sorted_indented_with_trailing_newline() -> None:
    data = encode_state(sample_state())
    text = data.decode()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n  "format_version": 1,')
    raw = json.loads(text)
    assert list(raw) == sorted(raw)
    assert list(raw["users"]) == ["u1", "u2"]
    assert json.dumps(raw, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == text


def test_round_trip_is_exact_and_deterministic() -> None:
    state = sample_state()
    assert decode(encode_state(state)) == state
    assert encode_state(decode(encode_state(state))) == encode_state(state)


def test_fresh_states_get_distinct_lineages() -> None:
    assert State(target="t").lineage != State(target="t").lineage


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "is corrupt (not JSON"),
        (b"\xff\xfe", "is corrupt (not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"target": "bitwarden"}', "no valid format_version"),
        (b'{"format_version": "1", "target": "bitwarden"}', "no valid format_version"),
        (b'{"format_version": 1, "target": "bitwarden", "serial": "x"}', "is invalid (serial"),
        (b'{"format_version": 1, "target": "bitwarden", "bogus": 1}', "is invalid (bogus"),
    ],
)
def test_unusable_bytes_name_the_place_and_the_recovery(data: bytes, fragment: str) -> None:
    with pytest.raises(StateError) as err:
        decode(data)
    assert fragment in str(err.value)
    assert "state.json" in str(err.value) and RECOVERY in str(err.value)


def test_newer_format_version_is_refused() -> None:
    data = json.dumps({"format_version": STATE_FORMAT_VERSION + 1, "target": "bitwarden"}).encode()
    with pytest.raises(StateError, match="newer than this reconcile supports.*upgrade reconcile"):
        decode(data)


def test_state_of_another_target_is_refused() -> None:
    with pytest.raises(StateError, match="belongs to target 'bitwarden', not 'other'"):
        decode(encode_state(sample_state()), target="other")


def test_successor_increments_serial_by_exactly_one() -> None:
    stored = sample_state()
    changed = stored.model_copy(update={"users": {}})
    saved = successor(stored, changed, target="bitwarden", where="here")
    assert saved.serial == stored.serial + 1 and saved.users == {} and saved.lineage == stored.lineage


def test_successor_of_nothing_starts_at_one_and_fixes_the_lineage() -> None:
    fresh = State(target="bitwarden")
    saved = successor(None, fresh, target="bitwarden", where="here")
    assert saved.serial == 1 and saved.lineage == fresh.lineage


@pytest.mark.parametrize(
    ("update", "fragment"),
    [
        ({"lineage": "other"}, "lineage other"),
        ({"serial": 3}, "derived from serial 3"),
        ({"serial": 5}, "derived from serial 5"),
        ({"target": "x"}, "target 'x'"),
    ],
)
def test_successor_refuses_what_does_not_descend(update: dict[str, object], fragment: str) -> None:
    stored = sample_state()
    with pytest.raises(StateError, match=fragment):
        successor(stored, stored.model_copy(update=update), target="bitwarden", where="here")


def test_store_config_defaults_and_strictness() -> None:
    config = StoreConfig()
    assert (config.backend, config.path, config.branch, config.remote) == (
        "local", ".reconcile/state", "reconcile-state", "origin",
    )  # fmt: skip
    assert StoreConfig.model_validate({"backend": "git"}).backend == "git"
    with pytest.raises(ValueError):
        StoreConfig.model_validate({"backend": "s3"})
    with pytest.raises(ValueError):
        StoreConfig.model_validate({"backend": "local", "bucket": "x"})
    with pytest.raises(ValueError):
        setattr(config, "backend", "git")  # noqa: B010


def test_store_config_converts_objects_with_the_same_fields() -> None:
    class Settings:
        backend = "git"
        path = ".state"
        branch = "s"
        remote = "upstream"

    config = StoreConfig.model_validate(Settings(), from_attributes=True)
    assert config == StoreConfig(backend="git", path=".state", branch="s", remote="upstream")
