"""One place maps errors to HTTP answers: domain errors carry their status; validation errors
name the field; integrity errors are conflicts; nothing a client sends becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paydue.domain.errors import DomainError
from paydue.web.responses import error_body, json_response

log = logging.getLogger(__name__)

PAYER_PAGES = ("/p/", "/simulator/")
"""Paths a browser shows: their errors are pages, not JSON."""


def is_unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite "UNIQUE constraint failed")."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(
        exc.orig
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_details(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details: list[dict[str, Any]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        item: dict[str, Any] = {"field": _field(loc), "message": err.get("msg", "invalid")}
        if err.get("type") == "extra_forbidden":
            item["message"] = "unknown field"
        if len(loc) > 2 and loc[0] == "body" and loc[1] == "invoices" and isinstance(loc[2], int):
            item["index"] = loc[2]
            item["field"] = _field(loc[3:])
        details.append(item)
    first = details[0]
    where = f"item {first['index']}: " if "index" in first else ""
    summary = f"{where}{first['field']}: {first['message']}"
    if len(details) > 1:
        summary += f" (and {len(details) - 1} more)"
    return summary, details


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if request.url.path.startswith(PAYER_PAGES):
            from paydue.web.pay.routes import error_page

            return error_page(request, request.app.state.container, exc)
        kind = "invalid_request_error" if exc.status < 500 else "api_error"
        return json_response(
            error_body(exc.code, exc.message, kind=kind, details=exc.details), exc.status
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            err = next(e for e in errors if e.get("type") == "json_invalid")
            ctx = err.get("ctx") or {}
            pos = err.get("loc", ("body", "?"))[-1]
            message = f"malformed JSON at position {pos}: {ctx.get('error', 'invalid')}"
            return json_response(
                error_body("malformed_json", message, kind="invalid_request_error"), 400
            )
        summary, details = validation_details(errors)
        return json_response(
            error_body("invalid_request", summary, kind="invalid_request_error", details=details),
            422,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> Response:
        if not is_unique_violation(exc):
            # A NOT NULL, foreign-key or check violation is our bug, not the client's conflict.
            log.error("integrity error", exc_info=exc)
            return json_response(
                error_body("internal_error", "internal error", kind="api_error"), 500
            )
        log.info("integrity conflict: %s", exc.orig)
        return json_response(
            error_body(
                "conflict",
                "the request conflicts with a record that exists already (a concurrent request?)",
                kind="invalid_request_error",
            ),
            409,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return json_response(
            error_body(code, str(exc.detail), kind="invalid_request_error"),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )
