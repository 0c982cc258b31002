"""The plan file's writer (reconciler.plan.pretty_json) gives exactly the bytes of
json.dumps(indent=2, sort_keys=True, ensure_ascii=False), which architecture.md's byte-identical
plans rest on, for any JSON document: the fast path and each fallback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan import pretty_json

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=10)  # surrogates included
LEAVES = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | TEXT
SIMPLE_FLOATS = st.integers(-(10**9), 10**9).map(lambda n: n / 100) | st.integers(0, 10**6).map(lambda n: n / 1024)
DOCS = st.recursive(
    LEAVES | st.floats(allow_nan=False, allow_infinity=False) | SIMPLE_FLOATS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=1500, deadline=None)
@given(DOCS)
def test_the_plan_writer_matches_json_dumps(doc: Any) -> None:
    assert pretty_json(doc) == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def test_the_fast_path_is_taken_for_plan_like_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"b": [1, {"d": None, "c": True}], "a": "ünï\u2028\x00/\"\\", "e": [], "f": {}, "timeout": 30.0, "r": -0.25}
    expected = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
    assert pretty_json(1e16) == "1e+16" and pretty_json({"x": "\ud800"}) == '{\n  "x": "\ud800"\n}'  # fallbacks
    real_dumps = json.dumps

    def compact_only(*args: Any, **kwargs: Any) -> str:
        assert kwargs.get("indent") is None, "the slow indenting encoder was used"
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(json, "dumps", compact_only)
    assert pretty_json(doc) == expected
