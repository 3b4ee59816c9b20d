"""Routine business every meeting opens with: apologies, declarations of interest, the
minutes of the last meeting. Summaries fold these into one line unless the meeting
decided something real under them."""

from __future__ import annotations

import enum
import re


class Procedural(enum.StrEnum):
    APOLOGIES = "apologies"
    INTERESTS = "declarations of interest"
    MINUTES = "minutes of the last meeting"
    URGENT = "urgent business"
    EXCLUSION = "exclusion of the press and public"


_TITLES: list[tuple[Procedural, re.Pattern[str]]] = [
    (Procedural.APOLOGIES, re.compile(r"\bapolog(?:y|ies|ises?)\b|\bsubstitut", re.I)),
    (
        Procedural.INTERESTS,
        re.compile(r"\b(?:declarations?|disclosures?)\b.*\binterests?\b|^interests$", re.I),
    ),
    (
        Procedural.MINUTES,
        re.compile(
            r"^\W*(?:(?:confirmation|approval|adoption)\s+of\s+(?:the\s+)?)?minutes\b"
            r"|\bminutes of (?:the )?(?:last|previous)\b",
            re.I,
        ),
    ),
    (Procedural.URGENT, re.compile(r"\burgent (?:business|items?)\b|\bany other business\b", re.I)),
    (
        Procedural.EXCLUSION,
        re.compile(r"\bexclusion of (?:the )?(?:press|public)\b|\bexclude the public\b", re.I),
    ),
]
# Decisions that change nothing for residents.
_ROUTINE = re.compile(
    r"\b(?:true|correct|accurate) record\b|signed by the chair|"
    r"\bno (?:declarations|interests|apologies|urgent)\b|apologies\b.*\b(?:noted|received)|"
    r"\b(?:declarations?|interests?)\b.*\b(?:noted|recorded|received)|"
    r"exclude(?:d)? (?:the )?(?:press|public)|press and public be excluded|"
    r"^to (?:note|receive) (?:the )?(?:apologies|declarations)",
    re.I,
)


def procedural_kind(title: str) -> Procedural | None:
    text = title.strip()
    for kind, pattern in _TITLES:
        if pattern.search(text):
            return kind
    return None


_AMENDED = re.compile(r"\bsubject to\b|\bamend", re.I)


def is_routine(resolutions: list[str]) -> bool:
    """True when every decision is routine (or there were none)."""
    return all(_ROUTINE.search(r) and not _AMENDED.search(r) for r in resolutions)
