"""Small emulations of the .NET / ASP.NET Core behaviours the Bitwarden SCIM app inherits.

The Bitwarden SCIM service is an ASP.NET Core MVC app: its quirks come as much from the framework as
from Bitwarden's own code. This module holds the framework side, kept apart from the org state
(``bitwarden_model``) and the HTTP plumbing (``bitwarden``):

* System.Text.Json model binding with MVC's defaults (case-insensitive property names, strict token
  types, a failed bind gives a ``null`` model) -> :func:`bind`;
* ``JsonElement`` accessors that throw ``InvalidOperationException`` on the wrong kind -> 500;
* the exception types Bitwarden maps to 404/400/409, everything else 500;
* ``Guid.TryParse`` (D/N/B/P formats) and ``JsonElement.TryGetGuid`` (D only);
* System.Text.Json output: compact, nulls written, default ``JavaScriptEncoder`` escaping
  (non-ASCII and ``"&'+<>`` become ``\\uXXXX``), ``DateTime`` with or without ``Z``;
* an approximation of the en-US (ICU) culture ordering used by LINQ ``OrderBy`` on strings.

Python standard library only.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import string
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final

# --------------------------------------------------------------------------------------------
# Exceptions (Bitwarden's ExceptionHandlerFilterAttribute: NotFound 404, BadRequest 400,
# Conflict 409, anything else 500; body {"detail": exception.Message, "status": n}).
# --------------------------------------------------------------------------------------------

NULL_REFERENCE: Final = "Object reference not set to an instance of an object."


class DotNetException(Exception):
    """An exception thrown inside the emulated server; ``status`` is what the filter answers."""

    status: int = 500
    default_message: str = "Exception of type 'System.Exception' was thrown."

    def __init__(self, message: str | None = None) -> None:
        self.detail = self.default_message if message is None else message
        super().__init__(self.detail)


class NotFoundException(DotNetException):
    status = 404
    default_message = "Exception of type 'Bit.Core.Exceptions.NotFoundException' was thrown."


class BadRequestException(DotNetException):
    status = 400
    default_message = "Exception of type 'Bit.Core.Exceptions.BadRequestException' was thrown."


class ConflictException(DotNetException):
    status = 409
    default_message = "Conflict."


class NullReferenceException(DotNetException):
    default_message = NULL_REFERENCE


class InvalidOperationException(DotNetException):
    default_message = "Operation is not valid due to the current state of the object."


class SqlException(DotNetException):
    """A database error surfacing as a 500 (NOT NULL, truncation, primary key violations)."""


def require(value: Any) -> Any:
    """Dereference ``value`` the way C# does: ``None`` raises a NullReferenceException (500)."""
    if value is None:
        raise NullReferenceException()
    return value


# --------------------------------------------------------------------------------------------
# JsonElement (ScimPatchModel.OperationModel.Value is a System.Text.Json.JsonElement)
# --------------------------------------------------------------------------------------------


class _Undefined:
    """``default(JsonElement)``: the property was absent from the JSON (ValueKind Undefined)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()


def value_kind(element: Any) -> str:
    """The ``JsonValueKind`` name of a parsed JSON value."""
    if element is UNDEFINED:
        return "Undefined"
    if element is None:
        return "Null"
    if element is True:
        return "True"
    if element is False:
        return "False"
    if isinstance(element, str):
        return "String"
    if isinstance(element, (int, float)):
        return "Number"
    if isinstance(element, list):
        return "Array"
    return "Object"


def _wrong_kind(required: str, element: Any) -> InvalidOperationException:
    return InvalidOperationException(
        f"The requested operation requires an element of type '{required}', "
        f"but the target element has type '{value_kind(element)}'."
    )


def element_to_string(element: Any) -> str:
    """``JsonElement.ToString()``: strings as-is, ``True``/``False``, raw JSON text otherwise."""
    if element is UNDEFINED or element is None:
        return ""
    if element is True:
        return "True"
    if element is False:
        return "False"
    if isinstance(element, str):
        return element
    return json.dumps(element, separators=(",", ":"), ensure_ascii=False)


def get_string(element: Any) -> str | None:
    """``JsonElement.GetString()``: a string, ``null`` for JSON null, else InvalidOperation (500)."""
    if element is None or isinstance(element, str):
        return element
    raise _wrong_kind("String", element)


def get_boolean(element: Any) -> bool:
    """``JsonElement.GetBoolean()``: only JSON ``true``/``false``; anything else is a 500."""
    if element is True or element is False:
        return bool(element)
    raise _wrong_kind("Boolean", element)


def try_get_property(element: Any, name: str) -> tuple[bool, Any]:
    """``JsonElement.TryGetProperty`` (case-sensitive; throws unless the element is an object)."""
    if not isinstance(element, dict):
        raise _wrong_kind("Object", element)
    if name in element:
        return True, element[name]
    return False, UNDEFINED


def enumerate_array(element: Any) -> list[Any]:
    """``JsonElement.EnumerateArray()``: throws unless the element is an array."""
    if not isinstance(element, list):
        raise _wrong_kind("Array", element)
    return element


def try_get_guid(element: Any) -> str | None:
    """``JsonElement.TryGetGuid``: throws unless a string; accepts only the 36-char D format."""
    if not isinstance(element, str):
        raise _wrong_kind("String", element)
    return canonical_guid(element) if _GUID_D.fullmatch(element) else None


# --------------------------------------------------------------------------------------------
# GUIDs
# --------------------------------------------------------------------------------------------

_HEX = "[0-9a-fA-F]"
_GUID_D: Final = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")
_GUID_N: Final = re.compile(f"{_HEX}{{32}}")
_GUID_B: Final = re.compile(r"\{" + _GUID_D.pattern + r"\}")
_GUID_P: Final = re.compile(r"\(" + _GUID_D.pattern + r"\)")
_WHITESPACE: Final = " \t\n\r\x0b\x0c\u00a0\u2028\u2029"


def canonical_guid(text: str) -> str:
    return str(uuid.UUID(text.strip(_WHITESPACE).strip("{}()")))


def parse_guid(text: str | None) -> str | None:
    """``Guid.TryParse``: D, N, B or P format, surrounding whitespace allowed; lowercase D out."""
    if text is None:
        return None
    candidate = text.strip(_WHITESPACE)
    for pattern in (_GUID_D, _GUID_N, _GUID_B, _GUID_P):
        if pattern.fullmatch(candidate):
            return canonical_guid(candidate)
    return None


def new_guid() -> str:
    return str(uuid.uuid4())


def random_string(length: int) -> str:
    """``CoreHelpers.RandomString(n)``: upper, lower and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --------------------------------------------------------------------------------------------
# Strings
# --------------------------------------------------------------------------------------------


def is_null_or_whitespace(value: str | None) -> bool:
    return value is None or value.strip() == ""


def utf16_len(value: str) -> int:
    """``string.Length`` counts UTF-16 code units."""
    return len(value.encode("utf-16-le")) // 2


def lower_invariant(value: str) -> str:
    """``ToLowerInvariant`` (simple per-character mapping, no expansion)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in value)


def _upper_simple(value: str) -> str:
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in value)


def equals_ordinal_ignore_case(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return _upper_simple(a) == _upper_simple(b)


def parse_int32(text: str | None) -> int | None:
    """MVC's ``int`` model binding (``int.Parse`` with NumberStyles.Integer); ``None`` if invalid."""
    if text is None or not re.fullmatch(r"\s*[+-]?\d+\s*", text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def int32(value: int) -> int:
    """Wrap to a signed 32-bit int (``startIndex - 1`` in C#)."""
    return (value + 2**31) % 2**32 - 2**31


# ICU root / en-US collation order of ASCII punctuation and symbols (variable characters first,
# then currency, then digits, then letters). An approximation of culture-sensitive string
# ordering, which is what LINQ OrderBy(string) uses on a Linux .NET with ICU.
_COLLATION_SYMBOLS: Final = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"


def _primary_weight(ch: str) -> tuple[int, int]:
    if ch.isspace():
        return (0, ord(ch))
    index = _COLLATION_SYMBOLS.find(ch)
    if index >= 0:
        return (1, index)
    if ch.isdigit() and ch.isascii():
        return (2, ord(ch))
    if ch.isascii() and ch.isalpha():
        return (3, ord(ch.lower()))
    if ch.isalpha():
        return (4, ord(ch.lower()))
    return (1, 100 + ord(ch))  # other symbols: after ASCII punctuation, before digits


def culture_sort_key(value: str | None) -> tuple[Any, ...]:
    """Sort key approximating ``string.Compare(a, b, en-US)``: primary letters case-insensitive,
    punctuation before digits before letters, then accents, then lowercase before uppercase.
    ``None`` sorts first, as in LINQ."""
    if value is None:
        return (0,)
    primary: list[tuple[int, int]] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for ch in unicodedata.normalize("NFD", value):
        if unicodedata.combining(ch):
            secondary.append(ord(ch))
            continue
        primary.append(_primary_weight(ch))
        secondary.append(0)
        tertiary.append(1 if ch.isupper() else 0)
    return (1, tuple(primary), tuple(secondary), tuple(tertiary))


# --------------------------------------------------------------------------------------------
# System.Text.Json input: parsing and model binding
# --------------------------------------------------------------------------------------------


class _Malformed:
    def __repr__(self) -> str:
        return "MALFORMED"


MALFORMED: Final = _Malformed()
"""A request body that is not JSON at all (empty, invalid, wrong encoding)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(raw: bytes) -> Any:
    """Parse a request body as System.Text.Json would; :data:`MALFORMED` when it cannot."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return MALFORMED
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return MALFORMED
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return MALFORMED


# A binding schema: "string", "bool" (non-nullable), "element" (JsonElement: anything),
# ("list", item_schema) or ("object", {PropertyName: schema}).
Schema = Any


class _BindError(Exception):
    pass


def _bind_value(value: Any, schema: Schema) -> Any:
    if schema == "element":
        return value
    if schema == "string":
        if value is None or isinstance(value, str):
            return value
        raise _BindError
    if schema == "bool":
        if value is True or value is False:
            return value
        raise _BindError
    kind, inner = schema
    if value is None:
        return None
    if kind == "list":
        if not isinstance(value, list):
            raise _BindError
        return [_bind_value(item, inner) for item in value]
    if not isinstance(value, dict):
        raise _BindError
    return _bind_object(value, inner)


def _bind_object(value: Mapping[str, Any], fields: Mapping[str, Schema]) -> dict[str, Any]:
    lookup = {name.lower(): name for name in fields}
    bound: dict[str, Any] = {
        name: (False if schema == "bool" else UNDEFINED if schema == "element" else None)
        for name, schema in fields.items()
    }
    for key, item in value.items():  # in document order: a later duplicate wins
        name = lookup.get(key.lower())
        if name is not None:
            bound[name] = _bind_value(item, fields[name])
    return bound


def bind(body: Any, fields: Mapping[str, Schema]) -> dict[str, Any] | None:
    """Bind a parsed body to a C# model the way MVC's SystemTextJsonInputFormatter does.

    Property names match case-insensitively, unknown properties are ignored, and any token of the
    wrong type (a string for a ``bool``, an object for a ``string``, ``null`` for a ``bool``...)
    fails the whole bind. These controllers have no ``[ApiController]``, so a failed bind does not
    answer 400: the action runs with a ``null`` model, which is returned here as ``None``."""
    if body is MALFORMED or not isinstance(body, dict):
        return None
    try:
        return _bind_object(body, fields)
    except _BindError:
        return None


# --------------------------------------------------------------------------------------------
# System.Text.Json output
# --------------------------------------------------------------------------------------------

_SHORT_ESCAPES: Final = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}
_HTML_SENSITIVE: Final = frozenset("\"&'+<>`")


def _encode_string(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code >= 0x7F or ch in _HTML_SENSITIVE:
            units = ch.encode("utf-16-be").hex().upper()
            out.extend(f"\\u{units[i : i + 4]}" for i in range(0, len(units), 4))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _encode(value: Any) -> Iterator[str]:
    if value is None:
        yield "null"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif isinstance(value, str):
        yield _encode_string(value)
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, float):
        yield repr(value)
    elif isinstance(value, Mapping):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ","
            yield _encode_string(key)
            yield ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Serialise like ASP.NET Core's default System.Text.Json output (compact, escaped)."""
    return "".join(_encode(value)).encode("utf-8")


def format_datetime(moment: _dt.datetime | None, *, utc_kind: bool) -> str | None:
    """A ``DateTime`` as System.Text.Json writes it: ISO 8601, trailing zeros of the fraction
    trimmed, ``Z`` only for ``DateTimeKind.Utc`` (values read back from SQL Server through Dapper
    are ``Unspecified`` and carry no offset)."""
    if moment is None:
        return None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + ("Z" if utc_kind else "")


def utc_now() -> _dt.datetime:
    """Naive UTC now (kind is tracked by the caller, as in .NET)."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
