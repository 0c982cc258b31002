"""fetch_live against scim2-server: exact LiveState for thousands of users, paging edge cases
(the 1000 cap, many small pages, a create between pages, short reads), and snapshots."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.errors import ConfigError, PartialReadError
from reconciler.live import LiveGroup, LiveState, fetch_live, load_snapshot, save_snapshot, snapshot_text
from reconciler.scim import GENERIC, ScimClient
from tests.scim.conftest import N_USERS, Populated
from tests.scim.helpers import bulk_create, bulk_create_users, expected_user, user_body
from tests.servers.faultproxy import Fault, FaultProxy, Rule
from tests.servers.scim2_fixture import Scim2Tenant


def expected_state(populated: Populated) -> LiveState:
    users = sorted(
        (expected_user(uid, body, version) for uid, body, version
         in zip(populated.ids, populated.bodies, populated.versions)),
        key=lambda u: u.id,
    )
    groups = sorted(
        (LiveGroup(id=gid, external_id=ext, display_name=name, members=members, version=None)
         for gid, (name, ext, members) in populated.groups.items()),
        key=lambda g: g.id,
    )
    return LiveState(users=tuple(users), groups=tuple(groups), members_readable=True, source="server")


def test_fetch_live_reads_thousands_exactly(populated: Populated) -> None:
    with ScimClient(populated.tenant.base_url, populated.tenant.token, read_only=True) as client:
        live = fetch_live(client)
        counts = client.request_counts
    expected = expected_state(populated)
    assert len(live.users) == N_USERS and len(live.groups) == len(populated.groups)
    assert live.users == expected.users
    # Group versions depend on the server's counter; compare everything else exactly.
    assert [replace(g, version=None) for g in live.groups] == list(expected.groups)
    assert all(g.version and g.version.startswith('W/"') for g in live.groups)
    # discovery + 3 pages of users (capped at 1000) + 1 page of groups
    assert counts == {"GET": 5}


def test_the_server_cap_on_count_is_followed(populated: Populated) -> None:
    with ScimClient(populated.tenant.base_url, populated.tenant.token, read_only=True) as client:
        client.profile = GENERIC.with_overrides({"page_size": 5000})
        client.discover()
        assert client.profile.page_size == 5000  # an override beats filter.maxResults
        users = client.list_users()
        assert client.request_counts == {"GET": 4}  # discovery + 1000 + 1000 + 500
    assert sorted(u.id for u in users) == sorted(populated.ids)


def test_many_small_pages(scim2_tenant: Scim2Tenant) -> None:
    bodies = [user_body(i) for i in range(100)]
    created = bulk_create(scim2_tenant.base_url, scim2_tenant.token, bodies)
    with ScimClient(scim2_tenant.base_url, scim2_tenant.token, read_only=True,
                    profile=GENERIC.with_overrides({"page_size": 7})) as client:
        live = fetch_live(client)
        assert client.request_counts == {"GET": 1 + 15 + 1}  # discovery, ceil(100/7) pages, groups
    expected = (expected_user(uid, body, version) for (uid, version), body in zip(created, bodies))
    assert live.users == tuple(sorted(expected, key=lambda u: u.id))


def test_a_user_created_between_pages_gives_a_complete_read(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy
) -> None:
    ids = bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(40)])
    created: list[str] = []

    def create_during_read(method: str, path: str, seq: int) -> None:
        # Before the third page: new users sort by random id, so later pages shift.
        if method == "GET" and "startIndex=15&" in path and not created:
            created.extend(bulk_create_users(scim2_tenant.base_url, scim2_tenant.token,
                                             [user_body(i, prefix="late") for i in range(3)]))

    proxy.on_request = create_during_read
    with ScimClient(proxied_tenant.base_url, proxied_tenant.token, read_only=True,
                    profile=GENERIC.with_overrides({"page_size": 7})) as client:
        client.prefetch = False  # the assertions below pin the exact request sequence
        users = client.list_users()
    assert not proxy.hook_errors
    got = [u.id for u in users]
    assert len(got) == len(set(got)) == 43
    assert set(got) == set(ids) | set(created)
    # The total moved at the third page, so the read started again from startIndex=1.
    starts = [e.path.split("startIndex=")[1].split("&")[0] for e in proxy.log]
    assert starts[:4] == ["1", "8", "15", "1"]


def _drop_one_resource(body: bytes) -> bytes:
    doc = json.loads(body)
    doc["Resources"] = doc["Resources"][1:]
    return json.dumps(doc).encode()


def _empty_page(body: bytes) -> bytes:
    doc = json.loads(body)
    doc["Resources"] = []
    return json.dumps(doc).encode()


def _one_more_in_total(body: bytes) -> bytes:
    doc = json.loads(body)
    doc["totalResults"] += 1
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("rewrite", "times", "message"), [
    # One page comes back empty: nothing can be inferred from the rest.
    (_empty_page, 1, "ended short: 10 of 20 resources \\(an empty page at startIndex=11\\)"),
    # A server that always claims one more than it serves.
    (_one_more_in_total, None, "ended short: 20 of 21 resources \\(an empty page at startIndex=21\\)"),
    # Every second page always misses a resource (so the next page repeats one): passes are
    # merged, but the missing resource never comes.
    (_drop_one_resource, None, "did not reach totalResults after 3 reads \\(19 of 20 resources\\)"),
])
def test_short_reads_raise_partial_read_error(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, rewrite, times, message: str
) -> None:
    bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(20)])
    path = r"/Users\?" if rewrite is _one_more_in_total else r"/Users\?startIndex=11&"
    proxy.add(Rule(Fault.rewrite(rewrite), method="GET", path=path, times=times))
    with ScimClient(proxied_tenant.base_url, proxied_tenant.token, read_only=True,
                    profile=GENERIC.with_overrides({"page_size": 10})) as client:
        with pytest.raises(PartialReadError, match=message) as info:
            fetch_live(client)
    assert info.value.method == "GET" and "nothing was planned" in str(info.value)


def test_snapshot_round_trip_is_deterministic(tmp_path: Path) -> None:
    from reconciler.live import LiveUser

    live = LiveState(
        users=(LiveUser(id="b", user_name="bob", emails=("b@x", "b2@x"), active=False),
               LiveUser(id="a", user_name="ann", external_id="e-a", version='W/"2"')),
        groups=(LiveGroup(id="g", display_name="G", members=("a", "b")),
                LiveGroup(id="f", display_name="F", members=None)),
        members_readable=True,
    )
    path = tmp_path / "live" / "snap.json"
    save_snapshot(live, path)
    first = path.read_bytes()
    loaded = load_snapshot(path)
    assert loaded.source == "snapshot"
    assert loaded.users == tuple(sorted(live.users, key=lambda u: u.id))
    assert {g.id: g for g in loaded.groups} == {g.id: g for g in live.groups}
    save_snapshot(loaded.model_copy(update={"source": "server"}), path)
    assert path.read_bytes() == first
    assert first.decode() == snapshot_text(live) and first.endswith(b"}\n")
    doc = json.loads(first)
    assert doc["format"] == "reconcile-live-snapshot" and doc["format_version"] == 1
    assert list(tmp_path.joinpath("live").iterdir()) == [path]  # no temporary file left


def test_snapshot_of_a_real_read(scim2_tenant: Scim2Tenant, tmp_path: Path) -> None:
    ids = bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(30)])
    with ScimClient(scim2_tenant.base_url, scim2_tenant.token, read_only=True) as client:
        live = fetch_live(client)
    save_snapshot(live, tmp_path / "s.json")
    loaded = load_snapshot(tmp_path / "s.json")
    assert loaded == live.model_copy(update={"source": "snapshot"})
    assert sorted(u.id for u in loaded.users) == sorted(ids)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read the live snapshot"),
    ('{"format": "other"}', "not a live snapshot"),
    ('{"format": "reconcile-live-snapshot", "format_version": 9}', "unsupported live snapshot version 9"),
    ('{"format": "reconcile-live-snapshot", "format_version": 1, "live": {"users": [{"id": 1}]}}',
     "invalid live snapshot"),
])
def test_bad_snapshots(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_snapshot(path)
    assert str(path) in str(info.value)


def test_a_page_missing_a_resource_once_is_completed_by_another_pass(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy
) -> None:
    ids = bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(20)])
    proxy.next(1, Fault.rewrite(_drop_one_resource), path=r"/Users\?startIndex=11&")
    with ScimClient(proxied_tenant.base_url, proxied_tenant.token, read_only=True,
                    profile=GENERIC.with_overrides({"page_size": 10})) as client:
        assert sorted(u.id for u in client.list_users()) == sorted(ids)
    # 1, 11 (9 of 10), 20 (a repeat: pages overlap) -> another pass: 1, 11.
    starts = [e.path.split("startIndex=")[1].split("&")[0] for e in proxy.log]
    assert starts == ["1", "11", "20", "1", "11"]
