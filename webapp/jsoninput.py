"""JSON sent by browsers, read one strict way: errors name the field, numbers are finite.

Python's json module accepts `NaN`, `Infinity` and `1e309` (read as inf). Neither the
database's JSON columns nor the engines can take those, and `int(inf)` raises, so they
are refused here, naming the field (`lr`, `spec[2].p`). Every JSON endpoint reads its
body with `request_json` and answers `JSONInputError.as_dict()` with a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.http import HttpRequest, JsonResponse

MAX_BODY_BYTES = 200_000  # far above any real control, share or spec body


class JSONInputError(ValueError):
    """A value a user sent that cannot be used; `field` names it when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def as_dict(self) -> dict:
        return {"error": str(self), "field": self.field}

    def response(self, **extra: Any) -> JsonResponse:
        return JsonResponse({**self.as_dict(), **extra}, status=400)


def json_parse(text: str | bytes) -> Any:
    """Parse JSON text; non-finite numbers anywhere are refused with the field's path."""
    try:
        value = json.loads(text, parse_int=_int)
    except RecursionError:
        raise JSONInputError("The JSON is nested too deeply.") from None
    except ValueError as exc:  # also bad UTF-8, and integers of thousands of digits
        raise JSONInputError(f"Not valid JSON: {str(exc)[:120]}") from None
    found = _first_unusable_number(value)
    if found is not None:
        path, what = found
        raise JSONInputError(f"{path or 'The value'} must be {what}.", field=path)
    return value


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


class _TooLong:
    """Stands for an integer of more than MAX_INT_DIGITS digits until it is reported."""


_TOO_LONG = _TooLong()
MAX_INT_DIGITS = 30


def _int(text: str) -> int | _TooLong:
    return _TOO_LONG if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _first_unusable_number(value: Any) -> tuple[str, str] | None:
    """(path, what it must be) of the first NaN, infinite or absurdly long number in
    `value`, or None. Iterative: a deeply nested document must not exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path, "a finite number"
        if item is _TOO_LONG:
            return path, f"a number of at most {MAX_INT_DIGITS} digits"
        if isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None
