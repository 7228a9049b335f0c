"""What the HTTP-based channels share: one httpx client setup and the reading of an answer.

An HTTP API's answer becomes a :class:`SendResult` the same way for every channel: 2xx is
accepted; 408, 425, 429 and 5xx are refusals worth retrying; any other status is a refusal
of this message; no answer at all (connection refused, timeout, broken answer) is retryable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from paydue import __version__
from paydue.adapters.channels.base import SendResult

USER_AGENT = f"paydue-channels/{__version__}"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
DETAIL_CHARS = 300


def make_client(
    *, timeout: float, auth: httpx.Auth | tuple[str, str] | None = None
) -> httpx.Client:
    """A client with connect/read timeouts, no redirects and no proxies from the environment."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        trust_env=False,
        auth=auth,
        headers={"user-agent": USER_AGENT},
    )


def retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def refusal(status: int, detail: str) -> SendResult:
    """The result for a non-2xx answer ``status``; ``detail`` says what the service said."""
    reason = f"HTTP {status}"
    if detail:
        reason = f"{reason}: {detail[:DETAIL_CHARS]}"
    if 300 <= status < 400:
        reason = f"{reason} (redirect not followed)"
    return SendResult(accepted=False, error=reason, retryable=retryable_status(status))


def unreachable(exc: Exception) -> SendResult:
    """The result for a request that got no usable answer: worth trying again."""
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "no answer"
    return SendResult(
        accepted=False, error=f"{kind}: {type(exc).__name__}: {exc}"[:500], retryable=True
    )


def post(
    client: httpx.Client,
    url: str,
    *,
    describe: Callable[[httpx.Response], str] | None = None,
    **kwargs: Any,
) -> httpx.Response | SendResult:
    """POST and return the 2xx response, or the refusal as a :class:`SendResult`.

    The refusal's reason is ``describe(response)`` (an adapter that knows the service's error
    format), else the start of the response body."""
    try:
        response = client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        return unreachable(exc)
    except httpx.InvalidURL as exc:
        return SendResult(accepted=False, error=f"invalid URL: {exc}", retryable=False)
    if response.is_success:
        return response
    detail = describe(response) if describe is not None else response.text.strip()
    return refusal(response.status_code, detail)
