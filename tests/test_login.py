"""crawler.login and the scope guard in login mode, on their own (no network)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.settings import Settings

from crawler import settings as defaults
from crawler.checks import settings_problems
from crawler.dokuwiki import request_kind
from crawler.login import (
    LOGIN_META_KEY,
    Credentials,
    LoginError,
    LoginMiddleware,
    parse_set_cookie,
    read_credentials,
)
from crawler.scope import LOGIN_VIEW as LOGIN
from crawler.scope import ScopeMiddleware

SITE = "http://127.0.0.1:9/wiki/"
PAGE = SITE + "doku.php?id=magnesium"
AUTH = "DW7fa065a06cb74b536c124cfbe56ac6d3"


def settings(**values) -> Settings:
    result = Settings()
    result.setmodule(defaults, priority="project")
    result.update(values, priority="cmdline")
    return result


def crawler() -> SimpleNamespace:
    return SimpleNamespace(
        spider=SimpleNamespace(site=SITE), stats=Stats(), settings=settings()
    )


class Stats(Counter):
    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] += count


def answer(url: str, *set_cookies: str) -> HtmlResponse:
    return HtmlResponse(url, body=b"<html></html>", headers={"Set-Cookie": list(set_cookies)})


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("DokuWiki=k3v9; path=/wiki/; HttpOnly", ("DokuWiki", "k3v9", False)),
        (f"{AUTH}=ZWRpdG9y%7C0%7Cc2Vj; path=/wiki/", (AUTH, "ZWRpdG9y%7C0%7Cc2Vj", False)),
        (f"{AUTH}=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; path=/wiki/",
         (AUTH, "deleted", True)),
        ("a=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT", ("a", "1", True)),
        ("a=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:01 GMT", ("a", "1", False)),
    ],
)
def test_set_cookie_headers(header, parsed):
    assert parse_set_cookie(header, now=1_800_000_000) == parsed


def test_credentials_from_a_variable_or_a_file(tmp_path, monkeypatch):
    assert read_credentials(settings()) is None
    monkeypatch.setenv("WIKIARCHIVE_PASSWORD", "s3cret word")
    found = read_credentials(settings(WIKI_LOGIN_USER="editor"))
    assert found == Credentials("editor", "s3cret word", "form")
    assert "s3cret" not in repr(found)
    secret = tmp_path / "password"
    secret.write_text("from the file\n")
    found = read_credentials(settings(
        WIKI_LOGIN_USER="editor", WIKI_PASSWORD_FILE=str(secret), WIKI_LOGIN_METHOD="basic"
    ))
    assert found == Credentials("editor", "from the file", "basic")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"WIKI_PASSWORD_ENV": "NO_SUCH_VARIABLE_X"}, "set the environment variable NO_SUCH"),
        ({"WIKI_PASSWORD_FILE": "/nonexistent/password"}, "cannot read the password file"),
        ({"WIKI_LOGIN_METHOD": "digest"}, "use form or basic"),
    ],
)
def test_unusable_credentials_are_refused_before_the_crawl(values, message, monkeypatch):
    monkeypatch.setenv("WIKIARCHIVE_PASSWORD", "x")
    with pytest.raises(LoginError, match=message):
        read_credentials(settings(WIKI_LOGIN_USER="editor", **values))
    problems = settings_problems(settings(WIKI_LOGIN_USER="editor", **values))
    assert len(problems) == 1 and message in problems[0]


def test_a_login_cannot_share_scrapys_cookie_jar_or_lose_its_middleware(monkeypatch):
    monkeypatch.setenv("WIKIARCHIVE_PASSWORD", "x")
    assert settings_problems(settings(WIKI_LOGIN_USER="editor")) == []
    (jar,) = settings_problems(settings(WIKI_LOGIN_USER="editor", COOKIES_ENABLED=True))
    assert "COOKIES_ENABLED" in jar
    off = {"DOWNLOADER_MIDDLEWARES": {**defaults.DOWNLOADER_MIDDLEWARES,
                                      "crawler.login.LoginMiddleware": None}}
    (gone,) = settings_problems(settings(WIKI_LOGIN_USER="editor", **off))
    assert "LoginMiddleware is disabled" in gone


def test_only_the_logins_cookies_are_sent_and_only_to_the_wiki():
    mw = LoginMiddleware(crawler(), Credentials("editor", "pw", "form"))
    login = Request(SITE + "doku.php?id=start", meta={LOGIN_META_KEY: True})
    mw.process_response(login, answer(login.url, "DokuWiki=s1; path=/wiki/", f"{AUTH}=a1"))
    # A page's cookies are not the login's; a renewal of the login's own is followed.
    page = Request(PAGE)
    mw.process_response(page, answer(PAGE, "tracker=t1; path=/", "DokuWiki=s2; path=/wiki/"))
    assert mw.cookies == {"DokuWiki": "s2", AUTH: "a1"}
    mw.process_request(page)
    assert page.headers["Cookie"] == f"DokuWiki=s2; {AUTH}=a1".encode()
    for url in ("http://127.0.0.1:9/robots.txt", "http://127.0.0.1:10/wiki/doku.php?id=x",
                "http://127.0.0.2:9/wiki/doku.php?id=x"):
        elsewhere = Request(url)
        mw.process_request(elsewhere)
        assert b"Cookie" not in elsewhere.headers, url
    # The wiki ending the login (a deleted cookie) is followed too.
    mw.process_response(page, answer(PAGE, f"{AUTH}=deleted; Max-Age=0"))
    assert mw.cookies == {"DokuWiki": "s2"}


def test_basic_auth_goes_to_the_wikis_origin_only():
    mw = LoginMiddleware(crawler(), Credentials("editor", "editor-pass", "basic"))
    for url in (PAGE, "http://127.0.0.1:9/robots.txt"):
        request = Request(url)
        mw.process_request(request)
        assert request.headers["Authorization"] == b"Basic ZWRpdG9yOmVkaXRvci1wYXNz"
    for url in ("http://127.0.0.1:10/wiki/", "https://127.0.0.1:9/wiki/", "http://other/wiki/"):
        request = Request(url)
        mw.process_request(request)
        assert b"Authorization" not in request.headers, url
    assert mw.cookies == {}


def test_login_view_only_for_the_login_exchange_of_a_crawl_that_logs_in():
    form = SITE + "doku.php?id=start&do=login"
    assert request_kind(form, SITE) is None
    assert request_kind(form, SITE, LOGIN) == "login"
    assert request_kind(SITE + "doku.php?id=start", SITE, LOGIN) == "login"
    assert request_kind(SITE + "doku.php?id=start&do=logout", SITE, LOGIN) is None
    assert request_kind(SITE + "doku.php?id=start&do=edit", SITE, LOGIN) is None
    anonymous, logged = ScopeMiddleware(crawler()), ScopeMiddleware(crawler(), login=True)
    exchange = {LOGIN_META_KEY: True}
    logged.process_request(Request(form, meta=exchange))
    logged.process_request(Request(SITE + "doku.php?id=start", method="POST", meta=exchange))
    refused = [
        (anonymous, Request(form, meta=exchange)),
        (logged, Request(form)),  # not the login exchange
        (logged, Request(SITE + "doku.php?id=start&do=logout", meta=exchange)),
        (logged, Request(PAGE, method="POST")),  # a crawl sends no form but its login
        (anonymous, Request(PAGE, method="POST")),
    ]
    for scope, request in refused:
        with pytest.raises(IgnoreRequest):
            scope.process_request(request)
    assert anonymous.stats["wiki/out_of_scope"] + logged.stats["wiki/out_of_scope"] == 5
