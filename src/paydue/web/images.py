"""Image responses with validators, so browsers and mail proxies revalidate cheaply."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response

MEDIA = {"svg": "image/svg+xml", "png": "image/png"}


def image_response(request: Request, body: bytes, kind: str, *, max_age: int = 300) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max_age}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA[kind], headers=headers)
