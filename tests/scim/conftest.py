"""Fixtures of the SCIM layer tests: a fault proxy in front of scim2-server, a fake clock, and a
module-wide tenant seeded with thousands of users (created once, read by several tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.scim.helpers import FakeClock, bulk_create, create_group, user_body
from tests.servers.faultproxy import FaultProxy
from tests.servers.scim2_fixture import Scim2Server, Scim2Tenant


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def proxy(scim2_server: Scim2Server) -> Iterator[FaultProxy]:
    with FaultProxy(scim2_server.url) as p:
        yield p


@pytest.fixture
def proxied_tenant(scim2_tenant: Scim2Tenant, proxy: FaultProxy) -> Scim2Tenant:
    """The tenant as seen through the fault proxy."""
    return Scim2Tenant(
        base_url=proxy.rebase(scim2_tenant.base_url),
        token=scim2_tenant.token,
        name=scim2_tenant.name,
        server_url=proxy.url,
    )


@dataclass(frozen=True)
class Populated:
    tenant: Scim2Tenant
    bodies: list[dict]
    ids: list[str]
    versions: list[str]
    groups: dict[str, tuple[str, str, tuple[str, ...]]]
    """group id -> (displayName, externalId, sorted member ids)"""


N_USERS = 2500
N_GROUPS = 50


@pytest.fixture(scope="session")
def populated(scim2_server: Scim2Server) -> Populated:
    """2,500 users (Bulk) and 50 groups of 1-100 members in one tenant; read-only for tests."""
    tenant = Scim2Tenant(scim2_server.tenant_url("populated"), scim2_server.token, "populated", scim2_server.url)
    bodies = [user_body(i) for i in range(N_USERS)]
    created = bulk_create(tenant.base_url, tenant.token, bodies)
    ids = [uid for uid, _ in created]
    groups: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for g in range(N_GROUPS):
        members = sorted({ids[(g * 37 + k * 11) % N_USERS] for k in range(1 + (g * 13) % 100)})
        name, ext = f"Group {g:02d}", f"grp-{g:02d}"
        gid = create_group(tenant.base_url, tenant.token, name, ext, members)
        groups[gid] = (name, ext, tuple(members))
    return Populated(tenant, bodies, ids, [v for _, v in created], groups)
