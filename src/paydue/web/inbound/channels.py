"""Channel callbacks: delivery reports and a reminder call's "press 1". Verify → record → 2xx.

- ``POST /inbound/channels/twilio/status?message={id}``: Twilio's SMS and call statuses,
  signed with ``X-Twilio-Signature`` (the auth token over ``PAYDUE_BASE_URL`` + path + query and
  the form fields);
- ``POST /inbound/channels/twilio/gather?message={id}``: the digit a payer pressed in a reminder
  call, signed the same way; answered with TwiML, and on 1 a pay link is queued by SMS;
- ``POST /inbound/channels/gateway/status``: a generic SMS gateway's report (JSON), signed with
  a hex HMAC-SHA256 of the body in ``X-Signature`` (``PAYDUE_SMS_GATEWAY_CALLBACK_SECRET``);
- ``POST /inbound/channels/email/bounce``: a DSN (RFC 3464) as a mail relay received it, the
  whole message (``message/rfc822``) or its ``multipart/report`` body, with
  ``Authorization: Bearer`` ``PAYDUE_EMAIL_BOUNCE_TOKEN``.

A callback that is unsigned (401), wrongly signed or not configured (403) changes nothing. A
verified report about a message paydue does not have is logged and answered 200 (the sender
would only retry). A verified report goes to ``collections.record_delivery``: a bounce or a
failure makes the next sweep try the payer's next channel.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from paydue.adapters.channels import twilio
from paydue.adapters.channels.email import paydue_id
from paydue.adapters.channels.sms import gateway_report, verify_gateway_signature
from paydue.adapters.channels.voice import GatherAction, gather_action, gather_reply
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.formats.dsn import DsnError, parse_dsn
from paydue.bootstrap import Container
from paydue.services import collections as svc
from paydue.web.deps import ContainerDep
from paydue.web.responses import error_body, json_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["channel callbacks"])

MAX_FORM = 64 * 1024
MAX_BOUNCE = 4 * 1024 * 1024
TWILIO_CHANNELS = frozenset({"sms", "whatsapp", "voice"})
T = TypeVar("T")


def _refused(status: int, code: str, message: str) -> Response:
    kind = "authentication_error" if status in (401, 403) else "invalid_request_error"
    return json_response(error_body(code, message, kind=kind), status)


async def _body(request: Request, limit: int) -> bytes | Response:
    body = await request.body()
    if len(body) > limit:
        return _refused(413, "too_large", f"a callback is at most {limit} bytes")
    return body


async def _in_transaction(c: Container, work: Callable[[UnitOfWork], T]) -> T:
    """Run ``work`` in a unit of work that commits, off the event loop; wake the worker."""

    def run() -> T:
        with c.uow() as uow:
            result = work(uow)
            uow.commit()
        return result

    result = await run_in_threadpool(run)
    c.work_available.set()
    return result


def _recorded(message: object) -> Response:
    return json_response({"received": True, "recorded": message is not None}, 200)


# --- Twilio ------------------------------------------------------------------------------------


async def _twilio_form(request: Request, c: Container) -> list[tuple[str, str]] | Response:
    """The callback's form fields, once its signature is Twilio's for our own URL."""
    token = c.settings.twilio_auth_token
    if not token:
        return _refused(403, "not_configured", "Twilio is not configured (PAYDUE_TWILIO_*)")
    body = await _body(request, MAX_FORM)
    if isinstance(body, Response):
        return body
    header = request.headers.get("x-twilio-signature")
    if not header:
        return _refused(401, "signature_missing", "X-Twilio-Signature is missing")
    query = request.url.query
    url = c.settings.base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if not twilio.verify_signature(token, url, pairs, header):
        log.warning("Twilio callback %s with a wrong signature refused", request.url.path)
        return _refused(403, "signature_invalid", "X-Twilio-Signature does not match")
    return pairs


@router.post(twilio.STATUS_CALLBACK_PATH)
async def twilio_status(request: Request, c: ContainerDep) -> Response:
    """An SMS or call status: delivered, undelivered, failed, not answered."""
    form = await _twilio_form(request, c)
    if isinstance(form, Response):
        return form
    message_id = request.query_params.get("message")
    outcome = twilio.delivery_outcome(form)
    if not message_id or outcome is None:
        return _recorded(None)  # an intermediate status, or not about a message of ours

    def record(uow: UnitOfWork) -> object:
        return svc.report_delivery(uow, message_id, outcome, uow.now(), channels=TWILIO_CHANNELS)

    return _recorded(await _in_transaction(c, record))


@router.post(twilio.GATHER_PATH)
async def twilio_gather(request: Request, c: ContainerDep) -> Response:
    """The payer's answer to "press 1 for the pay link by SMS": the SMS is queued through the
    collections engine (contact rules, opt-out and templates apply); the TwiML reply says so,
    or says goodbye when it was not sent."""
    form = await _twilio_form(request, c)
    if isinstance(form, Response):
        return form
    call_id = request.query_params.get("message") or ""
    wanted = gather_action(dict(form).get("Digits"))

    def answer(uow: UnitOfWork) -> svc.CallAnswer:
        if wanted is not GatherAction.SEND_LINK_BY_SMS:
            call = uow.collections.find_message(call_id)
            return svc.CallAnswer((call.language if call else None) or "en")
        return svc.link_after_call(
            uow,
            call_id,
            available=c.channels.keys(),
            links=c.links,
            secret=c.settings.secret_bytes,
        )

    def run() -> svc.CallAnswer:
        with c.uow() as uow:
            found = answer(uow)
            if found.sms is not None:
                uow.commit()  # a refusal may have written half a link: it is rolled back
        return found

    found = await run_in_threadpool(run)
    if found.sms is not None:
        c.work_available.set()
    action = GatherAction.SEND_LINK_BY_SMS if found.sms is not None else GatherAction.NONE
    return Response(gather_reply(action, found.language), media_type="application/xml")


# --- a generic SMS gateway -----------------------------------------------------------------------


@router.post("/inbound/channels/gateway/status")
async def gateway_status(request: Request, c: ContainerDep) -> Response:
    secret = c.settings.sms_gateway_callback_secret
    if not secret:
        return _refused(
            403, "not_configured", "set PAYDUE_SMS_GATEWAY_CALLBACK_SECRET to take reports"
        )
    body = await _body(request, MAX_FORM)
    if isinstance(body, Response):
        return body
    header = request.headers.get("x-signature")
    if not header:
        return _refused(401, "signature_missing", "X-Signature is missing")
    if not verify_gateway_signature(secret, body, header):
        log.warning("SMS gateway callback with a wrong signature refused")
        return _refused(403, "signature_invalid", "X-Signature does not match the body")
    try:
        message_id, outcome = gateway_report(json.loads(body))
    except ValueError as exc:
        return _refused(400, "invalid_report", str(exc))
    if outcome is None:
        return _recorded(None)

    def record(uow: UnitOfWork) -> object:
        return svc.report_delivery(uow, message_id, outcome, uow.now(), channels={"sms"})

    return _recorded(await _in_transaction(c, record))


# --- e-mail bounces ------------------------------------------------------------------------------


def _bounce_token_ok(c: Container, authorization: str | None) -> Response | None:
    token = c.settings.email_bounce_token
    if not token:
        return _refused(403, "not_configured", "set PAYDUE_EMAIL_BOUNCE_TOKEN to take bounces")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _refused(401, "token_missing", "Authorization: Bearer <token> is missing")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        log.warning("e-mail bounce with a wrong token refused")
        return _refused(403, "token_invalid", "the bounce token is wrong")
    return None


@router.post("/inbound/channels/email/bounce")
async def email_bounce(request: Request, c: ContainerDep) -> Response:
    refused = _bounce_token_ok(c, request.headers.get("authorization"))
    if refused is not None:
        return refused
    body = await _body(request, MAX_BOUNCE)
    if isinstance(body, Response):
        return body
    kind = request.headers.get("content-type", "")
    if kind.lower().startswith("multipart/report"):  # the body without the message's headers
        body = f"MIME-Version: 1.0\r\nContent-Type: {kind}\r\n\r\n".encode() + body
    try:
        dsn = parse_dsn(body)
    except DsnError as exc:
        return _refused(422, "invalid_dsn", f"not a delivery status notification: {exc}")
    message_id = paydue_id(dsn.original_message_id) or dsn.envelope_id
    outcome = dsn.outcome
    if not message_id or outcome is None:
        log.info("bounce of %r (%s) not recorded", dsn.original_message_id, dsn.action)
        return _recorded(None)

    def record(uow: UnitOfWork) -> Any:
        return svc.report_delivery(uow, message_id, outcome, uow.now(), channels={"email"})

    return _recorded(await _in_transaction(c, record))
