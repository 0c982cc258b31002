"""The SCIM layer: the httpx client, thin wire models, provider profiles and the connection probe.

Place in the pipeline: the network ends. `fetch_live` (reconciler.live) reads through a read-only
`ScimClient`; apply writes through a writable one, with payloads built by the `Profile`.
"""

from __future__ import annotations

from reconciler.scim.client import RetryPolicy, ScimClient, normalise_base_url, parse_retry_after
from reconciler.scim.probe import ConnectionReport, test_connection
from reconciler.scim.profiles import (
    ALLOWED_OVERRIDES,
    BITWARDEN,
    GENERIC,
    PROFILES,
    Profile,
    eq_filter,
    get_profile,
    quote,
)
from reconciler.scim.wire import (
    Error,
    Group,
    ListResponse,
    Member,
    PatchOp,
    PatchOperation,
    ServiceProviderConfig,
    User,
    to_live_group,
    to_live_user,
)

__all__ = [
    "ALLOWED_OVERRIDES",
    "BITWARDEN",
    "GENERIC",
    "PROFILES",
    "ConnectionReport",
    "Error",
    "Group",
    "ListResponse",
    "Member",
    "PatchOp",
    "PatchOperation",
    "Profile",
    "RetryPolicy",
    "ScimClient",
    "ServiceProviderConfig",
    "User",
    "eq_filter",
    "get_profile",
    "normalise_base_url",
    "parse_retry_after",
    "quote",
    "test_connection",
    "to_live_group",
    "to_live_user",
]
