"""DokuWiki's page-id and URL rules (crawler.dokuwiki) and docInfo dates (crawler.dates)."""

import pytest

from crawler.dates import parse_wiki_date
from crawler.dokuwiki import (
    clean_id,
    is_same_site,
    namespace,
    page_id_from_url,
    page_url,
    site_root,
)

SITE = "https://neurosurgerywiki.com/wiki/"


# Every example of docs/dokuwiki.md §6, checked against DokuWiki's own cleanID().
# (The notes' "Spine:Lumbar Disc Herniation -> spine:disc_herniation" is a typo there:
# php-cli cleanID() gives spine:lumbar_disc_herniation.)
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Magnesium sulfate", "magnesium_sulfate"),
        ("Spine:Lumbar Disc Herniation", "spine:lumbar_disc_herniation"),
        ("Año", "ano"),
        ("hemorragia subaracnoidea en España", "hemorragia_subaracnoidea_en_espana"),
        ("Straße", "strasse"),
        ("Über Mörser", "ueber_moerser"),
        ("α-Page", "α-page"),
        ("Α-Page", "α-page"),  # capital alpha
        ("e.g. v1.2", "e.g._v1.2"),
        ("a..b", "a..b"),
        ("foo:.bar", "foo:bar"),
        (":start", "start"),
        ("a/b", "a_b"),
        ("spine/page", "spine_page"),
        ("Niño's test!", "nino_s_test"),
        ("C++", "c"),
        ("100% sure", "100_sure"),
        ("x__y", "x_y"),
        ("-lead-", "lead"),
        ("ns::page", "ns:page"),
        ("a;b", "a:b"),
        ("  padded\t", "padded"),
        ("ά", "ά"),  # Greek tonos is not in DokuWiki's deaccent table
        ("e\u0301te", "ete"),  # decomposed accent: NFC first, then deaccent
        ("日本語 ページ", "日本語_ページ"),
        ("“quoted” – dash", "quoted_dash"),
        ("", ""),
    ],
)
def test_clean_id_matches_dokuwiki(raw, clean):
    assert clean_id(raw) == clean


def test_clean_id_is_idempotent():
    for raw in ("Über Mörser", "ns::page", "C++", "α-Page", "-lead-"):
        assert clean_id(clean_id(raw)) == clean_id(raw)


@pytest.mark.parametrize(
    ("page_id", "ns"),
    [("magnesium", ""), ("spine:disc_herniation", "spine"), ("a:b:c", "a:b")],
)
def test_namespace(page_id, ns):
    assert namespace(page_id) == ns


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://neurosurgerywiki.com/wiki/", SITE),
        ("https://neurosurgerywiki.com/wiki", SITE),
        ("https://neurosurgerywiki.com/wiki/doku.php?id=start", SITE),
        ("https://neurosurgerywiki.com/wiki/doku.php/spine:x", SITE),
        ("HTTPS://NeurosurgeryWiki.com:443/wiki/#top", SITE),
        ("  https://neurosurgerywiki.com/wiki/  ", SITE),
        ("http://127.0.0.1:8802/wiki/", "http://127.0.0.1:8802/wiki/"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org/index.php", "http://example.org/"),
    ],
)
def test_site_root(given, root):
    assert site_root(given) == root


@pytest.mark.parametrize(
    "bad", ["ftp://example.org/wiki/", "neurosurgerywiki.com/wiki", "file:///tmp/x", "https:///x"]
)
def test_site_root_rejects_non_http_or_hostless(bad):
    with pytest.raises(ValueError) as err:
        site_root(bad)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("page_id", "url"),
    [
        ("magnesium", SITE + "doku.php?id=magnesium"),
        ("spine:disc_herniation", SITE + "doku.php?id=spine:disc_herniation"),
        ("α-page", SITE + "doku.php?id=%CE%B1-page"),
        ("e.g._v1.2", SITE + "doku.php?id=e.g._v1.2"),
        ("Magnesium Sulfate", SITE + "doku.php?id=magnesium_sulfate"),
    ],
)
def test_page_url(page_id, url):
    assert page_url(SITE, page_id) == url


@pytest.mark.parametrize(
    ("url", "page_id"),
    [
        (SITE + "doku.php?id=magnesium", "magnesium"),
        (SITE + "doku.php?id=MAGNESIUM", "magnesium"),
        (SITE + "doku.php?id=magnesium%20sulfate", "magnesium_sulfate"),
        (SITE + "doku.php?id=magnesium+sulfate", "magnesium_sulfate"),
        (SITE + "doku.php?id=:magnesium", "magnesium"),
        (SITE + "doku.php?id=magnesium.", "magnesium"),
        (SITE + "doku.php?id=%CE%B1-page", "α-page"),
        (SITE + "doku.php?id=magnesium#dosage", "magnesium"),
        (SITE + "doku.php?id=magnesium&do=show", "magnesium"),
        (SITE + "doku.php?id=magnesium&s[]=word", "magnesium"),
        (SITE + "doku.php?id=spine:disc_herniation", "spine:disc_herniation"),
        (SITE + "doku.php?id=spine/page", "spine_page"),
        (SITE + "doku.php?id=spine:", "spine:start"),
        (SITE + "spine:disc_herniation", "spine:disc_herniation"),  # userewrite=1
        (SITE + "spine/disc_herniation", "spine:disc_herniation"),  # userewrite=1 + useslash
        (SITE + "doku.php/spine:disc_herniation", "spine:disc_herniation"),  # userewrite=2
        (SITE + "doku.php/spine/disc_herniation", "spine:disc_herniation"),
        (SITE + "magnesium", "magnesium"),
        ("https://NEUROSURGERYWIKI.com:443/wiki/doku.php?id=magnesium", "magnesium"),
        ("/wiki/doku.php?id=magnesium", "magnesium"),  # relative to the site
    ],
)
def test_page_id_from_url_articles(url, page_id):
    assert page_id_from_url(url, SITE) == page_id


@pytest.mark.parametrize(
    "url",
    [
        SITE,
        SITE + "doku.php",
        SITE + "doku.php?id=",
        *(
            SITE + f"doku.php?id=magnesium&do={action}"
            for action in (
                "edit", "revisions", "diff", "backlink", "login", "register", "media",
                "recent", "index", "search", "export_raw", "export_xhtml", "sitemap",
            )
        ),
        SITE + "doku.php?do=edit&id=magnesium",
        SITE + "doku.php?id=magnesium&rev=1717729200",
        SITE + "doku.php?id=start&idx=spine",
        SITE + "doku.php?id=x&image=a.png&ns=imaging&tab_details=view",
        SITE + "doku.php?id=x&tab_files=upload",
        SITE + "doku.php?id=x&media=a.png",
        SITE + "doku.php?id=x&at=2024-01-01",
        SITE + "doku.php?id=x&sectok=abc",
        SITE + "lib/exe/fetch.php?media=imaging:ct_scan.png",
        SITE + "lib/exe/detail.php?id=x&media=imaging:ct_scan.png",
        SITE + "lib/exe/taskrunner.php?id=x",
        SITE + "lib/tpl/dokuwiki/images/logo.png",
        SITE + "feed.php",
        SITE + "_media/imaging:ct_scan.png",
        SITE + "_detail/imaging:ct_scan.png",
        SITE + "_export/raw/magnesium",
        SITE + "robots.txt",
        SITE + "magnesium?do=edit",
        "https://example.org/wiki/doku.php?id=magnesium",
        "http://neurosurgerywiki.com/wiki/doku.php?id=magnesium",  # other scheme
        "https://neurosurgerywiki.com:8443/wiki/doku.php?id=magnesium",  # other port
        "https://neurosurgerywiki.com/other/doku.php?id=magnesium",  # outside SITE
        "mailto:someone@example.org",
    ],
)
def test_page_id_from_url_non_articles(url):
    assert page_id_from_url(url, SITE) is None


def test_is_same_site():
    assert is_same_site(SITE + "doku.php?id=x", SITE)
    assert is_same_site("https://NEUROSURGERYWIKI.COM:443/wiki/lib/exe/fetch.php", SITE)
    assert not is_same_site("https://neurosurgerywiki.com/blog/", SITE)
    assert not is_same_site("http://neurosurgerywiki.com/wiki/", SITE)
    assert not is_same_site("https://example.org/wiki/", SITE)


# ------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "iso", "raw"),
    [
        ("magnesium.txt · Last modified: 2024/06/07 03:00 by 127.0.0.1",
         "2024-06-07T03:00:00", "2024/06/07 03:00"),
        ("magnesium.txt · Last modified: 2024/06/07 03:00 (external edit)",
         "2024-06-07T03:00:00", "2024/06/07 03:00"),
        ("magnesium.txt · Zuletzt geändert: 07.06.2024 03:00 von admin",
         "2024-06-07T03:00:00", "07.06.2024 03:00"),
        ("x.txt · Dernière modification : 2024-06-07 03:00:59 par x",
         "2024-06-07T03:00:59", "2024-06-07 03:00:59"),
        ("Last update: 2024/06/07 03:00", "2024-06-07T03:00:00", "2024/06/07 03:00"),
        ("x.txt · Last modified: 7 June 2024 15:30 by x", "2024-06-07T15:30:00",
         "7 June 2024 15:30"),
        ("x.txt · Last modified: June 7, 2024 by x", "2024-06-07", "June 7, 2024"),
        ("x.txt · Last modified: 2024-06-07T03:00:00+02:00 by x",  # no tz conversion
         "2024-06-07T03:00:00", "2024-06-07T03:00:00+02:00"),
        ("x.txt · Last modified: 13/06/2024 03:00 by x", "2024-06-13T03:00:00",
         "13/06/2024 03:00"),
        ("x.txt · Last modified: 06/13/2024 3:00 pm by x", "2024-06-13T15:00:00",
         "06/13/2024 3:00 pm"),
        # the file name of an old revision holds no date we want
        ("magnesium.1552558920.txt.gz · Last modified: 2019/03/14 10:22 by 127.0.0.1",
         "2019-03-14T10:22:00", "2019/03/14 10:22"),
    ],
)
def test_parse_wiki_date_without_format(text, iso, raw):
    assert parse_wiki_date(text) == (iso, raw)


def test_parse_wiki_date_never_guesses_day_or_month_first():
    assert parse_wiki_date("x.txt · Last modified: 06/07/2024 03:00 by x") == (
        None,
        "06/07/2024 03:00",
    )


def test_parse_wiki_date_with_format_resolves_order():
    text = "x.txt · Last modified: 06/07/2024 03:00 by x"
    assert parse_wiki_date(text, "%d/%m/%Y %H:%M") == ("2024-07-06T03:00:00", "06/07/2024 03:00")
    assert parse_wiki_date(text, "%m/%d/%Y %H:%M") == ("2024-06-07T03:00:00", "06/07/2024 03:00")


@pytest.mark.parametrize(
    ("text", "fmt", "iso"),
    [
        ("Zuletzt geändert: 07.06.2024 03:00 von x", "%d.%m.%Y %H:%M", "2024-06-07T03:00:00"),
        ("Last: Fri, 07 Jun 2024 15:00", "%a, %d %b %Y %H:%M", "2024-06-07T15:00:00"),
        ("Geändert: 7. Juni 2024 um 15:00", "%e. %B %Y um %H:%M", "2024-06-07T15:00:00"),
        ("Last: 2024-06-07 03:00:09", "%F %T", "2024-06-07T03:00:09"),
        ("Last: 07/06/24 3:05 PM", "%d/%m/%y %I:%M %p", "2024-06-07T15:05:00"),
    ],
)
def test_parse_wiki_date_with_format(text, fmt, iso):
    assert parse_wiki_date(text, fmt)[0] == iso


def test_parse_wiki_date_format_not_matching_keeps_raw_text():
    assert parse_wiki_date("x.txt · Last modified: 2024/06/07 03:00 by x", "%d.%m.%Y %H:%M") == (
        None,
        "2024/06/07 03:00",
    )


def test_parse_wiki_date_unparsable_or_empty():
    assert parse_wiki_date("x.txt · Last modified: yesterday by x") == (None, "yesterday")
    assert parse_wiki_date("x.txt · Last modified: 2024/02/30 03:00 by x") == (
        None,
        "2024/02/30 03:00",
    )
    assert parse_wiki_date("") == (None, None)
    assert parse_wiki_date("   ") == (None, None)


def test_parse_wiki_date_rejects_unknown_directive():
    with pytest.raises(ValueError, match="%Q"):
        parse_wiki_date("2024", "%Q")
    with pytest.raises(ValueError, match="unsupported"):
        parse_wiki_date("", "%Y %Q")  # checked even when there is nothing to parse
