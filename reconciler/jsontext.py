"""Deterministic JSON text for the files reconcile writes (state, plans, live snapshots): sorted
keys, two-space indentation, UTF-8, a final newline; the same data always gives the same bytes.

Python's indenting encoder is pure Python (about 1 s for a 40 MB plan); pydantic-core's indents
in Rust but keeps the keys in insertion order, so the keys are sorted first: about 3x faster,
the same text as `json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)` but for some
floats Python writes with an exponent (6.103515625e-05 becomes 0.00006103515625): the same
value, and still the same bytes for the same data.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import to_json

_CONTAINERS = (dict, list)


def sorted_json(data: Any) -> bytes:
    try:
        return to_json(_sorted_keys(data), indent=2) + b"\n"
    except ValueError:  # a lone surrogate (UTF-8 cannot hold it): written as a \ud800 escape
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def _sorted_keys(value: Any) -> Any:
    if value.__class__ is dict:
        return {k: _sorted_keys(v) if v.__class__ in _CONTAINERS else v for k, v in sorted(value.items())}
    if value.__class__ is list:
        return [_sorted_keys(v) if v.__class__ in _CONTAINERS else v for v in value]
    return value
