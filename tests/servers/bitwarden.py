"""A faithful stand-in for Bitwarden's SCIM 2.0 API (server 2026.8.0), for tests.

Spec: ``shared/docs/bitwarden-scim.md (beside the repository)``. Run it in-process::

    with BitwardenServer() as server:          # 127.0.0.1, free port, one org
        httpx.get(server.base_url + "/Users", headers={"Authorization": f"Bearer {server.token}"})

or as a subprocess (prints one line when ready, never the token)::

    python -m tests.servers.bitwarden --port 8080 --org <GUID> --token <KEY>
    Serving Bitwarden SCIM on http://127.0.0.1:8080/v2/<GUID>

Several orgs can live on one server (each with its own key): that is how the pytest fixture gives
every test a fresh org cheaply. Outside the SCIM surface, ``/_test/...`` (no SCIM auth; optionally an
``X-Test-Admin-Token``) inspects and drives the state; :class:`BitwardenOrg` does the same
in-process. See ``tests/servers/README_bitwarden.md``.

Layers, like Bitwarden's own: ``bitwarden_dotnet`` (what ASP.NET Core and .NET do),
``bitwarden_model`` (org state and Bitwarden core: revoke, restore, seats, GroupUser procedures),
``bitwarden_scim`` (the SCIM controllers and queries), and this module (HTTP routing, auth, content
types, faults, request log, test API, CLI). Python standard library only (httpx only lazily, in
:meth:`BitwardenOrg.client`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.bitwarden_dotnet import (
    MALFORMED,
    DotNetException,
    dumps,
    format_datetime,
    new_guid,
    parse_guid,
    parse_json,
    utc_now,
)
from tests.servers.bitwarden_model import FaultRule, HookError, Org, Settings
from tests.servers.bitwarden_scim import ROUTES, ActionResult, error_body

if TYPE_CHECKING:
    import httpx

SCIM_JSON: Final = "application/scim+json; charset=utf-8"
PLAIN_JSON: Final = "application/json; charset=utf-8"
ADMIN_HEADER: Final = "X-Test-Admin-Token"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_T = TypeVar("_T")


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    body: bytes


def _json_response(status: int, value: Any, content_type: str = PLAIN_JSON) -> _Response:
    return _Response(status, dumps(value), content_type)


def _is_json_media_type(content_type: str | None) -> bool:
    """What MVC's SystemTextJsonInputFormatter reads: application/json, text/json, application/*+json."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or (media.startswith("application/") and media.endswith("+json"))


def _negotiated_error_type(accept: str | None) -> str:
    """Content type of an exception-filter error: the ObjectResult is not under ``[Produces]``, so MVC
    negotiates from Accept (``*/*`` or nothing -> application/json)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept or "").split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            if param.lower().startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media:
            ranked.append((-quality, index, media))
    if any(media == "*/*" for _, _, media in ranked):
        return PLAIN_JSON
    for _, _, media in sorted(ranked):
        if media in ("application/json", "text/json") or (media.startswith("application/") and media.endswith("+json")):
            return f"{media}; charset=utf-8"
    return PLAIN_JSON


# --------------------------------------------------------------------------------------------
# Registry of orgs (one lock for all state)
# --------------------------------------------------------------------------------------------


class _Registry:
    def __init__(self, admin_token: str | None) -> None:
        self.lock = threading.RLock()
        self.orgs: dict[str, Org] = {}
        self.admin_token = admin_token
        self.unrouted: list[dict[str, Any]] = []  # requests that named no known org

    def find(self, org_text: str) -> Org | None:
        """The org a path segment names (``Guid.TryParse``, so any GUID format)."""
        org_id = parse_guid(org_text)
        return self.orgs.get(org_id) if org_id else None

    def create(self, org_id: str | None, token: str | None, settings: Mapping[str, Any]) -> Org:
        canonical = parse_guid(org_id) if org_id is not None else new_guid()
        if canonical is None:
            raise ValueError(f"organization id must be a GUID, got {org_id!r}")
        if canonical in self.orgs:
            raise HookError(409, f"organization {canonical} already exists")
        chosen = Settings()
        chosen.update(settings)
        org = Org(canonical, token or secrets.token_urlsafe(24), chosen)
        self.orgs[canonical] = org
        return org


# --------------------------------------------------------------------------------------------
# HTTP handler
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    registry: _Registry


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Kestrel"
    sys_version = ""
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is kept per org (``BitwardenOrg.log``)."""

    def _any_method(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urlsplit(self.path)
        request = _Request(self.command, split.path, split.query, body)
        if split.path == "/_test" or split.path.startswith("/_test/"):
            self._send(self._admin(request))
        else:
            self._scim(request)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any_method

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    # ---- SCIM surface -------------------------------------------------------------------------

    def _scim(self, request: _Request) -> None:
        """Route, apply any fault, authenticate, check the media type, run the action, log."""
        path = request.path[:-1] if len(request.path) > 1 and request.path.endswith("/") else request.path
        parts = [unquote(p) for p in path.split("/")[1:]]
        route = _match_route(parts)
        if route is None:
            self._finish(request, None, _info_response(parts, request.method), wrote=False, fault=None)
            return
        org_text, collection, item = route
        registry = self.server.registry
        with registry.lock:
            org = registry.find(org_text)
            fault = org.take_fault(request.method, "/" + "/".join(parts[2:])) if org is not None else None
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        if fault is not None and fault.action == "status":
            self._finish(request, org, _fault_response(fault), wrote=False, fault="status")
            return
        if fault is not None and fault.action == "drop":
            self._finish(request, org, None, wrote=False, fault="drop")
            return
        response, wrote = self._respond(request, org, collection, item)
        dropped = fault is not None and fault.action == "drop_after_write"
        self._finish(request, org, response, wrote=wrote, fault=fault.action if fault else None, send=not dropped)

    def _respond(self, request: _Request, org: Org | None, collection: str, item: str | None) -> tuple[_Response, bool]:
        """ASP.NET's pipeline order: routing (405), authentication (401), body formatter (415)."""
        allowed = [m for (c, m, has_id) in ROUTES if c == collection and has_id == (item is not None)]
        if request.method not in allowed:
            return _Response(405, headers={"Allow": ", ".join(allowed)}), False
        if org is None or not self._authenticated(org):
            return _Response(401), False
        if request.method in _BODY_METHODS and not _is_json_media_type(self.headers.get("Content-Type")):
            return _Response(415), False
        query = parse_qs(request.query, keep_blank_values=True)
        body = parse_json(request.body) if request.method in _BODY_METHODS else MALFORMED
        action = ROUTES[(collection, request.method, item is not None)]
        provider = self._provider()
        with self.server.registry.lock:
            before = org.mutations
            try:
                response = _action_response(action(org, item, query, body, provider))
            except DotNetException as error:  # ExceptionHandlerFilterAttribute
                content_type = _negotiated_error_type(self.headers.get("Accept"))
                response = _json_response(error.status, error_body(error.status, error.detail), content_type)
            except Exception as error:  # a bug of the stand-in: answer 500, and remember it
                org.internal_errors.append(f"{request.method} {request.path}: {error!r}")
                response = _json_response(500, error_body(500, f"stand-in internal error: {error!r}"))
            return response, org.mutations != before

    def _finish(
        self,
        request: _Request,
        org: Org | None,
        response: _Response | None,
        *,
        wrote: bool,
        fault: str | None,
        send: bool = True,
    ) -> None:
        """Log the request, then answer it, or close the connection without a byte."""
        entry = _log_entry(request, response, wrote, fault)
        with self.server.registry.lock:  # logged before answering: a client holding the answer sees it
            if org is not None:
                org.record(entry)
            else:
                self.server.registry.unrouted.append(entry)
        if response is not None and send:
            self._send(response)
        else:
            self.close_connection = True

    def _authenticated(self, org: Org) -> bool:
        """``ApiKeyAuthenticationHandler``: exactly one Authorization header, literal ``Bearer ``
        prefix stripped (case-sensitive), raw key also accepted, org enabled for SCIM."""
        values = self.headers.get_all("Authorization") or []
        if len(values) != 1 or not org.settings.scim_enabled:
            return False
        key = values[0].strip(" \t")
        if key.startswith("Bearer "):
            key = key[7:]
        return secrets.compare_digest(key.encode(), org.token.encode())

    def _provider(self) -> str:
        """``ScimContext``: Okta by User-Agent, AzureAd by an ``Adscimversion`` header."""
        if self.headers.get("User-Agent", "").startswith("Okta"):
            return "Okta"
        if self.headers.get("Adscimversion") is not None:
            return "AzureAd"
        return "Default"

    # ---- /_test API ---------------------------------------------------------------------------

    def _admin(self, request: _Request) -> _Response:
        registry = self.server.registry
        raw = request.body
        if registry.admin_token is not None and not secrets.compare_digest(
            (self.headers.get(ADMIN_HEADER) or "").encode(), registry.admin_token.encode()
        ):
            return _json_response(401, {"error": f"missing or wrong {ADMIN_HEADER}"})
        body: Any = parse_json(raw) if raw.strip() else {}
        if body is MALFORMED or not isinstance(body, dict):
            return _json_response(400, {"error": "the body must be a JSON object"})
        parts = [unquote(p) for p in request.path.rstrip("/").split("/")[2:]]
        try:
            with registry.lock:
                return _admin_route(registry, request.method, parts, body, self._root_url())
        except HookError as error:
            return _json_response(error.status, {"error": str(error)})
        except (ValueError, TypeError) as error:
            return _json_response(400, {"error": str(error)})

    def _root_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"


def _match_route(parts: list[str]) -> tuple[str, str, str | None] | None:
    """``v2/{organizationId}/users[/{id}]`` and ``.../groups[/{id}]``, case-insensitive."""
    if len(parts) not in (3, 4) or any(p == "" for p in parts):
        return None
    if parts[0].lower() != "v2" or parts[2].lower() not in ("users", "groups"):
        return None
    return parts[1], parts[2].lower(), parts[3] if len(parts) == 4 else None


def _action_response(result: ActionResult) -> _Response:
    headers = {"Location": result.location} if result.location else {}
    if result.body is None:
        return _Response(result.status, headers=headers)
    return _Response(result.status, dumps(result.body), SCIM_JSON, headers)


def _log_entry(request: _Request, response: _Response | None, wrote: bool, fault: str | None) -> dict[str, Any]:
    return {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "status": None if response is None else response.status,
        "request_bytes": len(request.body),
        "response_bytes": None if response is None else len(response.body),
        "write": wrote,
        "fault": fault,
    }


def _info_response(parts: list[str], method: str) -> _Response:
    """``InfoController``: anonymous ``GET /alive`` and ``GET /now``; any other path is a 404."""
    if len(parts) == 1 and parts[0].lower() in ("alive", "now"):
        if method != "GET":
            return _Response(405, headers={"Allow": "GET"})
        return _json_response(200, format_datetime(utc_now(), utc_kind=True))
    return _Response(404)


def _fault_response(fault: FaultRule) -> _Response:
    content_type = fault.content_type if fault.body is not None else None
    return _Response(fault.status, (fault.body or "").encode(), content_type, dict(fault.headers))


def _admin_route(registry: _Registry, method: str, parts: list[str], body: dict[str, Any], root: str) -> _Response:
    """The ``/_test`` API (JSON in, JSON out); see README_bitwarden.md for the table."""
    if parts == ["orgs"]:
        if method == "GET":
            return _json_response(200, sorted(registry.orgs))
        if method == "POST":
            org = registry.create(body.get("org_id"), body.get("token"), body.get("settings") or {})
            return _json_response(201, {"org_id": org.id, "token": org.token, "base_url": f"{root}/v2/{org.id}"})
    if len(parts) < 2 or parts[0] != "orgs":
        raise HookError(404, "unknown test route")
    found = registry.find(parts[1])
    if found is None:
        raise HookError(404, f"no organization {parts[1]}")
    org = found

    def patch_settings() -> dict[str, Any]:
        org.settings.update(body)
        return org.settings.as_dict()

    def delete_org() -> None:
        registry.orgs.pop(org.id, None)

    # (method, path after /_test/orgs/{org} with ids replaced by "*") -> handler
    rest, key = parts[2:], (method, tuple(p if i % 2 == 0 else "*" for i, p in enumerate(parts[2:])))
    routes: dict[tuple[str, tuple[str, ...]], Callable[[], Any]] = {
        ("GET", ()): org.snapshot,
        ("DELETE", ()): delete_org,
        ("POST", ("reset",)): org.reset,
        ("GET", ("settings",)): org.settings.as_dict,
        ("PATCH", ("settings",)): patch_settings,
        ("GET", ("counters",)): lambda: dict(org.counters),
        ("GET", ("members",)): lambda: [org.member_view(m) for m in org.members.values()],
        ("POST", ("members",)): lambda: org.member_view(org.seed_member(**body)),
        ("GET", ("members", "*")): lambda: org.member_view(org.hook_member(rest[1])),
        ("PATCH", ("members", "*")): lambda: org.member_view(org.update_member(rest[1], body)),
        ("POST", ("members", "*", "accept")): lambda: org.member_view(org.accept(rest[1], **body)),
        ("POST", ("members", "*", "confirm")): lambda: org.member_view(org.confirm(rest[1])),
        ("GET", ("groups",)): lambda: [org.group_view(g) for g in org.groups.values()],
        ("POST", ("groups",)): lambda: org.group_view(org.seed_group(**body)),
        ("GET", ("groups", "*")): lambda: org.group_view(org.hook_group(rest[1])),
        ("GET", ("log",)): lambda: list(org.log),
        ("DELETE", ("log",)): org.log.clear,
        ("GET", ("faults",)): lambda: [f.as_dict() for f in org.faults],
        ("POST", ("faults",)): lambda: org.add_fault(**_fault_spec(body)).as_dict(),
        ("DELETE", ("faults",)): org.faults.clear,
    }
    handler = routes.get(key)
    if handler is None:
        raise HookError(404 if not any(k[1] == key[1] for k in routes) else 405, "unknown test route or method")
    result = handler()
    return _json_response(200, result if result is not None else {"ok": True})


def _fault_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a fault request: ``retry_after`` becomes a ``Retry-After`` header; a body gets
    a content type (JSON if it parses as JSON, else text) unless one is given."""
    result = dict(spec)
    retry_after = result.pop("retry_after", None)
    if retry_after is not None:
        result["headers"] = {**(result.get("headers") or {}), "Retry-After": str(retry_after)}
    body = result.get("body")
    if body is not None and not result.get("content_type"):
        is_json = parse_json(str(body).encode()) is not MALFORMED
        result["content_type"] = PLAIN_JSON if is_json else "text/plain; charset=utf-8"
    return result


# --------------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------------


class BitwardenOrg:
    """One organisation on a :class:`BitwardenServer`: its SCIM coordinates and its test hooks.

    Every method runs in-process under the server's lock; the same operations exist over HTTP at
    ``{server.root_url}/_test/orgs/{org_id}/...``."""

    def __init__(self, server: BitwardenServer, org: Org) -> None:
        self.server = server
        self._org = org

    def __repr__(self) -> str:
        return f"BitwardenOrg({self.base_url!r})"

    # ---- coordinates ----------------------------------------------------------------------------

    @property
    def org_id(self) -> str:
        return self._org.id

    @property
    def token(self) -> str:
        return self._org.token

    @property
    def base_url(self) -> str:
        return f"{self.server.root_url}/v2/{self._org.id}"

    @property
    def admin_url(self) -> str:
        return f"{self.server.root_url}/_test/orgs/{self._org.id}"

    @property
    def headers(self) -> dict[str, str]:
        """What a well-behaved client sends (spec §10.1)."""
        return {"Authorization": f"Bearer {self._org.token}", "Content-Type": "application/scim+json"}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on :attr:`base_url` with :attr:`headers` (httpx imported lazily)."""
        import httpx

        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.base_url, headers=self.headers, **kwargs)

    def _locked(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        with self.server.lock:
            return fn(*args, **kwargs)

    # ---- inspection -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything: settings, seats, members (true status), groups (real members), counters."""
        return self._locked(self._org.snapshot)

    def members(self) -> list[dict[str, Any]]:
        return self._locked(lambda: [self._org.member_view(m) for m in self._org.members.values()])

    def member(self, member_id: str) -> dict[str, Any]:
        return self._locked(lambda: self._org.member_view(self._org.hook_member(member_id)))

    def member_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.lower()
        return next((m for m in self.members() if (m["scim_email"] or "").lower() == wanted), None)

    def groups(self) -> list[dict[str, Any]]:
        return self._locked(lambda: [self._org.group_view(g) for g in self._org.groups.values()])

    def group(self, group_id: str) -> dict[str, Any]:
        return self._locked(lambda: self._org.group_view(self._org.hook_group(group_id)))

    def group_members(self, group_id: str) -> set[str]:
        """The real members of a group (Bitwarden never returns them over SCIM)."""
        return set(self.group(group_id)["members"])

    @property
    def settings(self) -> dict[str, Any]:
        return self._locked(self._org.settings.as_dict)

    @property
    def counters(self) -> dict[str, int]:
        """``membership_writes`` (org-wide revision bumps from group membership writes),
        ``single_member_removes``, ``group_deletes``, ``invitations_sent``, ``seats_added``."""
        return self._locked(lambda: dict(self._org.counters))

    # ---- seeding and simulated people -----------------------------------------------------------

    def seed_member(
        self,
        email: str,
        *,
        type: str = "User",  # noqa: A002 - mirrors OrganizationUser.Type
        status: str = "Confirmed",
        external_id: str | None = None,
        name: str | None = None,
        prior_status: str | None = None,
        restore_block: str | None = None,
    ) -> dict[str, Any]:
        """Add a member made outside SCIM (owner, admin, manual invite: externalId null)."""
        return self._locked(
            lambda: self._org.member_view(
                self._org.seed_member(
                    email,
                    type=type,
                    status=status,
                    external_id=external_id,
                    name=name,
                    prior_status=prior_status,
                    restore_block=restore_block,
                )
            )
        )

    def accept(self, member_id: str, *, email: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The invitee accepts (Invited -> Accepted); their account's e-mail and name then show."""
        return self._locked(lambda: self._org.member_view(self._org.accept(member_id, email=email, name=name)))

    def confirm(self, member_id: str) -> dict[str, Any]:
        """An admin confirms (Accepted -> Confirmed)."""
        return self._locked(lambda: self._org.member_view(self._org.confirm(member_id)))

    def update_member(self, member_id: str, **changes: Any) -> dict[str, Any]:
        """Change ``type``, ``name`` (account holders) or ``restore_block`` (policy message)."""
        return self._locked(lambda: self._org.member_view(self._org.update_member(member_id, changes)))

    def seed_group(self, name: str, *, external_id: str | None = None, members: Iterable[str] = ()) -> dict[str, Any]:
        return self._locked(
            lambda: self._org.group_view(self._org.seed_group(name, external_id=external_id, members=members))
        )

    # ---- switches -------------------------------------------------------------------------------

    def set(self, **switches: Any) -> dict[str, Any]:
        """Flip switches (see :class:`bitwarden_model.Settings`; ``seat_limit`` is a shorthand)."""

        def apply() -> dict[str, Any]:
            self._org.settings.update(switches)
            return self._org.settings.as_dict()

        return self._locked(apply)

    def reset(self) -> None:
        """Empty the org, default settings, clear log, faults and counters (same id and token)."""
        self._locked(self._org.reset)

    # ---- request log ----------------------------------------------------------------------------

    def log(self) -> list[dict[str, Any]]:
        """Every SCIM request to this org: method, path, query, status, sizes, write, fault."""
        return self._locked(lambda: [dict(e) for e in self._org.log])

    def writes(self) -> list[dict[str, Any]]:
        """The log entries that changed state."""
        return [e for e in self.log() if e["write"]]

    def clear_log(self) -> None:
        self._locked(self._org.log.clear)

    @property
    def internal_errors(self) -> list[str]:
        return self._locked(lambda: list(self._org.internal_errors))

    # ---- faults ---------------------------------------------------------------------------------

    def inject_fault(
        self,
        action: str = "status",
        *,
        status: int = 503,
        times: int | None = 1,
        skip: int = 0,
        method: str | None = None,
        path: str | None = None,
        retry_after: int | str | None = None,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        content_type: str | None = None,
        delay: float = 0.0,
    ) -> dict[str, Any]:
        """Make the next ``times`` matching SCIM requests (after ``skip`` of them) misbehave.

        ``action``: ``"status"`` answers ``status`` without doing anything; ``"drop"`` closes the
        connection without doing anything; ``"drop_after_write"`` does the work, then closes without
        answering; ``"delay"`` waits ``delay`` seconds, then answers normally. ``method`` is a
        regex on the HTTP method, ``path`` a regex searched in the path after ``/v2/{orgId}``
        (e.g. ``"^/users$"``). Rules are checked in order; ``times=None`` never runs out."""
        spec = _fault_spec(
            {
                "action": action,
                "status": status,
                "times": times,
                "skip": skip,
                "method": method,
                "path": path,
                "retry_after": retry_after,
                "headers": dict(headers or {}),
                "body": body,
                "content_type": content_type,
                "delay": delay,
            }
        )
        return self._locked(lambda: self._org.add_fault(**spec).as_dict())

    def faults(self) -> list[dict[str, Any]]:
        return self._locked(lambda: [f.as_dict() for f in self._org.faults])

    def clear_faults(self) -> None:
        self._locked(self._org.faults.clear)


class BitwardenServer:
    """The HTTP server on ``host:port`` (port 0 = a free one) in a background thread, with one
    organisation created at start (``org_id``, ``token``, ``base_url`` are that org's)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        org_id: str | None = None,
        token: str | None = None,
        admin_token: str | None = None,
        **settings: Any,
    ) -> None:
        self._registry = _Registry(admin_token)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.registry = self._registry
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="bitwarden-scim", daemon=True
        )
        self._thread.start()
        self.default_org = self.create_org(org_id, token, **settings)

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.default_org.base_url

    @property
    def org_id(self) -> str:
        return self.default_org.org_id

    @property
    def token(self) -> str:
        return self.default_org.token

    @property
    def lock(self) -> threading.RLock:
        return self._registry.lock

    def create_org(self, org_id: str | None = None, token: str | None = None, **settings: Any) -> BitwardenOrg:
        """A new, empty organisation (a confirmed provider user stands in for its owner)."""
        with self.lock:
            return BitwardenOrg(self, self._registry.create(org_id, token, settings))

    def get_org(self, org_id: str) -> BitwardenOrg:
        with self.lock:
            org = self._registry.find(org_id)
        if org is None:
            raise KeyError(org_id)
        return BitwardenOrg(self, org)

    def delete_org(self, org_id: str) -> None:
        with self.lock:
            self._registry.orgs.pop(parse_guid(org_id) or org_id, None)

    def unrouted_log(self) -> list[dict[str, Any]]:
        """Requests that matched no route or named no known org."""
        with self.lock:
            return [dict(e) for e in self._registry.unrouted]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BitwardenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers.bitwarden", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--org", help="organization id (a GUID); random if omitted")
    parser.add_argument(
        "--token",
        default=os.environ.get("BITWARDEN_SCIM_TOKEN"),
        help="the org's SCIM API key (or env BITWARDEN_SCIM_TOKEN); never printed",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("BITWARDEN_TEST_ADMIN_TOKEN"),
        help=f"require this in {ADMIN_HEADER} for the /_test API",
    )
    parser.add_argument(
        "--version",
        dest="server_version",
        default=Settings().version,
        help="Bitwarden server version to emulate (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or BITWARDEN_SCIM_TOKEN) is required")
    if args.org is not None and parse_guid(args.org) is None:
        parser.error(f"--org must be a GUID, got {args.org!r}")
    server = BitwardenServer(
        args.host,
        args.port,
        org_id=args.org,
        token=args.token,
        admin_token=args.admin_token,
        version=args.server_version,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Serving Bitwarden SCIM on {server.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
