"""JSON sent by browsers, read one strict way: errors name the field, numbers are finite.

Python's json module accepts `NaN`, `Infinity` and `1e309` (read as inf). Neither the
database's JSON columns nor the engines can take those, and `int(inf)` raises, so they
are refused here, naming the field (`lr`, `spec[2].p`). Every JSON endpoint reads its
body with `request_json` and answers `JSONInputError.as_dict()` with a 400; label files
(detection's COCO, the playground's labels.json) and multipart JSON fields go through
`json_parse` too.

The cost of a document is linear in its length whatever it holds: json's C scanner reads
it once (it stops at once at Python's recursion limit, and `int()` refuses thousands of
digits before converting them); then, on the bytes with the strings taken out, nesting
deeper than `MAX_DEPTH` and numbers with more than `MAX_NUMBER_DIGITS` digits in a row
(401 digits overflow a float) are found, and only a refused document is read again to name
the place (bench/bench_labels.py).
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Django only where a request is read: label files are read without it
    from django.http import HttpRequest, JsonResponse

MAX_BODY_BYTES = 200_000  # far above any real control, share or spec body
MAX_DEPTH = 64  # brackets inside brackets: far above any spec, control or label file
MAX_NUMBER_DIGITS = 30  # digits in a row in one number (a float has at most 17 that count)
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[list(b"[{")], _OPEN[list(b"]}")] = 1, -1


class JSONInputError(ValueError):
    """A value a user sent that cannot be used; `field` names it when there is one."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.line = line  # of a file that is not JSON at all, where that is known

    def within(self, filename: str, *, line: bool = True) -> str:
        """The message as a problem of a file: "labels.json:3: not valid JSON: …"."""
        text = str(self)
        where = f"{filename}:{self.line}" if self.line and line else filename
        return f"{where}: {text[:1].lower()}{text[1:]}"

    def as_dict(self) -> dict:
        return {"error": str(self), "field": self.field}

    def response(self, **extra: Any) -> JsonResponse:
        from django.http import JsonResponse

        return JsonResponse({**self.as_dict(), **extra}, status=400)


def json_parse(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text in time linear in its length; refuse nesting deeper than
    `max_depth`, numbers of more than MAX_NUMBER_DIGITS digits in a row and non-finite
    numbers (naming the field's path)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"Not valid JSON: not UTF-8 text (byte {exc.start}).") from None
    try:
        try:  # the plain int is the fast path
            value, marked = _loads(text, count_digits=False)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            value, marked = _loads(text, count_digits=True)  # int() refused thousands of digits
    except RecursionError:  # json's C scanner stops at Python's recursion limit, at once
        raise JSONInputError(f"The JSON is nested more than {max_depth} deep.") from None
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"Not valid JSON: {str(exc)[:120]}", line=exc.lineno) from None
    except ValueError as exc:
        raise JSONInputError(f"Not valid JSON: {str(exc)[:120]}") from None
    # Valid JSON, so each quote opens or closes a string: what is left once they are gone
    # is brackets, numbers, true/false/null and punctuation.
    bare = _STRINGS.sub(b'""', text.encode("utf-8", "surrogatepass"))
    if _deepest(bare) > max_depth:
        raise JSONInputError(f"The JSON is nested more than {max_depth} deep.")
    long_number = _LONG_NUMBER.search(bare) is not None
    if long_number:  # read again, marking them: the path names the first
        value, marked = _loads(text, count_digits=True)
    if marked:
        path = _path_of_unusable(value)
        what = "a finite number"
        if long_number:
            what = f"a finite number of at most {MAX_NUMBER_DIGITS} digits"
        raise JSONInputError(f"{path or 'The value'} must be {what}.", field=path)
    return value


def _loads(text: str, *, count_digits: bool) -> tuple[Any, bool]:
    """json.loads with each unusable number – non-finite, and with `count_digits` one of
    more than MAX_NUMBER_DIGITS digits in a row – read as a marker; (value, any marked)."""
    marked: list[bool] = []

    def unusable(_: str) -> _Unusable:
        marked.append(True)
        return _UNUSABLE

    def whole(text: str) -> int | _Unusable:
        return unusable(text) if len(text.lstrip("-")) > MAX_NUMBER_DIGITS else int(text)

    def number(text: str) -> float | _Unusable:
        if count_digits and _LONG_NUMBER.search(text.encode()):
            return unusable(text)
        value = float(text)
        return value if math.isfinite(value) else unusable(text)

    value = json.loads(text, parse_constant=unusable, parse_float=number,
                       parse_int=whole if count_digits else int)  # fmt: skip
    return value, bool(marked)


def request_json(request: HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """The request's body as a JSON object (an empty body is `{}`)."""
    if len(request.body) > max_bytes:
        raise JSONInputError(f"The body is over {max_bytes // 1000} kB.")
    value = json_parse(request.body or b"{}")
    if not isinstance(value, dict):
        raise JSONInputError("The body must be a JSON object.")
    return value


def int_field(data: dict, name: str, *, default: int, low: int, high: int) -> int:
    """`data[name]` as a whole number in low..high (JSON number or query-string digits)."""
    value = data.get(name, default)
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,12}\s*", value, re.ASCII):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JSONInputError(f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


class _Unusable:
    """Stands for a non-finite or absurdly long number until its path is reported."""


_UNUSABLE = _Unusable()


def _deepest(bare: bytes, chunk: int = 1 << 20) -> int:
    """The deepest nesting of JSON text whose strings are gone: a running sum over its
    brackets, in numpy chunks, so that a 20 MB file costs milliseconds."""
    brackets = np.frombuffer(bare.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    deepest = level = 0
    for start in range(0, len(brackets), chunk):
        levels = np.cumsum(_OPEN[brackets[start : start + chunk]], dtype=np.int64) + level
        deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def _path_of_unusable(value: Any) -> str:
    """The path of the first unusable number in `value` ("" for the value itself).
    Iterative, and only walked for a document that is refused anyway."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if item is _UNUSABLE:
            return path
        if isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return ""
