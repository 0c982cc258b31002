"""The JSON writer of state, plan and snapshot files (reconciler.jsontext.sorted_json) gives the
text of json.dumps(indent=2, sort_keys=True, ensure_ascii=False) for any document whose floats
have a few decimals (tiny floats are spelled without Python's exponent: the documented
difference), and writes any document as JSON that reads back equal."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.jsontext import sorted_json

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=10)
PLAIN_FLOATS = st.integers(-(10**9), 10**9).map(lambda n: n / 100) | st.integers(0, 10**6).map(lambda n: n / 1024)
DOCS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | TEXT | PLAIN_FLOATS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=40,
)
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=10)  # lone surrogates too
ANY_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=1500, deadline=None)
@given(DOCS)
def test_the_text_is_json_dumps_sorted_and_indented(doc: Any) -> None:
    assert sorted_json(doc) == (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@settings(max_examples=500, deadline=None)
@given(ANY_DOCS)
def test_any_document_is_written_and_reads_back_equal(doc: Any) -> None:
    text = sorted_json(doc)
    assert json.loads(text) == doc
    assert sorted_json(json.loads(text)) == text  # the same data, the same bytes


def test_the_one_difference_and_the_surrogate_escape() -> None:
    assert sorted_json({"b": 6.103515625e-05, "a": 2}) == b'{\n  "a": 2,\n  "b": 0.00006103515625\n}\n'
    assert sorted_json({"x": "\ud800"}) == b'{\n  "x": "\\ud800"\n}\n'
