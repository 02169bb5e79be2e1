"""crawler.parse on small HTML strings and on pages served by a real DokuWiki (tests/html)."""

from pathlib import Path

import pytest

from crawler import parse
from crawler.page import Footnote, Link
from crawler.parse import is_dokuwiki, parse_index, parse_page

HTML_DIR = Path(__file__).parent / "html"
# The samples were served by tests/wikibed.py on this address (see tests/html/README.md).
BED = "http://127.0.0.1:37453/wiki/"
SITE = "https://neurosurgerywiki.com/wiki/"


def sample(name: str) -> bytes:
    return (HTML_DIR / name).read_bytes()


def page_html(body: str, *, head: str = "", docinfo: str = "") -> str:
    """A minimal page in the shape of DokuWiki's default template."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'/>"
        f"<meta name='generator' content='DokuWiki'/>{head}</head><body>"
        "<main id='dokuwiki__content'><div class='pad group'><div class='page group'>"
        f"<!-- wikipage start -->{body}<!-- wikipage stop --></div>"
        f"<div class='docInfo'>{docinfo}</div></div></main>"
        "<nav id='dokuwiki__pagetools'><a href='/wiki/doku.php?id=x&amp;do=edit'>Edit</a></nav>"
        "</body></html>"
    )


def canonical(page_id: str) -> str:
    return f"<link rel='canonical' href='{SITE}doku.php?id={page_id}'/>"


# ------------------------------------------------------------------- the notes' magnesium page


def test_magnesium_from_the_notes():
    site = "http://127.0.0.1:8802/wiki/"
    page = parse_page(site + "doku.php?id=magnesium", sample("magnesium_notes.html"), site=site)
    assert page.page_id == "magnesium"
    assert page.url == site + "doku.php?id=magnesium"
    assert page.title == "Magnesium"
    assert page.namespace == ""
    assert page.exists is True
    assert page.last_modified == "2024-06-07T03:00:00"
    assert page.last_modified_raw == "2024/06/07 03:00"
    assert page.body_text.startswith("Magnesium\n\nsee also Magnesium sulfate.\n\n")
    assert "traumatic brain injury." in page.body_text  # the "1)" marker is gone
    assert "1)" not in page.body_text and "Meloni" not in page.body_text
    assert [f.number for f in page.footnotes] == [1, 2]
    first, second = page.footnotes
    assert first.pmid == "29920002"
    assert first.urls == ("http://www.ncbi.nlm.nih.gov/books/NBK507255/",)
    assert first.text.startswith("Meloni BP, Campbell K, Knuckey NW.")
    assert second.doi == "10.1186/s12957-018-1447-x"
    assert second.pmid == "30001198"
    assert page.links == (
        Link("magnesium_sulfate", "page", "Magnesium sulfate"),
        Link("cation", "missing_page", "cation"),
        Link("traumatic_brain_injury", "page", "traumatic brain injury"),
        Link(
            "http://www.ncbi.nlm.nih.gov/books/NBK507255/",
            "external",
            "http://www.ncbi.nlm.nih.gov/books/NBK507255/",
        ),
    )


# ------------------------------------------------------------------- pages served by DokuWiki


def test_served_page_with_toc_table_code_media_and_footnotes():
    page = parse_page(BED + "doku.php?id=vascular:aneurysm", sample("aneurysm.html"), site=BED)
    assert (page.page_id, page.namespace, page.title) == (
        "vascular:aneurysm",
        "vascular",
        "Intracranial aneurysm",
    )
    assert page.last_modified == "2023-05-01T12:30:00"
    body = page.body_text
    assert "Table of Contents" not in body  # TOC
    assert "Edit" not in body and "Last modified" not in body  # page tools, docInfo
    assert "Smith J." not in body  # footnote block
    assert "Epidemiology\n\nfirst item\nnested item\nsecond item with a DOI link\n\n" in body
    assert "Grade | Description\nI | small\nII | large 2×3" in body
    assert "def f(x):\n    return  x  * 2" in body  # pre kept as served
    assert "plain   code" in body
    assert "scan.py" not in body  # code block download label
    assert body.endswith("Treatment\n\nText with a footnote and end.")


def test_served_page_merged_footnotes_and_identifiers():
    page = parse_page(BED + "doku.php?id=vascular:aneurysm", sample("aneurysm.html"), site=BED)
    merged, doi_note, table_note, paren_note = page.footnotes
    assert merged == Footnote(1, (1, 2), "Smith J. Same text. PMID: 12345678.", "12345678",
                              None, None, ())
    # DokuWiki typography serves 123x456 as 123×456; the DOI is given back as written
    assert doi_note.text == "Jones K. doi:10.1000/123×456. PMCID: PMC1234567."
    assert (doi_note.doi, doi_note.pmcid) == ("10.1000/123x456", "PMC1234567")
    assert table_note.number == 4  # footnote inside a table cell
    assert table_note.pmid == "999999"  # from the pubmed URL
    assert table_note.urls == ("https://pubmed.ncbi.nlm.nih.gov/999999/",)
    assert paren_note.doi == "10.3171/2020.1.JNS(20)123"  # balanced parentheses kept


def test_served_page_links_resolved_relative_to_namespace():
    page = parse_page(BED + "doku.php?id=vascular:aneurysm", sample("aneurysm.html"), site=BED)
    assert page.links == (
        Link("vascular:other_page", "page", "other page"),  # [[other page]] in vascular:
        Link("magnesium", "page", "Magnesium"),  # [[:magnesium]]
        Link("start", "page", "home"),  # [[..:start]]
        Link("vascular:hydrocephalus", "missing_page", "hydrocephalus"),
        Link("vascular:magnesium", "missing_page", "dosage"),  # #dosage stripped
        Link("https://en.wikipedia.org/wiki/Brain", "external", "Brain"),  # interwiki
        Link("https://example.org/path?a=1&b=2", "external", "Example"),
        Link("mailto:mail@example.org", "external", "mail@example.org"),
        Link("https://doi.org/10.1000/123x456", "external", "a DOI link"),
        Link("imaging:ct_scan.png", "media", "CT scan"),
        Link("imaging:missing.png", "media", "no file"),
        Link("https://pubmed.ncbi.nlm.nih.gov/999999/", "external",
             "https://pubmed.ncbi.nlm.nih.gov/999999/"),
    )


def test_served_old_revision():
    url = BED + "doku.php?id=magnesium&rev=1552558920"
    page = parse_page(url, sample("magnesium_old.html"), site=BED)
    assert page.page_id == "magnesium"  # no canonical link: from JSINFO
    assert page.url == BED + "doku.php?id=magnesium"
    assert page.exists is True
    assert page.last_modified == "2019-03-14T10:22:00"
    assert page.body_text == "Magnesium\n\nOld text about magnesium"  # notice dropped
    assert page.footnotes[0].pmid == "111"


@pytest.mark.parametrize(("name", "page_id"), [("missing.html", "hydrocephalus"),
                                               ("gone.html", "gone")])
def test_served_missing_and_removed_pages_do_not_exist(name, page_id):
    page = parse_page(BED + f"doku.php?id={page_id}", sample(name), site=BED)
    assert page.page_id == page_id
    assert page.exists is False
    assert page.last_modified is None and page.last_modified_raw is None


def test_served_start_page_canonical_is_the_site_root():
    page = parse_page(BED, sample("start.html"), site=BED)
    assert (page.page_id, page.title, page.exists) == ("start", "Welcome", True)
    assert page.links == (
        Link("magnesium", "page", "magnesium"),
        Link("vascular:aneurysm", "page", "aneurysm"),
    )


def test_served_index():
    pages, namespaces = parse_index(sample("index_vascular.html"), site=BED)
    assert pages == [
        "vascular:aneurysm", "vascular:other_page", "magnesium", "start", "traumatic_brain_injury"
    ]
    assert namespaces == ["vascular"]


def test_served_pages_are_dokuwiki():
    assert is_dokuwiki(sample("aneurysm.html"))
    assert is_dokuwiki(sample("aneurysm.html").decode("utf-8"))
    assert not is_dokuwiki(b"<html><body><h1>Welcome to nginx!</h1></body></html>")
    assert not is_dokuwiki("")


# ------------------------------------------------------------------- edge cases


def test_page_id_from_canonical_link_beats_the_url():
    html = page_html("<h1>Mg</h1>", head=canonical("magnesium"))
    page = parse_page(SITE + "doku.php?id=MAGNESIUM", html, site=SITE)
    assert page.page_id == "magnesium"
    assert page.url == SITE + "doku.php?id=magnesium"


def test_canonical_on_another_scheme_still_gives_the_id():
    head = "<link rel='canonical' href='http://neurosurgerywiki.com/wiki/doku.php?id=spine:x'/>"
    page = parse_page(SITE + "doku.php?id=whatever", page_html("<p>x</p>", head=head), site=SITE)
    assert page.page_id == "spine:x" and page.namespace == "spine"


def test_without_canonical_the_id_comes_from_the_url_and_is_cleaned():
    page = parse_page(SITE + "doku.php?id=Magnesium%20Sulfate", page_html("<p>x</p>"), site=SITE)
    assert page.page_id == "magnesium_sulfate"
    assert page.title == "magnesium_sulfate"  # no heading at all


def test_title_falls_back_to_first_heading_outside_toc():
    body = (
        "<div id='dw__toc' class='dw__toc'><h3 class='toggle'>Table of Contents</h3>"
        "<div><ul class='toc'><li><div class='li'><a href='#sub'>Sub</a></div></li></ul></div>"
        "</div><h2 id='sub'>Sub heading</h2><p>text</p>"
    )
    page = parse_page(SITE + "doku.php?id=x", page_html(body, head=canonical("x")), site=SITE)
    assert page.title == "Sub heading"
    assert page.body_text == "Sub heading\n\ntext"
    assert page.links == ()  # TOC anchors are in-page


def test_other_template_without_wikipage_comments():
    html = (
        "<html><head><link rel='canonical' href='" + SITE + "doku.php?id=x'/></head><body>"
        "<header><h1>Site name</h1></header>"
        "<div id='dokuwiki__content'><div class='page'><h1 id='real_title'>Real title</h1>"
        "<div class='secedit'><form><button>Edit</button></form></div><p>Body.</p></div>"
        "<div class='docInfo small'>x.txt · Last modified: 2024/06/07 03:00</div></div>"
        "<footer>Footer text</footer></body></html>"
    )
    page = parse_page(SITE + "doku.php?id=x", html, site=SITE)
    assert page.title == "Real title"
    assert page.body_text == "Real title\n\nBody."
    assert page.last_modified == "2024-06-07T03:00:00"


def test_missing_page_by_robots_whatever_the_language():
    html = page_html(
        "<h1>Dieses Thema existiert noch nicht</h1><p>Text.</p>",
        head="<meta name='robots' content='noindex,follow'/>",
    )
    page = parse_page(SITE + "doku.php?id=neu", html, site=SITE)
    assert page.exists is False
    assert page.page_id == "neu"


def test_canonical_link_and_robots_pushed_out_of_the_head_still_count():
    # Text in the head (a template's stray output) ends it for the HTML parser: what
    # follows lands in the body, where it is still the page's canonical link and robots.
    stray = "stray template output"
    found = page_html("<h1>Mg</h1>", head=stray + canonical("magnesium"))
    page = parse_page(SITE + "doku.php?id=other", found, site=SITE)
    assert (page.page_id, page.exists) == ("magnesium", True)
    robots = "<meta name='robots' content='noindex,follow'/>"
    missing = page_html("<h1>Neu</h1>", head=stray + robots)
    page = parse_page(SITE + "doku.php?id=neu", missing, site=SITE)
    assert (page.page_id, page.exists) == ("neu", False)


def test_the_heads_canonical_link_wins_over_one_in_the_body():
    html = page_html(canonical("elsewhere") + "<h1>Mg</h1>", head=canonical("magnesium"))
    assert parse_page(SITE + "doku.php?id=x", html, site=SITE).page_id == "magnesium"


def test_recently_edited_page_exists_despite_noindex():
    # DokuWiki sends noindex,nofollow for pages edited less than indexdelay ago.
    html = page_html(
        "<h1>Fresh</h1>",
        head="<meta name='robots' content='noindex,nofollow'/>" + canonical("fresh"),
        docinfo="fresh.txt · Last modified: 2024/06/07 03:00 by editor",
    )
    assert parse_page(SITE + "doku.php?id=fresh", html, site=SITE).exists is True


def test_missing_parts_give_empty_values():
    page = parse_page(SITE + "doku.php?id=empty", "<html><body></body></html>", site=SITE)
    assert page.page_id == "empty"
    assert (page.title, page.body_text, page.footnotes, page.links) == ("empty", "", (), ())
    assert (page.last_modified, page.last_modified_raw, page.exists) == (None, None, False)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00\x01\x02\xff\xfe\x00garbage\x00",
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
)
def test_binary_garbage_does_not_crash(garbage):
    page = parse_page(SITE + "doku.php?id=blob", garbage, site=SITE)
    assert page.page_id == "blob"
    assert page.exists is False
    assert page.footnotes == ()


def test_beautifulsoup_fallback_when_lxml_gives_up(monkeypatch):
    def refuse(text):
        raise ValueError("lxml cannot build a tree")

    monkeypatch.setattr(parse, "_lxml_tree", refuse)
    html = page_html("<h1>Fallback</h1><p>still parsed</p>", head=canonical("fb"))
    page = parse_page(SITE + "doku.php?id=fb", html, site=SITE)
    assert (page.page_id, page.title) == ("fb", "Fallback")
    assert page.body_text == "Fallback\n\nstill parsed"


def test_non_utf8_charset_from_meta():
    html = (
        "<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"
        f"{canonical('uber')}</head><body><div class='page'><h1 id='uber'>Über Mörser</h1>"
        "<p>Straße – naïve</p></div></body></html>"
    ).replace("–", "-")
    page = parse_page(SITE + "doku.php?id=uber", html.encode("iso-8859-1"), site=SITE)
    assert page.title == "Über Mörser"
    assert page.body_text == "Über Mörser\n\nStraße - naïve"


def test_bytes_default_to_utf8_without_meta():
    html = "<html><body><div class='page'><h1>α-Page Ñ</h1></div></body></html>".encode()
    page = parse_page(SITE + "doku.php?id=α-page", html, site=SITE)
    assert page.title == "α-Page Ñ"
    assert page.url == SITE + "doku.php?id=%CE%B1-page"


def test_old_revision_notice_only_dropped_on_old_revisions():
    body = "<p><strong>Important!</strong></p><hr/><h1>T</h1><p>x</p>"
    current = parse_page(SITE + "doku.php?id=t", page_html(body, head=canonical("t")), site=SITE)
    assert current.body_text.startswith("Important!")
    old = parse_page(SITE + "doku.php?id=t&rev=1552558920", page_html(body), site=SITE)
    assert old.body_text == "T\n\nx"


PMC_URL = "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7654321/"


def test_footnote_identifiers_from_hrefs_and_text():
    body = (
        "<p>x<sup><a href='#fn__1' id='fnt__1' class='fn_top'>1)</a></sup></p>"
        "<div class='footnotes'><div class='fn'><sup><a href='#fnt__1' id='fn__1' "
        "class='fn_bot'>1)</a></sup> <div class='content'>A. "
        "<a href='https://doi.org/10.1002/%28SICI%291097-0142%2819960101%2977:1%3C9::AID%3E3.0.CO;2-1'"
        " class='urlextern'>doi</a> and 10.9999/ignored.123×4; "
        f"<a href='{PMC_URL}' class='urlextern'>pmc</a> "
        f"<a href='{PMC_URL}' class='urlextern'>again</a>"
        " <a href='https://www.ncbi.nlm.nih.gov/pubmed/3141592' class='urlextern'>pm</a>"
        "</div></div></div>"
    )
    page = parse_page(SITE + "doku.php?id=x", page_html(body, head=canonical("x")), site=SITE)
    (note,) = page.footnotes
    assert note.doi == "10.1002/(SICI)1097-0142(19960101)77:1<9::AID>3.0.CO;2-1"
    assert note.pmcid == "PMC7654321"
    assert note.pmid == "3141592"
    assert note.urls == (  # deduplicated, in order
        "https://doi.org/10.1002/%28SICI%291097-0142%2819960101%2977:1%3C9::AID%3E3.0.CO;2-1",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7654321/",
        "https://www.ncbi.nlm.nih.gov/pubmed/3141592",
    )
    assert page.body_text == "x"


@pytest.mark.parametrize(
    ("text", "doi"),
    [
        ("doi: 10.1000/123×456.", "10.1000/123x456"),
        ("(doi:10.1000/abc)", "10.1000/abc"),
        ("doi:10.1000/a(b)c;", "10.1000/a(b)c"),
        ("see 10.1186/s12957-018-1447-x, PMID 1", "10.1186/s12957-018-1447-x"),
        ("no identifier 110.1000/x", None),
    ],
)
def test_doi_in_footnote_text(text, doi):
    body = (
        "<div class='footnotes'><div class='fn'><sup><a href='#fnt__3' class='fn_bot'>3)</a>"
        f"</sup><div class='content'>{text}</div></div></div>"
    )
    page = parse_page(SITE + "doku.php?id=x", page_html(body, head=canonical("x")), site=SITE)
    assert page.footnotes[0].doi == doi


def test_pmid_variants():
    body = "".join(
        f"<div class='fn'><sup><a href='#fnt__{n}' class='fn_bot'>{n})</a></sup>"
        f"<div class='content'>{text}</div></div>"
        for n, text in enumerate(["PMID: 123", "PMID 456.", "pubmed pmid:789", "XPMID 1"], 1)
    )
    html = page_html(f"<div class='footnotes'>{body}</div>", head=canonical("x"))
    page = parse_page(SITE + "doku.php?id=x", html, site=SITE)
    assert [f.pmid for f in page.footnotes] == ["123", "456", "789", None]
    assert [f.number for f in page.footnotes] == [1, 2, 3, 4]


def test_links_without_data_wiki_id_and_media_forms():
    body = (
        "<p><a href='/wiki/doku.php?id=Spine:Disc#x' class='wikilink1'>disc</a>"
        "<a href='/wiki/doku.php?id=new' class='wikilink2'>new</a>"
        "<a href='/wiki/doku.php?id=ns:x&amp;do=edit'>edit link</a>"
        "<a href='/wiki/_media/imaging/ct.png' class='media mediafile'>ct.png</a>"
        "<a href='/wiki/doku.php?id=target' class='media' data-wiki-id='target'>"
        "<img src='/wiki/lib/exe/fetch.php?media=logo.png' alt='logo'/></a>"
        "<img src='/wiki/lib/exe/fetch.php?w=20&amp;media=imaging:nolink.png' alt='nolink'/>"
        "<img src='/wiki/lib/images/smileys/icon_smile.gif' class='icon'/>"
        "<a href='/wiki/doku.php?do=export_code&amp;id=x&amp;codeblock=0' "
        "class='mediafile mf_py'>x.py</a>"
        "<a href='https://other.example/page'>plain external</a>"
        "<a href='#local'>local</a></p>"
    )
    page = parse_page(SITE + "doku.php?id=x", page_html(body, head=canonical("x")), site=SITE)
    assert page.links == (
        Link("spine:disc", "page", "disc"),
        Link("new", "missing_page", "new"),
        Link("imaging:ct.png", "media", "ct.png"),
        Link("target", "page", ""),  # an image used as a link title
        Link("imaging:nolink.png", "media", "nolink"),
        Link("https://other.example/page", "external", "plain external"),
    )


def test_whitespace_is_collapsed_inside_blocks():
    body = "<h1>  A\n  title </h1><p>one\n\n   two\t three</p><ul><li>a</li><li> b </li></ul>"
    page = parse_page(SITE + "doku.php?id=x", page_html(body, head=canonical("x")), site=SITE)
    assert page.title == "A title"
    assert page.body_text == "A title\n\none two three\n\na\nb"


def test_date_format_is_passed_through():
    html = page_html("<h1>T</h1>", head=canonical("t"),
                     docinfo="t.txt · Last modified: 06/07/2024 03:00 by x")
    assert parse_page(SITE + "doku.php?id=t", html, site=SITE).last_modified is None
    dated = parse_page(SITE + "doku.php?id=t", html, site=SITE, date_format="%d/%m/%Y %H:%M")
    assert (dated.last_modified, dated.last_modified_raw) == ("2024-07-06T03:00:00",
                                                              "06/07/2024 03:00")


def test_big_served_page_parses_completely():
    url = BED + "doku.php?id=traumatic_brain_injury"
    page = parse_page(url, sample("traumatic_brain_injury.html"), site=BED)
    assert page.title and page.exists
    assert len(page.body_text) > 2000
    assert "Tier 3: barbiturate coma" in page.body_text
    assert "young adults worldwide. Severity" in page.body_text  # no space left by "1)"
    firsts = [f.number for f in page.footnotes]
    numbers = [n for f in page.footnotes for n in f.numbers]
    assert firsts == sorted(firsts) and len(numbers) == len(set(numbers))
    assert page.footnotes[2].numbers == (3, 13)  # identical texts merged by DokuWiki
    assert all(link.target for link in page.links)
