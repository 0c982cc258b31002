"""Profiles: payloads checked with scim2-models as an oracle, Bitwarden's rules, overrides."""

from __future__ import annotations

import pytest
from scim2_models import Context, Group, PatchOp, User

from reconciler.errors import ConfigError
from reconciler.scim.profiles import (
    ALLOWED_OVERRIDES,
    BITWARDEN,
    GENERIC,
    eq_filter,
    get_profile,
)
from reconciler.scim.wire import ServiceProviderConfig

CREATE = Context.RESOURCE_CREATION_REQUEST
PATCH = Context.RESOURCE_PATCH_REQUEST


def test_generic_user_create_body_is_a_valid_creation_request() -> None:
    body = GENERIC.user_create_body(
        user_name="alice", external_id="00u1", emails=["a@x.org", "b@x.org", "a@x.org"],
        display_name="Alice L", given_name="Alice", family_name="L", active=False,
    )
    assert body == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "alice", "externalId": "00u1",
        "name": {"givenName": "Alice", "familyName": "L"}, "displayName": "Alice L",
        "emails": [{"value": "a@x.org", "type": "work", "primary": True}, {"value": "b@x.org", "type": "work"}],
        "active": False,
    }
    parsed = User.model_validate(body, scim_ctx=CREATE)
    assert parsed.user_name == "alice" and parsed.active is False


def test_bitwarden_user_create_body() -> None:
    body = BITWARDEN.user_create_body(
        user_name="Bob@Example.com", external_id="00u2", emails=["bob@example.com"],
        display_name="ignored", given_name="ignored", active=False,
    )
    # bitwarden-scim.md §3: primary work e-mail, active true always (disable afterwards).
    assert body == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "00u2", "userName": "Bob@Example.com",
        "emails": [{"value": "bob@example.com", "primary": True, "type": "work"}],
        "active": True,
    }
    User.model_validate(body, scim_ctx=CREATE)
    assert BITWARDEN.post_requires_active_true
    # No e-mail given: a userName that is an address is invited.
    assert BITWARDEN.user_create_body(user_name="c@x.org", external_id="e")["emails"][0]["value"] == "c@x.org"
    with pytest.raises(ValueError, match="e-mail"):
        BITWARDEN.user_create_body(user_name="carol", external_id="e")


def test_user_update_ops_generic_are_valid_patch_requests() -> None:
    ops = GENERIC.user_update_ops({
        "name.givenName": "B", "displayName": None, "emails": ["q@x.org", "r@x.org"],
        "active": False, "externalId": "new", "userName": "bob2",
    })
    assert ops["Operations"] == [
        {"op": "replace", "path": "active", "value": False},
        {"op": "remove", "path": "displayName"},
        {"op": "replace", "path": "emails", "value": [
            {"value": "q@x.org", "type": "work", "primary": True}, {"value": "r@x.org", "type": "work"}]},
        {"op": "replace", "path": "externalId", "value": "new"},
        {"op": "replace", "path": "name.givenName", "value": "B"},
        {"op": "replace", "path": "userName", "value": "bob2"},
    ]
    PatchOp[User].model_validate(ops, scim_ctx=PATCH)


def test_bitwarden_user_update_ops_only_active_and_external_id() -> None:
    ops = BITWARDEN.user_update_ops({"externalId": None, "active": True})
    # Bitwarden handles only `replace`; a JSON null clears externalId; active is a JSON boolean.
    assert ops["Operations"] == [
        {"op": "replace", "path": "active", "value": True},
        {"op": "replace", "path": "externalId", "value": None},
    ]
    PatchOp[User].model_validate(ops, scim_ctx=PATCH)
    with pytest.raises(ValueError, match="cannot change displayName, emails"):
        BITWARDEN.user_update_ops({"displayName": "x", "emails": ["a@b"]})


@pytest.mark.parametrize("profile", [GENERIC, BITWARDEN])
@pytest.mark.parametrize("active", [True, False])
def test_set_active_ops(profile, active: bool) -> None:
    ops = profile.set_active_ops(active)
    assert ops["Operations"] == [{"op": "replace", "path": "active", "value": active}]
    assert PatchOp[User].model_validate(ops, scim_ctx=PATCH).operations[0].value is active


def test_group_member_ops_one_patch_deduplicated_sorted() -> None:
    ops = GENERIC.group_member_ops(adds=["c", "a", "c"], removes=["z", "y", "z"])
    assert ops is not None
    assert ops["Operations"] == [
        {"op": "remove", "path": 'members[value eq "y"]'},
        {"op": "remove", "path": 'members[value eq "z"]'},
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "c"}]},
    ]
    PatchOp[Group].model_validate(ops, scim_ctx=PATCH)
    assert GENERIC.group_member_ops([], []) is None
    with pytest.raises(ValueError, match="both added and removed"):
        GENERIC.group_member_ops(adds=["a"], removes=["a"])


def test_group_member_ops_quotes_ids_in_the_path() -> None:
    ops = GENERIC.group_member_ops(removes=['we"ird\\id'])
    assert ops is not None and ops["Operations"][0]["path"] == 'members[value eq "we\\"ird\\\\id"]'
    PatchOp[Group].model_validate(ops, scim_ctx=PATCH)


def test_group_member_ops_value_list_style() -> None:
    ops = BITWARDEN.group_member_ops(adds=["n1"], removes=["o2", "o1"])
    assert ops is not None and ops["Operations"] == [
        {"op": "remove", "path": "members", "value": [{"value": "o1"}, {"value": "o2"}]},
        {"op": "add", "path": "members", "value": [{"value": "n1"}]},
    ]
    # The Entra/django-scim2 form is not RFC 7644: the strict oracle refuses it, as scim2-server does.
    with pytest.raises(ValueError, match="remove operation carries no value"):
        PatchOp[Group].model_validate(ops, scim_ctx=PATCH)
    assert GENERIC.group_member_ops(removes=["x"], style="value_list")["Operations"][0]["path"] == "members"


def test_group_create_rename_and_replace_bodies() -> None:
    body = GENERIC.group_create_body(display_name="Eng", external_id="grp-eng", members=["b", "a", "b"])
    assert body["members"] == [{"value": "a"}, {"value": "b"}]
    Group.model_validate(body, scim_ctx=CREATE)
    assert "members" not in GENERIC.group_create_body(display_name="E", external_id=None)
    ops = GENERIC.group_rename_ops(display_name="Engineering", external_id="grp-eng2")
    assert ops["Operations"] == [
        {"op": "replace", "path": "displayName", "value": "Engineering"},
        {"op": "replace", "path": "externalId", "value": "grp-eng2"},
    ]
    PatchOp[Group].model_validate(ops, scim_ctx=PATCH)
    with pytest.raises(ValueError):
        GENERIC.group_rename_ops()
    # PUT without members keeps Bitwarden's membership; [] would remove everyone.
    assert "members" not in BITWARDEN.group_replace_body(display_name="E", external_id="e", members=None)
    assert BITWARDEN.group_replace_body(display_name="E", external_id=None, members=[])["members"] == []


def test_overrides_apply_and_survive_discovery() -> None:
    p = GENERIC.with_overrides({"etag": False, "member_remove": "value_list", "concurrency": 2, "page_size": 500})
    assert (p.supports_etag, p.member_remove, p.concurrency, p.page_size) == (False, "value_list", 2, 500)
    spc = ServiceProviderConfig.model_validate(
        {"etag": {"supported": True}, "filter": {"supported": True, "maxResults": 1000}}
    )
    after = p.with_discovery(spc)
    assert after.supports_etag is False and after.page_size == 500  # overrides win
    plain = GENERIC.with_discovery(
        ServiceProviderConfig.model_validate({"etag": {"supported": False}, "filter": {"maxResults": 200}})
    )
    assert plain.supports_etag is False and plain.page_size == 200
    assert BITWARDEN.with_discovery(spc) is BITWARDEN  # no discovery endpoints on Bitwarden


def test_override_errors_list_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as info:
        GENERIC.with_overrides({"etags": True, "concurency": 3})
    text = str(info.value)
    assert "unknown capability override 'concurency'" in text and "'etags'" in text
    assert "allowed keys: " + ", ".join(ALLOWED_OVERRIDES) in text
    with pytest.raises(ConfigError, match="'etag'.*boolean"):
        GENERIC.with_overrides({"etag": "yes"})
    with pytest.raises(ConfigError, match="'member_remove'"):
        GENERIC.with_overrides({"member_remove": "filter"})
    with pytest.raises(ConfigError, match="'concurrency'"):
        GENERIC.with_overrides({"concurrency": 0})
    with pytest.raises(ConfigError, match="must be at most 1 for the bitwarden profile"):
        BITWARDEN.with_overrides({"concurrency": 2})
    with pytest.raises(ConfigError, match="unknown SCIM profile 'okta'"):
        get_profile("okta")
    assert get_profile("bitwarden", {"page_size": 200}).page_size == 200


def test_profile_facts() -> None:
    assert BITWARDEN.concurrency == 1 and not BITWARDEN.members_readable and not BITWARDEN.discovery
    assert BITWARDEN.lookup_user_name_requires_email and BITWARDEN.user_writable_fields == {"active", "externalId"}
    assert GENERIC.concurrency == 4 and GENERIC.members_readable and GENERIC.member_remove == "auto"
    assert eq_filter("userName", 'a"b') == 'userName eq "a\\"b"'
    assert set(GENERIC.capabilities()) == set(ALLOWED_OVERRIDES)
