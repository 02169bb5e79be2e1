"""DokuWiki's answer to a page the visitor may not read, and to a login (pure, no I/O).

A page an ACL rule hides is not missing: DokuWiki answers HTTP 200 with a "Permission
Denied" page, in the wiki's language, on every template. What marks it is the action
DokuWiki reports having performed, ``denied``: in ``var JSINFO = {..., "ACT": "denied"}``,
which ``tpl_metaheaders()`` prints on every template, and in the ``mode_denied`` class
``tpl_classes()`` puts on the layout's outer element. Verified on 2022-07-31 "Igor"
(default template) and 2026-07-14 "Mort" (default, bootstrap3 and sprintdoc templates);
see docs/dokuwiki.md and tests/html/access_*.html.

To a visitor who is not logged in, the denied page also offers the login form
(``form#dw__login``); to a logged-in user it does not. The same form answers
``do=login`` until a login is accepted; once it is, ``do=login`` shows the page instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

DENIED = "denied"
LOGIN = "login"
# How a crawl logs in: DokuWiki's own login form, or HTTP basic auth (a web server
# password, which DokuWiki also takes as a login when the account is its own).
FORM_LOGIN = "form"
BASIC_LOGIN = "basic"
LOGIN_METHODS = (FORM_LOGIN, BASIC_LOGIN)

_JSINFO = re.compile(rb"\bJSINFO\s*=\s*")
# The layout element's classes, e.g. class="site dokuwiki mode_denied tpl_dokuwiki ..."
_MODE_CLASS = re.compile(
    rb"""\bclass\s*=\s*["'](?=[^"']*\bdokuwiki\b)[^"']*\bmode_([a-z_]+)\b""", re.I
)
_LOGIN_FORM = re.compile(rb"""<form\b[^>]*\bid\s*=\s*["']dw__login["']""", re.I)
# JSINFO sits in the head; a script that far down is not DokuWiki's.
_HEAD_LIMIT = 65536


@dataclass(frozen=True, slots=True)
class Denial:
    """DokuWiki refused to show a page to the visitor who asked."""

    logged_in: bool  # False when the answer offers the login form: no login was in effect


def page_action(html: bytes) -> str | None:
    """The action DokuWiki says it performed for this answer (``show``, ``denied``,
    ``login``, ...), or None when the page does not say.

    JSINFO's ``ACT`` first; the layout's ``mode_*`` class when a template prints no
    JSINFO or an older DokuWiki leaves ACT out of it.
    """
    found = _JSINFO.search(html, 0, _HEAD_LIMIT)
    if found:
        action = _jsinfo_action(html, found.end())
        if action is not None:
            return action
    mode = _MODE_CLASS.search(html)
    return mode.group(1).decode("ascii").lower() if mode else None


def _jsinfo_action(html: bytes, start: int) -> str | None:
    text = html[start : start + _HEAD_LIMIT].decode("utf-8", errors="replace")
    try:
        info, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    action = info.get("ACT") if isinstance(info, dict) else None
    return action.lower() if isinstance(action, str) and action else None


def offers_login_form(html: bytes) -> bool:
    """True when the answer holds DokuWiki's login form (``form#dw__login``)."""
    return _LOGIN_FORM.search(html) is not None


def denial(html: bytes) -> Denial | None:
    """The denial when *html* is DokuWiki's "Permission Denied" answer, else None."""
    if page_action(html) != DENIED:
        return None
    return Denial(logged_in=not offers_login_form(html))


def login_form(html: bytes, url: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(where to post it, its fields as the browser would send them) of DokuWiki's login
    form in the page served at *url*; None when there is none.

    The fields are the hidden ones (``sectok``, ``id``, ``do``) and the empty ones; the
    "remember me" box stays unticked, so the login lasts as long as the crawl's session.
    """
    if not offers_login_form(html):
        return None
    try:
        forms = lxml_html.fromstring(html).xpath("//form[@id='dw__login']")
    except (ValueError, etree.ParserError):
        return None
    if not forms:
        return None
    form = forms[0]
    return urljoin(url, form.get("action") or url), list(form.form_values())


def login_accepted(html: bytes) -> bool:
    """Given DokuWiki's answer to ``do=login``: True once a login is in effect (DokuWiki
    then shows the page), False while it still asks for one (the login form)."""
    return page_action(html) != LOGIN and not offers_login_form(html)


def login_lost(found: Denial, login_method: str | None) -> bool:
    """A denial offering the login form to a crawl that logged in through that form: the
    wiki no longer sees the login (session ended), so the answer says nothing about the
    account's rights."""
    return login_method == FORM_LOGIN and not found.logged_in
