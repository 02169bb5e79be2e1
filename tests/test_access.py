"""crawler.access on pages served by real DokuWikis: Igor (Debian) and Mort with the
default, bootstrap3 and sprintdoc templates (tests/html/access_*.html, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.access import (
    Denial,
    denial,
    login_accepted,
    login_form,
    login_lost,
    page_action,
)

HTML_DIR = Path(__file__).parent / "html"
ENGINES = ["igor", "mort_dokuwiki", "mort_bootstrap3", "mort_sprintdoc"]
# Readable pages and DokuWiki's stubs for missing and deleted pages (Igor, default template).
NOT_DENIED = ["start.html", "missing.html", "gone.html", "aneurysm.html", "magnesium_old.html",
              "index_vascular.html"]


def sample(name: str) -> bytes:
    return (HTML_DIR / name).read_bytes()


@pytest.mark.parametrize("engine", ENGINES)
def test_denied_page_to_an_anonymous_visitor(engine: str) -> None:
    html = sample(f"access_denied_{engine}.html")
    assert page_action(html) == "denied"
    assert denial(html) == Denial(logged_in=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_denied_page_to_a_logged_in_user(engine: str) -> None:
    assert denial(sample(f"access_denied_user_{engine}.html")) == Denial(logged_in=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_login_view_before_and_after_the_login(engine: str) -> None:
    asked = sample(f"access_login_{engine}.html")
    shown = sample(f"access_loggedin_{engine}.html")
    assert (page_action(asked), login_accepted(asked)) == ("login", False)
    assert (page_action(shown), login_accepted(shown)) == ("show", True)
    assert denial(asked) is None and denial(shown) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_login_form_fields_as_a_browser_sends_them(engine: str) -> None:
    url = "http://127.0.0.1:8802/wiki/doku.php?id=start&do=login"
    action, fields = login_form(sample(f"access_login_{engine}.html"), url)
    assert action == "http://127.0.0.1:8802/wiki/doku.php?id=start"
    # hidden token, page and action, the empty user and password; "remember me" unticked
    assert [name for name, _ in fields] == ["sectok", "id", "do", "u", "p"]
    assert dict(fields)["do"] == "login"
    # A denied page offers the same form to an anonymous visitor, none to a user.
    assert login_form(sample(f"access_denied_{engine}.html"), url) is not None
    assert login_form(sample(f"access_denied_user_{engine}.html"), url) is None


@pytest.mark.parametrize("name", NOT_DENIED)
def test_readable_missing_and_deleted_pages_are_not_denials(name: str) -> None:
    assert denial(sample(name)) is None


def test_the_layout_class_tells_when_jsinfo_does_not() -> None:
    html = sample("access_denied_mort_sprintdoc.html").replace(b'"ACT":"denied",', b"")
    assert b'"ACT"' not in html
    assert denial(html) == Denial(logged_in=False)


def test_jsinfo_wins_over_words_and_classes_in_the_article() -> None:
    # A page about permissions: its text and an odd class name are not DokuWiki's answer.
    html = sample("start.html").replace(
        b"<!-- wikipage start -->",
        b'<!-- wikipage start --><h1 id="permission_denied">Permission Denied</h1>'
        b'<div class="dokuwiki mode_denied">Sorry, you don&#039;t have enough rights</div>',
    )
    assert b"mode_denied" in html
    assert page_action(html) == "show"
    assert denial(html) is None


def test_no_marker_no_action() -> None:
    assert page_action(b"<html><body><p>Permission Denied</p></body></html>") is None
    assert denial(b"") is None


def test_a_lost_login_is_told_from_a_denial_to_the_account() -> None:
    anonymous, user = Denial(logged_in=False), Denial(logged_in=True)
    assert login_lost(anonymous, "form")
    assert not login_lost(user, "form")
    # Behind a web server password DokuWiki may well see an anonymous visitor.
    assert not login_lost(anonymous, "basic")
    assert not login_lost(anonymous, None)
