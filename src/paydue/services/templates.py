"""Message templates: the issuer's own texts per key, channel and language, or the defaults that
ship with paydue (``template_defaults/``), rendered in Jinja2's sandbox.

Only the variables of ``domain.templates.VARIABLES`` exist in a template: a template naming
anything else is refused when saved (``jinja2.meta``) and fails when rendered
(``StrictUndefined``). Attribute access to internals (``''.__class__``) is a security error of
the sandbox; the environment has no globals (no ``range``, ``cycler``, ``lipsum``…); ``*`` and
``**`` cannot build huge values. A template is checked when saved by rendering it with sample
data twice: a bundle with every optional value set, and one invoice with none. A message whose
template fails to render is refused with a :class:`TemplateError` naming the template and line:
it is never sent half-rendered.
"""

from __future__ import annotations

import re
import tomllib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.db.templates import TemplateRow
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import NotFound
from paydue.domain.invoices import outstanding
from paydue.domain.money import Money
from paydue.domain.sms import sms_length
from paydue.domain.templates import (
    CHANNEL_PARTS,
    DEFAULT_KEYS,
    FALLBACK_LANGUAGE,
    LANGUAGES,
    VARIABLES,
    MessageData,
    MessageInvoice,
    Part,
    RenderedMessage,
    TemplateError,
    TemplateSource,
    check_address,
    check_parts,
    template_name,
)
from paydue.services import formatting
from paydue.services.branding import branding_of
from paydue.services.elements import EpcUnavailable, epc_payload
from paydue.services.invoices import get_invoice
from paydue.services.links import PublicLinks

MAX_REPEAT: Final = 2_000
"""The longest string or list ``*`` may build in a template."""

# --- the sandbox -----------------------------------------------------------------------------


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with no globals and bounded ``*``; ``**`` is refused."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("'**' is not allowed in a template")
        for seq, times in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if sized and len(seq) * times > MAX_REPEAT:
                raise SecurityError(f"'*' may build at most {MAX_REPEAT} items")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    """An optional value that is not there prints as nothing, never as ``None``."""
    return "" if value is None else value


def _environment(*, html: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        auto_reload=False,
    )
    env.globals.clear()
    return env


_TEXT_ENV: Final = _environment(html=False)
_HTML_ENV: Final = _environment(html=True)
_RESERVED = frozenset({"self"})
"""Names Jinja2 always defines that a template has no use for (``self`` reaches the blocks)."""
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_./() -]")


def _env(part: Part) -> _Sandbox:
    return _HTML_ENV if part == "html" else _TEXT_ENV


def _filename(name: str) -> str:
    """The code object's file name: how a runtime error is traced back to its template."""
    return "<paydue-template " + _NAME_SAFE.sub("_", name) + ">"


@lru_cache(maxsize=2048)
def _compile(source: str, part: Part, name: str) -> Template:
    """Parse, check the variables against the allow-list and compile (cached by source)."""
    env = _env(part)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(name, f"syntax error: {exc.message}", line=exc.lineno) from None
    unknown = meta.find_undeclared_variables(ast) - VARIABLES.keys()
    unknown |= {n.name for n in ast.find_all(nodes.Name) if n.name in _RESERVED}
    if unknown:
        first = min(
            (n for n in ast.find_all(nodes.Name) if n.name in unknown),
            key=lambda n: n.lineno,
        )
        names = ", ".join(sorted(unknown))
        raise TemplateError(
            name,
            f"unknown variable(s) {names}; a template may use {', '.join(VARIABLES)}",
            line=first.lineno,
            code="unknown_variable",
        )
    code = env.compile(ast, name=None, filename=_filename(name))
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _error_line(exc: BaseException, name: str) -> int | None:
    """The template line of a runtime error: Jinja2 rewrites the traceback so the template's
    frames carry the template's own line numbers."""
    filename = _filename(name)
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def render_part(source: str, part: Part, name: str, variables: Mapping[str, Any]) -> str:
    """Render one part; any failure is a :class:`TemplateError` naming template and line."""
    template = _compile(source, part, name)
    try:
        text = template.render(variables)
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(
            name, f"not allowed: {exc}", line=_error_line(exc, name), code="template_forbidden"
        ) from None
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise TemplateError(name, message, line=_error_line(exc, name)) from None
    return text.strip()


_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})
"""No-break and thin spaces (Babel puts them between amount and currency) are plain spaces in
an SMS: they are not in the GSM-7 alphabet and would make it UCS-2."""


def render(
    source: TemplateSource,
    variables: Mapping[str, Any],
    *,
    name: str = "template",
    channel: str | None = None,
) -> RenderedMessage:
    """Render every part of a template; the subject is one line."""
    subject = (
        " ".join(render_part(source.subject, "subject", f"{name} (subject)", variables).split())
        if source.subject is not None
        else None
    )
    text = render_part(source.text, "text", f"{name} (text)", variables)
    html = (
        render_part(source.html, "html", f"{name} (html)", variables)
        if source.html is not None
        else None
    )
    if channel == "sms":
        text = text.translate(_SPACES)
    return RenderedMessage(subject, text, html)


# --- variables -------------------------------------------------------------------------------


def variables(data: MessageData, language: str) -> dict[str, Any]:
    """The allow-listed variables of a message, amounts and dates in ``language``."""
    invoices = [
        {
            "number": inv.number,
            "amount": formatting.money(inv.amount_due, language),
            "due_date": formatting.long_date(inv.due_date, language),
            "pay_link": inv.pay_link or data.pay_link,
        }
        for inv in data.invoices
    ]
    values: dict[str, Any] = {
        "payer_name": data.payer_name,
        "invoices": invoices,
        "invoice_numbers": ", ".join(inv.number for inv in data.invoices),
        "invoice_count": len(data.invoices),
        "due_date": formatting.long_date(min(i.due_date for i in data.invoices), language),
        "total": formatting.money(data.total, language),
        "currency": data.total.currency,
        "fee": formatting.money(data.fee, language) if data.fee is not None else None,
        "pay_link": data.pay_link,
        "link_qr_url": data.link_qr_url,
        "epc_qr_url": data.epc_qr_url,
        "issuer_name": data.issuer_name,
        "issuer_email": data.issuer_email,
        "issuer_phone": data.issuer_phone,
    }
    assert values.keys() == VARIABLES.keys()
    return values


def reminder_data(
    issuer: Issuer,
    payer_name: str,
    invoices: list[MessageInvoice],
    pay_link: str,
    *,
    fee: Money | None = None,
    epc_qr_url: str | None = None,
) -> MessageData:
    """The data of a message about ``invoices`` (one payer, one currency; each may carry its
    own pay link) with the message's ``pay_link``; the issuer's name and contact come from its
    branding. The link QR image is the pay link's own (``/p/{token}/qr.png``)."""
    if not invoices:
        raise ValueError("a message is about at least one invoice")
    b = branding_of(issuer)
    lines = tuple(sorted(invoices, key=lambda i: (i.due_date, i.number)))
    total = lines[0].amount_due
    for line in lines[1:]:
        total += line.amount_due
    return MessageData(
        payer_name=payer_name,
        invoices=lines,
        total=total,
        pay_link=pay_link,
        link_qr_url=f"{pay_link}/qr.png",
        issuer_name=b.display_name,
        epc_qr_url=epc_qr_url,
        issuer_email=b.support_email,
        issuer_phone=b.support_phone,
        fee=fee,
    )


def message_data(
    issuer: Issuer,
    invoices: list[Invoice],
    pay_link: str,
    *,
    fee: Money | None = None,
    epc_qr_url: str | None = None,
) -> MessageData:
    """The data of a message about ``invoices`` (one payer, one currency) with its pay link."""
    if not invoices:
        raise ValueError("a message is about at least one invoice")
    lines = [
        MessageInvoice(
            i.number, Money(outstanding(i.status, i.amount, i.amount_paid), i.currency), i.due_date
        )
        for i in invoices
    ]
    return reminder_data(
        issuer, invoices[0].payer.name, lines, pay_link, fee=fee, epc_qr_url=epc_qr_url
    )


def invoice_message_data(
    issuer: Issuer, invoice: Invoice, links: PublicLinks, pay_link: str | None = None
) -> MessageData:
    """A message about one invoice with a pay link (by default the invoice's own) and, where
    there is one, its EPC QR."""
    pay_link = pay_link or links.invoice_pay_url(invoice.id)
    epc = epc_payload(issuer, invoice)
    epc_url = None if isinstance(epc, EpcUnavailable) else f"{pay_link}/epc.png"
    return message_data(issuer, [invoice], pay_link, epc_qr_url=epc_url)


def sample_data(
    issuer_name: str = "Example Utilities",
    *,
    pay_link: str = "https://pay.example.org/p/sample-token",
    full: bool = True,
) -> MessageData:
    """Sample data for checks and previews: with ``full`` two invoices and every optional value
    set, otherwise one invoice and none."""
    due = date(2026, 11, 30)
    first = MessageInvoice("INV-2026-0042", Money(12000, "EUR"), due)
    second = MessageInvoice("INV-2026-0057", Money(4550, "EUR"), due + timedelta(days=14))
    invoices = (first, second) if full else (first,)
    return MessageData(
        payer_name="Alex Example",
        invoices=invoices,
        total=Money(sum(i.amount_due.amount for i in invoices), "EUR"),
        pay_link=pay_link,
        link_qr_url=f"{pay_link}/qr.png",
        issuer_name=issuer_name,
        epc_qr_url=f"{pay_link}/epc.png" if full else None,
        issuer_email="billing@example.org" if full else None,
        issuer_phone="+49 30 1234567" if full else None,
        fee=Money(500, "EUR") if full else None,
    )


def check(source: TemplateSource, key: str, channel: str, language: str) -> None:
    """Refuse a template that could not be sent: parts of the channel, syntax, allow-list,
    and rendering with sample data (with and without the optional values)."""
    name = template_name(key, channel, language)
    check_parts(name, channel, source)
    for full in (True, False):
        render(source, variables(sample_data(full=full), language), name=name, channel=channel)


# --- the defaults ----------------------------------------------------------------------------

_MARKER = re.compile(r"\[\[(\w+)\]\]")


def _read_toml(name: str) -> dict[str, Any]:
    path = resources.files("paydue.services").joinpath("template_defaults", name)
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _compose(skeleton: str, texts: Mapping[str, str], where: str) -> str:
    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in texts:
            raise KeyError(f"{where}: no text for [[{match.group(1)}]]")
        return texts[match.group(1)]

    text = skeleton
    for _ in range(4):  # fragments may hold fragments
        text = _MARKER.sub(fill, text)
    if _MARKER.search(text):
        raise KeyError(f"{where}: markers nest too deep")
    return text


@cache
def defaults() -> dict[tuple[str, str, str], TemplateSource]:
    """Every shipped template by (key, channel, language)."""
    skeletons = _read_toml("channels.toml")
    found: dict[tuple[str, str, str], TemplateSource] = {}
    for language in LANGUAGES:
        doc = _read_toml(f"{language}.toml")
        fragments: dict[str, str] = doc["fragments"]
        for key, step in doc["steps"].items():
            texts = {"sms_short": "[[short]]", "sms_pay": "[[pay_short]]", **fragments, **step}
            for channel, parts in CHANNEL_PARTS.items():
                where = f"{language}.toml {key}/{channel}"
                composed = {p: _compose(skeletons[channel][p], texts, where) for p in parts}
                found[(key, channel, language)] = TemplateSource(
                    composed.get("subject"), composed["text"], composed.get("html")
                )
    return found


def default(key: str, channel: str, language: str) -> TemplateSource | None:
    return defaults().get((key, channel, language))


# --- effective templates and rendering --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Effective:
    """The template used for (key, channel, language): the issuer's own or the default."""

    key: str
    channel: str
    language: str
    source: TemplateSource
    origin: str  # "issuer" or "default"
    updated_at: str | None = None


def _from_row(row: TemplateRow) -> Effective:
    return Effective(
        row.key,
        row.channel,
        row.language,
        TemplateSource(row.subject, row.body_text, row.body_html),
        "issuer",
        row.updated_at.isoformat(),
    )


def effective(
    uow: UnitOfWork, issuer_id: str, key: str, channel: str, language: str
) -> Effective | None:
    """The issuer's template, else the default; None when there is neither."""
    row = uow.templates.get(issuer_id, key, channel, language)
    if row is not None:
        return _from_row(row)
    shipped = default(key, channel, language)
    return Effective(key, channel, language, shipped, "default") if shipped else None


def resolve(uow: UnitOfWork, issuer_id: str, key: str, channel: str, language: str) -> Effective:
    """The template a message uses: the issuer's in the language, the default in the language,
    then the same in English. ``TemplateError`` when there is none."""
    tried = [language] if language == FALLBACK_LANGUAGE else [language, FALLBACK_LANGUAGE]
    for lang in tried:
        found = effective(uow, issuer_id, key, channel, lang)
        if found is not None:
            return found
    raise TemplateError(
        template_name(key, channel, language),
        "no template: the issuer has none and paydue ships none for this key",
        code="template_not_found",
    )


def render_message(
    uow: UnitOfWork,
    issuer: Issuer | str,
    key: str,
    channel: str,
    language: str,
    context: MessageData,
) -> RenderedMessage:
    """Render the message of step ``key`` on ``channel`` for a payer speaking ``language``
    (one of ``domain.templates.LANGUAGES``; see ``language_of``), from the issuer's template or
    the default, falling back to English. Amounts and dates are written in the language of the
    template used. Raises :class:`TemplateError` (nothing may be sent) when it cannot render."""
    issuer_id = issuer if isinstance(issuer, str) else issuer.id
    found = resolve(uow, issuer_id, key, channel, language)
    name = template_name(found.key, found.channel, found.language)
    return render(found.source, variables(context, found.language), name=name, channel=channel)


# --- the API's use cases -------------------------------------------------------------------


def resource(found: Effective) -> dict[str, Any]:
    return {
        "object": "message_template",
        "key": found.key,
        "channel": found.channel,
        "language": found.language,
        "source": found.origin,
        "subject": found.source.subject,
        "text": found.source.text,
        "html": found.source.html,
        "updated_at": found.updated_at,
    }


def list_effective(
    uow: UnitOfWork,
    issuer_id: str,
    *,
    key: str | None = None,
    channel: str | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    """Every template in effect for the issuer: its own, and the defaults it did not replace,
    ordered by key, channel and language; optionally only one key, channel or language."""
    found: dict[tuple[str, str, str], Effective] = {
        k: Effective(*k, source, "default") for k, source in defaults().items()
    }
    for row in uow.templates.list(issuer_id):
        found[(row.key, row.channel, row.language)] = _from_row(row)

    def wanted(k: tuple[str, str, str]) -> bool:
        return all(f is None or f == v for f, v in zip((key, channel, language), k, strict=True))

    order = {c: i for i, c in enumerate(CHANNEL_PARTS)}
    langs = {lang: i for i, lang in enumerate(LANGUAGES)}
    keys = {k: i for i, k in enumerate(DEFAULT_KEYS)}
    ordered = sorted(
        (k for k in found if wanted(k)),
        key=lambda k: (keys.get(k[0], len(keys)), k[0], order[k[1]], langs[k[2]]),
    )
    return [resource(found[k]) for k in ordered]


def get_template(
    uow: UnitOfWork, issuer_id: str, key: str, channel: str, language: str
) -> dict[str, Any]:
    check_address(key, channel, language)
    found = effective(uow, issuer_id, key, channel, language)
    if found is None:
        raise _not_found(key, channel, language)
    return resource(found)


def put_template(
    uow: UnitOfWork,
    issuer_id: str,
    key: str,
    channel: str,
    language: str,
    source: TemplateSource,
) -> dict[str, Any]:
    """Save the issuer's template after checking it; a template that fails stores nothing."""
    check_address(key, channel, language)
    check(source, key, channel, language)
    uow.templates.put(issuer_id, key, channel, language, source, uow.now())
    found = effective(uow, issuer_id, key, channel, language)
    assert found is not None
    return resource(found)


def delete_template(
    uow: UnitOfWork, issuer_id: str, key: str, channel: str, language: str
) -> dict[str, Any]:
    """Drop the issuer's template: the default is in effect again (returned, with a
    ``deleted`` flag). 404 when there is neither an own template nor a default."""
    check_address(key, channel, language)
    deleted = uow.templates.delete(issuer_id, key, channel, language)
    shipped = default(key, channel, language)
    if not deleted and shipped is None:
        raise _not_found(key, channel, language)
    if shipped is None:
        return {
            "object": "message_template",
            "key": key,
            "channel": channel,
            "language": language,
            "source": None,
            "deleted": True,
        }
    return {**resource(Effective(key, channel, language, shipped, "default")), "deleted": deleted}


def preview(
    uow: UnitOfWork,
    issuer: Issuer,
    links: PublicLinks,
    key: str,
    channel: str,
    language: str,
    *,
    source: TemplateSource | None = None,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """Render ``source`` (a template being written) or the template in effect, with sample
    data or with the data of one of the issuer's invoices. SMS previews show the encoding and
    the number of segments."""
    check_address(key, channel, language)
    name = template_name(key, channel, language)
    if source is None:
        found = effective(uow, issuer.id, key, channel, language)
        if found is None:
            raise _not_found(key, channel, language)
        source, origin = found.source, found.origin
    else:
        check_parts(name, channel, source)
        origin = "given"
    if invoice_id is not None:
        data = invoice_message_data(issuer, get_invoice(uow, issuer.id, invoice_id), links)
    else:
        sample = sample_data(branding_of(issuer).display_name, pay_link=links.pay_url("sample"))
        data = replace(
            sample,
            issuer_email=branding_of(issuer).support_email or sample.issuer_email,
            issuer_phone=branding_of(issuer).support_phone or sample.issuer_phone,
        )
    rendered = render(source, variables(data, language), name=name, channel=channel)
    out: dict[str, Any] = {
        "object": "message_preview",
        "key": key,
        "channel": channel,
        "language": language,
        "source": origin,
        "data": "invoice" if invoice_id is not None else "sample",
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }
    if channel == "sms":
        length = sms_length(rendered.text)
        out |= {
            "encoding": length.encoding.value,
            "length": length.units,
            "segments": length.segments,
            "remaining": length.remaining,
        }
    return out


def _not_found(key: str, channel: str, language: str) -> NotFound:
    return NotFound(
        f"no template {template_name(key, channel, language)}", code="template_not_found"
    )
