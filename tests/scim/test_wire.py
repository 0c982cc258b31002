"""Wire models: lenient parsing, unknown attributes kept, conversion to LiveUser/LiveGroup, speed."""

from __future__ import annotations

import json
import time

from hypothesis import given
from hypothesis import strategies as st

from reconciler.live import LiveGroup, LiveUser
from reconciler.scim.profiles import quote
from reconciler.scim.wire import (
    Error,
    Group,
    GroupList,
    PatchOp,
    PatchOperation,
    ServiceProviderConfig,
    User,
    UserList,
    to_live_group,
    to_live_user,
)
from tests.scim.helpers import list_page

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_list_response_reads_both_spellings_of_resources() -> None:
    res = [{"id": "1", "userName": "a"}]
    assert len(UserList.model_validate_json(json.dumps(list_page(res, 1))).resources) == 1
    # Bitwarden: camelCase System.Text.Json, so `resources` (bitwarden-scim.md §11).
    bw = UserList.model_validate_json(json.dumps(list_page(res, 1, key="resources", items_per_page=50)))
    assert [u.id for u in bw.resources] == ["1"]
    assert bw.items_per_page == 50 and bw.total_results == 1


def test_unknown_attributes_survive_a_round_trip() -> None:
    raw = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "1",
        "userName": "a@example.com",
        "primaryEmail": "a@example.com",  # Bitwarden's extra getters
        ENTERPRISE: {"employeeNumber": "42"},
        "emails": [{"value": "a@example.com", "primary": True, "type": "work", "x-custom": 1}],
        "meta": {"resourceType": "User", "version": 'W/"3"', "x-meta": True},
    }
    user = User.model_validate(raw)
    assert user.model_extra == {"primaryEmail": "a@example.com", ENTERPRISE: {"employeeNumber": "42"}}
    assert user.to_wire() == raw


def test_to_live_user_orders_emails_primary_first_and_reads_version() -> None:
    user = User.model_validate({
        "id": "u1", "userName": "bob", "externalId": "e1", "active": False,
        "name": {"givenName": "Bob", "familyName": "B"}, "displayName": "Bob B",
        "emails": [{"value": "home@x"}, {"value": "work@x", "primary": True}, {"value": "other@x"}],
        "meta": {"version": 'W/"7"'},
    })
    assert to_live_user(user) == LiveUser(
        id="u1", external_id="e1", user_name="bob", emails=("work@x", "home@x", "other@x"),
        display_name="Bob B", given_name="Bob", family_name="B", active=False, version='W/"7"',
    )


def test_to_live_user_defaults() -> None:
    live = to_live_user(User.model_validate({"id": "u1", "userName": "x"}), etag='W/"1"')
    assert live.active is True and live.emails == () and live.version == 'W/"1"'


def test_to_live_group_members_sorted_distinct_or_unknown() -> None:
    group = Group.model_validate({
        "id": "g", "displayName": "G", "externalId": "eg",
        "members": [{"value": "b"}, {"value": "a", "display": "A"}, {"value": "b"}, {"display": "no value"}],
    })
    assert to_live_group(group) == LiveGroup(id="g", external_id="eg", display_name="G", members=("a", "b"))
    assert to_live_group(group, members_readable=False).members is None
    # scim2-server leaves `members` out when a group is empty: that is empty, not unknown.
    assert to_live_group(Group.model_validate({"id": "g", "displayName": "G"})).members == ()


def test_error_status_as_string_or_number() -> None:
    assert Error.model_validate_json('{"status": "409", "scimType": "uniqueness", "detail": "d"}').status == "409"
    bw = Error.model_validate_json('{"schemas": [], "status": 409, "detail": "User already exists."}')
    assert bw.status == 409 and bw.scim_type is None


def test_patch_op_wire_form() -> None:
    op = PatchOp(operations=[
        PatchOperation(op="remove", path='members[value eq "x"]'),
        PatchOperation(op="replace", path="externalId", value=None),
        PatchOperation(op="add", path="members", value=[{"value": "y"}]),
    ])
    assert op.to_wire() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": 'members[value eq "x"]'},
            {"op": "replace", "path": "externalId", "value": None},
            {"op": "add", "path": "members", "value": [{"value": "y"}]},
        ],
    }


def test_service_provider_config() -> None:
    spc = ServiceProviderConfig.model_validate({
        "patch": {"supported": True}, "filter": {"supported": True, "maxResults": 200},
        "etag": {"supported": False}, "bulk": {"supported": True, "maxOperations": 1000},
    })
    assert spc.filter and spc.filter.max_results == 200
    assert spc.etag and not spc.etag.supported


def test_ten_thousand_users_parse_well_under_a_second() -> None:
    users = [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": f"{i:032x}", "externalId": f"ext-{i}", "userName": f"user{i}@example.com",
            "name": {"givenName": "G", "familyName": "F"}, "displayName": "G F", "active": True,
            "emails": [{"value": f"user{i}@example.com", "primary": True, "type": "work"}],
            "meta": {"resourceType": "User", "created": "2026-12-04T12:00:00Z", "version": 'W/"1"'},
            ENTERPRISE: {"employeeNumber": str(i)},
        }
        for i in range(10_000)
    ]
    raw = json.dumps(list_page(users, 10_000)).encode()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        page = UserList.model_validate_json(raw)
        live = [to_live_user(u) for u in page.resources]
        best = min(best, time.perf_counter() - t)
    assert len(live) == 10_000 and live[-1].external_id == "ext-9999"
    assert best < 0.8, f"parsing 10k users took {best:.2f} s"


def test_group_list_parses() -> None:
    page = GroupList.model_validate_json(json.dumps(list_page([{"id": "g", "displayName": "G"}], 1)))
    assert page.resources[0].display_name == "G"


@given(st.text())
def test_quote_is_a_json_string_literal(value: str) -> None:
    # RFC 7644 §3.4.2.2: a filter's compValue string follows JSON string rules.
    assert json.loads(quote(value)) == value
