"""A small evaluator for GitHub Actions expressions (`${{ ... }}` and `if:`), enough for our workflows.

Follows GitHub's documented semantics where our workflows depend on them: `&&`/`||` return an
operand, `==` compares strings case-insensitively and coerces mixed types to numbers, a missing
property is null, and an `if:` without a status function means `success() && (...)`.
Anything outside the subset raises ExpressionError: a workflow then fails the test rather than
being evaluated by guesswork.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>().,\[\]*])"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_-]*))"
)
_STATUS = re.compile(r"\b(success|failure|always|cancelled)\s*\(")
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(v: Any) -> bool:
    if isinstance(v, float) and math.isnan(v):
        return False
    return v not in (None, False, 0, "") and not (isinstance(v, float) and v == 0.0)


def _number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip()) if v.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and not isinstance(a, (int, float)):
        return bool(a == b)
    return _number(a) == _number(b)


def to_string(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


class _Parser:
    def __init__(self, text: str, ctx: Mapping[str, Any], funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx
        self.funcs = funcs
        self.text = text

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ExpressionError(f"unexpected end of {self.text!r}")
        tok = self.toks[self.i]
        if want is not None and tok[1] != want:
            raise ExpressionError(f"expected {want!r}, got {tok[1]!r} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        v = self.or_()
        if self.i != len(self.toks):
            raise ExpressionError(f"trailing {self.toks[self.i][1]!r} in {self.text!r}")
        return v

    def or_(self) -> Any:
        v = self.and_()
        while self.peek() == "||":
            self.take()
            rhs = self.and_()
            v = v if truthy(v) else rhs
        return v

    def and_(self) -> Any:
        v = self.cmp()
        while self.peek() == "&&":
            self.take()
            rhs = self.cmp()
            v = rhs if truthy(v) else v
        return v

    def cmp(self) -> Any:
        v = self.unary()
        op = self.peek()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            rhs = self.unary()
            if op == "==":
                return _equal(v, rhs)
            if op == "!=":
                return not _equal(v, rhs)
            a, b = _number(v), _number(rhs)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return v

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, val = self.take()
        if val == "(":
            v = self.or_()
            self.take(")")
            return v
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if kind != "id":
            raise ExpressionError(f"unexpected {val!r} in {self.text!r}")
        if val in ("true", "false"):
            return val == "true"
        if val == "null":
            return None
        if self.peek() == "(":
            self.take("(")
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take(",")
            self.take(")")
            fn = self.funcs.get(val.lower())
            if fn is None:
                raise ExpressionError(f"function {val}() is not supported by the local runner")
            return fn(*args)
        if val not in self.ctx:
            raise ExpressionError(f"unknown context {val!r} in {self.text!r}")
        value: Any = self.ctx[val]
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                value = _get(value, self.take()[1])
            else:
                key = self.or_()
                self.take("]")
                value = _get(value, to_string(key))
        return value


def _get(v: Any, key: str) -> Any:
    if isinstance(v, Mapping):
        if key in v:
            return v[key]
        lowered = {str(k).lower(): x for k, x in v.items()}
        return lowered.get(key.lower())
    return None


def _funcs(status: str) -> dict[str, Callable[..., Any]]:
    def fmt(template: str, *args: Any) -> str:
        return re.sub(r"\{(\d+)\}", lambda m: to_string(args[int(m.group(1))]), template)

    return {
        "success": lambda: status == "success",
        "failure": lambda: status == "failure",
        "cancelled": lambda: status == "cancelled",
        "always": lambda: True,
        "contains": lambda a, b: (to_string(b).lower() in to_string(a).lower()) if not isinstance(a, list)
        else any(_equal(x, b) for x in a),
        "startswith": lambda a, b: to_string(a).lower().startswith(to_string(b).lower()),
        "endswith": lambda a, b: to_string(a).lower().endswith(to_string(b).lower()),
        "format": fmt,
        "tojson": lambda a: json.dumps(a, indent=2),
        "fromjson": lambda a: json.loads(to_string(a)),
    }


def evaluate(text: str, ctx: Mapping[str, Any], *, status: str = "success") -> Any:
    return _Parser(text, ctx, _funcs(status)).parse()


def condition(text: Any, ctx: Mapping[str, Any], *, status: str) -> bool:
    """An `if:` value: a bare expression or `${{ }}`; success() is implied without a status call."""
    if text is None:
        return status == "success"
    if isinstance(text, bool):
        return text
    body = str(text).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", body, re.DOTALL)
    if m:
        body = m.group(1)
    if not _STATUS.search(body):
        body = f"success() && ({body})"
    return truthy(evaluate(body, ctx, status=status))


def interpolate(value: Any, ctx: Mapping[str, Any], *, status: str = "success") -> Any:
    """Replace every `${{ expr }}` in a string (a whole-string expression keeps its type)."""
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\s*\$\{\{(.*?)\}\}\s*", value, re.DOTALL)
    if whole:
        return evaluate(whole.group(1), ctx, status=status)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), ctx, status=status)), value)
