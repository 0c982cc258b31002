"""pytest plugin: a real scim2-server 0.8.3 as a subprocess on 127.0.0.1, one tenant per test.

Fixtures:
- `scim2_server` (session): the running server (`.url`, `.port`, `.token`, `.tenant_url(name)`).
  Started with `--bearer-token` and `--dynamic-tenants`, polled until it answers, terminated at
  the end of the session.
- `scim2_tenant` (function): a fresh, empty tenant: `.base_url` (http://127.0.0.1:PORT/<tenant>/v2)
  and `.token`.

The token is distinctive on purpose: tests assert it never appears in messages or logs.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass(frozen=True)
class Scim2Server:
    host: str
    port: int
    token: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def tenant_url(self, tenant: str) -> str:
        return f"{self.url}/{tenant}/v2"

    def __repr__(self) -> str:
        return f"Scim2Server({self.url}, pid={self.process.pid})"


@dataclass(frozen=True)
class Scim2Tenant:
    base_url: str
    token: str
    name: str
    server_url: str

    def __repr__(self) -> str:
        return f"Scim2Tenant({self.base_url})"


def scim2_server_binary() -> str:
    """The console script of the venv running the tests, else whatever is on PATH."""
    local = Path(sys.executable).parent / "scim2-server"
    if local.exists():
        return str(local)
    found = shutil.which("scim2-server")
    if not found:
        pytest.skip("scim2-server is not installed (pip install 'scim2-server==0.8.3')")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_scim2_server(token: str, *, host: str = "127.0.0.1", timeout: float = 15.0) -> Scim2Server:
    """Start the server and wait until it answers. With --dynamic-tenants a bare /v2/… answers
    404 "Unknown tenant": any HTTP answer means it is up."""
    last_error: Exception | None = None
    for _ in range(3):  # a port taken between bind() and the server's own bind: try another
        port = free_port(host)
        proc = subprocess.Popen(
            [scim2_server_binary(), "--hostname", host, "--port", str(port),
             "--bearer-token", token, "--dynamic-tenants"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = RuntimeError(f"scim2-server exited with {proc.returncode}")
                break
            try:
                httpx.get(f"http://{host}:{port}/v2/ServiceProviderConfig", timeout=1.0)
            except httpx.TransportError as exc:
                last_error = exc
                time.sleep(0.05)
                continue
            return Scim2Server(host, port, token, proc)
        stop_process(proc)
    raise RuntimeError(f"scim2-server did not start: {last_error}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def scim2_server() -> Iterator[Scim2Server]:
    token = "scim2-TOKEN-" + secrets.token_hex(12) + "-do-not-leak"
    server = start_scim2_server(token)
    try:
        yield server
    finally:
        stop_process(server.process)


@pytest.fixture
def scim2_tenant(scim2_server: Scim2Server) -> Scim2Tenant:
    name = "t" + secrets.token_hex(8)
    return Scim2Tenant(
        base_url=scim2_server.tenant_url(name),
        token=scim2_server.token,
        name=name,
        server_url=scim2_server.url,
    )
