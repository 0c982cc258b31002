"""The token never appears in an exception, a repr, a traceback or a log record, even at DEBUG
with httpx's and httpcore's own loggers on, and even when a server echoes it back."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from reconciler.errors import ScimError
from reconciler.scim import GENERIC, RetryPolicy, ScimClient
from reconciler.scim.probe import test_connection as probe_connection
from tests.scim.helpers import FakeClock, scim_json
from tests.servers.faultproxy import Fault, FaultProxy
from tests.servers.scim2_fixture import Scim2Tenant, free_port


def _texts_of(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def test_token_absent_from_everything(
    scim2_tenant: Scim2Tenant, proxied_tenant: Scim2Tenant, proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = scim2_tenant.token
    assert "TOKEN" in token and len(token) > 30  # distinctive: a leak cannot hide
    caplog.set_level(logging.DEBUG)  # root: reconciler, httpx, httpcore, everything
    for name in ("httpx", "httpcore", "reconciler"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    texts: list[str] = []
    clock = FakeClock()

    def collect(call) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every failure is inspected
            texts.extend(_texts_of(exc))

    # Normal traffic and retries through the proxy.
    proxy.next(2, Fault.answer(503, "0"))
    proxy.next(1, Fault.drop(), method="GET", skip=3)
    with ScimClient(proxied_tenant.base_url, token, clock=clock.clock, sleep=clock.sleep,
                    token_env="SCIM_TOKEN", retry=RetryPolicy(max_attempts=3)) as client:
        texts += [repr(client), str(client), repr(client._http.auth), repr(client._http.headers)]
        user = client.create_user(GENERIC.user_create_body(user_name="a", external_id="a"))
        collect(lambda: client.create_user(GENERIC.user_create_body(user_name="a", external_id="a")))  # 409
        collect(lambda: client.get_user("missing"))  # 404
        collect(lambda: client.patch_user(user.id, GENERIC.set_active_ops(False), etag='W/"999"'))  # 412
        client.list_users()
        proxy.next(5, Fault.drop())
        collect(lambda: client.list_groups())  # retries spent
        proxy.next(1, Fault.forward_then_drop(), method="POST")
        collect(lambda: client.create_group(GENERIC.group_create_body(display_name="g", external_id="g")))
        texts.append(probe_connection(client).render_text())

    # Wrong token, unreachable server, a server that echoes the Authorization header.
    with ScimClient(scim2_tenant.base_url, token + "x", token_env="SCIM_TOKEN") as wrong:
        collect(wrong.list_users)
    with ScimClient(f"http://127.0.0.1:{free_port()}/v2", token, clock=clock.clock, sleep=clock.sleep,
                    retry=RetryPolicy(max_attempts=2)) as dead:
        collect(dead.list_users)
        texts.append(probe_connection(dead).render_text())

    def echo(request: httpx.Request) -> httpx.Response:
        return scim_json(400, {"status": "400", "detail": f"bad header {request.headers['Authorization']}"})

    with ScimClient("https://bw.example/v2/org", token, transport=httpx.MockTransport(echo)) as echoing:
        collect(lambda: echoing.patch_user("1", GENERIC.set_active_ops(True)))

    def raise_with_token(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy said no to {request.headers['Authorization']}", request=request)

    with ScimClient("https://bw.example/v2/org", token, transport=httpx.MockTransport(raise_with_token),
                    clock=clock.clock, sleep=clock.sleep, retry=RetryPolicy(max_attempts=1)) as raising:
        collect(raising.list_users)

    assert len(texts) > 15
    assert any("[redacted]" in t for t in texts)  # the echo was scrubbed, not dropped
    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records) and any(r.name.startswith("httpcore") for r in records)
    texts += [formatter.format(r) for r in records]
    leaks = [t for t in texts if token in t]
    assert leaks == []


def test_scim_error_str_carries_method_path_status() -> None:
    err = ScimError("not found", status=404, method="GET", path="/v2/org/Users/1", detail="User not found.")
    assert str(err) == "not found (GET /v2/org/Users/1 -> 404) detail: User not found."
