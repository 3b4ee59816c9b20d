"""The decision extractor scored on real minutes: agenda items from more than 25 councils'
published pages (tests/fixtures/minutes_corpus, SOURCES.md there), each labelled with the
decisions a careful reader would list. The score is printed (run with -s to see it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.weekly.resolutions import extract_resolutions

CORPUS = Path(__file__).parent.parent / "fixtures" / "minutes_corpus" / "corpus.json"

# A fragment: too short to say anything, or a lead-in left on its own ("THAT.", "That,",
# "Resolved:", "- the minutes ...").
_LEAD_IN = re.compile(
    r"^(?:that|resolved|agreed|decision|decisions|recommended|it was resolved)\W*$|^[-–—•·,;:]",
    re.IGNORECASE,
)


def is_fragment(bullet: str) -> bool:
    return len(bullet.split()) < 3 or bool(_LEAD_IN.match(bullet.strip()))


@dataclass
class Score:
    with_decisions: int = 0
    found: int = 0
    without_decisions: int = 0
    misses: list[str] = field(default_factory=list)
    false_bullets: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    unfolded: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.with_decisions if self.with_decisions else 1.0

    def line(self) -> str:
        return (
            f"minutes corpus: {self.found}/{self.with_decisions} items with decisions found "
            f"({self.recall:.1%}); {len(self.false_bullets)} false bullets from "
            f"{self.without_decisions} items without decisions; "
            f"{len(self.fragments)} fragment bullets; {len(self.unfolded)} unfolded lists"
        )


def score(items: list[dict[str, Any]]) -> Score:
    result = Score()
    for item in items:
        label = f"{item['council']}: {item['title']}"
        bullets = extract_resolutions(item["minutes"])
        result.fragments += [f"{label}: {b!r}" for b in bullets if is_fragment(b)]
        if not item["decisions"]:
            result.without_decisions += 1
            result.false_bullets += [f"{label}: {b!r}" for b in bullets]
            continue
        result.with_decisions += 1
        text = " ".join(bullets).lower()
        missing = [d["match"] for d in item["decisions"] if d["match"].lower() not in text]
        if missing:
            result.misses.append(f"{label}: missing {missing} in {bullets!r}")
        else:
            result.found += 1
        if "max_bullets" in item and len(bullets) > item["max_bullets"]:
            result.unfolded.append(f"{label}: {bullets!r}")
    return result


def test_corpus_is_big_and_varied_enough() -> None:
    items = json.loads(CORPUS.read_text(encoding="utf-8"))["items"]
    assert len(items) >= 60
    assert len({i["council"] for i in items}) >= 25
    assert sum(1 for i in items if not i["decisions"]) >= 20
    assert all(i["url"].startswith("http") for i in items)


def test_extractor_score_on_real_minutes() -> None:
    items = json.loads(CORPUS.read_text(encoding="utf-8"))["items"]
    result = score(items)
    # Items gathered after the extractor was tuned: how it does on text it never saw.
    held_out = score([i for i in items if i.get("held_out")])
    print("\n" + result.line())
    print("held out only: " + held_out.line())
    for problem in result.misses + result.false_bullets + result.fragments + result.unfolded:
        print("  " + problem)
    assert result.recall >= 0.9, result.misses
    assert result.false_bullets == []
    assert result.fragments == []
    assert result.unfolded == []


def test_the_scorer_catches_bad_output() -> None:
    """A scorer that passes everything is no measure: feed it an item whose labelled
    decision is absent and one without decisions whose text does yield a bullet."""
    bad = score(
        [
            {
                "council": "x",
                "title": "a",
                "minutes": "Apologies were received.",
                "decisions": [{"decision": "d", "match": "approved"}],
            },
            {
                "council": "x",
                "title": "b",
                "minutes": "RESOLVED – That the report be noted.",
                "decisions": [],
            },
        ]
    )
    assert bad.recall == 0.0
    assert len(bad.false_bullets) == 1
    assert is_fragment("THAT.") and is_fragment("That,") and is_fragment("- the minutes")
    assert not is_fragment("The report be noted.")
