"""The bitwarden profile: MockTransport unit tests of the wire quirks, and integration tests
against the Bitwarden stand-in (tests/servers/bitwarden.py): several pages read into an exact
LiveState, lookups, create/revoke/restore, membership PATCHes, errors, strictly serial requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from reconciler.errors import ScimError
from reconciler.live import LiveGroup, LiveState, LiveUser, fetch_live
from reconciler.scim import BITWARDEN, ScimClient
from reconciler.scim.probe import test_connection as probe_connection
from tests.scim.helpers import list_page, mock_transport, scim_json

from tests.servers.bitwarden import BitwardenOrg


def bw_client(org: Any, **kw: Any) -> ScimClient:
    kw.setdefault("profile", BITWARDEN.with_overrides({"page_size": 10}))
    return ScimClient(org.base_url, org.token, token_env="BITWARDEN_SCIM_TOKEN", **kw)


# -- unit: the wire as Bitwarden speaks it ------------------------------------------------------


def test_fetch_live_on_bitwarden_wire_shapes() -> None:
    users = [
        {"id": f"u{i}", "userName": f"user{i}@example.com", "externalId": f"e{i}", "displayName": None,
         "name": {"formatted": None, "givenName": None, "familyName": None},
         "emails": [{"primary": True, "value": f"user{i}@example.com", "type": "work"}],
         "primaryEmail": f"user{i}@example.com", "active": i != 3, "groups": [],
         "meta": {"resourceType": "User", "created": None, "lastModified": None}}
        for i in range(7)
    ]
    groups = [{"id": "g1", "displayName": "Eng", "externalId": "grp-eng", "meta": {"resourceType": "Group"}}]

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        data = users if request.url.path.endswith("/Users") else groups
        start, count = int(q["startIndex"]), int(q["count"])
        # Bitwarden: camelCase `resources`, itemsPerPage echoes the requested count (§2, §11).
        return scim_json(200, list_page(data[start - 1 : start - 1 + count], len(data), key="resources",
                                        start=start, items_per_page=count))

    transport, seen = mock_transport(handler)
    with ScimClient("https://scim.bitwarden.com/v2/org", "k", read_only=True, transport=transport,
                    profile=BITWARDEN.with_overrides({"page_size": 3})) as client:
        live = fetch_live(client)
    assert [r.url.path for r in seen].count("/v2/org/Users") == 3  # 3 + 3 + 1
    assert not any("ServiceProviderConfig" in r.url.path for r in seen)
    assert all({"startIndex", "count"} <= set(r.url.params) for r in seen)
    assert live.members_readable is False
    assert live.groups == (LiveGroup(id="g1", external_id="grp-eng", display_name="Eng", members=None),)
    assert [u.active for u in live.users] == [i != 3 for i in range(7)]
    assert live.users[0] == LiveUser(id="u0", external_id="e0", user_name="user0@example.com",
                                     emails=("user0@example.com",))


def test_bitwarden_requests_are_strictly_serial() -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        return httpx.Response(204)

    transport, _ = mock_transport(handler)
    with ScimClient("https://scim.bitwarden.com/v2/org", "k", transport=transport, profile=BITWARDEN) as client:
        threads = [threading.Thread(target=client.patch_user, args=(str(i), BITWARDEN.set_active_ops(True)))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert state["max"] == 1 and client.request_counts == {"PATCH": 8}


# -- integration: the Bitwarden stand-in -------------------------------------------------------


def test_several_pages_into_an_exact_live_state(bitwarden_server: BitwardenOrg) -> None:
    org = bitwarden_server
    seeded = [org.seed_member(f"user{i:02d}@example.com", external_id=f"00u{i:02d}",
                              status=("Invited", "Accepted", "Confirmed", "Revoked")[i % 4],
                              name=None if i % 4 == 0 else f"User {i}")
              for i in range(33)]
    manual = org.seed_member("owner@example.com", type="Owner", status="Confirmed", name="The Owner")
    g1 = org.seed_group("Engineering", external_id="grp-eng", members=[m["id"] for m in seeded[:5]])
    g2 = org.seed_group("Sales", external_id=None, members=[])
    org.clear_log()
    with bw_client(org, read_only=True) as client:
        live = fetch_live(client)
    expected_users = sorted(
        [
            LiveUser(id=m["id"], external_id=m["external_id"], user_name=m["scim_email"].lower()
                     if m["status"] == "Invited" else m["scim_email"],
                     emails=(m["scim_email"],), display_name=m["name"], active=m["status"] != "Revoked")
            for m in [org.member(s["id"]) for s in seeded]
        ]
        + [LiveUser(id=manual["id"], external_id=None, user_name="owner@example.com",
                    emails=("owner@example.com",), display_name="The Owner")],
        key=lambda u: u.id,
    )
    # name.formatted is Bitwarden's account name, never a given/family name: compare the rest.
    assert live == LiveState(
        users=tuple(expected_users),
        groups=tuple(sorted([
            LiveGroup(id=g1["id"], external_id="grp-eng", display_name="Engineering", members=None),
            LiveGroup(id=g2["id"], external_id=org.group(g2["id"])["external_id"], display_name="Sales", members=None),
        ], key=lambda g: g.id)),
        members_readable=False,
        source="server",
    )
    log = org.log()
    assert [e["method"] for e in log] == ["GET"] * 5  # users 10+10+10+4, groups 2; no discovery
    assert sum(1 for e in log if "users" in e["path"].lower()) == 4


def test_lookups_and_lifecycle(bitwarden_server: BitwardenOrg) -> None:
    org = bitwarden_server
    with bw_client(org) as client:
        body = BITWARDEN.user_create_body(user_name="Carol@Example.com", external_id="00uC",
                                          emails=["Carol@Example.com"], active=False)
        created = client.create_user(body)
        assert created.active is True and created.user_name == "carol@example.com"  # lowercased invite
        with pytest.raises(ScimError) as dup:
            client.create_user(body)
        assert dup.value.status == 409 and dup.value.scim_type is None and dup.value.detail

        assert client.find_user(external_id="00uC").id == created.id
        assert client.find_user(external_id="00uc") is None  # case-sensitive
        assert client.find_user(user_name="CAROL@example.com").id == created.id
        with pytest.raises(ValueError, match="e-mail userName"):
            client.find_user(user_name="carol")

        # Desired disabled: created active (POST must say true), then revoked (§3, §4).
        assert client.patch_user(created.id, BITWARDEN.set_active_ops(False)) is None
        assert client.get_user(created.id).active is False
        assert org.member(created.id)["status"] == "Revoked"
        client.patch_user(created.id, BITWARDEN.set_active_ops(True))
        assert org.member(created.id)["status"] == "Invited"
        client.patch_user(created.id, BITWARDEN.user_update_ops({"externalId": "00uC-2"}))
        assert client.get_user(created.id).external_id == "00uC-2"

        other = client.create_user(BITWARDEN.user_create_body(user_name="dan@example.com", external_id="00uD"))
        group = client.create_group(BITWARDEN.group_create_body(display_name="Ops", external_id="grp-ops",
                                                                members=[created.id]))
        assert group.members is None  # never returned
        assert org.group_members(group.id) == {created.id}
        client.update_group_members(group.id, adds=[other.id], removes=[created.id])
        assert org.group_members(group.id) == {other.id}
        client.patch_group(group.id, BITWARDEN.group_rename_ops(display_name="Operations"))
        assert client.find_group(display_name="Operations").id == group.id
        assert client.find_group(external_id="grp-ops").display_name == "Operations"
        client.delete_group(group.id)
        client.delete_user(other.id)
        with pytest.raises(ScimError) as gone:
            client.get_user(other.id)
        assert gone.value.status == 404 and gone.value.detail == "User not found."
    patches = [e for e in org.log() if e["method"] == "PATCH"]
    assert patches and all(e["status"] == 204 for e in patches)


def test_probe_on_bitwarden(bitwarden_server: BitwardenOrg) -> None:
    org = bitwarden_server
    org.seed_member("a@example.com", external_id="a")
    with bw_client(org, read_only=True) as client:
        report = probe_connection(client)
    assert report.ok and report.users == 1 and report.groups == 0 and not report.discovery
    with ScimClient(org.base_url, "wrong", profile=BITWARDEN, token_env="BITWARDEN_SCIM_TOKEN") as client:
        bad = probe_connection(client)
    assert bad.problems == (
        f"authentication failed (HTTP 401 on GET /v2/{org.org_id}/Users?startIndex=1&count=1): "
        "check the token variable BITWARDEN_SCIM_TOKEN and the organization id in the URL "
        "(one SCIM key belongs to one organization)",
    )
    with ScimClient(org.base_url.replace(org.org_id, "00000000-0000-0000-0000-000000000000"), org.token,
                    profile=BITWARDEN) as client:
        wrong_org = probe_connection(client)
    assert not wrong_org.ok and len(wrong_org.problems) == 1
    # Bitwarden answers 401 for an unknown org id as for a wrong key (§0): name both.
    assert "and the organization id in the URL" in wrong_org.problems[0]


def test_bitwarden_token_never_leaks(bitwarden_server: BitwardenOrg, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import traceback

    caplog.set_level(logging.DEBUG)
    org = bitwarden_server
    org.inject_fault("drop_after_write", method="POST")
    texts: list[str] = []
    with bw_client(org) as client:
        texts.append(repr(client))
        for call in (
            lambda: client.create_user(BITWARDEN.user_create_body(user_name="e@example.com", external_id="e")),
            lambda: client.get_user("00000000-0000-0000-0000-000000000001"),
        ):
            try:
                call()
            except ScimError as exc:
                texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [r.getMessage() for r in caplog.records]
    assert len(texts) >= 7 and not [t for t in texts if org.token in t]


def test_fault_proxy_in_front_of_the_bitwarden_stand_in(bitwarden_server: BitwardenOrg) -> None:
    from tests.scim.helpers import FakeClock
    from tests.servers.faultproxy import Fault, FaultProxy

    org = bitwarden_server
    ids = [org.seed_member(f"p{i:02d}@example.com", external_id=f"p{i}")["id"] for i in range(25)]
    clock = FakeClock()
    with FaultProxy(org.server.root_url) as proxy:
        proxy.next(2, Fault.answer(503, "1"), method="GET")
        proxy.next(1, Fault.drop(), method="GET", skip=2)
        proxy.every(4, Fault.too_many_until(2), method="GET")
        with ScimClient(proxy.rebase(org.base_url), org.token, profile=BITWARDEN.with_overrides({"page_size": 10}),
                        read_only=True, clock=clock.clock, sleep=clock.sleep) as client:
            live = fetch_live(client)
        faults = [e.fault for e in proxy.log if e.fault]
    assert sorted(u.id for u in live.users) == sorted(ids)
    assert faults[:3] == ["503", "503", "drop"] and len(clock.sleeps) == len(faults)
