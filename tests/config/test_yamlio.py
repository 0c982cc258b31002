"""The two ways a file's values are built (reconciler.config.yamlio) agree.

`_common_values` is the lean loop for files in the common subset of YAML; anything else makes it
step aside (`_Unusual`) for `_Builder`, which also records positions and diagnostics. These tests
hold the lean loop to exactly the builder's values, on hand-picked tricky inputs and on random
documents, and check that each construct outside the subset is handed over.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.config.yamlio import (
    LoadedYaml,
    _Builder,
    _common_values,
    _next_event,
    _Unusual,
    _yaml,
    load_yaml_file,
)

# Plain scalars whose resolution differs between YAML 1.1 and 1.2, or that look like numbers.
TRICKY = [
    "yes", "No", "on", "OFF", "y", "~", "null", "Null", "NULL", "true", "True", "FALSE", "0", "-0",
    "+1", "017", "0o17", "0x1F", "0b101", "1_000", "1e3", "1E-3", "-.5", "+.5e2", "3.", ".inf",
    "-.Inf", ".nan", "2026-01-01", "12:30", "1:2:3", "-", "+", ".", "..", "0x", "0o", "e3",
    "a b", "user@example.com", "http://host:8080/x", "ünïcode", "#not-a-comment",
]


def builder_values(text: str, pure: bool = False) -> tuple[object, list[str]]:
    out = LoadedYaml("f.yaml")
    return _Builder(out, track=False).build(_yaml(pure=pure).parse(text)), [d.message for d in out.diagnostics]


def common_values(text: str, pure: bool = False) -> object:
    return _common_values(_next_event(text, pure))


@pytest.mark.parametrize("word", TRICKY)
@pytest.mark.parametrize("shape", ["k: {w}\n", "- {w}\n", "m: {{k: {w}}}\n", "s: [{w}, x]\n", "k: '{w}'\n",
                                   'k: "{w}"\n', "k: |\n  {w}\n", "{w}x: {w}\n"])
def test_tricky_scalars_resolve_the_same(word: str, shape: str) -> None:
    assert_same(shape.format(w=word))


def assert_same(text: str) -> None:
    try:
        expected, diagnostics = builder_values(text)
    except Exception as exc:  # noqa: BLE001 - the C parser rejects a few of these; so must the loop
        with pytest.raises(type(exc)):
            common_values(text)
        return
    assert diagnostics == []
    got = common_values(text)
    assert got == expected
    assert repr(got) == repr(expected)  # the same types too (1 is not 1.0 is not True)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchor and alias
        "a: !!str 5\n",  # tag
        "a: !custom 5\n",
        "a: 1\na: 2\n",  # duplicate key
        "base: &b {x: 1}\nc:\n  <<: *b\n",  # merge key
        "<<: {x: 1}\n",
        "? [a, b]\n: 1\n",  # a sequence as a key
        "? {a: 1}\n: 1\n",
        "just a scalar\n",  # root scalar
        "a: 1\n---\nb: 2\n",  # two documents
        "- &item {x: 1}\n- *item\n",
    ],
)
def test_outside_the_common_subset_the_builder_decides(text: str, tmp_path: Path) -> None:
    with pytest.raises(_Unusual):
        common_values(text)
    (tmp_path / "f.yaml").write_text(text)
    loaded = load_yaml_file(tmp_path / "f.yaml", "f.yaml")
    expected, diagnostics = builder_values(text)
    if loaded.data is not None:
        assert loaded.data == expected
    assert [d.message for d in loaded.diagnostics] == diagnostics


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert common_values("'<<': 1\n") == builder_values("'<<': 1\n")[0] == {"<<": 1}


@pytest.mark.parametrize("pure", [False, True])
def test_a_plain_merge_key_is_reported_by_either_parser(pure: bool) -> None:
    # the C parser gives a plain scalar the style '' and the pure one None: both are plain
    assert "merge keys ('<<') are not supported" in builder_values("<<: {x: 1}\nk: v\n", pure)[1]


def test_empty_containers_and_nulls() -> None:
    text = "a: {}\nb: []\nc:\nd: ~\ne: [[], {}, [[]]]\n"
    assert common_values(text) == builder_values(text)[0] == {"a": {}, "b": [], "c": None, "d": None,
                                                              "e": [[], {}, [[]]]}


def test_pure_parser_path_agrees() -> None:
    text = "connection: {url: http://host:8080/v2, token_env: T}\nlist: [1, two, 3.0]\n"
    assert common_values(text, pure=True) == builder_values(text, pure=True)[0]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                                  min_size=1, max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
).filter(lambda d: isinstance(d, dict | list))


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from([None, True, False]))
def test_random_documents_build_the_same(doc: object, flow: bool | None) -> None:
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = flow
    buf = io.StringIO()
    writer.dump(doc, buf)
    assert_same(buf.getvalue())


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("", True), ("\n\n  \n", True), ("# only a comment\n  # another\n", True), ("\t\n# c\r\n", True),
        ("# c\nusers: []\n", False), ("  # c\n  - x\n", False), ("# c\r\nusers: []\r\n", False),
        ("# c\rusers: []", False), ("x", False),
    ],
)
def test_a_file_of_blank_lines_and_comments_is_empty(text: str, empty: bool, tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_bytes(text.encode())
    messages = [d.message for d in load_yaml_file(f, "f.yaml").diagnostics]
    assert ("file is empty" in messages) is empty, messages


def test_tabs_in_indentation_are_reported_on_their_line(tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_text("users:\n  - a\n\t- b\nname: 'a\tb'\n")
    found = [(str(d.where), d.message) for d in load_yaml_file(f, "f.yaml").diagnostics]
    assert found == [("f.yaml:3:1", "tab character in indentation")]
