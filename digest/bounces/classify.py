"""What a delivery failure says about the address: one verdict from all the evidence.

One module for SMTP-time refusals, DSNs and bounces in any other format, because the
same evidence means the same thing whichever way it arrives. The classes:

* ``hard`` -- the recipient is gone (no such user or domain, mailbox disabled): suppress.
* ``hard`` also covers retries given up on: the sending MTA tried for days (its queue
  lifetime, 4.4.7 "delivery time expired") and reports the message as finally failed, so
  the address has been unreachable all that time.
* ``soft`` -- temporary (mailbox full, delays): counted; repeated failures with no
  delivery between them suppress (`record`).
* ``about_us`` -- the refusal is about the sender: our IP on a blocklist, SPF / DKIM /
  DMARC, our sender address, our content or size, our sending rate. Never suppresses the
  resident; counted and shown to the operator, and a burst stops all sending.
* ``complaint`` -- abuse, fraud, opt-out reports (ARF): unsubscribe and suppress.
* ``not_bounce`` -- delivered, relayed, expanded or verify reports, auto-replies that
  report no failure.

Order of precedence, first match wins:

1. The report's action says the message arrived or was only verified
   (``delivered``, ``relayed``, ``expanded``, ``deliverable``): ``not_bounce``.
2. Wording that names the sender's side (blocklists, authentication, "sender address
   rejected", rate limits, spam or content, message size, policy): ``about_us``, whatever
   the codes say -- receivers often send such refusals as 5.1.x or plain 550, and a
   resident must never be suppressed for our problem.
3. A final report of retries given up on (``Action: failed`` or no action, wording such
   as "in the queue too long", "after 30 attempts", 4.4.7 "delivery time expired"):
   ``hard``, although the last attempt's code is often a 4.x.x. A ``delayed`` report is
   not final and stays ``soft``.
4. The enhanced status code (RFC 3463), the most specific of the DSN's ``Status`` and
   the one inside the diagnostic text (``Status: 5.0.0`` with ``550 5.1.1 ...`` is 5.1.1):
   5.1.7 and 5.1.8 (our sender address) and x.6.x / x.7.x (content, security, policy) are
   ``about_us``; 5.2.2 and 5.3.1 (full) ``soft``; 5.2.3 and 5.3.4 (too big) ``about_us``;
   other 5.1.x, 5.2.1, 5.4.1 and 5.4.4 ``hard``.
5. Wording about the recipient, when the code was generic (x.0.0, 5.3.0, 5.5.0, ...) or
   absent: mailbox or domain unknown -> ``hard``; mailbox full, over quota, try later ->
   ``soft``.
6. What is left: a permanent failure (5.x.x, a 5xx reply, ``Action: failed``, a parser
   that calls it permanent) is ``hard``; anything temporary (4.x.x, 4xx, ``delayed``) is
   ``soft``. Evidence of a temporary failure also turns a step-4 ``hard`` into ``soft``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.mail.replies import find_status as find_status  # read by the DSN parser too
from digest.models import BounceKind

# An SMTP reply code where MTAs put one: at the start, after "smtp;", "said:" or "#".
# Only failure replies (4xx, 5xx): a transcript's 220 greeting or 250 OK says nothing.
_REPLY = re.compile(r"(?:^|;|said:|\(|#|\s)\s*([45]\d\d)(?=[\s\-]|$)", re.MULTILINE)

_ABOUT_US: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "our sender address",
            r"sender (address|domain)\b.{0,20}\b(rejected|refused|unknown|invalid|denied)"
            r"|sender verif\w* fail|verification of sender|bad sender|envelope sender"
            r"|mail from\b.{0,40}\brejected",
        ),
        (
            "a blocklist or our reputation",
            r"block ?list|black ?list|deny ?list|\brbl\b|dnsbl|spamhaus|spamcop|barracuda"
            r"|sorbs|uceprotect|(?<!not )\blisted (at|in|on|by)\b"
            r"|\bblocked (using|by|because|due)\b"
            r"|\b(ip|host|server|network|connection|client)( address)?\b.{0,40}"
            r"\b(blocked|banned|blacklisted|not allowed)\b|reputation",
        ),
        (
            "authentication (SPF, DKIM, DMARC)",
            r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|not authenticated"
            r"|authentication (failed|required|check)|unauthenticated|reverse dns|\brdns\b"
            r"|\bptr\b",
        ),
        (
            "our sending rate",
            r"rate.?limit|too many (messages|connections|mails|emails|recipients|concurrent)"
            r"|throttl|sending (quota|limit)|unusual rate|high volume|slow down",
        ),
        (
            "our content or size",
            r"\bspam\b|junk mail|unsolicited|content (rejected|filter|policy)|virus|malware"
            r"|phishing|message size|message (too|is too) (large|big)|message length exceeds"
            r"|mail size exceeds|size exceeds (the )?(maximum|limit)",
        ),
        ("policy", r"\bpolicy\b|administratively (denied|prohibited)|\bprohibited\b"),
    )
)

_HARD_WORDS = re.compile(
    r"user unknown|unknown (user|recipient|address|mailbox|alias|local)"
    r"|no such (user|mailbox|recipient|address|account|person|local user)"
    r"|\b(user|mailbox|recipient|account|address|addressee|e-?mail)\b[^.\n]{0,40}"
    r"\b(does not|doesn't|did not) exist"
    r"|\b(mailbox|user|recipient|account|address|addressee)\b( \S+)?"
    r" (is )?(unknown|not found|unavailable|invalid|inactive|disabled|deactivated|closed"
    r"|suspended|expired|deleted|discontinued|rejected)"
    r"|invalid (recipient|mailbox|address|user)|not a valid (user|mailbox|recipient)"
    r"|unrouteable|undeliverable address|no mailbox|not our customer|no longer (valid|active)"
    r"|account (has been )?(disabled|closed|deactivated|suspended|terminated|expired)"
    r"|host (or domain name )?not found|domain (name )?not found|no such domain"
    r"|unknown domain|domain\b[^.\n]{0,30}\b(does not|doesn't) exist|host unknown|nxdomain"
    r"|null mx|bad destination|no valid recipients|not listed in domino|isn't a valid"
    r"|name service error|addressee unknown|this user doesn't have",
    re.IGNORECASE,
)
_SOFT_WORDS = re.compile(
    r"mail ?box (is )?full|full mailbox|mailfolder is full|over ?quota|quota (exceeded|full)"
    r"|exceed\w* (the |his |her |their |its )?(storage|quota|mailbox|disk)"
    r"|insufficient (system )?(storage|disk)|out of (disk )?space|space not enough"
    r"|not enough space|file too large|mailbox size limit|try (again )?later|temporar"
    r"|timed? ?out|connection (refused|reset|lost)|greylist|graylist|deferred|delayed"
    r"|will (retry|keep trying|try again)|still trying|has not yet been delivered",
    re.IGNORECASE,
)
# The sending MTA's "I retried until my queue lifetime ran out": the final word on a
# message, whatever code the last attempt got (flufl.bounce calls these permanent too).
_GAVE_UP = re.compile(
    r"not going to try again|in the queue too long|(queue|retry) (lifetime|time|timeout|period)"
    r" (was )?(exceeded|expired)|maximum[- ]time[- ]expired|delivery time expired"
    r"|(gave|giving) up after|after \d+ attempt\(?s?\)? to deliver|over a period of \d+ "
    r"(hour|day)|could not be delivered (with)?in \d+ (hours|days)",
    re.IGNORECASE,
)
# Phrases only a failure report uses: text with none of these, no failure code and no
# recipient wording is not treated as a bounce (an out-of-office reply, a person).
_FAILURE_WORDS = re.compile(
    r"could not be delivered|couldn't be delivered|undeliver|delivery (has |to [^\n]{0,60})?"
    r"failed|failure notice|delivery status notification|returned mail|permanent(ly)? "
    r"(error|failure|fatal)|fatal error|mail delivery (failed|subsystem|system)"
    r"|was not delivered|unable to deliver|not be delivered|rejected",
    re.IGNORECASE,
)

_NOT_A_FAILURE = frozenset({"delivered", "relayed", "expanded", "deliverable"})
# Codes that say nothing specific, so wording decides (and, failing that, the class).
_GENERIC = frozenset({"5.3.0", "5.4.0", "5.5.0", "5.2.0", "5.1.0"})
_CODE_TABLE: dict[str, BounceKind] = {
    "5.1.7": BounceKind.ABOUT_US,  # our sender's mailbox syntax
    "5.1.8": BounceKind.ABOUT_US,  # our sender's system address
    "5.2.1": BounceKind.HARD,  # mailbox disabled
    "5.2.2": BounceKind.SOFT,  # mailbox full, even when sent as permanent
    "5.2.3": BounceKind.ABOUT_US,  # our message too long
    "5.3.1": BounceKind.SOFT,  # mail system full
    "5.3.4": BounceKind.ABOUT_US,  # our message too big for the system
    "5.4.1": BounceKind.HARD,  # no answer from host / recipient rejected (Microsoft 365)
    "5.4.4": BounceKind.HARD,  # unable to route: host or domain unknown
}


@dataclass(frozen=True)
class Verdict:
    kind: BounceKind
    status: str  # the enhanced code the verdict rests on, "" when there was none
    reason: str  # which evidence decided, in words for the operator


def find_reply_code(text: str) -> int | None:
    """The first SMTP reply code (like 550) where MTAs put one in `text`, or None."""
    match = _REPLY.search(text or "")
    return int(match.group(1)) if match else None


def about_us(text: str) -> str:
    """What in `text` says the refusal is about us ("" if nothing)."""
    for name, pattern in _ABOUT_US:
        if pattern.search(text or ""):
            return name
    return ""


def looks_like_failure(text: str) -> bool:
    """Whether free text reports a failed delivery at all (codes or failure wording)."""
    return bool(
        find_status(text)
        or _FAILURE_WORDS.search(text)
        or _HARD_WORDS.search(text)
        or re.search(r"mail ?box (is )?full|over ?quota", text, re.IGNORECASE)
    )


def _specific(status: str) -> bool:
    return bool(status) and not status.endswith(".0.0") and status not in _GENERIC


def _best_status(status: str, diagnostic: str) -> str:
    """The DSN's own Status unless the diagnostic carries a more specific code of the same
    class (receivers' MTAs often report 5.0.0 around a precise 5.1.1)."""
    inner = find_status(diagnostic)
    if not status:
        return inner
    if inner and inner[0] == status[0] and not _specific(status) and _specific(inner):
        return inner
    return status


def _by_code(status: str) -> BounceKind | None:
    if not _specific(status):
        return None
    klass, subject, _ = status.split(".")
    if subject in ("6", "7"):
        return BounceKind.ABOUT_US
    if klass == "4":
        return BounceKind.SOFT
    if status in _CODE_TABLE:
        return _CODE_TABLE[status]
    if subject == "1":
        return BounceKind.HARD
    if subject == "4":  # routing trouble that is not "no such host": 5.4.6 loops, 5.4.7 expired
        return BounceKind.SOFT
    return None


def classify(
    *,
    action: str = "",
    status: str = "",
    smtp_code: int | None = None,
    diagnostic: str = "",
    permanent: bool | None = None,
) -> Verdict:
    """The verdict on one recipient's failure from every piece of evidence there is.

    `action` is the DSN's Action field, `status` its Status field, `smtp_code` the
    receiver's reply code (found in `diagnostic` if not given), `diagnostic` the
    receiver's words (a Diagnostic-Code, an SMTP reply, or a bounce's prose), and
    `permanent` the opinion of a parser that knows only permanent or temporary.
    """
    action = action.strip().lower()
    if action.startswith("fail"):
        action = "failed"  # "failure", seen in the wild
    text = " ".join((diagnostic or "").split())
    if action in _NOT_A_FAILURE:
        return Verdict(BounceKind.NOT_BOUNCE, status, f"report says {action}")
    code = _best_status(find_status(status), text)
    reply = smtp_code if smtp_code is not None else find_reply_code(text)
    temporary = (
        action == "delayed"
        or code.startswith("4")
        or (not code and reply is not None and reply < 500)
        or (not code and reply is None and permanent is False)
    )
    ours = about_us(text)
    if ours:
        return Verdict(BounceKind.ABOUT_US, code, f"about us: {ours}")
    if action != "delayed" and (_GAVE_UP.search(text) or (code == "4.4.7" and action)):
        return Verdict(BounceKind.HARD, code, "retries given up: unreachable for days")
    by_code = _by_code(code)
    if by_code is not None:
        return Verdict(by_code, code, f"status {code}")
    if _SOFT_WORDS.search(text) and not _HARD_WORDS.search(text):
        return Verdict(BounceKind.SOFT, code, "wording: temporary or mailbox full")
    if _HARD_WORDS.search(text):
        if temporary:
            return Verdict(BounceKind.SOFT, code, "wording: recipient unknown, but temporary")
        return Verdict(BounceKind.HARD, code, "wording: recipient or domain unknown")
    if _SOFT_WORDS.search(text):
        return Verdict(BounceKind.SOFT, code, "wording: temporary or mailbox full")
    if temporary:
        return Verdict(BounceKind.SOFT, code, "temporary failure")
    if code.startswith("5"):
        return Verdict(BounceKind.HARD, code, f"permanent status {code}")
    if reply is not None and reply >= 500:
        return Verdict(BounceKind.HARD, code, f"permanent reply {reply}")
    if action == "failed" or permanent:
        return Verdict(BounceKind.HARD, code, "permanent failure")
    return Verdict(BounceKind.SOFT, code, "failure of unknown kind")


def classify_complaint(feedback_type: str) -> Verdict:
    """ARF feedback types (RFC 5965, 6650): abuse, fraud, virus, other and opt-out are the
    recipient's wish to hear no more; auth-failure is about our authentication;
    not-spam reports nothing against us."""
    kind = (feedback_type or "abuse").strip().lower()
    if kind in ("abuse", "fraud", "virus", "other", "opt-out", "opt-out-list", "complaint"):
        return Verdict(BounceKind.COMPLAINT, kind, f"{kind} report")
    if kind in ("auth-failure", "dkim", "spf"):
        return Verdict(BounceKind.ABOUT_US, kind, f"{kind} report: our authentication")
    return Verdict(BounceKind.NOT_BOUNCE, kind, f"{kind} report")
