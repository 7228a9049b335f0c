"""Delivery status notifications (RFC 3464) read back to the message that bounced."""

from __future__ import annotations

import pytest

from paydue.adapters.channels.email import paydue_id
from paydue.adapters.formats.dsn import DsnError, parse_dsn

POSTFIX_HARD_BOUNCE = b"""\
Return-Path: <>
From: MAILER-DAEMON@mx.stadtwerke.example (Mail Delivery System)
To: billing@stadtwerke.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="B0UND"

--B0UND
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.stadtwerke.example.
I'm sorry to have to inform you that your message could not be delivered.

--B0UND
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.stadtwerke.example
X-Postfix-Queue-ID: 4F2A81C0D2
Arrival-Date: Mon,  2 Nov 2026 09:14:03 +0100 (CET)

Final-Recipient: rfc822; erika@example.org
Original-Recipient: rfc822;erika@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <erika@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--B0UND
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Stadtwerke <billing@stadtwerke.example>
To: erika@example.org
Subject: Zahlungserinnerung
Message-ID: <msg_01JBOUNCE0001@stadtwerke.example>

--B0UND--
"""

DELAYED_WITH_MESSAGE = b"""\
From: postmaster@relay.example
To: billing@stadtwerke.example
Subject: Delivery delayed
MIME-Version: 1.0
Content-Type: multipart/report; report-type="delivery-status"; boundary="xyz"

--xyz
Content-Type: text/plain

Delivery to the following recipients has been delayed.

--xyz
Content-Type: message/delivery-status

Reporting-MTA: dns;relay.example
Original-Envelope-Id: msg_01JDELAY0002

Final-Recipient: rfc822;max@example.org
Action: delayed
Status: 4.4.7 (delivery time expired soon)
Will-Retry-Until: Wed, 4 Nov 2026 09:00:00 +0000

Final-Recipient: rfc822;erika@example.org
Action: delivered
Status: 2.0.0

--xyz
Content-Type: message/rfc822

From: Stadtwerke <billing@stadtwerke.example>
To: max@example.org, erika@example.org
Message-ID: <msg_01JDELAY0002@stadtwerke.example>
Subject: Reminder

Your invoice is due.
--xyz--
"""


def test_a_hard_bounce_names_the_message_action_and_status() -> None:
    dsn = parse_dsn(POSTFIX_HARD_BOUNCE)
    assert dsn.original_message_id == "<msg_01JBOUNCE0001@stadtwerke.example>"
    assert paydue_id(dsn.original_message_id, "stadtwerke.example") == "msg_01JBOUNCE0001"
    assert (dsn.action, dsn.status) == ("failed", "5.1.1")
    assert dsn.reporting_mta == "mx.stadtwerke.example"
    (recipient,) = dsn.recipients
    assert recipient.recipient == "erika@example.org"
    assert recipient.permanent
    assert recipient.diagnostic is not None
    assert "User unknown in virtual mailbox table" in recipient.diagnostic


def test_a_delay_is_not_permanent_and_the_report_is_about_the_delayed_recipient() -> None:
    dsn = parse_dsn(DELAYED_WITH_MESSAGE)
    assert dsn.envelope_id == "msg_01JDELAY0002"
    assert dsn.original_message_id == "<msg_01JDELAY0002@stadtwerke.example>"
    assert (dsn.action, dsn.status) == ("delayed", "4.4.7")
    assert [r.action for r in dsn.recipients] == ["delayed", "delivered"]
    assert not dsn.first.permanent


def test_a_message_id_paydue_did_not_write_gives_no_paydue_id() -> None:
    assert paydue_id("<CAF=x@mail.gmail.com>", "stadtwerke.example") is None
    assert paydue_id(None) is None
    assert paydue_id("<msg_1@stadtwerke.example>") == "msg_1"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"Subject: hello\n\nplain mail", "not a multipart/report"),
        (
            POSTFIX_HARD_BOUNCE.replace(b"report-type=delivery-status", b"report-type=feedback"),
            "not delivery-status",
        ),
        (POSTFIX_HARD_BOUNCE.replace(b"Action: failed", b"Action: exploded"), "Action"),
        (POSTFIX_HARD_BOUNCE.replace(b"Status: 5.1.1", b"Status: bad"), "Status"),
        (
            POSTFIX_HARD_BOUNCE.replace(b"message/delivery-status", b"text/plain"),
            "no message/delivery-status part",
        ),
    ],
)
def test_what_is_not_a_readable_dsn_is_refused_with_the_reason(raw: bytes, says: str) -> None:
    with pytest.raises(DsnError, match=says):
        parse_dsn(raw)
