"""State of a target (what the reconciler manages and removed) and the stores that keep it.

`open_store(config, root, target)` gives the store a policy's `state:` settings describe: a local
JSON file (default) or a branch of the project's git remote (for CI).
"""

from __future__ import annotations

from reconciler.state.git import GitStore
from reconciler.state.local import LocalStore
from reconciler.state.model import (
    STATE_FORMAT_VERSION,
    ManagedGroup,
    ManagedUser,
    RemovalRecord,
    State,
)
from reconciler.state.store import (
    StateStore,
    StateWriter,
    StoreConfig,
    decode_state,
    encode_state,
    open_store,
)

__all__ = [
    "STATE_FORMAT_VERSION",
    "GitStore",
    "LocalStore",
    "ManagedGroup",
    "ManagedUser",
    "RemovalRecord",
    "State",
    "StateStore",
    "StateWriter",
    "StoreConfig",
    "decode_state",
    "encode_state",
    "open_store",
]
