"""Load desired-state and policy files into frozen models, with every problem located.

`load_project(root)` reads `desired-state/**/*.y{a,}ml` (merged) and `policies/*.y{a,}ml` (one
target each) and returns a `Project` plus all diagnostics; it never raises for bad input.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from reconciler.config.models import DesiredFile, GroupSpec, UserSpec, adapter_for
from reconciler.config.policy import OPERATORS, Policy
from reconciler.config.yamlio import LoadedYaml, PathKey, load_yaml_file
from reconciler.errors import Diagnostic, DiagnosticBag, SourceRef

DESIRED_DIR = "desired-state"
POLICIES_DIR = "policies"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Located:
    """Where an item came from: its file and the path of the item inside that file."""

    loaded: LoadedYaml = field(repr=False, compare=False)
    path: PathKey

    def where(self, *sub: str | int, key: bool = False) -> SourceRef:
        return self.loaded.where(self.path + tuple(sub), key=key)


class Sources:
    """Where each of a list of items came from, made on demand: `sources[i]` is the Located of
    item i. Items arrive file by file, so this keeps a few runs (file, section, item indexes)
    instead of one Located per item (at 100,000 users: 15 MB and 0.05 s saved)."""

    __slots__ = ("_starts", "_runs", "_len")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._runs: list[tuple[LoadedYaml, str, Sequence[int]]] = []
        self._len = 0

    def extend(self, loaded: LoadedYaml, section: str, indexes: Sequence[int]) -> None:
        """Record that the next len(indexes) items are items `indexes` of `section` in a file."""
        if indexes:
            self._starts.append(self._len)
            self._runs.append((loaded, section, indexes))
            self._len += len(indexes)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> Located:
        if not -self._len <= i < self._len:
            raise IndexError(i)
        i %= self._len
        run = bisect.bisect_right(self._starts, i) - 1
        loaded, section, indexes = self._runs[run]
        return Located(loaded, (section, indexes[i - self._starts[run]]))


@dataclass(frozen=True)
class DesiredState:
    users: tuple[UserSpec, ...]
    groups: tuple[GroupSpec, ...]
    user_sources: Sources = field(repr=False, compare=False)
    group_sources: Sources = field(repr=False, compare=False)
    digest: str = ""
    files: tuple[str, ...] = ()
    complete: bool = True
    """False when some file or entry failed to load: reference checks are then skipped."""
    cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False, hash=False)
    """Derived values computed once (the membership graph); never part of the identity."""


@dataclass(frozen=True)
class Target:
    name: str
    policy: Policy
    source: Located = field(repr=False, compare=False)
    digest: str = ""

    def where(self, *sub: str | int, key: bool = False) -> SourceRef:
        return self.source.where(*sub, key=key)


@dataclass(frozen=True)
class Project:
    root: Path
    desired: DesiredState
    targets: tuple[Target, ...]
    diagnostics: tuple[Diagnostic, ...]


CACHE_DIR = Path(".reconcile") / "cache" / "yaml"
_LIST_ADAPTERS: dict[str, TypeAdapter[list[Any]]] = {
    "users": adapter_for(list[UserSpec]),
    "groups": adapter_for(list[GroupSpec]),
}


def load_project(root: Path, *, cache: bool = False) -> Project:
    """Load everything under `root`. With `cache`, cleanly parsed files are remembered in
    `.reconcile/cache/yaml/` (git-ignored), keyed by content: a re-plan skips the parse."""
    bag = DiagnosticBag()
    desired = _load_desired(root, bag, root / CACHE_DIR if cache else None)
    targets = _load_targets(root, bag)
    return Project(root, desired, tuple(targets), tuple(bag.items))


def _yaml_files(directory: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in directory.glob(pattern) if p.is_file() and p.suffix in (".yaml", ".yml")
    )


def _display(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _load_desired(root: Path, bag: DiagnosticBag, cache_dir: Path | None = None) -> DesiredState:
    directory = root / DESIRED_DIR
    users: list[UserSpec] = []
    groups: list[GroupSpec] = []
    user_src = Sources()
    group_src = Sources()
    digest = hashlib.sha256()
    names: list[str] = []
    if not directory.is_dir():
        bag.error(
            f"no '{DESIRED_DIR}/' directory under {root}",
            SourceRef(str(root)),
            "run from the project root or pass --root DIR",
        )
        return DesiredState((), (), Sources(), Sources(), "", ())
    for path in _yaml_files(directory, recursive=True):
        display = _display(root, path)
        names.append(display)
        raw = _read_bytes(path)  # b"" when unreadable: load_yaml_file then says why
        digest.update(display.encode() + b"\0" + raw + b"\0")
        loaded = load_yaml_file(path, display, cache_dir, raw=raw or None)
        bag.items.extend(loaded.diagnostics)
        if loaded.data is None:
            continue
        if not isinstance(loaded.data, dict):
            bag.error(
                f"expected a mapping with 'users' and/or 'groups' at the top level, "
                f"found {_type_name(loaded.data)}",
                loaded.where(()),
                "start the file with 'users:' or 'groups:'",
            )
            continue
        # Validate item by item so that one bad user does not hide the others.
        top = {k: v for k, v in loaded.data.items() if k not in ("users", "groups")}
        if top:
            _report(ValidationErrorLike.extra(top), loaded, (), DesiredFile, bag)
        for section, model, sink, src in (
            ("users", UserSpec, users, user_src),
            ("groups", GroupSpec, groups, group_src),
        ):
            items = loaded.data.get(section)
            if items is None:
                continue
            if not isinstance(items, list):
                bag.error(
                    f"'{section}' must be a list of mappings (items start with '- '), "
                    f"found {_type_name(items)}",
                    loaded.where((section,)),
                )
                continue
            try:  # a clean list in one call: much faster than item by item
                parsed_all = _LIST_ADAPTERS[section].validate_python(items)
            except ValidationError:
                parsed_all = None
            if parsed_all is not None:
                sink.extend(parsed_all)
                src.extend(loaded, section, range(len(items)))
                continue
            good: list[int] = []
            for i, item in enumerate(items):  # a problem somewhere: find and report every one
                parsed = _validate(model, item, loaded, (section, i), bag)
                if parsed is not None:
                    sink.append(parsed)
                    good.append(i)
            src.extend(loaded, section, good)
        loaded.data = None  # the models hold the values now; positions come from the text
    return DesiredState(
        tuple(users),
        tuple(groups),
        user_src,
        group_src,
        "sha256:" + digest.hexdigest(),
        tuple(names),
        complete=not bag.has_errors,
    )


def _load_targets(root: Path, bag: DiagnosticBag) -> list[Target]:
    directory = root / POLICIES_DIR
    if not directory.is_dir():
        bag.error(
            f"no '{POLICIES_DIR}/' directory under {root}",
            SourceRef(str(root)),
            "create one policy file per SCIM target, e.g. policies/bitwarden.yaml",
        )
        return []
    targets: list[Target] = []
    seen: dict[str, SourceRef] = {}
    for path in _yaml_files(directory, recursive=False):
        display = _display(root, path)
        raw = _read_bytes(path)
        loaded = load_yaml_file(path, display, raw=raw or None)
        bag.items.extend(loaded.diagnostics)
        if loaded.data is None:
            continue
        if not isinstance(loaded.data, dict):
            bag.error(
                f"expected a mapping at the top level of a policy file, found {_type_name(loaded.data)}",
                loaded.where(()),
                "start the file with 'connection:' (see README, 'Policy files')",
            )
            continue
        policy = _validate(Policy, loaded.data, loaded, (), bag)
        if policy is None:
            continue
        name = policy.target or path.stem
        where = loaded.where(("target",)) if policy.target else SourceRef(display, 1, 1)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            bag.error(
                f"target name {name!r} (from the file name) is not usable",
                where,
                "set 'target:' to letters, digits, '.', '_' and '-'",
            )
            continue
        if name in seen:
            bag.error(
                f"duplicate target name '{name}' (also defined at {seen[name]})",
                where,
                "give each policy file its own 'target:'",
            )
            continue
        seen[name] = where
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        targets.append(Target(name, policy, Located(loaded, ()), digest))
    return targets


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _type_name(value: Any) -> str:
    return {
        list: "a list",
        dict: "a mapping",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _validate(
    model: type[Any], data: Any, loaded: LoadedYaml, base: PathKey, bag: DiagnosticBag
) -> Any:
    try:
        return adapter_for(model).validate_python(data)
    except ValidationError as exc:
        _report(exc.errors(include_url=False), loaded, base, model, bag, data)
        return None


class ValidationErrorLike:
    @staticmethod
    def extra(keys: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "extra_forbidden", "loc": (k,), "msg": "", "input": None} for k in keys]


def _report(
    errors: Iterable[Mapping[str, Any]],
    loaded: LoadedYaml,
    base: PathKey,
    model: type[Any],
    bag: DiagnosticBag,
    data: Any = None,
) -> None:
    if data is None:
        data = _at(loaded.data, base)
    located = [(err, _data_path(data, tuple(err["loc"]))) for err in errors]
    # A value of a union type (an attribute: text, number, boolean or a list of them) fails once
    # per alternative. Say it once, and only where the value went wrong: inside a list when a
    # list was given, not "should be text" about the list itself.
    type_paths = [loc for err, loc in located if err["type"] in _EXPECTED]
    done: set[PathKey] = set()
    for err, loc in located:
        path = base + loc
        kind = err["type"]
        if kind in _EXPECTED:
            if loc in done or any(len(other) > len(loc) and other[: len(loc)] == loc for other in type_paths):
                continue
            alternatives = [e for e, l in located if l == loc and e["type"] in _EXPECTED]
            if len(alternatives) > 1:
                done.add(loc)
                expected = _expected_words({e["type"] for e in alternatives})
                name = ".".join(str(p) for p in loc if not isinstance(p, int)) or "value"
                bag.error(f"{name}: expected {expected}, found {_type_name(_at(data, loc))}", loaded.where(path),
                          _UNION_HINT if loc and loc[0] == "attributes" else None)
                continue
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # model, dataclass
            key = str(loc[-1]) if loc else "?"
            allowed = _allowed_keys(model, loc[:-1])
            hint = _did_you_mean(key, allowed)
            if not hint and allowed:
                hint = "allowed keys here: " + ", ".join(sorted(allowed))
            bag.error(f"unknown key '{key}'", loaded.where(path, key=True), hint)
        elif kind == "missing":
            bag.error(f"missing required key '{loc[-1]}'", loaded.where(path[:-1]))
        elif kind == "literal_error" and loc and loc[-1] == "operator":
            got = _at(data, loc)
            bag.error(
                f"unknown operator {got!r}",
                loaded.where(path),
                _did_you_mean(str(got), OPERATORS) or "operators: " + ", ".join(OPERATORS),
            )
        else:
            msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            name = ".".join(str(p) for p in loc if not isinstance(p, int)) or "value"
            hint = _TYPE_HINTS.get(kind)
            if kind == "literal_error":
                hint = _choice_hint(_at(data, loc), re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", ""))))
            bag.error(f"{name}: {msg}", loaded.where(path), hint)


# What each type error expected, in the order a message lists them.
_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true/false",
    "bool_parsing": "true/false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "dataclass_type": "a mapping",
}
_UNION_HINT = "an attribute is text, a number, true/false, or a list of those (no nested lists or mappings)"


def _expected_words(kinds: set[str]) -> str:
    words = list(dict.fromkeys(_EXPECTED[k] for k in _EXPECTED if k in kinds))
    if "a number" in words and "a whole number" in words:
        words.remove("a whole number")
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


_TYPE_HINTS = {
    "bool_type": "write true or false, without quotes",
    "string_type": "write a text value (quote it if it looks like a number or a boolean)",
    "list_type": "write a list: [a, b] or items starting with '- '",
    "tuple_type": "write a list: [a, b] or items starting with '- '",
    "dict_type": "write a mapping: key: value",
    "model_type": "write a mapping: key: value",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "string_too_short": "the value must not be empty",
}


def _at(data: Any, path: PathKey) -> Any:
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and 0 <= p < len(data):
            data = data[p]
        else:
            return None
    return data


def _data_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """Keep the parts of a pydantic error location that exist in the data (drop union tags)."""
    out: list[str | int] = []
    for p in loc:
        if isinstance(data, dict) and isinstance(p, str) and p in data:
            data = data[p]
            out.append(p)
        elif isinstance(data, list) and isinstance(p, int) and 0 <= p < len(data):
            data = data[p]
            out.append(p)
        elif isinstance(data, dict) and isinstance(p, str) and not _is_tag(p):
            out.append(p)  # a missing or unknown key: report at its parent
            data = None
    return tuple(out)


def _is_tag(part: str) -> bool:
    """A union's branch name in an error location, not a key of the file."""
    return part in _TAGS or "[" in part or part.startswith("function-")


_TAGS = frozenset({"condition", "group", "str", "int", "float", "bool", "none"})


def _allowed_keys(model: type[Any], loc: PathKey) -> set[str]:
    models = {model}
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: set[type[Any]] = set()
        for m in models:
            f = _field(m, part)
            if f is not None:
                nxt |= _models_in(f.annotation)
        models = nxt
        if not models:
            return set()
    keys: set[str] = set()
    for m in models:
        for name, f in m.__pydantic_fields__.items():
            keys.add(f.alias or name)
    return keys


def _field(model: type[Any], key: str) -> Any:
    for name, f in model.__pydantic_fields__.items():
        if key in (name, f.alias):
            return f
    return None


def _models_in(annotation: Any) -> set[type[Any]]:
    """The models and pydantic dataclasses in a field's annotation."""
    if isinstance(annotation, type) and hasattr(annotation, "__pydantic_fields__"):
        return {annotation}
    found: set[type[Any]] = set()
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                found |= _models_in(arg)
    return found


# Words other tools use for a value reconcile spells differently.
_SYNONYMS = {
    "revoke": "disable", "revoked": "disable", "deactivate": "disable", "suspend": "disable",
    "deprovision": "delete", "remove": "delete", "strict": "authoritative", "exact": "authoritative",
    "additional": "additive", "merge": "additive",
}


def _choice_hint(got: Any, choices: list[str]) -> str | None:
    """For a value outside a fixed set: the likely intended one, else the whole set."""
    if not choices or not isinstance(got, str):
        return None
    synonym = _SYNONYMS.get(got.strip().lower())
    if synonym in choices:
        return f"did you mean '{synonym}'? ('{got}' is another tool's word for it)"
    return _did_you_mean(got, choices) or "one of: " + ", ".join(choices)


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower().replace("_", ""): c for c in choices}
        hit = lowered.get(word.lower().replace("_", "").replace("-", ""))
        close = [hit] if hit else []
    return f"did you mean '{close[0]}'?" if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    return _did_you_mean(word, choices)


def expand_env(text: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """Expand ${VAR} and ${VAR:-default}; returns the text and the names that were unset."""
    env = os.environ if env is None else env
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return m.group(0)

    return _ENV_REF.sub(repl, text), missing
