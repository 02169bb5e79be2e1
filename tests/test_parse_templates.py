"""crawler.parse on pages served by other engines and templates (tests/html/*-*.html),
and the template-independent rules (article, date, identifiers) on small HTML strings.

The saved pages come from tests/html/save_template_pages.py; expected values come from
the corpus sources (tests/corpus_expect.py) and the samples served by Debian's engine with
the default template, never from the parser's own output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_expect import CORPUS_DIR, expected_by_id, inline_text

from crawler.page import (
    LAYOUT_PARAGRAPHS,
    LAYOUT_RENDERER,
    LAYOUT_UNKNOWN,
    LAYOUT_WIKIPAGE,
    content_sha256,
)
from crawler.parse import parse_page

HTML_DIR = Path(__file__).parent / "html"
BED = "http://127.0.0.1:37453/wiki/"  # see tests/html/README.md
SITE = "https://neurosurgerywiki.com/wiki/"
TRIALS = "vascular:subarachnoid_hemorrhage_trials"
REFERENCE = "igor-dokuwiki-sah_trials.html"
VARIANTS = sorted(p.name for p in HTML_DIR.glob("*-sah_trials.html"))
# Words of the templates' own menus and panels, which are never article text.
CHROME = ("Share via", "Permalink", "Twitter", "meta data for this page", "Table of Contents",
          "Show pagesource", "Old revisions", "Last modified", "Recent Changes")


def parse(name: str, **options: str):
    page_id = TRIALS if "sah_trials" in name else "x"
    return parse_page(BED + f"doku.php?id={page_id}", (HTML_DIR / name).read_bytes(), site=BED,
                      **options)


def test_samples_cover_both_engines_and_three_templates():
    assert len(VARIANTS) == 6 and REFERENCE in VARIANTS


@pytest.mark.parametrize("name", VARIANTS)
def test_same_page_under_every_engine_and_template(name):
    page, reference = parse(name), parse(REFERENCE)
    assert page.layout == LAYOUT_RENDERER
    for word in CHROME:
        assert word not in page.body_text, word
    assert (page.page_id, page.title, page.body_text) == (
        reference.page_id, reference.title, reference.body_text
    )
    assert page.footnotes == reference.footnotes
    assert page.links == reference.links
    assert (page.last_modified, page.last_modified_raw) == (
        reference.last_modified, reference.last_modified_raw
    )
    assert content_sha256(page) == content_sha256(reference)


@pytest.mark.parametrize("name", VARIANTS)
def test_page_says_what_its_source_says(name):
    page, want = parse(name), expected_by_id()[TRIALS]
    assert page.exists and page.title == want.title
    assert page.last_modified == want.last_modified
    stated = name.startswith("mort-") and "bootstrap3" not in name  # <time datetime>
    assert page.last_modified_utc == (want.last_modified + "+00:00" if stated else None)
    have = [(list(f.numbers), f.text, f.pmid, f.pmcid, f.doi, list(f.urls))
            for f in page.footnotes]
    assert have == [(f.numbers, f.text, f.pmid, f.pmcid, f.doi, f.urls) for f in want.footnotes]
    links = {(link.kind, link.target) for link in page.links if "page" in link.kind}
    assert links == {("page", t) for t in want.links_existing} | {
        ("missing_page", t) for t in want.links_missing
    }


def test_lancet_dois_cut_by_the_autolinker_come_whole_from_the_text():
    notes = parse("mort-bootstrap3-sah_trials.html").footnotes
    assert notes[0].urls == ("https://doi.org/10.1016/S0140-6736",)  # what DokuWiki linked
    assert notes[0].doi == "10.1016/S0140-6736(02)11314-6"  # what the reader sees
    assert notes[2].doi == "10.1016/S0140-6736(19)32233-0"  # the label, not the cut href
    assert notes[3].doi == "10.1016/S1474-4422(18)30415-0"  # "(https://…0)." in brackets
    assert notes[4].pmid == "17258671"  # from the href of a link labelled "PubMed"
    assert notes[5].pmcid == "PMC1835889"  # from the href of "free full text"


def test_page_without_headings_under_sprintdoc():
    page = parse("igor-sprintdoc-chiari.html")
    source = (CORPUS_DIR / "pediatric" / "chiari_malformation.txt").read_text(encoding="utf-8")
    paragraphs = [inline_text(part) for part in source.strip().split("\n\n")]
    assert page.layout == LAYOUT_PARAGRAPHS
    assert page.body_text == "\n\n".join(paragraphs)
    assert page.last_modified == expected_by_id()["pediatric:chiari_malformation"].last_modified


def test_exact_time_wins_over_an_ambiguous_us_date():
    mort = parse("mort-dokuwiki-magnesium_us.html")
    assert (mort.last_modified, mort.last_modified_raw, mort.last_modified_utc) == (
        "2024-06-07T03:00:00", "06/07/2024 03:00", "2024-06-07T03:00:00+00:00"
    )
    igor = parse("igor-dokuwiki-magnesium_us.html")
    assert (igor.last_modified, igor.last_modified_raw) == (None, "06/07/2024 03:00")
    told = parse("igor-dokuwiki-magnesium_us.html", date_format="%m/%d/%Y %H:%M")
    assert told.last_modified == "2024-06-07T03:00:00"


# ------------------------------------------------------------------- hand-written edge cases


def doc(content: str, *, outside: str = "", head: str = "") -> str:
    """A page of some template: the article in *content*, more chrome in *outside*."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'/>"
        f"<link rel='canonical' href='{SITE}doku.php?id=x'/>{head}</head><body>"
        f"<nav><ul><li><a href='/wiki/doku.php?id=x&amp;do=edit'>Edit</a></li></ul></nav>"
        f"<div id='dokuwiki__content'>{content}</div>{outside}</body></html>"
    )


SECTION = "<h1 id='t'>T</h1><div class='level1'><p>Body.</p></div>"


def test_date_in_a_page_footer_time_element_with_an_offset():
    footer = ("<p class='page-footer'>x.txt · Last modified: "
              "<time datetime='2024-06-07T03:00:00+0200'>7 June 2024</time></p>")
    page = parse_page(SITE + "doku.php?id=x", doc(SECTION, outside=footer), site=SITE)
    assert (page.last_modified, page.last_modified_raw, page.last_modified_utc) == (
        "2024-06-07T03:00:00", "7 June 2024", "2024-06-07T01:00:00+00:00"
    )


def test_date_in_a_footer_without_page_info_markup():
    footer = "<footer><time datetime='2021-02-03T04:05:06Z'>last week</time></footer>"
    page = parse_page(SITE + "doku.php?id=x", doc(SECTION, outside=footer), site=SITE)
    assert (page.last_modified, page.last_modified_utc) == (
        "2021-02-03T04:05:06", "2021-02-03T04:05:06+00:00"
    )


def test_a_time_inside_the_article_is_not_the_page_date():
    body = SECTION.replace("Body.", "Seen <time datetime='1999-01-01T00:00:00Z'>then</time>.")
    page = parse_page(SITE + "doku.php?id=x", doc(body), site=SITE)
    assert (page.last_modified, page.last_modified_raw) == (None, None)
    assert page.body_text == "T\n\nSeen then."


def test_human_date_with_the_date_in_a_title():
    # bootstrap3 with pageInfoDateFormat=human: "3 weeks ago", the dformat in a title.
    info = ("<span class='docInfo'><ul><li>x.txt</li><li>Last modified: "
            "<span title='2024/06/07 03:00'>3 weeks ago</span></li></ul></span>")
    page = parse_page(SITE + "doku.php?id=x", doc(SECTION, outside=info), site=SITE)
    assert (page.last_modified, page.last_modified_raw) == ("2024-06-07T03:00:00",
                                                            "2024/06/07 03:00")


def test_sidebar_and_template_headings_stay_out():
    sidebar = ("<aside id='dokuwiki__aside'><h2 id='menu'>Menu</h2><div class='level2'>"
               "<p>A</p></div><h2 id='more'>More</h2><div class='level2'><p>B</p></div></aside>")
    content = f"<div class='wrap'><h1 class='title'>Site name</h1>{SECTION}</div>"
    page = parse_page(SITE + "doku.php?id=x", doc(content, outside=sidebar), site=SITE)
    assert (page.title, page.body_text, page.layout) == ("T", "T\n\nBody.", LAYOUT_RENDERER)


def test_sections_of_an_included_page_are_not_the_page():
    included = "".join(f"<h2 id='i{n}'>I{n}</h2><div class='level2'><p>i</p></div>"
                       for n in range(3))
    content = f"<h1 id='t'>T</h1><div class='level1'><p>Body.</p>{included}</div>"
    page = parse_page(SITE + "doku.php?id=x", doc(content), site=SITE)
    assert page.title == "T" and page.body_text.startswith("T\n\nBody.\n\nI0")


def test_text_above_the_first_heading_is_kept_and_chrome_before_it_is_not():
    content = ("<div class='msg-area'>Saved.</div><p>Intro.</p><ul><li>item</li></ul>"
               f"{SECTION}<div class='footnotes'></div><div class='clearer'>after</div>")
    page = parse_page(SITE + "doku.php?id=x", doc(content), site=SITE)
    assert page.body_text == "Intro.\n\nitem\n\nT\n\nBody."


def test_how_the_article_was_found():
    def layout(content: str) -> str | None:
        return parse_page(SITE + "doku.php?id=x", doc(content), site=SITE).layout

    assert layout(SECTION) == LAYOUT_RENDERER
    assert layout("<p>Only a paragraph.</p>") == LAYOUT_PARAGRAPHS
    assert layout("<!-- wikipage start --><ul><li>a</li></ul><!-- wikipage stop -->") == (
        LAYOUT_WIKIPAGE
    )
    assert layout("<ul><li>a list, nothing else</li></ul>") == LAYOUT_UNKNOWN


def footnote(content: str) -> object:
    body = (f"{SECTION}<div class='footnotes'><div class='fn'><sup><a href='#fnt__1' "
            f"class='fn_bot'>1)</a></sup> <div class='content'>{content}</div></div></div>")
    (note,) = parse_page(SITE + "doku.php?id=x", doc(body), site=SITE).footnotes
    return note


def link(href: str, text: str | None = None) -> str:
    return f"<a href='{href}' class='urlextern'>{href if text is None else text}</a>"


@pytest.mark.parametrize(
    ("content", "doi"),
    [
        # DokuWiki's autolinker stops at "(": the text continues the link
        (link("https://doi.org/10.1016/S0140-6736") + "(20)32518-6.",
         "10.1016/S0140-6736(20)32518-6"),
        ("(" + link("https://doi.org/10.1016/S0140-6736") + "(20)32518-6).",
         "10.1016/S0140-6736(20)32518-6"),
        (link("https://doi.org/10.1016/S0140-6736(20)32518-6", "Lancet"),
         "10.1016/S0140-6736(20)32518-6"),
        (link("https://doi.org/10.1016/S0140-6736", "10.1016/S0140-6736(20)32518-6"),
         "10.1016/S0140-6736(20)32518-6"),
        (link("https://doi.org/10.1002/%28SICI%291097-0142%2819960101%2977%3A1%3C9%3A%3AAID-CNCR3%3E3.0.CO%3B2-1"),
         "10.1002/(SICI)1097-0142(19960101)77:1<9::AID-CNCR3>3.0.CO;2-1"),
        ("doi: 10.1002/(SICI)1097-0142(19960101)77:1<9::AID-CNCR3>3.0.CO;2-1.",
         "10.1002/(SICI)1097-0142(19960101)77:1<9::AID-CNCR3>3.0.CO;2-1"),
        ("<10.1000/abc>", "10.1000/abc"),
    ],
)
def test_doi_as_the_reader_sees_it(content, doi):
    assert footnote(content).doi == doi


def test_pmid_and_pmcid_as_the_reader_sees_them():
    note = footnote("Read at https://pubmed.ncbi.nlm.nih.gov/111/ then PMID: 222. "
                    + link("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC333/", "free text"))
    assert (note.pmid, note.pmcid) == ("111", "PMC333")
    note = footnote("PMID: 444. " + link("https://pubmed.ncbi.nlm.nih.gov/555/", "PubMed"))
    assert note.pmid == "444"  # the text has one: the href is not read
    note = footnote(link("https://pubmed.ncbi.nlm.nih.gov/666/", "PubMed") + " PMID: 777.")
    assert note.pmid == "666"  # the labelled link comes first
