"""pytest plugin: django-scim2 0.23 (sqlite) as a second, independent SCIM server.

Session fixture `django_server` runs `python -m tests.servers.django_scim` on a free loopback
port; `django_tenant` empties its database before each test and gives `.base_url` and `.token`.
Its quirks (scim-servers.md §6): PATCH answers 200 with a body, POST /Groups drops `members`,
removing by a `members[value eq "…"]` path answers 501 (the Entra-style value list works).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers.scim2_fixture import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class DjangoServer:
    url: str
    token: str
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"{self.url}/scim/v2"

    @property
    def server_url(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return "django"


def start_django_server(token: str, timeout: float = 30.0) -> DjangoServer:
    port = free_port()
    db = Path(tempfile.mkdtemp()) / "scim.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.django_scim", "--port", str(port), "--db", str(db)],
        cwd=ROOT, env={**os.environ, "DJANGO_SCIM_TOKEN": token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"django-scim2 exited with {proc.returncode}")
        try:
            httpx.get(url + "/scim/v2/ServiceProviderConfig", timeout=1.0, headers={"Authorization": f"Bearer {token}"})
            return DjangoServer(url, token, proc)
        except httpx.TransportError:
            time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError("django-scim2 did not start")


@pytest.fixture(scope="session")
def django_server() -> Iterator[DjangoServer]:
    pytest.importorskip("django_scim", reason="django-scim2 is in the test extra")
    server = start_django_server("dj-TOKEN-" + secrets.token_hex(8) + "-do-not-leak")
    try:
        yield server
    finally:
        stop_process(server.process)


@pytest.fixture
def django_tenant(django_server: DjangoServer) -> DjangoServer:
    httpx.post(django_server.url + "/_test/reset", timeout=30).raise_for_status()
    return django_server
