"""What a document is, from its title and address (SPEC §12.1 `kind`).

ModernGov names its generated files consistently ("Public reports pack 04th-Feb-2026
18.30 Cabinet.pdf", "Printed minutes 04th-Feb-2026 ...", "Printed decisions ...",
"Agenda frontsheet ...", "Supplementary agenda ..."); the address often carries the same
words (`documents/g<MId>/Printed minutes ....pdf`). `mgConvert2PDF.aspx?ID=` addresses
say nothing (the id is an attachment's), so only the title counts for them. Anything else
linked from an agenda item is that item's report.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

KINDS = ("agenda", "reports_pack", "minutes", "decision_notice", "supplementary", "report", "other")

# Order matters: the first pattern that matches wins ("Supplementary reports pack" is
# supplementary, "Minutes of the previous meeting" attached to an item is a report).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "supplementary",
        re.compile(
            r"\b(?:supplementa(?:ry|l)|additional\s+(?:agenda|papers|pack)|addend(?:um|a))\b",
            re.I,
        ),
    ),
    (
        "reports_pack",
        re.compile(
            r"\b(?:public\s+)?reports?\s+pack\b|\bagenda\s+(?:and\s+reports\s+)?pack\b"
            r"|\bagenda\s+reports\s+pack\b|\bfull\s+agenda\b",
            re.I,
        ),
    ),
    (
        "decision_notice",
        re.compile(
            r"\bprinted\s+decisions\b|\bdecision\s+(?:notice|sheet|list)\b|\brecord\s+of\s+decisions?\b"
            r"|\bdecisions?\s+(?:notice|record)\b|\bdecisions\s+taken\b",
            re.I,
        ),
    ),
    ("minutes", re.compile(r"\bprinted\s+minutes\b|\bdraft\s+minutes\b|^\s*minutes\b", re.I)),
    (
        "agenda",
        re.compile(r"\bagenda\s+front\s*sheet\b|^\s*(?:public\s+)?agenda\s*(?:$|\d|-)", re.I),
    ),
)


def classify(title: str, url: str = "", *, linked_to_item: bool = False) -> str:
    """One of KINDS. `linked_to_item`: the web service listed the document under an
    agenda item, where anything unrecognised is that item's report."""
    name = re.sub(r"\s+", " ", title).strip()
    # The file name in the address says the same for the council's generated packs.
    path = unquote(url.rsplit("/", 1)[-1]) if url else ""
    for kind, pattern in _RULES:
        if kind == "minutes" and linked_to_item and not re.search(r"\bprinted\b", name, re.I):
            # "Minutes" attached to the "Minutes of the last meeting" item are that
            # meeting's minutes, an earlier meeting's paper: a report of this one.
            continue
        if pattern.search(name) or (path and pattern.search(path)):
            return kind
    return "report" if linked_to_item else "other"


# Agenda text shorter than this ("To consider the report of the Director.") says too
# little about what is to be decided: the item's report is read for its recommendations.
THIN_AGENDA_CHARS = 200


def reads_decisions(kind: str) -> bool:
    """Documents whose text gives a held meeting's decisions."""
    return kind in ("minutes", "decision_notice")
