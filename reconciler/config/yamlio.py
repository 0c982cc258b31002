"""YAML loading with exact positions: the only module that parses desired-state and policy YAML.

`load_yaml_file` composes the file with ruamel's fast safe loader (C extension when available),
turns the node tree into plain Python values and records a SourceRef for every mapping key and
value, keyed by its path (a tuple of keys and list indexes). Problems are reported, never raised:
syntax errors, duplicate keys, tabs, non-UTF-8 bytes and empty files all become Diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Diagnostic, SourceRef

PathKey = tuple[str | int, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass
class LoadedYaml:
    """A parsed file: its data, the position of every node, and what went wrong."""

    file: str
    data: Any = None
    positions: dict[PathKey, SourceRef] = field(default_factory=dict)
    key_positions: dict[PathKey, SourceRef] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def where(self, path: PathKey, *, key: bool = False) -> SourceRef:
        """The closest known position for `path` (its key when `key`), walking up to the root."""
        p = tuple(path)
        while p:
            if key and p in self.key_positions:
                return self.key_positions[p]
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), SourceRef(self.file, 1, 1))


def _yaml(pure: bool = False) -> YAML:
    y = YAML(typ="safe", pure=pure)
    y.allow_duplicate_keys = True  # we detect duplicates ourselves, with both positions
    return y


def load_yaml_file(path: Path, display: str) -> LoadedYaml:
    out = LoadedYaml(display)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        out.diagnostics.append(Diagnostic(f"cannot read file: {exc.strerror}", SourceRef(display)))
        return out
    text = _decode(raw, out)
    if text is None:
        return out
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        out.diagnostics.append(
            Diagnostic(
                "file is empty",
                SourceRef(display, 1, 1),
                "add content or delete the file (an empty file is usually a truncated one)",
            )
        )
        return out
    if _report_tabs(text, out):
        return out
    try:
        try:
            node = _yaml().compose(text)
        except MarkedYAMLError:
            # The C loader speaks YAML 1.1 and rejects some valid YAML 1.2 (a URL with a port
            # inside { }). The pure loader is slower but exact: it decides.
            node = _yaml(pure=True).compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceRef(display, mark.line + 1, mark.column + 1) if mark else SourceRef(display)
        problem = exc.problem or exc.context or "invalid YAML"
        out.diagnostics.append(
            Diagnostic(f"YAML syntax error: {problem}", where, _syntax_hint(problem))
        )
        return out
    except YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        out.diagnostics.append(Diagnostic(f"YAML error: {exc}", SourceRef(display, 1, 1)))
        return out
    if node is None:
        out.diagnostics.append(Diagnostic("file is empty", SourceRef(display, 1, 1)))
        return out
    out.data = _convert(node, (), out)
    return out


def _decode(raw: bytes, out: LoadedYaml) -> str | None:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        out.diagnostics.append(
            Diagnostic(
                f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                SourceRef(out.file, line, column),
                "save the file as UTF-8",
            )
        )
        return None


def _report_tabs(text: str, out: LoadedYaml) -> bool:
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            out.diagnostics.append(
                Diagnostic(
                    "tab character in indentation",
                    SourceRef(out.file, number, len(line) - len(stripped) + 1),
                    "YAML indentation must use spaces; replace the tab with spaces",
                )
            )
            found = True
    return found


def _syntax_hint(problem: str) -> str | None:
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, or a key is mis-indented"
    if "could not find expected ':'" in problem:
        return "a key is missing its ':' or a quoted string is not closed"
    if "found unexpected ':'" in problem:
        return "quote values that contain ':' (such as URLs) inside { } or [ ]"
    if "found character" in problem and "cannot start any token" in problem:
        return "quote the value"
    return None


def _convert(node: Node, path: PathKey, out: LoadedYaml) -> Any:
    out.positions[path] = SourceRef(out.file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        seen: dict[str, SourceRef] = {}
        for key_node, value_node in node.value:
            key_ref = SourceRef(
                out.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
            if not isinstance(key_node, ScalarNode):
                out.diagnostics.append(Diagnostic("mapping keys must be plain strings", key_ref))
                continue
            key = str(key_node.value)
            if key_node.tag == "tag:yaml.org,2002:merge":
                out.diagnostics.append(
                    Diagnostic("merge keys ('<<') are not supported", key_ref, "write the keys out")
                )
                continue
            if key in seen:
                out.diagnostics.append(
                    Diagnostic(
                        f"duplicate key '{key}' (first defined at {seen[key]})",
                        key_ref,
                        "remove one of the two; YAML would silently keep only the last",
                    )
                )
                continue
            seen[key] = key_ref
            out.key_positions[path + (key,)] = key_ref
            result[key] = _convert(value_node, path + (key,), out)
        return result
    if isinstance(node, SequenceNode):
        return [_convert(item, path + (i,), out) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Node) -> Any:
    value = node.value
    tag = node.tag
    style = getattr(node, "style", None)
    if style in ("'", '"', "|", ">"):
        return value
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        return value.lower() == "true"
    if tag == _INT_TAG:
        try:
            return int(value.replace("_", ""), 0) if not value.startswith("0o") else int(value, 8)
        except ValueError:
            try:
                return int(value)
            except ValueError:
                return value
    if tag == _FLOAT_TAG:
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value
    return value
