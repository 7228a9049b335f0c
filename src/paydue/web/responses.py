"""JSON responses serialised with orjson (large batch responses are the hot path)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def json_response(
    data: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        dumps(data), status_code=status_code, media_type="application/json", headers=headers
    )


def error_body(code: str, message: str, *, kind: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}
