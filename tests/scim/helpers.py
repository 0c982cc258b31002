"""Test helpers for the SCIM layer: a fake clock, raw-httpx seeding of a server (independent of
the client under test, so it can serve as an oracle), and expected LiveState builders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from reconciler.live import LiveGroup, LiveUser

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@dataclass
class FakeClock:
    """Monotonic clock and sleep for the client: sleeping advances time, nothing waits."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def user_body(i: int, *, prefix: str = "u") -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": f"{prefix}{i:05d}@example.com",
        "externalId": f"ext-{prefix}{i:05d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "emails": [
            {"value": f"alt{i}@example.org", "type": "home"},
            {"value": f"{prefix}{i:05d}@example.com", "type": "work", "primary": True},
        ],
        "active": i % 7 != 0,
    }


def raw_client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=120,
    )


def bulk_create_users(base_url: str, token: str, bodies: list[dict[str, Any]]) -> list[str]:
    """Create users with scim2-server's Bulk endpoint (≤1000 operations, ≤1 MiB per request).
    Returns the new ids in input order."""
    return [uid for uid, _ in bulk_create(base_url, token, bodies)]


def bulk_create(base_url: str, token: str, bodies: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Like bulk_create_users, returning (id, version) pairs: versions come from a counter shared
    by the whole tenant, so they are known only from the server's answer."""
    ids: list[tuple[str, str]] = []
    with raw_client(base_url, token) as http:
        for start in range(0, len(bodies), 1000):
            chunk = bodies[start : start + 1000]
            ops = [
                {"method": "POST", "path": "/Users", "bulkId": f"b{start + n}", "data": body}
                for n, body in enumerate(chunk)
            ]
            resp = http.post("/Bulk", content=json.dumps({"schemas": [BULK], "Operations": ops}))
            resp.raise_for_status()
            results = resp.json()["Operations"]
            assert len(results) == len(chunk)
            for r in results:
                assert str(r["status"]).startswith("201"), r
                ids.append((r["location"].rstrip("/").rsplit("/", 1)[-1], r["version"]))
    return ids


def create_group(base_url: str, token: str, display_name: str, external_id: str, members: Iterable[str]) -> str:
    with raw_client(base_url, token) as http:
        body = {"schemas": [GROUP], "displayName": display_name, "externalId": external_id,
                "members": [{"value": m} for m in members]}
        resp = http.post("/Groups", content=json.dumps(body))
        resp.raise_for_status()
        return str(resp.json()["id"])


def expected_user(uid: str, body: dict[str, Any], version: str | None = None) -> LiveUser:
    emails = body.get("emails", [])
    ordered = [e["value"] for e in emails if e.get("primary")] + [e["value"] for e in emails if not e.get("primary")]
    return LiveUser(
        id=uid,
        external_id=body.get("externalId"),
        user_name=body["userName"],
        emails=tuple(ordered),
        display_name=body.get("displayName"),
        given_name=body.get("name", {}).get("givenName"),
        family_name=body.get("name", {}).get("familyName"),
        active=body.get("active", True),
        version=version,
    )


def without_versions(items: Iterable[LiveUser | LiveGroup]) -> list[Any]:
    return [replace(i, version=None) for i in items]


def list_page(resources: list[dict[str, Any]], total: int, *, key: str = "Resources", start: int = 1,
              items_per_page: int | None = None) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources) if items_per_page is None else items_per_page,
        key: resources,
    }


def mock_transport(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A MockTransport that also records every request it saw."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.MockTransport(record), seen


def scim_json(status: int, body: Any = None, headers: dict[str, str] | None = None,
              content_type: str = "application/scim+json") -> httpx.Response:
    h = {"Content-Type": content_type, **(headers or {})}
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=h)
