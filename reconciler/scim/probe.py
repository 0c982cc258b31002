"""`test_connection`: can we reach, authenticate to and read this SCIM target, and what can it do?

Place in the pipeline: beside it, for `reconcile test-connection` (the CLI renders the report and
picks the exit code). It makes only GET requests, so it works through a read-only client, and it
never raises for an expected failure: each one becomes ONE line that says what failed and how to
fix it. The report is a frozen value.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from reconciler.errors import ScimError, ScimTransportError
from reconciler.scim.client import ScimClient, is_tls_error


class ConnectionReport(BaseModel):
    """What test_connection found. `ok` means: reachable, authenticated, both listings readable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    profile: str
    reachable: bool = False
    tls_ok: bool | None = None
    """None for plain http."""
    authenticated: bool = False
    users: int | None = None
    groups: int | None = None
    discovery: bool = False
    """The server answered /ServiceProviderConfig."""
    capabilities: dict[str, Any] = {}
    problems: tuple[str, ...] = ()
    """One line each: what failed, and the fix."""
    notes: tuple[str, ...] = ()
    """Harmless observations (no discovery endpoint, capabilities assumed)."""
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.reachable and self.authenticated and self.users is not None and self.groups is not None and not self.problems

    def render_text(self) -> str:
        lines = [f"{'OK' if self.ok else 'FAILED'}: {self.base_url} (profile {self.profile})"]
        lines.append(f"  reachable: {_yn(self.reachable)}")
        if self.tls_ok is not None:
            lines.append(f"  TLS: {_yn(self.tls_ok)}")
        lines.append(f"  authenticated: {_yn(self.authenticated)}")
        if self.users is not None:
            lines.append(f"  users: {self.users}")
        if self.groups is not None:
            lines.append(f"  groups: {self.groups}")
        caps = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(self.capabilities.items()))
        source = "discovered" if self.discovery else "assumed from the profile"
        lines.append(f"  capabilities ({source}): {caps}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.extend(f"  problem: {p}" for p in self.problems)
        lines.append(f"  time: {self.elapsed_ms} ms")
        return "\n".join(lines)


def test_connection(client: ScimClient) -> ConnectionReport:
    """Probe the target with GETs only: discovery, then one-resource pages of Users and Groups."""
    began = time.monotonic()
    url = client.base_url
    host = urlsplit(url).netloc
    is_https = url.startswith("https://")
    report: dict[str, Any] = {"base_url": url, "profile": client.profile.name}
    problems: list[str] = []
    notes: list[str] = []

    def finish() -> ConnectionReport:
        report["capabilities"] = client.profile.capabilities()
        report["problems"] = tuple(problems)
        report["notes"] = tuple(notes)
        report["elapsed_ms"] = int((time.monotonic() - began) * 1000)
        return ConnectionReport(**report)

    # 1. Discovery: also the reachability and TLS check, since it needs no authentication on
    #    RFC servers. Bitwarden has no such endpoint (bitwarden-scim.md §0): do not ask.
    if client.profile.discovery:
        try:
            client.service_provider_config()
        except ScimTransportError as exc:
            problems.append(_transport_line(exc, host, client))
            report["tls_ok"] = False if is_https and is_tls_error(exc) else None
            return finish()
        except ScimError as exc:
            report["reachable"] = True
            notes.append(
                f"no /ServiceProviderConfig (HTTP {exc.status}); capabilities are the profile's defaults"
            )
        else:
            report["reachable"] = True
            report["discovery"] = True
        client.discover()

    # 2. Users: authentication and the base URL.
    try:
        report["users"] = client.count_users()
    except ScimTransportError as exc:
        problems.append(_transport_line(exc, host, client))
        if is_https and is_tls_error(exc):
            report["tls_ok"] = False
        return finish()
    except ScimError as exc:
        report["reachable"] = True
        problems.append(_http_line(exc, client))
        if exc.status not in (401, 403):
            report["authenticated"] = True  # the server let us through; something else is wrong
        if is_https:
            report["tls_ok"] = True
        return finish()
    report["reachable"] = report["authenticated"] = True
    if is_https:
        report["tls_ok"] = True

    # 3. Groups.
    try:
        report["groups"] = client.count_groups()
    except ScimError as exc:
        problems.append(_http_line(exc, client) if not isinstance(exc, ScimTransportError)
                        else _transport_line(exc, host, client))
    return finish()


def _transport_line(exc: ScimTransportError, host: str, client: ScimClient) -> str:
    detail = f" ({exc.detail})" if exc.detail else ""
    if is_tls_error(exc):
        return (
            f"TLS handshake with {host} failed{detail}: use the server's correct https URL and a "
            "certificate your system trusts (connection.verify_tls: false only for a test server)"
        )
    if exc.status is not None:
        return f"{host} kept answering HTTP {exc.status}{detail}: the service is overloaded or down, try again later"
    return f"cannot reach {host}{detail}: check the URL's host and port, DNS, proxies and firewalls"


def _http_line(exc: ScimError, client: ScimClient) -> str:
    var = client.token_env or "that holds the token"
    where = f"{exc.method} {exc.path}" if exc.method and exc.path else "the request"
    if exc.status == 401:
        line = f"authentication failed (HTTP 401 on {where}): check the token variable {var}"
        if client.profile.auth_names_url:
            # Bitwarden answers 401 for an unknown organization id too (bitwarden-scim.md §0).
            line += " and the organization id in the URL (one SCIM key belongs to one organization)"
        return line
    if exc.status == 403:
        return f"forbidden (HTTP 403 on {where}): the token lacks SCIM permission; check the token variable {var}"
    if exc.status == 404:
        return f"not found (HTTP 404 on {where}): check the URL: wrong org id or path"
    detail = f": {exc.detail}" if exc.detail else ""
    return f"HTTP {exc.status} on {where}{detail}: the server refused a plain listing; check the URL and the profile"


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, set | frozenset | list | tuple):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    return str(value)


# The name is the command's (`reconcile test-connection`); keep pytest from collecting it when a
# test module imports it.
test_connection.__test__ = False  # type: ignore[attr-defined]
