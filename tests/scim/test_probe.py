"""test_connection: one line per failure with its fix, counts and capabilities when it works."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from reconciler.scim import BITWARDEN, RetryPolicy, ScimClient
from reconciler.scim.probe import ConnectionReport
from reconciler.scim.probe import test_connection as probe_connection
from tests.scim.helpers import FakeClock, bulk_create_users, list_page, mock_transport, scim_json, user_body
from tests.servers.scim2_fixture import Scim2Server, Scim2Tenant, free_port


def fast(url: str, token: str, **kw) -> ScimClient:
    clock = FakeClock()
    return ScimClient(url, token, read_only=True, token_env="SCIM_TOKEN", clock=clock.clock,
                      sleep=clock.sleep, retry=RetryPolicy(max_attempts=2), **kw)


def test_a_working_target(scim2_tenant: Scim2Tenant) -> None:
    bulk_create_users(scim2_tenant.base_url, scim2_tenant.token, [user_body(i) for i in range(3)])
    with fast(scim2_tenant.base_url, scim2_tenant.token) as client:
        report = probe_connection(client)
    assert report.ok and report.reachable and report.authenticated and report.tls_ok is None
    assert (report.users, report.groups, report.discovery) == (3, 0, True)
    assert report.capabilities["etag"] is True and report.capabilities["page_size"] == 1000
    assert report.problems == ()
    text = report.render_text()
    assert text.startswith(f"OK: {scim2_tenant.base_url} (profile generic)")
    assert "users: 3" in text and "capabilities (discovered)" in text


def test_wrong_token(scim2_tenant: Scim2Tenant) -> None:
    with fast(scim2_tenant.base_url, "wrong-token") as client:
        report = probe_connection(client)
    assert not report.ok and report.reachable and not report.authenticated
    assert len(report.problems) == 1 and "\n" not in report.problems[0]
    assert report.problems[0].startswith("authentication failed (HTTP 401 on GET ")
    assert report.problems[0].endswith("check the token variable SCIM_TOKEN")


def test_wrong_path(scim2_server: Scim2Server) -> None:
    # With --dynamic-tenants, /v2 without a tenant is "Unknown tenant" (404).
    with fast(scim2_server.url + "/v2", scim2_server.token) as client:
        report = probe_connection(client)
    assert not report.ok and report.reachable
    assert len(report.problems) == 1 and "check the URL: wrong org id or path" in report.problems[0]


def test_unreachable() -> None:
    with fast(f"http://127.0.0.1:{free_port()}/v2", "t") as client:
        report = probe_connection(client)
    assert not report.ok and not report.reachable
    assert len(report.problems) == 1 and report.problems[0].startswith("cannot reach 127.0.0.1:")
    assert "check the URL's host and port" in report.problems[0]


def test_tls_failure(scim2_server: Scim2Server) -> None:
    # https:// to a plain-HTTP port: the handshake fails, and is not retried.
    url = f"https://127.0.0.1:{scim2_server.port}/t/v2"
    with fast(url, scim2_server.token) as client:
        report = probe_connection(client)
        assert client.request_counts == {"GET": 1}
    assert report.tls_ok is False and not report.ok
    assert len(report.problems) == 1 and report.problems[0].startswith("TLS handshake with 127.0.0.1:")
    assert "FAILED" in report.render_text() and "TLS: no" in report.render_text()


def test_bitwarden_has_no_discovery_and_that_is_fine() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "ServiceProviderConfig" not in request.url.path
        kind = request.url.path.rsplit("/", 1)[-1]
        total = 42 if kind == "Users" else 5
        return scim_json(200, list_page([], total, key="resources", items_per_page=1), content_type="application/json")

    transport, seen = mock_transport(handler)
    with ScimClient("https://scim.bitwarden.com/v2/0000-org", "k", profile=BITWARDEN, read_only=True,
                    transport=transport) as client:
        report = probe_connection(client)
    assert report.ok and (report.users, report.groups) == (42, 5) and report.tls_ok is True
    assert not report.discovery and report.capabilities["concurrency"] == 1
    assert [r.url.path for r in seen] == ["/v2/0000-org/Users", "/v2/0000-org/Groups"]
    assert "capabilities (assumed from the profile)" in report.render_text()


def test_report_is_frozen() -> None:
    report = ConnectionReport(base_url="http://x", profile="generic")
    with pytest.raises(ValidationError):
        report.users = 3  # type: ignore[misc]
    assert report.users is None and not report.ok
