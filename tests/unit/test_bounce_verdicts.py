"""Reading returned mail and the verdict on it: one case for each way the old bounce
processing disagreed with the real world (issue 13), with messages in the formats the
software named emits."""

from __future__ import annotations

import pytest

from digest.bounces.classify import classify, classify_complaint
from digest.bounces.parse import parse
from digest.mail import verp
from digest.models import BounceKind

SECRET = "unit-test-secret"
HARD, SOFT, ABOUT_US = BounceKind.HARD, BounceKind.SOFT, BounceKind.ABOUT_US


def ours(row: int = 7) -> str:
    return verp.address(SECRET, row, "bounces.example.org")


def dsn(recipient_block: str, *, separator: str = "\n", headers: str = "") -> bytes:
    """An RFC 3464 report with one per-message block and `recipient_block`."""
    return (
        f"From: MAILER-DAEMON@mx.example.net\nTo: {ours()}\n{headers}"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Date: Mon, 07 Dec 2026 08:00:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example.net\nArrival-Date: Mon, 07 Dec 2026 07:00:00 +0000\n"
        f"{separator}{recipient_block}\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        "Message-ID: <digest.1@councildigest.example.org>\nSubject: Your digest\n\n--B--\n"
    ).encode()


# -- Auto-Submitted bounces are bounces -----------------------------------------------

EXIM_BOUNCE = f"""\
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {ours()}
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied
Date: Mon, 07 Dec 2026 08:00:00 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.net
    host mx.example.net [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<gone@example.net>:
    550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

Subject: Planning policy and spam: your weekly digest
"""

OUT_OF_OFFICE = f"""\
From: Resident <resident@example.net>
To: {ours()}
Subject: Automatic reply: Your weekly council digest
Auto-Submitted: auto-replied
Date: Mon, 07 Dec 2026 08:00:00 +0000

I am out of the office until Monday and will reply when I am back, temporarily away.
"""


def test_a_bounce_marked_auto_submitted_is_still_a_bounce() -> None:
    report = parse(EXIM_BOUNCE.encode(), SECRET)
    assert report.kind == "dsn" and report.verp_id == 7
    [failure] = report.failures
    assert failure.recipient == "gone@example.net"
    assert failure.verdict.kind == HARD and failure.status == "5.1.1"


def test_an_auto_reply_reporting_no_failure_is_not_a_bounce() -> None:
    report = parse(OUT_OF_OFFICE.encode(), SECRET)
    assert report.kind == "autoreply" and not report.failures


# -- Formats only flufl.bounce knows, and generic permanent codes ----------------------

QMAIL = f"""\
From: MAILER-DAEMON@mail.example.com
To: {ours()}
Subject: failure notice

Hi. This is the qmail-send program at mail.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<old@example.com>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.
"""


def test_qmail_bounce_is_hard() -> None:
    [failure] = parse(QMAIL.encode(), SECRET).failures
    assert (failure.recipient, failure.verdict.kind) == ("old@example.com", HARD)


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        ("5.0.0", "smtp; 550 Requested action not taken: mailbox unavailable", HARD),
        ("5.3.0", "smtp; 553 sorry, that domain isn't in my list of allowed rcpthosts", HARD),
        ("5.4.4", "Host or domain name not found. Name service error: Host not found", HARD),
        ("5.5.0", "smtp; 550 5.5.0 Requested action not taken", HARD),
        ("5.0.0", "smtp; 550 5.1.1 <x@example.net>... User unknown", HARD),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", SOFT),
        ("4.2.2", "smtp; 452 4.2.2 Over quota", SOFT),
        ("5.0.0", "smtp; 554 Mailbox quota exceeded", SOFT),
        # About us, whatever the code says: the resident is not to blame.
        ("5.1.8", "smtp; 553 5.1.8 <bounces@ours.example>: Sender address rejected", ABOUT_US),
        (
            "5.1.1",
            "smtp; 550 5.1.1 Service unavailable; client [192.0.2.9] blocked using "
            "zen.spamhaus.org",
            ABOUT_US,
        ),
        ("5.7.1", "smtp; 554 5.7.1 blocked: IP listed on a blocklist", ABOUT_US),
        ("5.1.0", "smtp; 550 5.1.0 SPF check failed for the sending domain", ABOUT_US),
        ("5.7.26", "smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC)", ABOUT_US),
        ("5.0.0", "smtp; 550 Message rejected: rate limit exceeded, too many messages", ABOUT_US),
        ("4.7.0", "smtp; 421 4.7.0 Try again later, closing connection", ABOUT_US),
        ("5.0.0", "smtp; 554 Message rejected as spam by content filter", ABOUT_US),
    ],
)
def test_classification_from_all_the_evidence(
    status: str, diagnostic: str, kind: BounceKind
) -> None:
    assert classify(action="failed", status=status, diagnostic=diagnostic).kind == kind


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        # The sending MTA's final word after days of retries: the address was unreachable
        # all that time (flufl.bounce's yahoo_01, simple_44, dsn_02 say so too).
        (
            "failed",
            "4.4.1",
            "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going "
            "to try again; this message has been in the queue too long.",
            HARD,
        ),
        (
            "",
            "",
            "4.4.4 Temporary server error. This condition occurred after 30 attempt(s) to "
            "deliver over a period of 92 hour(s)",
            HARD,
        ),
        ("failed", "4.4.7", "Reason 1 (Unable-To-Transfer); Diagnostic 5", HARD),
        # Not final yet: still retrying.
        ("delayed", "4.4.7", "delivery time expired warning; will retry", SOFT),
        ("delayed", "4.4.1", "connection timed out; will keep trying", SOFT),
        # Given up, but the refusal was about us: nobody is suppressed.
        (
            "failed",
            "4.7.1",
            "in the queue too long: 421 4.7.1 client IP blocked using zen.spamhaus.org",
            ABOUT_US,
        ),
    ],
)
def test_retries_given_up_on_are_hard_but_a_delay_is_not(
    action: str, status: str, diagnostic: str, kind: BounceKind
) -> None:
    assert classify(action=action, status=status, diagnostic=diagnostic).kind == kind


def test_the_precise_code_in_the_diagnostic_beats_a_generic_status() -> None:
    verdict = classify(action="failed", status="5.0.0", diagnostic="550 5.1.1 no such user")
    assert (verdict.kind, verdict.status) == (HARD, "5.1.1")


def test_smtp_reply_codes_alone() -> None:
    assert classify(smtp_code=550, permanent=True).kind == HARD
    assert classify(smtp_code=450, permanent=False).kind == SOFT
    assert classify(action="delayed", diagnostic="mailbox unavailable").kind == SOFT


# -- VERP first ---------------------------------------------------------------------

UNKNOWN_FORMAT = f"""\
From: postmaster@mail.example.org
To: {ours(42)}
Subject: Message status

Delivery has failed to these recipients or groups: the mailbox is unavailable
(the account has been disabled). 550 Requested action not taken.
"""


def test_verp_identifies_a_report_no_parser_understands() -> None:
    report = parse(UNKNOWN_FORMAT.encode(), SECRET)
    assert (report.kind, report.how, report.verp_id) == ("dsn", "text", 42)
    [failure] = report.failures
    assert failure.recipient == "" and failure.verdict.kind == HARD


def test_without_verp_such_text_is_unrecognised() -> None:
    raw = UNKNOWN_FORMAT.replace(ours(42), "someone@example.org").encode()
    assert parse(raw, SECRET).kind == "unrecognised"


# -- Parsing quirks -------------------------------------------------------------------


def test_final_recipient_without_its_address_type() -> None:
    raw = dsn("Final-Recipient: gone@example.net\nAction: failed\nStatus: 5.1.1\n")
    [failure] = parse(raw, SECRET).failures
    assert (failure.recipient, failure.verdict.kind) == ("gone@example.net", HARD)


def test_a_blank_separator_line_holding_a_space() -> None:
    block = "Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n"
    [failure] = parse(dsn(block, separator=" \n"), SECRET).failures
    assert (failure.recipient, failure.action, failure.status) == (
        "gone@example.net",
        "failed",
        "5.1.1",
    )


def test_json_text_is_not_an_address() -> None:
    block = 'Final-Recipient: rfc822; {"email":"x@example.net"}\nAction: failed\nStatus: 5.1.1\n'
    [failure] = parse(dsn(block), SECRET).failures
    assert failure.recipient == ""


def test_a_verify_report_is_not_a_bounce() -> None:
    block = "Final-Recipient: rfc822; here@example.net\nAction: deliverable\nStatus: 2.1.5\n"
    [failure] = parse(dsn(block), SECRET).failures
    assert failure.verdict.kind == BounceKind.NOT_BOUNCE


def arf(feedback_type: str, recipients: list[str]) -> bytes:
    rcpts = "".join(f"Original-Rcpt-To: {r}\n" for r in recipients)
    return (
        "From: fbl@isp.example\nTo: fbl@councildigest.example.org\nSubject: Complaint\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nA complaint.\n\n"
        "--B\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: {feedback_type}\nUser-Agent: FBL/1.0\nVersion: 1\n{rcpts}\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        "Message-ID: <x@councildigest.example.org>\n\n--B--\n"
    ).encode()


def test_every_recipient_of_a_multi_recipient_complaint() -> None:
    report = parse(arf("abuse", ["a@isp.example", "b@isp.example", "a@isp.example"]), SECRET)
    assert report.kind == "complaint"
    assert report.complaint_recipients == ("a@isp.example", "b@isp.example")


def test_opt_out_reports_are_complaints() -> None:
    report = parse(arf("opt-out", ["a@isp.example"]), SECRET)
    assert report.complaint.kind == BounceKind.COMPLAINT
    assert classify_complaint("not-spam").kind == BounceKind.NOT_BOUNCE
    assert classify_complaint("auth-failure").kind == ABOUT_US
