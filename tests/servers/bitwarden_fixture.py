"""pytest plugin: the Bitwarden SCIM stand-in (``tests/servers/bitwarden.py``), one org per test.

Fixtures:
- ``bitwarden_server_session`` (session): one in-process :class:`BitwardenServer` on 127.0.0.1.
- ``bitwarden_server`` (function): a fresh, empty organisation on it, as a :class:`BitwardenOrg`:
  ``.base_url`` (``http://127.0.0.1:PORT/v2/<orgId>``), ``.org_id``, ``.token``, ``.headers``,
  ``.client()``, and the test hooks (``state()``, ``members()``, ``group_members()``,
  ``seed_member()``, ``accept()``, ``confirm()``, ``set()``, ``log()``, ``inject_fault()``...).
  Creating an org costs microseconds; it is deleted after the test. A test fails if the stand-in
  itself hit an internal error while serving it.
- ``bitwarden_client`` (function): an ``httpx.Client`` on that org with a good ``Authorization``.

"Empty" means no members and no groups. Like every real org it has a confirmed owner, here a
provider user (``provider_owner=True``), who is invisible to SCIM; turn it off with
``bitwarden_server.set(provider_owner=False)`` and seed an Owner to exercise the last-owner rules.

The token is distinctive (``bw-scim-test-...``) so tests can assert it never leaks into output.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.servers.bitwarden import BitwardenOrg, BitwardenServer


@pytest.fixture(scope="session")
def bitwarden_server_session() -> Iterator[BitwardenServer]:
    server = BitwardenServer(token=f"bw-scim-test-{secrets.token_hex(12)}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def bitwarden_server(bitwarden_server_session: BitwardenServer) -> Iterator[BitwardenOrg]:
    org = bitwarden_server_session.create_org(token=f"bw-scim-test-{secrets.token_hex(12)}")
    try:
        yield org
        errors = org.internal_errors
        if errors:
            pytest.fail("the Bitwarden stand-in failed internally:\n" + "\n".join(errors), pytrace=False)
    finally:
        bitwarden_server_session.delete_org(org.org_id)


@pytest.fixture
def bitwarden_client(bitwarden_server: BitwardenOrg) -> Iterator[httpx.Client]:
    with bitwarden_server.client() as client:
        yield client
