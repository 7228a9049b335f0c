"""Automated calls through Twilio's Calls API, with the TwiML built here.

``send`` places a call (``POST …/Accounts/{sid}/Calls.json`` with ``To``, ``From``, ``Twiml``
and ``StatusCallback``). The TwiML (:func:`call_twiml`) reads the message's text — the amount and
due date, already rendered in the payer's language — with ``<Say language="de-DE">`` inside a
``<Gather numDigits="1">`` that offers "press 1 to receive the pay link by SMS" in the same
language; the gather posts the digit to ``gather_url?message={id}``. :func:`gather_action`
reads that callback's ``Digits`` and :func:`gather_reply` answers it with TwiML; the SMS itself
is the collections service's to send.

Twilio's voices need a region (``de-DE``); :data:`VOICE_LANGUAGES` maps paydue's languages to
one. Everything placed into the XML is escaped by lxml.
"""

from __future__ import annotations

from enum import StrEnum

from lxml import etree

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.channels.sms import with_query
from paydue.adapters.channels.twilio import DEFAULT_BASE_URL, TwilioApi

VOICE_LANGUAGES = {
    "en": "en-GB",
    "de": "de-DE",
    "fr": "fr-FR",
    "nl": "nl-NL",
    "it": "it-IT",
    "ro": "ro-RO",
}
PRESS_ONE = {
    "en": "Press 1 to receive the payment link by text message.",
    "de": "Drücken Sie die 1, um den Zahlungslink per SMS zu erhalten.",
    "fr": "Appuyez sur 1 pour recevoir le lien de paiement par SMS.",
    "nl": "Druk op 1 om de betaallink per sms te ontvangen.",
    "it": "Premi 1 per ricevere il link di pagamento via SMS.",
    "ro": "Apăsați 1 pentru a primi linkul de plată prin SMS.",
}
LINK_SENT = {
    "en": "Thank you. We are sending you the payment link now. Goodbye.",
    "de": "Vielen Dank. Wir senden Ihnen jetzt den Zahlungslink. Auf Wiederhören.",
    "fr": "Merci. Nous vous envoyons maintenant le lien de paiement. Au revoir.",
    "nl": "Dank u. We sturen u nu de betaallink. Tot ziens.",
    "it": "Grazie. Le inviamo ora il link di pagamento. Arrivederci.",
    "ro": "Vă mulțumim. Vă trimitem acum linkul de plată. La revedere.",
}
GOODBYE = {
    "en": "Goodbye.",
    "de": "Auf Wiederhören.",
    "fr": "Au revoir.",
    "nl": "Tot ziens.",
    "it": "Arrivederci.",
    "ro": "La revedere.",
}


class GatherAction(StrEnum):
    SEND_LINK_BY_SMS = "send_link_by_sms"
    NONE = "none"


def _base(language: str) -> str:
    base = language.replace("_", "-").split("-", 1)[0].lower()
    return base if base in PRESS_ONE else "en"


def voice_language(language: str) -> str:
    """Twilio's ``language`` for paydue's (``de`` → ``de-DE``); a given region is kept."""
    if "-" in language.replace("_", "-"):
        lang, region = language.replace("_", "-").split("-", 1)
        return f"{lang.lower()}-{region.upper()}"
    return VOICE_LANGUAGES.get(language.lower(), "en-GB")


def _say(parent: etree._Element, text: str, language: str) -> None:
    say = etree.SubElement(parent, "Say", language=language)
    say.text = text


def _document(root: etree._Element) -> str:
    return str(etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode())


def call_twiml(text: str, language: str, gather_url: str | None) -> str:
    """The TwiML of a reminder call: ``text`` read in ``language``, then (with a
    ``gather_url``) the offer to press 1 for the pay link by SMS."""
    spoken = voice_language(language)
    root = etree.Element("Response")
    if gather_url is None:
        _say(root, text, spoken)
        return _document(root)
    gather = etree.SubElement(
        root, "Gather", numDigits="1", action=gather_url, method="POST", timeout="6"
    )
    _say(gather, text, spoken)
    _say(gather, PRESS_ONE[_base(language)], spoken)
    _say(root, GOODBYE[_base(language)], spoken)
    return _document(root)


def gather_action(digits: str | None) -> GatherAction:
    """What the payer asked for with the digits of the ``<Gather>`` callback."""
    if (digits or "").strip() == "1":
        return GatherAction.SEND_LINK_BY_SMS
    return GatherAction.NONE


def gather_reply(action: GatherAction, language: str) -> str:
    """The TwiML that answers the ``<Gather>`` callback, ending the call."""
    words = LINK_SENT if action is GatherAction.SEND_LINK_BY_SMS else GOODBYE
    root = etree.Element("Response")
    _say(root, words[_base(language)], voice_language(language))
    etree.SubElement(root, "Hangup")
    return _document(root)


class TwilioVoice:
    name = "voice"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str,
        gather_url: str | None = None,
        status_callback: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        self.api = TwilioApi(account_sid, auth_token, base_url=base_url, timeout=timeout)
        self.from_number = from_number
        self.gather_url = gather_url
        self.status_callback = status_callback

    def send(self, message: OutboundMessage) -> SendResult:
        gather = with_query(self.gather_url, message=message.id) if self.gather_url else None
        form = {
            "To": message.to,
            "From": self.from_number,
            "Twiml": call_twiml(message.text, message.language, gather),
        }
        if self.status_callback:
            form["StatusCallback"] = with_query(self.status_callback, message=message.id)
        return self.api.create("Calls", form)
