"""Fingerprints of live objects: what `plan` saw, so that `apply` can tell whether it moved.

A content hash of the fields the reconciler reads (not the server's version tag, which list and
GET answers may spell differently); any change to a field the diff used changes the hash.
"""

from __future__ import annotations

import hashlib

from reconciler.live import LiveGroup, LiveUser


def _digest(obj: object) -> str:
    # repr of a list of str/bool/None is exact and stable, and far cheaper than JSON
    return "sha256:" + hashlib.sha256(repr(obj).encode()).hexdigest()[:32]


def fingerprint_user(u: LiveUser) -> str:
    return _digest(
        [u.id, u.external_id, u.user_name.casefold(), [e.casefold() for e in u.emails], u.display_name,
         u.given_name, u.family_name, u.active]
    )


def fingerprint_group(g: LiveGroup) -> str:
    return _digest([g.id, g.external_id, g.display_name, sorted(g.members) if g.members is not None else None])
