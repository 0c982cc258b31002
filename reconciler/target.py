"""TargetClient: the operations apply and plan need, on top of ScimClient and its Profile.

It turns desired fields into the profile's payloads and answers in LiveUser/LiveGroup values,
so that apply never handles wire formats. 404 on a delete is "already gone", not an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from reconciler.errors import ConfigError, ReconcilerError, ScimError
from reconciler.live import LiveGroup, LiveState, LiveUser, fetch_live
from reconciler.plan import ConnectionInfo
from reconciler.scim.client import ScimClient
from reconciler.scim.profiles import get_profile
from reconciler.scim.wire import to_live_group, to_live_user


log = logging.getLogger(__name__)


def open_client(conn: ConnectionInfo, *, read_only: bool, env: Mapping[str, str] | None = None) -> ScimClient:
    env = os.environ if env is None else env
    token = env.get(conn.token_env, "")
    if not token.strip():
        raise ReconcilerError(
            f"the token variable {conn.token_env} is not set; export it (from your secret store) "
            "before running plan or apply"
        )
    try:
        profile = get_profile(conn.profile, conn.capabilities or None)
    except ConfigError as exc:
        raise ReconcilerError(f"connection.capabilities: {exc}") from None
    return ScimClient(
        conn.url,
        token,
        profile=profile,
        read_only=read_only,
        token_env=conn.token_env,
        users_path=conn.users_path,
        groups_path=conn.groups_path,
        timeout=conn.timeout,
        verify_tls=conn.verify_tls,
    )


T = TypeVar("T")


def _unless_404(call: Callable[[], T]) -> T | None:
    """The call's answer, or None when the server says the object does not exist."""
    try:
        return call()
    except ScimError as exc:
        if exc.status == 404:
            return None
        raise


def _done(call: Callable[[str], None], scim_id: str) -> bool:
    call(scim_id)
    return True


class TargetClient:
    def __init__(self, client: ScimClient) -> None:
        self.client = client
        self.profile = client.profile
        self.profile_name = client.profile.name
        self.concurrency = client.profile.concurrency
        self._rename_by_put = False

    def close(self) -> None:
        self.client.close()

    def read_all(self) -> LiveState:
        return fetch_live(self.client)

    def read_user(self, scim_id: str) -> LiveUser | None:
        found = _unless_404(lambda: self.client.get_user(scim_id))
        return to_live_user(found) if found is not None else None

    def read_group(self, scim_id: str) -> LiveGroup | None:
        found = _unless_404(lambda: self.client.get_group(scim_id))
        return to_live_group(found, members_readable=self.profile.members_readable) if found is not None else None

    def find_user(self, external_id: str | None, user_name: str | None) -> LiveUser | None:
        if user_name is not None and self.profile.lookup_user_name_requires_email and "@" not in user_name:
            user_name = None
        if external_id is None and user_name is None:
            return None
        found = self.client.find_user(external_id=external_id, user_name=user_name)
        return to_live_user(found) if found is not None else None

    def find_group(self, external_id: str) -> LiveGroup | None:
        found = self.client.find_group(external_id=external_id)
        return to_live_group(found, members_readable=False) if found is not None else None

    def create_user(self, fields: dict[str, Any]) -> LiveUser:
        body = self.profile.user_create_body(
            user_name=fields["userName"],
            external_id=fields["externalId"],
            emails=fields.get("emails") or (),
            display_name=fields.get("displayName"),
            given_name=fields.get("name.givenName"),
            family_name=fields.get("name.familyName"),
            active=fields.get("active", True),
        )
        return to_live_user(self.client.create_user(body))

    def update_user(self, scim_id: str, changes: dict[str, Any]) -> LiveUser | None:
        """The user as the server answered (200 with a body), or None (204)."""
        answer = self.client.patch_user(scim_id, self.profile.user_update_ops(changes))
        return to_live_user(answer) if answer is not None and answer.id else None

    def set_active(self, scim_id: str, active: bool) -> None:
        self.client.patch_user(scim_id, self.profile.set_active_ops(active))

    def delete_user(self, scim_id: str) -> bool:
        """False when the account was already gone (404): recorded, not an error."""
        return _unless_404(lambda: _done(self.client.delete_user, scim_id)) is not None

    def create_group(self, display_name: str, external_id: str) -> LiveGroup:
        body = self.profile.group_create_body(display_name=display_name, external_id=external_id)
        return to_live_group(self.client.create_group(body), members_readable=False)

    def update_group(self, scim_id: str, display_name: str | None, external_id: str | None) -> None:
        """Rename by PATCH; a server that refuses it (400/501, e.g. django-scim2) gets a PUT with the
        members just read back, so that the full replace keeps them. The switch is remembered."""
        if not self._rename_by_put:
            try:
                self.client.patch_group(
                    scim_id, self.profile.group_rename_ops(display_name=display_name, external_id=external_id)
                )
                return
            except ScimError as exc:
                if exc.status not in (400, 501) or not self.profile.members_readable:
                    raise  # Bitwarden renames by PATCH; a PUT there could not carry the members
                log.warning("the server refused a group rename by PATCH (%s); renaming by PUT from now on", exc.status)
                self._rename_by_put = True
        current = self.client.get_group(scim_id)
        body = self.profile.group_replace_body(
            display_name=display_name or current.display_name or "",
            external_id=external_id if external_id is not None else current.external_id,
            members=[m.value for m in current.members or () if m.value],
        )
        self.client.replace_group(scim_id, body, etag=current.meta.version if current.meta else None)

    def delete_group(self, scim_id: str) -> bool:
        return _unless_404(lambda: _done(self.client.delete_group, scim_id)) is not None

    def change_members(self, scim_id: str, add: list[str], remove: list[str]) -> None:
        self.client.update_group_members(scim_id, add, remove)
