"""ScimClient: headers, URLs, read-only guard, errors, retries, paging, lookups, concurrency.

Error handling and retry arithmetic use httpx.MockTransport with a fake clock; the main paths
(CRUD, ETags, filters) run against a real scim2-server.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    AmbiguousRequestError,
    PartialReadError,
    ReadOnlyViolation,
    ScimError,
    ScimTransportError,
)
from reconciler.scim import BITWARDEN, GENERIC, RetryPolicy, ScimClient, normalise_base_url, parse_retry_after
from tests.scim.helpers import FakeClock, list_page, mock_transport, scim_json
from tests.servers.scim2_fixture import Scim2Tenant

BASE = "https://scim.example.test/v2/org-1"
TOKEN = "unit-TOKEN-5f3a9c"


def make(handler, *, clock: FakeClock | None = None, **kw: Any) -> tuple[ScimClient, list[httpx.Request]]:
    transport, seen = mock_transport(handler)
    clock = clock or FakeClock()
    kw.setdefault("seed", 1)
    client = ScimClient(BASE, TOKEN, transport=transport, clock=clock.clock, sleep=clock.sleep, **kw)
    return client, seen


def user(i: int | str, **extra: Any) -> dict[str, Any]:
    return {"id": str(i), "userName": f"user{i}@example.com", **extra}


# -- URLs and headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://h/scim/v2", "https://h/scim/v2"),
        ("https://h/scim/v2/", "https://h/scim/v2"),
        ("  https://h//scim//v2///  ", "https://h/scim/v2"),
        ("https://scim.bitwarden.com/v2/0f3c-org", "https://scim.bitwarden.com/v2/0f3c-org"),
        ("http://127.0.0.1:8080/tenant", "http://127.0.0.1:8080/tenant"),  # no /v2 appended
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_base_url_normalisation(given: str, expected: str) -> None:
    assert normalise_base_url(given) == expected


@pytest.mark.parametrize("bad", ["scim.example.com/v2", "ftp://h/v2", "https://u:p@h/v2", "https://h/v2?token=x", "https://h/v2#f"])
def test_base_url_refused(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        normalise_base_url(bad)
    assert "u:p" not in str(info.value) and "token=x" not in str(info.value)


def test_headers_and_paths() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return scim_json(201, user("n1"))
        return scim_json(200, list_page([user(1)], 1))

    client, seen = make(handler)
    client.list_users()
    client.create_user({"userName": "x"})
    get, post = seen
    assert get.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "application/scim+json" in get.headers["Accept"] and "application/json" in get.headers["Accept"]
    assert str(get.url) == f"{BASE}/Users?startIndex=1&count=1000"
    assert post.headers["Content-Type"] == "application/scim+json"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(post.content) == {"userName": "x"}
    assert client.request_counts == {"GET": 1, "POST": 1}


def test_custom_resource_paths_and_id_quoting() -> None:
    client, seen = make(lambda r: scim_json(200, user("a/b?c")), users_path="people/")
    client.get_user("a/b?c")
    assert seen[0].url.raw_path == b"/v2/org-1/people/a%2Fb%3Fc"


def test_json_answers_are_accepted_too() -> None:
    # Bitwarden's error answers are application/json (bitwarden-scim.md §11).
    client, _ = make(lambda r: scim_json(200, user(1), content_type="application/json; charset=utf-8"))
    assert client.get_user("1").id == "1"


def test_html_answer_is_not_scim() -> None:
    client, _ = make(lambda r: httpx.Response(200, text="<html>login</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ScimError, match="not a SCIM answer: Content-Type text/html"):
        client.get_user("1")


# -- read-only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_user({"userName": "x"}),
        lambda c: c.replace_user("1", {"userName": "x"}),
        lambda c: c.patch_user("1", GENERIC.set_active_ops(False)),
        lambda c: c.delete_user("1"),
        lambda c: c.create_group({"displayName": "g"}),
        lambda c: c.replace_group("1", {"displayName": "g"}),
        lambda c: c.patch_group("1", GENERIC.group_member_ops(adds=["a"])),
        lambda c: c.update_group_members("1", adds=["a"], removes=["b"]),
        lambda c: c.delete_group("1"),
        lambda c: c._send("POST", "/Bulk", body={}),
    ],
)
def test_read_only_refuses_every_write_before_sending(call) -> None:
    client, seen = make(lambda r: scim_json(200, {}), read_only=True)
    with pytest.raises(ReadOnlyViolation) as info:
        call(client)
    assert seen == [] and client.request_counts == {}
    assert info.value.method in {"POST", "PUT", "PATCH", "DELETE"}


# -- errors ------------------------------------------------------------------------------------


def test_scim2_server_error_with_string_status() -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409",
            "scimType": "uniqueness", "detail": "One or more of the attribute values are already in use"}
    client, _ = make(lambda r: scim_json(409, body))
    with pytest.raises(ScimError) as info:
        client.create_user({"userName": "x"})
    err = info.value
    assert (err.status, err.scim_type, err.method, err.path) == (409, "uniqueness", "POST", "/v2/org-1/Users")
    assert str(err) == (
        "conflict: the resource already exists (POST /v2/org-1/Users -> 409) scimType=uniqueness "
        "detail: One or more of the attribute values are already in use"
    )


def test_bitwarden_error_numeric_status_no_scim_type() -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": "User not found.", "status": 404}
    client, _ = make(lambda r: scim_json(404, body, content_type="application/json"), profile=BITWARDEN)
    with pytest.raises(ScimError) as info:
        client.get_user("abc")
    assert (info.value.status, info.value.scim_type, info.value.detail) == (404, None, "User not found.")


def test_401_with_empty_body_names_the_token_variable() -> None:
    client, _ = make(lambda r: httpx.Response(401), token_env="BITWARDEN_SCIM_TOKEN")
    with pytest.raises(ScimError, match="authentication failed: check the token variable BITWARDEN_SCIM_TOKEN") as info:
        client.list_users()
    assert info.value.status == 401 and not isinstance(info.value, PartialReadError)


def test_412_stale_etag_message_and_if_match_header() -> None:
    client, seen = make(lambda r: scim_json(412, {"status": "412", "detail": "changed"}))
    with pytest.raises(ScimError, match="precondition failed"):
        client.patch_user("1", GENERIC.set_active_ops(False), etag='W/"3"')
    assert seen[0].headers["If-Match"] == 'W/"3"'


def test_no_if_match_when_the_profile_has_no_etags() -> None:
    client, seen = make(lambda r: httpx.Response(204), profile=BITWARDEN)
    assert client.patch_user("1", BITWARDEN.set_active_ops(False), etag='W/"3"') is None
    assert "If-Match" not in seen[0].headers


def test_patch_answers_204_or_200_with_a_body() -> None:
    answers = [httpx.Response(204, headers={"ETag": 'W/"2"'}), scim_json(200, {"id": "g", "displayName": "G"})]
    client, _ = make(lambda r: answers.pop(0))
    assert client.patch_group("g", GENERIC.group_rename_ops(display_name="G")) is None
    group = client.patch_group("g", GENERIC.group_rename_ops(display_name="G"))
    assert group is not None and group.display_name == "G"


def test_etag_header_fills_meta_version() -> None:
    client, _ = make(lambda r: scim_json(200, user(1), headers={"ETag": 'W/"9"'}))
    assert client.get_user("1").meta.version == 'W/"9"'


# -- retries -----------------------------------------------------------------------------------


def test_retry_after_seconds_is_honoured_and_capped() -> None:
    answers = [
        scim_json(429, {"status": "429"}, headers={"Retry-After": "3"}),
        scim_json(429, {"status": "429"}, headers={"Retry-After": "3600"}),
        scim_json(200, user(1)),
    ]
    clock = FakeClock()
    client, seen = make(lambda r: answers.pop(0), clock=clock, retry=RetryPolicy(retry_after_cap=10, max_total=600))
    assert client.get_user("1").id == "1"
    assert len(seen) == 3
    assert 3 <= clock.sleeps[0] <= 3.4 and 10 <= clock.sleeps[1] <= 11


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    date = "Fri, 15 Jan 2027 08:00:05 GMT"
    assert parse_retry_after(date, now=now) == pytest.approx(5.0)
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("soon", now=now) is None and parse_retry_after(None, now=now) is None
    answers = [scim_json(503, None, headers={"Retry-After": date}), scim_json(200, user(1))]
    clock = FakeClock()
    client, _ = make(lambda r: answers.pop(0), clock=clock, wall_clock=lambda: now)
    client.get_user("1")
    assert 5 <= clock.sleeps[0] <= 6


def test_exponential_backoff_with_jitter_bounded_by_attempts() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, base_delay=1, max_delay=4)
    client, seen = make(lambda r: scim_json(502, {"status": "502"}), clock=clock, retry=policy)
    with pytest.raises(ScimTransportError, match="gave up after 5 attempts.*kept answering 502") as info:
        client.get_user("1")
    assert info.value.status == 502 and len(seen) == 5
    ceilings = [1, 2, 4, 4]
    assert len(clock.sleeps) == 4
    for slept, ceiling in zip(clock.sleeps, ceilings):
        assert ceiling / 2 <= slept <= ceiling


def test_total_time_bound() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=100, max_total=30, retry_after_cap=60)
    client, seen = make(lambda r: scim_json(429, None, headers={"Retry-After": "10"}), clock=clock, retry=policy)
    with pytest.raises(ScimTransportError, match="kept answering 429"):
        client.list_users()
    assert sum(clock.sleeps) <= 30 and len(seen) == 3


def test_connect_errors_are_retried_for_every_method() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return scim_json(201, user("new"))

    client, seen = make(handler)
    assert client.create_user({"userName": "x"}).id == "new"
    assert len(seen) == 3


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_ambiguous_post_is_never_retried(exc) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("no answer", request=request)

    client, seen = make(handler)
    with pytest.raises(AmbiguousRequestError, match="may or may not have been applied") as info:
        client.create_user({"userName": "x"})
    assert len(seen) == 1 and isinstance(info.value, ScimTransportError)


@pytest.mark.parametrize("status", [502, 504])
def test_post_answered_by_a_gateway_error_is_ambiguous(status: int) -> None:
    client, seen = make(lambda r: scim_json(status, None))
    with pytest.raises(AmbiguousRequestError) as info:
        client.create_group({"displayName": "g"})
    assert info.value.status == status and len(seen) == 1


def test_post_refused_with_429_or_503_is_retried() -> None:
    answers = [scim_json(429, None, headers={"Retry-After": "1"}), scim_json(503, None), scim_json(201, user("n"))]
    client, seen = make(lambda r: answers.pop(0))
    assert client.create_user({"userName": "x"}).id == "n"
    assert [r.method for r in seen] == ["POST"] * 3


def test_post_refusal_retry_can_be_switched_off() -> None:
    client, seen = make(lambda r: scim_json(503, None), retry=RetryPolicy(retry_post_on_refusal=False))
    with pytest.raises(ScimError) as info:
        client.create_user({"userName": "x"})
    assert info.value.status == 503 and len(seen) == 1


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_idempotent_methods_are_retried_after_a_timeout(method: str) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(204) if method in ("PATCH", "DELETE") else scim_json(200, user(1))

    client, seen = make(handler)
    call = {
        "GET": lambda: client.get_user("1"),
        "PATCH": lambda: client.patch_user("1", GENERIC.set_active_ops(True)),
        "PUT": lambda: client.replace_user("1", {"userName": "x"}),
        "DELETE": lambda: client.delete_user("1"),
    }[method]
    call()
    assert [r.method for r in seen] == [method, method]


def test_tls_errors_are_not_retried() -> None:
    import ssl

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
        except ssl.SSLError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    client, seen = make(handler)
    with pytest.raises(ScimTransportError, match="TLS handshake failed"):
        client.list_users()
    assert len(seen) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409, 412, 501])
def test_non_retryable_statuses_raise_at_once(status: int) -> None:
    client, seen = make(lambda r: scim_json(status, {"status": str(status), "detail": "no"}))
    with pytest.raises(ScimError) as info:
        client.get_user("1")
    assert info.value.status == status and len(seen) == 1


def test_500_is_retried_for_idempotent_requests_but_never_for_post() -> None:
    answers = [scim_json(500, {"status": "500", "detail": "boom"}), scim_json(200, user(1))]
    client, seen = make(lambda r: answers.pop(0))
    assert client.get_user("1").id == "1" and len(seen) == 2
    client, seen = make(lambda r: scim_json(500, {"status": "500", "detail": "boom"}))
    with pytest.raises(ScimError, match="internal server error") as info:
        client.create_user({"userName": "x"})
    assert len(seen) == 1 and not isinstance(info.value, ScimTransportError)
    client, seen = make(lambda r: scim_json(500, None), retry=RetryPolicy(retry_500_idempotent=False))
    with pytest.raises(ScimError, match="internal server error"):
        client.get_user("1")
    assert len(seen) == 1


# -- paging ------------------------------------------------------------------------------------


def paged(resources: list[dict[str, Any]], *, cap: int | None = None, key: str = "Resources",
          echo_count: bool = False, total: int | None = None):
    """A handler serving `resources` in startIndex/count pages, like a real server."""

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        start, count = int(q["startIndex"]), int(q["count"])
        if cap is not None:
            count = min(count, cap)
        page = resources[start - 1 : start - 1 + count]
        t = len(resources) if total is None else total
        return scim_json(200, list_page(page, t, key=key, start=start,
                                        items_per_page=int(q["count"]) if echo_count else None))

    return handler


def test_paging_follows_what_came_back_not_what_was_asked() -> None:
    data = [user(i) for i in range(2345)]
    client, seen = make(paged(data, cap=1000))
    client.profile = GENERIC.with_overrides({"page_size": 5000})
    assert [u.id for u in client.list_users()] == [str(i) for i in range(2345)]
    assert [r.url.params["startIndex"] for r in seen] == ["1", "1001", "2001"]
    assert {r.url.params["count"] for r in seen} == {"5000"}


def test_bitwarden_lowercase_resources_and_echoed_items_per_page() -> None:
    data = [user(i) for i in range(120)]
    client, seen = make(paged(data, cap=50, key="resources", echo_count=True), profile=BITWARDEN)
    assert len(client.list_users()) == 120 and len(seen) == 3


def test_overlapping_pages_are_deduplicated_and_completed() -> None:
    # An unstable order: page 2 repeats an id from page 1 and misses one; a second pass fills it.
    data = [user(i) for i in range(10)]
    served = {"pass": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startIndex"])
        if start == 1:
            served["pass"] += 1
        order = data if served["pass"] > 1 else data[:5] + [data[4]] + data[6:]
        return scim_json(200, list_page(order[start - 1 : start + 4], 10))

    client, seen = make(handler)
    client.profile = GENERIC.with_overrides({"page_size": 5})
    assert sorted(u.id for u in client.list_users()) == sorted(str(i) for i in range(10))
    assert len(seen) == 4  # pass 1: two pages (one duplicate, one missed); pass 2: two pages


def test_empty_page_before_the_total_is_a_partial_read() -> None:
    client, _ = make(paged([user(i) for i in range(5)], total=8))
    with pytest.raises(PartialReadError, match="ended short: 5 of 8 resources"):
        client.list_users()


def test_failure_midway_is_a_partial_read() -> None:
    data = [user(i) for i in range(30)]
    inner = paged(data)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["startIndex"] != "1":
            return scim_json(500, {"status": "500", "detail": "database timeout"})
        return inner(request)

    client, _ = make(handler)
    client.profile = GENERIC.with_overrides({"page_size": 10})
    with pytest.raises(PartialReadError, match="broke off after 10 of 30") as info:
        client.list_users()
    assert info.value.status == 500 and "database timeout" in str(info.value)


def test_total_that_keeps_moving_gives_up() -> None:
    n = {"total": 10}

    def handler(request: httpx.Request) -> httpx.Response:
        n["total"] += 1
        return scim_json(200, list_page([user(i) for i in range(5)], n["total"]))

    client, seen = make(handler)
    client.profile = GENERIC.with_overrides({"page_size": 5})
    client.prefetch = False  # exact request sequence
    with pytest.raises(PartialReadError, match="did not reach totalResults after 3 reads"):
        client.list_users()
    assert len(seen) == 6


def test_prefetch_reads_the_same_pages_in_order() -> None:
    client, seen = make(paged([user(i) for i in range(23)]))
    client.profile = GENERIC.with_overrides({"page_size": 5})
    assert sorted(int(u.id) for u in client.list_users()) == list(range(23))
    assert [r.url.params["startIndex"] for r in seen] == ["1", "6", "11", "16", "21"]


def test_missing_total_results_is_refused() -> None:
    client, _ = make(lambda r: scim_json(200, {"Resources": [user(1)]}))
    with pytest.raises(ScimError, match="no totalResults"):
        client.list_users()


def test_server_ignoring_start_index_cannot_loop_forever() -> None:
    client, seen = make(lambda r: scim_json(200, list_page([user(i) for i in range(3)], 9)))
    client.profile = GENERIC.with_overrides({"page_size": 3})
    with pytest.raises(PartialReadError):
        client.list_users()
    assert len(seen) < 20


def test_groups_listed_with_members_unless_unreadable() -> None:
    client, seen = make(lambda r: scim_json(200, list_page([], 0)))
    client.list_groups()
    client.list_groups(members=False)
    assert "excludedAttributes" not in seen[0].url.params
    assert seen[1].url.params["excludedAttributes"] == "members"


# -- lookups -----------------------------------------------------------------------------------


def test_find_user_filters_are_quoted() -> None:
    client, seen = make(lambda r: scim_json(200, list_page([], 0)))
    assert client.find_user(external_id='ex"t\\1', user_name="a@b.c") is None
    assert [r.url.params["filter"] for r in seen] == ['externalId eq "ex\\"t\\\\1"', 'userName eq "a@b.c"']
    assert all(r.url.params["startIndex"] == "1" for r in seen)


def test_find_user_ambiguous_external_id() -> None:
    client, _ = make(lambda r: scim_json(200, list_page([user(1), user(2)], 2)))
    with pytest.raises(ScimError, match="2 resources match externalId 'e'"):
        client.find_user(external_id="e")


def test_bitwarden_user_name_lookup_needs_an_email() -> None:
    client, seen = make(lambda r: scim_json(200, list_page([user(1)], 1)), profile=BITWARDEN)
    with pytest.raises(ValueError, match="e-mail userName"):
        client.find_user(user_name="alice")
    assert seen == []
    assert client.find_user(user_name="user1@example.com").id == "1"


def test_find_group_leaves_members_out() -> None:
    client, seen = make(lambda r: scim_json(200, list_page([{"id": "g", "displayName": "Eng"}], 1)))
    assert client.find_group(display_name="Eng").id == "g"
    assert seen[0].url.params["filter"] == 'displayName eq "Eng"'
    assert seen[0].url.params["excludedAttributes"] == "members"


# -- member removal fallback --------------------------------------------------------------------


def test_member_remove_falls_back_to_value_list_once_and_remembers() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if any("[" in (op.get("path") or "") for op in body["Operations"]):
            return scim_json(501, {"status": 501, "detail": "Not Implemented"})  # django-scim2
        return scim_json(200, {"id": "g", "displayName": "G", "members": []})

    client, _ = make(handler)
    assert client.update_group_members("g", adds=["n"], removes=["o"]) is not None
    client.update_group_members("g2", removes=["p", "q"])
    assert [op["path"] for op in bodies[0]["Operations"]] == ['members[value eq "o"]', "members"]
    assert bodies[1]["Operations"][0] == {"op": "remove", "path": "members", "value": [{"value": "o"}]}
    assert bodies[2]["Operations"] == [{"op": "remove", "path": "members", "value": [{"value": "p"}, {"value": "q"}]}]
    assert len(bodies) == 3
    assert client.update_group_members("g", adds=[], removes=[]) is None and len(bodies) == 3


def test_member_remove_policy_override_is_not_second_guessed() -> None:
    client, seen = make(lambda r: scim_json(400, {"status": "400"}))
    client.profile = GENERIC.with_overrides({"member_remove": "path_filter"})
    with pytest.raises(ScimError):
        client.update_group_members("g", removes=["o"])
    assert len(seen) == 1


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "limit"), [(GENERIC, 4), (BITWARDEN, 1)])
def test_requests_in_flight_are_bounded(profile, limit: int) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return scim_json(200, user(request.url.path.rsplit("/", 1)[-1]))

    transport, _ = mock_transport(handler)
    with ScimClient(BASE, TOKEN, profile=profile, transport=transport) as client:
        # Even with more threads than allowed, the semaphore in the request function holds.
        results = client.map_concurrent(client.get_user, [str(i) for i in range(16)])
        with __import__("concurrent.futures").futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(client.get_user, [str(i) for i in range(16)]))
    assert [u.id for u in results] == [str(i) for i in range(16)]
    assert state["max"] == limit
    assert client.request_counts == {"GET": 32}


def test_map_concurrent_can_return_exceptions() -> None:
    client, _ = make(lambda r: scim_json(404, {"status": "404"}) if r.url.path.endswith("/bad") else scim_json(200, user(1)))
    out = client.map_concurrent(client.get_user, ["1", "bad", "1"], return_exceptions=True)
    assert isinstance(out[1], ScimError) and out[1].status == 404 and out[0].id == "1"
    with pytest.raises(ScimError):
        client.map_concurrent(client.get_user, ["bad"])


def test_client_repr_and_pickle_hide_the_token() -> None:
    client, _ = make(lambda r: httpx.Response(204))
    assert TOKEN not in repr(client) and TOKEN not in str(client) and "[redacted]" in repr(client)
    assert TOKEN not in repr(client._http.auth)
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(client)
    with pytest.raises(ValueError, match="set the variable SCIM_TOKEN"):
        ScimClient(BASE, " ", token_env="SCIM_TOKEN")


# -- against scim2-server ----------------------------------------------------------------------


def test_crud_round_trip_on_scim2_server(scim2_tenant: Scim2Tenant) -> None:
    with ScimClient(scim2_tenant.base_url, scim2_tenant.token) as client:
        assert client.discover().supports_etag is True
        body = GENERIC.user_create_body(user_name='o"brien\\x', external_id="00uOB", emails=["ob@example.com"],
                                        given_name="Pat", family_name="O'Brien", display_name="Pat")
        created = client.create_user(body)
        assert created.id and created.meta and created.meta.version == 'W/"1"'
        assert client.find_user(user_name='O"BRIEN\\X').id == created.id  # userName: case-insensitive
        assert client.find_user(external_id="00uOB").id == created.id
        assert client.find_user(external_id="00UOB") is None  # externalId: case-exact
        with pytest.raises(ScimError) as dup:
            client.create_user(body)
        assert dup.value.status == 409 and dup.value.scim_type == "uniqueness"

        assert client.patch_user(created.id, GENERIC.set_active_ops(False), etag=created.meta.version) is None
        with pytest.raises(ScimError) as stale:
            client.patch_user(created.id, GENERIC.set_active_ops(True), etag=created.meta.version)
        assert stale.value.status == 412
        fresh = client.get_user(created.id)
        assert fresh.active is False and fresh.meta.version != created.meta.version
        replaced = client.replace_user(created.id, {**body, "active": True, "displayName": "P"}, etag=fresh.meta.version)
        assert replaced.display_name == "P" and replaced.active is True

        group = client.create_group(GENERIC.group_create_body(display_name="Eng", external_id="grp-eng", members=[created.id]))
        assert [m.value for m in group.members] == [created.id]
        other = client.create_user(GENERIC.user_create_body(user_name="second", external_id="00u2"))
        client.update_group_members(group.id, adds=[other.id], removes=[created.id])
        assert [m.value for m in client.get_group(group.id).members] == [other.id]
        client.patch_group(group.id, GENERIC.group_rename_ops(display_name="Engineering"))
        assert client.find_group(external_id="grp-eng").display_name == "Engineering"
        assert client.find_group(display_name="Engineering", members=True).members[0].value == other.id
        put = client.replace_group(group.id, GENERIC.group_replace_body(display_name="E", external_id="grp-eng", members=[]))
        assert put.display_name == "E" and not put.members
        client.delete_group(group.id)
        client.delete_user(created.id)
        with pytest.raises(ScimError) as gone:
            client.get_user(created.id)
        assert gone.value.status == 404
        assert client.count_users() == 1 and client.count_groups() == 0
        counts = client.request_counts
        assert counts["POST"] == 4 and counts["DELETE"] == 2 and counts["PUT"] == 2


def test_scim2_server_rejects_value_list_removal_so_auto_keeps_the_filter_path(scim2_tenant: Scim2Tenant) -> None:
    with ScimClient(scim2_tenant.base_url, scim2_tenant.token) as client:
        u = client.create_user(GENERIC.user_create_body(user_name="a", external_id="a"))
        g = client.create_group(GENERIC.group_create_body(display_name="G", external_id="g", members=[u.id]))
        client.update_group_members(g.id, removes=[u.id])
        assert not client.get_group(g.id).members
        assert client._value_list_fallback is False
        client.profile = GENERIC.with_overrides({"member_remove": "value_list"})
        with pytest.raises(ScimError) as info:
            client.update_group_members(g.id, removes=[u.id])
        assert info.value.status == 400 and "carries no value" in (info.value.detail or "")
