"""Resilience through the real loopback fault proxy in front of scim2-server: 429 (both
Retry-After forms), 503 bursts, dropped connections, writes the server performed but never
answered, timeouts, and seeded random faults. The client sleeps on a fake clock."""

from __future__ import annotations

import pytest

from reconciler.errors import AmbiguousRequestError, PartialReadError, ReadOnlyViolation, ScimTransportError
from reconciler.live import fetch_live
from reconciler.scim import GENERIC, RetryPolicy, ScimClient
from tests.scim.helpers import FakeClock, bulk_create_users, user_body
from tests.servers.faultproxy import Fault, FaultProxy
from tests.servers.scim2_fixture import Scim2Tenant


def client_for(tenant: Scim2Tenant, clock: FakeClock, **kw) -> ScimClient:
    kw.setdefault("seed", 3)
    return ScimClient(tenant.base_url, tenant.token, clock=clock.clock, sleep=clock.sleep, **kw)


def test_every_third_request_429_with_retry_after_seconds(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(30)])
    proxy.every(3, Fault.too_many(retry_after="2"))
    with client_for(proxied_tenant, fake_clock) as client:
        client.profile = GENERIC.with_overrides({"page_size": 4})
        users = client.list_users()
    assert len(users) == 30
    statuses = [e.status for e in proxy.log]
    assert statuses.count(429) == len(statuses) // 3 and statuses.count(200) == 8
    assert all(2 <= s <= 2.3 for s in fake_clock.sleeps) and len(fake_clock.sleeps) == statuses.count(429)


def test_429_with_retry_after_http_date(
    proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    proxy.next(1, Fault.too_many_until(4))
    with client_for(proxied_tenant, fake_clock) as client:
        assert client.list_users() == []
    assert [e.status for e in proxy.log] == [429, 200]
    # An HTTP-date has one-second resolution: 4 s ahead is 3 to 4 s away when it arrives.
    assert 2.5 <= fake_clock.sleeps[0] <= 4.5


def test_503_burst_then_success(proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock) -> None:
    proxy.next(3, Fault.answer(503))
    with client_for(proxied_tenant, fake_clock) as client:
        created = client.create_user(GENERIC.user_create_body(user_name="a", external_id="a"))
        assert client.get_user(created.id).user_name == "a"
    assert [(e.method, e.status) for e in proxy.log] == [("POST", 503)] * 3 + [("POST", 201), ("GET", 200)]
    assert len(fake_clock.sleeps) == 3


def test_dropped_connection_on_a_read_is_retried(
    proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    proxy.next(2, Fault.drop(), method="GET")
    with client_for(proxied_tenant, fake_clock) as client:
        assert client.list_groups() == []
    assert [e.fault for e in proxy.log] == ["drop", "drop", None]
    assert [e.status for e in proxy.log] == [None, None, 200]


def test_post_dropped_before_the_server_saw_it_is_ambiguous_and_not_retried(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    proxy.next(1, Fault.drop(), method="POST")
    with client_for(proxied_tenant, fake_clock) as client:
        with pytest.raises(AmbiguousRequestError):
            client.create_user(GENERIC.user_create_body(user_name="a", external_id="ext-a"))
        assert len(proxy.requests("POST")) == 1
        # The caller resolves it by looking the account up: here it does not exist.
        assert client.find_user(external_id="ext-a") is None


def test_post_performed_but_unanswered_is_resolved_by_lookup(
    proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    proxy.next(1, Fault.forward_then_drop(), method="POST")
    with client_for(proxied_tenant, fake_clock) as client:
        with pytest.raises(AmbiguousRequestError) as info:
            client.create_user(GENERIC.user_create_body(user_name="b", external_id="ext-b"))
        assert info.value.method == "POST" and "look the resource up" in str(info.value)
        post = proxy.requests("POST")
        assert len(post) == 1 and post[0].forwarded and post[0].upstream_status == 201 and post[0].status is None
        found = client.find_user(external_id="ext-b")
        assert found is not None and found.user_name == "b"
        assert client.count_users() == 1


def test_patch_performed_but_unanswered_is_retried_idempotently(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    ids = bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(3)])
    with client_for(proxied_tenant, fake_clock) as client:
        group = client.create_group(GENERIC.group_create_body(display_name="G", external_id="g", members=[ids[0]]))
        proxy.next(1, Fault.forward_then_drop(), method="PATCH")
        client.update_group_members(group.id, adds=[ids[1], ids[2]], removes=[ids[0]])
        assert sorted(m.value for m in client.get_group(group.id).members) == sorted(ids[1:])
    patches = proxy.requests("PATCH")
    assert [p.upstream_status for p in patches] == [204, 204] and [p.status for p in patches] == [None, 204]


def test_read_timeout_is_retried(proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock) -> None:
    proxy.next(1, Fault.slow(1.0), method="GET")
    with client_for(proxied_tenant, fake_clock, timeout=0.25) as client:
        assert client.count_users() == 0
    assert proxy.wait_idle()
    assert [e.fault for e in proxy.requests("GET")] == [None, "delay-1.0"]  # logged as they finish


def test_failure_midway_through_a_listing_is_a_partial_read(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(12)])
    proxy.next(10, Fault.answer(503), path=r"startIndex=6&")
    with client_for(proxied_tenant, fake_clock, retry=RetryPolicy(max_attempts=4)) as client:
        client.profile = GENERIC.with_overrides({"page_size": 5})
        with pytest.raises(PartialReadError, match="broke off after 5 of 12") as info:
            client.list_users()
    assert info.value.status == 503
    assert len(proxy.requests("GET", r"startIndex=6&")) == 4


def test_read_only_client_sends_nothing(proxied_tenant: Scim2Tenant, proxy: FaultProxy) -> None:
    with ScimClient(proxied_tenant.base_url, proxied_tenant.token, read_only=True) as client:
        for call in (
            lambda: client.create_user(GENERIC.user_create_body(user_name="x", external_id="x")),
            lambda: client.patch_user("0" * 32, GENERIC.set_active_ops(False)),
            lambda: client.delete_group("0" * 32),
        ):
            with pytest.raises(ReadOnlyViolation):
                call()
    assert proxy.log == []


def test_seeded_random_faults_still_give_a_complete_read(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy, fake_clock: FakeClock
) -> None:
    bodies = [user_body(i) for i in range(60)]
    ids = bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, bodies)
    proxy.random_faults(seed=11, rates={"503": 0.15, "502": 0.05, "drop": 0.05, "429": 0.05})
    with client_for(proxied_tenant, fake_clock, retry=RetryPolicy(max_attempts=12)) as client:
        client.profile = GENERIC.with_overrides({"page_size": 6})
        live = fetch_live(client)
    assert sorted(u.id for u in live.users) == sorted(ids)
    faults = [e.fault for e in proxy.log if e.fault]
    assert faults, "the seed should have produced faults"
    assert len(fake_clock.sleeps) == len(faults)


def test_proxy_rule_semantics() -> None:
    from tests.servers.faultproxy import Rule

    rule = Rule(Fault.drop(), method="GET", every=2, times=2, skip=1)
    fired = [rule.consider() for _ in range(8)]
    assert fired == [False, False, True, False, True, False, False, False]
    assert rule.matches("GET", "/x") and not rule.matches("POST", "/x")
    with pytest.raises(ValueError):
        FaultProxy("https://example.com")


def test_proxy_answers_502_when_the_upstream_is_down(fake_clock: FakeClock) -> None:
    from tests.servers.scim2_fixture import free_port

    with FaultProxy(f"http://127.0.0.1:{free_port()}") as proxy:
        with ScimClient(proxy.url + "/v2", "t", clock=fake_clock.clock, sleep=fake_clock.sleep,
                        retry=RetryPolicy(max_attempts=2)) as client:
            with pytest.raises(ScimTransportError, match="kept answering 502") as info:
                client.get_user("1")
    assert info.value.status == 502
    assert [e.status for e in proxy.log] == [502, 502]
