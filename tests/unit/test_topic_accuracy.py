"""The topic tagger scored against real agenda item titles from many councils, labelled
by hand (tests/fixtures/topics/labelled_items.tsv; see SOURCES.md there)."""

from __future__ import annotations

import csv
from pathlib import Path

from digest.topics import taxonomy

LABELLED = Path(__file__).parent.parent / "fixtures" / "topics" / "labelled_items.tsv"


def _rows() -> list[dict[str, str]]:
    with LABELLED.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_labelled_set_is_large_and_varied() -> None:
    rows = _rows()
    slugs = set(taxonomy().slugs)
    assert len(rows) >= 300
    assert len({r["council"] for r in rows}) >= 20
    for r in rows:
        assert set(filter(None, r["topics"].split(","))) <= slugs, r["title"]


def test_tagger_precision_and_recall() -> None:
    tax = taxonomy()
    right = wrong = missed = 0
    for r in _rows():
        gold = set(filter(None, r["topics"].split(",")))
        got = set(tax.tag(r["title"]))
        right += len(gold & got)
        wrong += len(got - gold)
        missed += len(gold - got)
    precision = right / (right + wrong)
    recall = right / (right + missed)
    print(
        f"\ntopic tagger on {len(_rows())} labelled titles: "
        f"precision {precision:.3f}, recall {recall:.3f} "
        f"({right} right, {wrong} wrong, {missed} missed)"
    )
    assert precision >= 0.90
    assert recall >= 0.80
