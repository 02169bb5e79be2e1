"""Logging a crawl in, opt-in (``WIKI_LOGIN_USER``): DokuWiki's login form or HTTP basic auth.

The password never passes through the command line or the settings (Scrapy logs the
settings a crawl overrides): it is read at start from an environment variable
(``WIKI_PASSWORD_ENV``) or a file (``WIKI_PASSWORD_FILE``).

The spider awaits :meth:`LoginMiddleware.log_in` before its first request, and the
crawl fails with a one-line reason when the login did not work. The login exchanges
carry ``LOGIN_META_KEY``: the scope guard lets the login view through for them alone,
and the recorder never archives them (the form's POST holds the password).

Why a middleware of our own rather than Scrapy's:

* ``CookiesMiddleware`` stays off (``COOKIES_ENABLED=False``): it would send back every
  cookie any answer sets. Here only the cookies the login exchange set (DokuWiki's
  session and auth cookies) are sent, to the wiki's own origin and path, and the wiki's
  renewals of those very cookies are followed; nothing else a page sets is kept. With the
  session, DokuWiki shows its breadcrumb trail of the pages fetched before: page chrome,
  which the parser leaves out.
* ``HttpAuthMiddleware`` takes the password from settings (``HTTPAUTH_PASS``) and sends
  it to the host on any port and scheme; here it goes to the wiki's own origin only.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from http.cookiejar import http2time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import FormRequest, Response
from w3lib.http import basic_auth_header

from crawler.access import BASIC_LOGIN, FORM_LOGIN, login_accepted, login_form
from crawler.dokuwiki import START_PAGE, is_same_site
from crawler.outcome import describe

logger = logging.getLogger(__name__)

LOGIN_META_KEY = "wiki_login"  # an exchange of the login itself
_BARE_META_KEY = "wiki_login_bare"  # a login exchange sent without the credentials


class LoginError(Exception):
    """The crawl cannot log in; the message is the one-line reason."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    method: str  # crawler.access.FORM_LOGIN or BASIC_LOGIN


def read_credentials(settings: Any) -> Credentials | None:
    """The account to log in with, None when the crawl is anonymous.

    Raises LoginError when the password cannot be read or is empty.
    """
    user = (settings.get("WIKI_LOGIN_USER") or "").strip()
    if not user:
        return None
    method = settings.get("WIKI_LOGIN_METHOD") or FORM_LOGIN
    if method not in (FORM_LOGIN, BASIC_LOGIN):
        raise LoginError(f"WIKI_LOGIN_METHOD={method!r}: use {FORM_LOGIN} or {BASIC_LOGIN}")
    return Credentials(user, _password(settings), method)


def _password(settings: Any) -> str:
    path = settings.get("WIKI_PASSWORD_FILE")
    if path:
        try:
            # Its first line; the newline an editor or `echo` leaves is not part of it.
            password = Path(path).read_text(encoding="utf-8").split("\n", 1)[0].rstrip("\r")
        except (OSError, UnicodeError) as exc:
            raise LoginError(f"cannot read the password file {path}: {describe(exc)}") from None
        if not password:
            raise LoginError(f"the password file {path} has no password on its first line")
        return password
    name = settings.get("WIKI_PASSWORD_ENV")
    password = os.environ.get(name or "", "")
    if not password:
        raise LoginError(
            f"no password: set the environment variable {name} (or give a password file)"
        )
    return password


class LoginMiddleware:
    """Logs the crawl in, then sends its credentials with every request to the wiki."""

    def __init__(self, crawler: Crawler, credentials: Credentials):
        self.crawler = crawler
        self.credentials = credentials
        self.cookies: dict[str, str] = {}  # the login's cookies, in the order set

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LoginMiddleware:
        try:
            credentials = read_credentials(crawler.settings)
        except LoginError:
            credentials = None  # refused up front by crawler.checks, with the reason
        if credentials is None:
            raise NotConfigured
        return cls(crawler, credentials)

    @property
    def site(self) -> str | None:
        return getattr(self.crawler.spider, "site", None)

    # ---- every request

    def process_request(self, request: Request, spider: Any = None) -> None:
        site = self.site
        if site is None or not _same_origin(request.url, site):
            return None
        if request.meta.get(_BARE_META_KEY):
            return None
        if self.credentials.method == BASIC_LOGIN:
            request.headers["Authorization"] = basic_auth_header(
                self.credentials.user, self.credentials.password
            )
        elif self.cookies and is_same_site(request.url, site):
            request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return None

    def process_response(self, request: Request, response: Response, spider: Any = None):
        site = self.site
        if self.credentials.method == FORM_LOGIN and site and is_same_site(request.url, site):
            # During the login every cookie the wiki sets is the login's; after it, only
            # renewals of those.
            self._take_cookies(response, every=bool(request.meta.get(LOGIN_META_KEY)))
        return response

    def _take_cookies(self, response: Response, *, every: bool) -> None:
        for header in response.headers.getlist("Set-Cookie"):
            name, value, expired = parse_set_cookie(header.decode("latin-1"))
            if not name or not (every or name in self.cookies):
                continue
            if expired:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    # ---- the login

    async def log_in(self, site: str) -> None:
        """Log in and check that the wiki sees the login; LoginError when it does not."""
        login_view = site + "doku.php?" + urlencode({"id": START_PAGE, "do": "login"})
        if self.credentials.method == BASIC_LOGIN:
            await self._basic_auth(site, login_view)
        else:
            await self._form_login(login_view)
        logger.info("Logged in to %s as %s (%s)", site, self.credentials.user,
                    self.credentials.method)

    async def _form_login(self, login_view: str) -> None:
        page = await self._fetch(Request(login_view))
        form = login_form(page.body, page.url) if page.status == 200 else None
        if form is None:
            raise LoginError(f"no DokuWiki login form at {login_view} (HTTP {page.status})")
        action, fields = form
        filled = {"u": self.credentials.user, "p": self.credentials.password}
        fields = [(k, v) for k, v in fields if k not in filled] + list(filled.items())
        await self._fetch(FormRequest(action, formdata=fields))
        check = await self._fetch(Request(login_view))
        if not (check.status == 200 and login_accepted(check.body)):
            raise LoginError(
                f"the wiki did not accept the login of {self.credentials.user} "
                "(wrong user name or password?)"
            )

    async def _basic_auth(self, site: str, login_view: str) -> None:
        bare = await self._fetch(Request(login_view, meta={_BARE_META_KEY: True}))
        answer = await self._fetch(Request(login_view))
        user = self.credentials.user
        if answer.status in (401, 403, 407):
            raise LoginError(f"{site} refused the HTTP basic auth of {user} (HTTP {answer.status})")
        if bare.status != 401 and not login_accepted(answer.body):
            # No web server password asked for: the credentials can only be DokuWiki's.
            raise LoginError(
                f"{site} asks for no web server password, and DokuWiki did not accept "
                f"{user} through HTTP basic auth (wrong user name or password? "
                "DokuWiki's login form is the other login method)"
            )

    async def _fetch(self, request: Request) -> Response:
        request.meta.update(
            {
                LOGIN_META_KEY: True,
                "dont_redirect": True,  # the answer to the POST is judged, not followed
                # The account holder's own login, not a page of the crawl.
                "dont_obey_robotstxt": True,
            }
        )
        try:
            return await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the login did not happen
            raise LoginError(f"cannot log in at {request.url}: {describe(exc)}") from None


def parse_set_cookie(header: str, now: float | None = None) -> tuple[str, str, bool]:
    """(name, value, expired) of one ``Set-Cookie`` header; expired when it deletes the
    cookie (``Max-Age`` 0 or less, or ``Expires`` in the past)."""
    pair, *attributes = header.split(";")
    name, _, value = pair.partition("=")
    expired = False
    now = time.time() if now is None else now
    for attribute in attributes:
        key, _, setting = attribute.partition("=")
        key, setting = key.strip().lower(), setting.strip()
        if key == "max-age":
            expired = setting.lstrip("-").isdigit() and int(setting) <= 0
            break  # Max-Age wins over Expires
        if key == "expires":
            when = http2time(setting)
            expired = when is not None and when <= now
    return name.strip(), value.strip(), expired


def _same_origin(url: str, site: str) -> bool:
    """On the wiki's scheme, host and port, in or out of its path (robots.txt)."""
    return is_same_site(url, urlsplit(site)._replace(path="/", query="").geturl())
