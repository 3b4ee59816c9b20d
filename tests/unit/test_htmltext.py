"""Council HTML to clean plain text."""

from __future__ import annotations

import threading
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from digest.htmltext import clean_inline, html_parser, html_to_text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "moderngov"


def test_real_manchester_agenda_and_minutes() -> None:
    root = SafeET.parse(FIXTURES / "getmeeting_manchester_with_minutes_trimmed.xml").getroot()
    items = root.findall("agendaitems/agendaitem")
    assert html_to_text(items[0].findtext("agendatext")) == (
        "To approve as a correct record the minutes of the meeting held on 25 November 2025."
    )
    assert html_to_text(items[1].findtext("minutesnonemptyhtmlbody")) == (
        "The Committee considered a report of the Governance and Scrutiny Support Unit which "
        "set out its future Work Programme for the remainder of 2025/26 municipal year."
    )


@pytest.mark.parametrize("empty", [None, "", "   \n  ", "<div>\n</div>", "<p>&nbsp;</p>"])
def test_empty(empty: str | None) -> None:
    assert html_to_text(empty) == ""


def test_paragraphs_lists_and_breaks() -> None:
    text = html_to_text(
        "<p>First&nbsp;para\n  continues.</p><p>Second<br>line two</p>"
        "<ol><li>one</li><li>two<ul><li>inner</li></ul></li></ol>"
        '<ol start="5"><li>five</li></ol><ul><li>bullet</li></ul>'
    )
    assert text.split("\n\n") == [
        "First para continues.",
        "Second\nline two",
        "1. one",
        "2. two",
        "- inner",
        "5. five",
        "- bullet",
    ]


def test_word_html_artefacts_are_removed() -> None:
    word = (
        '<div class="WordSection1"><p class="MsoListParagraph" style="mso-list:l0 level1 lfo1">'
        '<![if !supportLists]><span style="mso-list:Ignore">(a)<span>&nbsp;&nbsp; </span></span>'
        "<![endif]><b>RESOLVED</b> – to note the report.<o:p></o:p></p>"
        "<style>p {color:red}</style><script>alert(1)</script><!-- comment --></div>"
    )
    assert html_to_text(word) == "(a) RESOLVED – to note the report."


def test_minutes_laid_out_in_a_table() -> None:
    table = (
        "<table><tr><td>5.</td><td>Budget 2026/27</td></tr>"
        "<tr><td>6.</td><td><p>The Committee considered the report.</p><p>RESOLVED that the"
        " budget be approved.</p></td></tr></table>"
    )
    assert html_to_text(table).split("\n\n") == [
        "5. Budget 2026/27",
        "6. The Committee considered the report.",
        "RESOLVED that the budget be approved.",
    ]


def test_double_escaped_markup_and_entities() -> None:
    assert html_to_text("&lt;p&gt;Budget &amp;amp; Council Tax&lt;/p&gt;") == "Budget & Council Tax"
    assert html_to_text("<p>Chair&amp;#39;s Communications</p>") == "Chair's Communications"
    assert clean_inline("Chair&amp;#39;s  Communications ") == "Chair's Communications"
    assert clean_inline("Labour &amp;amp; Co-operative") == "Labour & Co-operative"
    assert clean_inline("\n   ") == ""


def test_broken_markup_still_gives_text() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>and italic") == "unclosed bold and italic"


def test_each_thread_parses_with_its_own_parser() -> None:
    # lxml serialises threads that share a parser (the collector's host threads did).
    mine = html_parser()
    assert html_parser() is mine
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(html_parser()))
    thread.start()
    thread.join()
    assert seen and seen[0] is not mine
