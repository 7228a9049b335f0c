"""Request bodies a route validates itself, in one step from the raw bytes.

FastAPI decodes a JSON body with ``json.loads`` and then validates the Python objects; pydantic's
``validate_json`` does both in one pass over the bytes, which matters for a 10,000-invoice batch.
The errors are FastAPI's: 422 with the field's place under ``body``, 400 for malformed JSON with
its position (``web.errors``), and a body that is not sent as JSON is refused as FastAPI refuses
it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


def openapi_body(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """The ``openapi_extra`` that declares ``adapter``'s schema as the route's JSON body. The
    models it refers to must be in the document's components, through another route that takes
    them as its body (a test checks that every reference resolves)."""
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parse_json_body(adapter: TypeAdapter[T], request: Request, raw: bytes) -> T:
    """``raw`` validated by ``adapter``; raises ``RequestValidationError`` as FastAPI would."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _is_json(request.headers.get("content-type")):
        return _validate(adapter.validate_python, raw)  # FastAPI validates the bytes as such
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise RequestValidationError(_under_body(exc)) from None
    # Decoded as FastAPI decodes it: the error names the position the way it always did, and
    # the little that json.loads accepts and the Rust parser does not is judged the same.
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    return _validate(adapter.validate_python, value)


def _validate(validate: Callable[[Any], T], value: Any) -> T:
    try:
        return validate(value)
    except ValidationError as exc:
        raise RequestValidationError(_under_body(exc)) from None


def _under_body(exc: ValidationError) -> list[dict[str, Any]]:
    return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )
