"""pytest plugin: django-scim2 0.23 (sqlite) as a second, independent SCIM server.

Fixtures:
- `django_server` (session): `python -m tests.servers.django_scim` on a free port of 127.0.0.1,
  its sqlite file in a temporary folder (tables created by `migrate` before it serves), polled
  until it answers, terminated at the end of the session.
- `django_tenant` (function): the same server, emptied before the test (POST /_test/reset: about
  20 ms, against about 0.4 s for a fresh server and database): `.base_url`
  (http://127.0.0.1:PORT/scim/v2), `.token`, `.server_url`. Ids keep growing across tests.

Quirks (scim-servers.md §6, pinned in test_django_server.py): PATCH answers 200 with a body,
POST /Groups drops `members`, removing by a `members[value eq "…"]` path answers 501 (the
Entra-style value list works), a group rename by PATCH answers 501 (PUT works), displayName is
derived from the name parts, ServiceProviderConfig announces filter.maxResults 50.
The token is distinctive: tests assert it never appears in messages or logs.
"""

from __future__ import annotations

import os
import secrets
import shutil
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
    log: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/scim/v2"

    @property
    def server_url(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return "django"

    def reset(self) -> None:
        """Delete every user and group."""
        httpx.post(self.url + "/_test/reset", headers={"Authorization": f"Bearer {self.token}"},
                   timeout=30).raise_for_status()

    def __repr__(self) -> str:  # never the token
        return f"DjangoServer({self.base_url}, pid={self.process.pid})"


def start_django_server(token: str, workdir: Path, *, timeout: float = 30.0) -> DjangoServer:
    """Start the server with its database and log in `workdir`; wait until it answers."""
    problem = "no attempt"
    for attempt in range(3):  # a port taken between free_port() and the server's bind: try another
        port = free_port()
        log = workdir / f"server-{attempt}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.servers.django_scim", "--port", str(port),
                 "--db", str(workdir / f"scim-{attempt}.sqlite3")],
                cwd=ROOT, env={**os.environ, "DJANGO_SCIM_TOKEN": token},
                stdout=out, stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                problem = f"exited with {proc.returncode}"
                break
            try:
                r = httpx.get(url + "/scim/v2/ServiceProviderConfig", timeout=1.0,
                              headers={"Authorization": f"Bearer {token}"})
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                return DjangoServer(url, token, proc, log)
            problem = f"ServiceProviderConfig answered {r.status_code}"
            break
        else:
            problem = f"no answer within {timeout:.0f} s ({problem})"
        stop_process(proc)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"django-scim2 did not start: {problem}\n--- {log} ---\n{tail}")


@pytest.fixture(scope="session")
def django_server() -> Iterator[DjangoServer]:
    pytest.importorskip("django_scim", reason="django-scim2 is in the test extra")
    workdir = Path(tempfile.mkdtemp(prefix="django-scim-"))
    server = start_django_server("dj-TOKEN-" + secrets.token_hex(12) + "-do-not-leak", workdir)
    try:
        yield server
    finally:
        stop_process(server.process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def django_tenant(django_server: DjangoServer) -> DjangoServer:
    django_server.reset()
    return django_server
