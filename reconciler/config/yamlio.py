"""YAML loading with exact positions: the only module that parses desired-state and policy YAML.

`load_yaml_file` composes the file with ruamel's fast safe loader (C extension when available),
turns the node tree into plain Python values and records a SourceRef for every mapping key and
value, keyed by its path (a tuple of keys and list indexes). Problems are reported, never raised:
syntax errors, duplicate keys, tabs, non-UTF-8 bytes and empty files all become Diagnostics.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from reconciler.errors import Diagnostic, SourceRef
from reconciler.fileio import atomic_write

try:  # libyaml through ruamel.yaml.clib (a dependency): the parser behind YAML(typ="safe")
    from _ruamel_yaml import CParser
except ImportError:  # pragma: no cover - without it, every file takes the pure parser
    CParser = None

PathKey = tuple[str | int, ...]


@dataclass
class LoadedYaml:
    """A parsed file: its data, the position of every node, and what went wrong.

    Positions are only needed to report a problem, so a clean file is parsed once without them;
    the first `where()` parses it again to record them (the common case stays fast and small).
    """

    file: str
    data: Any = None
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    text: str | None = field(default=None, repr=False)
    pure: bool = False

    def where(self, path: PathKey, *, key: bool = False) -> SourceRef:
        """The closest known position for `path` (its key when `key`), walking up to the root."""
        if self.text is not None:
            text, self.text = self.text, None
            scratch = LoadedYaml(self.file)
            try:
                _Builder(scratch, track=True).build(_yaml(pure=self.pure).parse(text))
            except MarkedYAMLError:  # valid YAML 1.2 that only the pure parser reads
                scratch = LoadedYaml(self.file)
                _Builder(scratch, track=True).build(_yaml(pure=True).parse(text))
            self.positions, self.key_positions = scratch.positions, scratch.key_positions
        p = tuple(path)
        while p:
            if key and p in self.key_positions:
                return SourceRef(self.file, *self.key_positions[p])
            if p in self.positions:
                return SourceRef(self.file, *self.positions[p])
            p = p[:-1]
        return SourceRef(self.file, *self.positions.get((), (1, 1)))


def _yaml(pure: bool = False) -> YAML:
    return YAML(typ="safe", pure=pure)


def _next_event(text: str, pure: bool) -> Callable[[], Any]:
    """A function giving the file's parser events one by one, a StreamEndEvent last.

    The C parser's own `get_event`, not `YAML.parse`: that generator asks the parser twice per
    event (check, then get), 6% of a large file's parse.
    """
    if pure or CParser is None:
        return iter(_yaml(pure=True).parse(text)).__next__
    return CParser(text).get_event


CACHE_VERSION = b"reconcile-yaml-cache-1"


def load_yaml_file(
    path: Path, display: str, cache_dir: Path | None = None, *, raw: bytes | None = None
) -> LoadedYaml:
    """Parse one file (`raw`: its bytes, when the caller has read them already). With
    `cache_dir`, the values of a file that parsed cleanly are kept, keyed by a hash of its bytes:
    an unchanged file is not parsed again (a large desired state then loads in a fraction of
    the time). Positions are still taken from the text."""
    out = LoadedYaml(display)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            out.diagnostics.append(Diagnostic(f"cannot read file: {exc.strerror}", SourceRef(display)))
            return out
    text = _decode(raw, out)
    if text is None:
        return out
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / (hashlib.sha256(CACHE_VERSION + raw).hexdigest() + ".marshal")
        cached = _read_cache(cache_file)
        if cached is not None:
            out.data, out.text = cached, text
            return out
    _parse_text(text, out)
    if cache_file is not None and out.data is not None and not out.diagnostics:
        _write_cache(cache_file, out.data)
    return out


def _read_cache(file: Path) -> Any:
    try:
        return marshal.loads(file.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` with a `.gitignore` of `*`: state, caches and snapshots hold personal
    data and must never be committed by accident, whatever the repository's own .gitignore."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / ".gitignore"
    if not marker.exists():
        marker.write_text("# written by reconcile: state, caches and snapshots stay out of git\n*\n")


def _write_cache(file: Path, data: Any) -> None:
    try:
        ensure_private_dir(file.parent.parent.parent)  # <root>/.reconcile
        atomic_write(file, marshal.dumps(data), durable=False)  # a lost cache is only slower
        for old in sorted(file.parent.glob("*.marshal"), key=lambda p: p.stat().st_mtime)[:-64]:
            old.unlink(missing_ok=True)  # keep the cache small: the 64 newest files
    except OSError:
        pass  # a cache that cannot be written is only slower


def _parse_text(text: str, out: LoadedYaml) -> None:
    display = out.file
    if _CONTENT.search(text) is None:  # only blank lines and comments
        out.diagnostics.append(
            Diagnostic(
                "file is empty",
                SourceRef(display, 1, 1),
                "add content or delete the file (an empty file is usually a truncated one)",
            )
        )
        return
    if _report_tabs(text, out):
        return
    try:
        try:
            data = _values(text, out, pure=False)
        except MarkedYAMLError:
            # The C parser speaks YAML 1.1 and rejects some valid YAML 1.2 (a URL with a port
            # inside { }). The pure parser is slower but exact: it decides.
            out.diagnostics[:] = [d for d in out.diagnostics if "duplicate key" not in d.message]
            out.pure = True
            data = _values(text, out, pure=True)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceRef(display, mark.line + 1, mark.column + 1) if mark else SourceRef(display)
        problem = exc.problem or exc.context or "invalid YAML"
        out.diagnostics.append(
            Diagnostic(f"YAML syntax error: {problem}", where, _syntax_hint(problem))
        )
        return
    except YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        out.diagnostics.append(Diagnostic(f"YAML error: {exc}", SourceRef(display, 1, 1)))
        return
    if data is _EMPTY:
        out.diagnostics.append(Diagnostic("file is empty", SourceRef(display, 1, 1)))
        return
    out.data = data
    out.text = text
    return


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
    if "\t" not in text:
        return False  # the common case, without splitting a large file into lines
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


_EMPTY = object()
_CONTENT = re.compile(r"(?:^|\r)[^\S\r\n]*[^\s#]", re.MULTILINE)  # a line neither blank nor a comment
_SPECIAL_START = frozenset("~nNtTfF-+.0123456789")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


def _plain(value: str) -> Any:
    """YAML 1.2 core schema resolution of a plain scalar (yes/no/on/off stay strings)."""
    if value and value[0] not in _SPECIAL_START:
        return value  # the common case: a name, an e-mail, an id
    if value.isdigit() and value.isascii():
        return int(value)  # the next common case: a count, a level
    if _NULL.match(value):
        return None
    b = _BOOL.get(value)
    if b is not None:
        return b
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value) and any(c.isdigit() for c in value):
        return float(value)
    if _OCT.match(value):
        return int(value[2:], 8)
    if _HEX.match(value):
        return int(value, 16)
    return value


def _explicit(tag: str, value: str) -> Any:
    if tag.endswith(":str") or tag == "!":
        return value
    if tag.endswith(":int"):
        return int(value, 0) if value[:2] in ("0x", "0o") else int(value)
    if tag.endswith(":float"):
        return float(value)
    if tag.endswith(":bool"):
        return value.lower() == "true"
    if tag.endswith(":null"):
        return None
    return value


def _values(text: str, out: LoadedYaml, *, pure: bool) -> Any:
    """The values of a file: the lean loop when the file keeps to the common subset of YAML,
    the full builder (anchors, tags, duplicate keys, diagnostics) when it does not."""
    try:
        return _common_values(_next_event(text, pure))
    except _Unusual:
        return _Builder(out, track=False).build(_yaml(pure=pure).parse(text))


class _Unusual(Exception):
    """The file leaves the common subset: let the full builder read it."""


_STARTS = {MappingStartEvent: dict, SequenceStartEvent: list}
_SKIPPED = (StreamStartEvent, StreamEndEvent, DocumentEndEvent)


def _common_values(next_event: Callable[[], Any]) -> Any:
    """The values of one document made only of mappings, sequences and untagged scalars with
    unique plain keys; raises _Unusual at anything else (an anchor, an alias, a tag, a merge
    or duplicate key, a non-scalar key, a root scalar, a second document).

    Gives exactly what `_Builder(track=False)` gives for such a file, about three times faster:
    no positions, no paths, one type test per event (a 100,000-user file is 1.5 million events).
    """
    stack: list[tuple[Any, bool]] = []  # the enclosing containers, each with `in_list`
    top: Any = None  # the open container
    in_list = False  # whether it is a sequence
    key: Any = _EMPTY  # in a mapping: the key awaiting its value
    root: Any = _EMPTY
    documents = 0
    while True:
        ev = next_event()
        cls = ev.__class__
        if cls is ScalarEvent:
            if ev.anchor is not None or ev.ctag is not None or top is None:
                raise _Unusual
            value = ev.value
            if not in_list and key is _EMPTY:  # a key: kept as written
                if value in top or (value == "<<" and not ev.style):
                    raise _Unusual
                key = value
                continue
            if not ev.style and (not value or value[0] in _SPECIAL_START):
                value = _plain(value)  # other plain scalars are strings: no call needed
            if in_list:
                top.append(value)
            else:
                top[key] = value
                key = _EMPTY
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            root = top
            top, in_list = stack.pop()
            key = _EMPTY  # the closed container was the value of the parent's key
        elif cls in _STARTS:
            if ev.anchor is not None:
                raise _Unusual
            value = _STARTS[cls]()
            if top is not None:
                if in_list:
                    top.append(value)
                elif key is _EMPTY:
                    raise _Unusual  # a mapping or sequence as a key
                else:
                    top[key] = value
            stack.append((top, in_list))
            top, in_list, key = value, cls is SequenceStartEvent, _EMPTY
        elif cls is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unusual
        elif cls is StreamEndEvent:
            return root
        elif cls not in _SKIPPED:
            raise _Unusual  # an alias


class _Builder:
    """Builds plain values from parser events (the C parser, no Python composer or resolver:
    seven times faster than compose), recording the position of every key and value."""

    def __init__(self, out: LoadedYaml, *, track: bool) -> None:
        self.out = out
        self.track = track
        self.anchors: dict[str, Any] = {}

    def build(self, events: Any) -> Any:
        out = self.out
        track = self.track
        positions: dict[PathKey, tuple[int, int]] = out.positions if track else {}
        key_positions = out.key_positions
        stack: list[list[Any]] = []  # [container, path, pending_key, seen_keys]
        root: Any = _EMPTY
        documents = 0
        for ev in events:
            name = type(ev).__name__
            if name in ("StreamStartEvent", "StreamEndEvent", "DocumentEndEvent"):
                continue
            if name == "DocumentStartEvent":
                documents += 1
                if documents > 1:
                    out.diagnostics.append(
                        Diagnostic("more than one YAML document in the file ('---')",
                                   SourceRef(out.file, ev.start_mark.line + 1, ev.start_mark.column + 1),
                                   "keep one document per file")
                    )
                    return root
                continue
            mark = (ev.start_mark.line + 1, ev.start_mark.column + 1)
            if name in ("MappingEndEvent", "SequenceEndEvent"):
                value = stack.pop()[0]
                if not stack:
                    root = value
                continue
            # a value (scalar, alias, or a new container)
            if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is _EMPTY:
                # this event is a key
                top = stack[-1]
                if name != "ScalarEvent":
                    out.diagnostics.append(
                        Diagnostic("mapping keys must be plain strings", SourceRef(out.file, *mark)))
                    top[2] = None  # skip its value
                    if name in ("MappingStartEvent", "SequenceStartEvent"):
                        stack.append([{} if name == "MappingStartEvent" else [], (), _EMPTY, {}])
                    continue
                key = ev.value
                if key == "<<" and not ev.style:
                    out.diagnostics.append(Diagnostic(
                        "merge keys ('<<') are not supported", SourceRef(out.file, *mark), "write the keys out"))
                    top[2] = None
                    continue
                if key in top[3]:
                    first = top[3][key]
                    out.diagnostics.append(Diagnostic(
                        f"duplicate key '{key}' (first defined at {SourceRef(out.file, *first)})",
                        SourceRef(out.file, *mark),
                        "remove one of the two; YAML would silently keep only the last",
                    ))
                    top[2] = None
                    continue
                top[3][key] = mark
                if track:
                    key_positions[top[1] + (key,)] = mark
                top[2] = key
                continue
            if stack:
                top = stack[-1]
                if isinstance(top[0], dict):
                    key = top[2]
                    top[2] = _EMPTY
                    path = top[1] + (key,) if key is not None else None
                else:
                    path = top[1] + (len(top[0]),)
            else:
                path = ()
            if name == "ScalarEvent":
                if ev.tag and ev.tag != "!":
                    value = _explicit(ev.tag, ev.value)
                elif ev.style:
                    value = ev.value
                else:
                    value = _plain(ev.value)
                if ev.anchor:
                    self.anchors[ev.anchor] = value
            elif name == "AliasEvent":
                value = self.anchors.get(ev.anchor)
            else:
                value = {} if name == "MappingStartEvent" else []
                if getattr(ev, "anchor", None):
                    self.anchors[ev.anchor] = value
                if path is not None:
                    if track:
                        positions[path] = mark
                    self._attach(stack, path, value)
                    stack.append([value, path, _EMPTY, {}])
                else:
                    stack.append([value, (), _EMPTY, {}])
                    stack[-1][1] = ("\0skip",)
                continue
            if path is None:
                continue
            if track:
                positions[path] = mark
            if not stack:
                return value
            self._attach(stack, path, value)
        return root

    @staticmethod
    def _attach(stack: list[list[Any]], path: PathKey, value: Any) -> None:
        if not stack or stack[-1][1] == ("\0skip",):
            return
        container = stack[-1][0]
        if isinstance(container, dict):
            container[path[-1]] = value
        else:
            container.append(value)
