"""Restricted pages and logged-in crawls, on a real DokuWiki with real ACL rules.

The wiki is the corpus wiki. Its restricted form (``RESTRICTED``) makes the ``vascular``
namespace readable only by logged-in users (group ``user``: the editor account) and
denies one page, ``stroke``, to everyone. DokuWiki answers such pages with HTTP 200 and
its "Permission Denied" page.

* ``withdrawn``: a folder crawled anonymously while everything is public; then access is
  withdrawn (two crawls), then given back with one private page edited meanwhile.
* ``logged_in``: a folder crawled anonymously on the restricted wiki, then with
  ``--login`` (through a recording proxy, which sees every header that went over the wire),
  then anonymously again, then with the login after a private page was edited.
* HTTP basic auth: the wiki behind a web server password.
* Upstream "Mort" with each template: an anonymous crawl, then one with the login.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest
from corpus_expect import expected_by_id
from faultproxy import FaultProxy
from helpers import FAST, corpus_wiki, warcio_check, wikiarchive
from warcio.archiveiterator import ArchiveIterator
from wikibed import (
    ACL_LINES,
    DEFAULT_TEMPLATE,
    EDITOR_PASSWORD,
    EDITOR_USER,
    UPSTREAM,
    DokuWikiBed,
)

from archive.reader import read_warcinfo

PRIVATE_NS = "vascular"
DENIED_TO_ALL = "stroke"
RESTRICTED = (
    *ACL_LINES,
    f"{PRIVATE_NS}:*\t@ALL\t0",
    f"{PRIVATE_NS}:*\t@user\t1",
    f"{DENIED_TO_ALL}\t@ALL\t0",
)
EDITED = f"{PRIVATE_NS}:vasospasm"
EDITED_TEXT = (
    "====== Vasospasm after subarachnoid hemorrhage ======\nNimodipine is given for 21 days.\n"
)
PASSWORD_ENV = "WIKIARCHIVE_TEST_PASSWORD"
# A cookie another server on the way sets during the logged-in crawl (PHP itself sends the
# session cookie only when it starts a session, i.e. in the login exchange).
PLANTED = "lb_session=planted-balancer-secret"


def private_pages() -> set[str]:
    return {p for p in expected_by_id() if p.startswith(PRIVATE_NS + ":")}


def restricted_pages() -> set[str]:
    return private_pages() | {DENIED_TO_ALL}


def linked_from_readable(hidden: set[str]) -> set[str]:
    """The hidden pages a crawl that cannot read them still finds: those linked from a
    page it can read (DokuWiki's index, sitemap and feed leave them out)."""
    pages = expected_by_id()
    return {
        target
        for page_id, page in pages.items()
        if page_id not in hidden
        for target in page.links_existing
        if target in hidden
    }


def crawl(site: str, out: Path, *options: str, password: str | None = None,
          expect: int = 0) -> subprocess.CompletedProcess:
    env_before = os.environ.pop(PASSWORD_ENV, None)
    if password is not None:
        os.environ[PASSWORD_ENV] = password
    try:
        result = wikiarchive("crawl", site, "--out", str(out), *FAST, *options)
    finally:
        os.environ.pop(PASSWORD_ENV, None)
        if env_before is not None:
            os.environ[PASSWORD_ENV] = env_before
    assert result.returncode == expect, result.stdout + result.stderr[-3000:]
    return result


def login_options(*more: str) -> tuple[str, ...]:
    return ("--login", EDITOR_USER, "--password-env", PASSWORD_ENV, *more)


def crawl_id_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout.split()[1]


def table(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "tables" / f"{name}.parquet")
    return df.astype(object).where(df.notna(), None)


def of_crawl(df: pd.DataFrame, crawl_id: str, column: str = "to_crawl_id") -> pd.DataFrame:
    return df[df[column] == crawl_id]


def warc_files(out: Path, crawl_id: str | None = None) -> list[Path]:
    return [
        p for p in sorted((out / "warc").glob("*.warc.gz"))
        if crawl_id is None or read_warcinfo(p).get("wikiarchive-crawl-id") == crawl_id
    ]


def records(out: Path, crawl_id: str):
    for path in warc_files(out, crawl_id):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                yield record, record.content_stream().read()


def article_id(uri: str) -> str | None:
    query = parse_qs(urlsplit(uri).query)
    return query["id"][0] if set(query) == {"id"} else None


def summary(path: Path) -> dict:
    return json.loads(path.read_text())


def later() -> None:
    """DokuWiki and the crawl's feed marks count whole seconds: edits come after a crawl."""
    time.sleep(1.1)


# --------------------------------------------------------------------------- withdrawn


@pytest.fixture(scope="module")
def withdrawn(tmp_path_factory):
    root = tmp_path_factory.mktemp("withdrawn")
    bed = corpus_wiki(root / "wiki")
    out = root / "out"
    try:
        public = crawl(bed.base_url, out)
        later()
        bed.set_acl(RESTRICTED)
        first = crawl(bed.base_url, out, "--summary-json", str(root / "first.json"))
        after_first = {name: table(out, name) for name in ("pages", "changes", "access_denied")}
        second = crawl(bed.base_url, out)
        after_second = table(out, "access_denied")
        later()
        bed.set_acl(ACL_LINES)
        bed.write_page(EDITED, EDITED_TEXT, when=datetime.now(UTC), summary="rewritten")
        bed.reindex()
        later()
        back = crawl(bed.base_url, out)
        yield {
            "bed": bed,
            "out": out,
            "ids": [crawl_id_of(r) for r in (public, first, second, back)],
            "runs": [public, first, second, back],
            "first_summary": summary(root / "first.json"),
            "after_first": after_first,
            "after_second": after_second,
        }
    finally:
        bed.stop()


def test_withdrawn_access_is_no_removal(withdrawn):
    ids, tables = withdrawn["ids"], withdrawn["after_first"]
    mine = of_crawl(tables["changes"], ids[1]).set_index("page_id")
    assert set(mine.index) == restricted_pages()
    assert set(mine.change) == {"no_longer_readable"}
    assert not mine.body_changed.any() and not mine.title_changed.any()
    # The pages keep their last readable version, marked as no longer readable.
    pages = tables["pages"].set_index("page_id")
    assert set(pages.index) == set(expected_by_id())
    assert set(pages.loc[sorted(restricted_pages())].access) == {"denied"}
    assert set(pages.drop(sorted(restricted_pages())).access) == {"readable"}
    assert set(pages.loc[sorted(restricted_pages())].crawl_id) == {ids[0]}
    denied = tables["access_denied"].set_index("page_id")
    assert set(denied.index) == restricted_pages()
    assert set(denied.login) == {None}
    assert set(denied.since_crawl_id) == set(denied.crawl_id) == {ids[1]}
    assert set(denied.readable_crawl_id) == {ids[0]}


def test_the_crawl_counts_and_lists_what_it_could_not_read(withdrawn):
    run, report = withdrawn["runs"][1], withdrawn["first_summary"]
    n = len(restricted_pages())
    assert re.search(rf"\d+ pages \({n} not readable\)", run.stdout)
    assert "Not readable" in run.stdout and f"{PRIVATE_NS}:vasospasm" in run.stdout
    assert report["not_readable"] == n
    assert report["not_readable_pages"] == sorted(restricted_pages())
    assert report["failed_pages"] == [] and report["errors"] == 0 and report["exit_code"] == 0
    crawls = table(withdrawn["out"], "crawls").set_index("crawl_id")
    assert crawls.loc[withdrawn["ids"][1]].not_readable == n
    assert crawls.loc[withdrawn["ids"][0]].not_readable == 0


def test_still_refused_is_no_change(withdrawn):
    ids = withdrawn["ids"]
    changes = table(withdrawn["out"], "changes")
    assert of_crawl(changes, ids[2]).empty
    denied = withdrawn["after_second"].set_index("page_id")
    assert set(denied.since_crawl_id) == {ids[1]} and set(denied.crawl_id) == {ids[2]}


def test_readable_again_with_what_changed_meanwhile(withdrawn):
    ids, out = withdrawn["ids"], withdrawn["out"]
    mine = of_crawl(table(out, "changes"), ids[3]).set_index("page_id")
    assert set(mine.index) == restricted_pages()
    assert set(mine.change) == {"readable_again"}
    edited = mine.loc[EDITED]
    assert edited.title_changed and edited.body_changed
    untouched = mine.drop(EDITED)
    assert not untouched.body_changed.any() and not untouched.title_changed.any()
    assert table(out, "access_denied").empty
    pages = table(out, "pages").set_index("page_id")
    assert set(pages.access) == {"readable"}
    assert "Nimodipine is given for 21 days." in pages.loc[EDITED].body_text


def test_changes_command_says_no_longer_readable_and_readable_again(withdrawn):
    out, ids = str(withdrawn["out"]), withdrawn["ids"]
    text = wikiarchive("changes", out, "--since", ids[0])
    assert text.returncode == 0, text.stderr
    n = len(restricted_pages())
    assert f"Crawl {ids[1]} (since {ids[0]}): {n} no longer readable" in text.stdout
    assert f"Crawl {ids[3]} (since {ids[2]}): {n} readable again" in text.stdout
    assert re.search(rf"no longer readable +{DENIED_TO_ALL}\b", text.stdout)
    assert re.search(rf"readable again +{EDITED} +title; text \+\d+/-\d+ chars", text.stdout)
    assert "removed" not in text.stdout and "added" not in text.stdout
    report = wikiarchive("report", out, "-o", str(withdrawn["out"] / "report.html"))
    assert report.returncode == 0, report.stderr
    html = (withdrawn["out"] / "report.html").read_text()
    assert f"{n} readable again" in html and ">readable again</td>" in html


def test_the_denied_answer_is_archived_as_served(withdrawn):
    out, ids = withdrawn["out"], withdrawn["ids"]
    denied = {}
    for record, body in records(out, ids[1]):
        page_id = article_id(record.rec_headers.get_header("WARC-Target-URI"))
        if record.rec_type == "response" and page_id in restricted_pages():
            denied[page_id] = (record.http_headers.get_statuscode(), body)
    assert set(denied) == restricted_pages()
    for status, body in denied.values():
        assert status == "200" and b'"ACT":"denied"' in body
    assert warcio_check(warc_files(out)).returncode == 0


def test_export_from_the_warcs_alone_gives_the_same_tables(withdrawn, tmp_path):
    assert_export_reproduces(withdrawn["out"], tmp_path)


def assert_export_reproduces(out: Path, tmp_path: Path) -> None:
    (tmp_path / "warc").symlink_to(out / "warc")
    result = wikiarchive("export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("pages", "changes", "crawls", "access_denied", "page_versions"):
        for ext in ("csv", "parquet"):
            assert (tmp_path / "tables" / f"{name}.{ext}").read_bytes() == (
                out / "tables" / f"{name}.{ext}"
            ).read_bytes(), (name, ext)


# --------------------------------------------------------------------------- logged in


@pytest.fixture(scope="module")
def logged_in(tmp_path_factory):
    root = tmp_path_factory.mktemp("logged-in")
    bed = corpus_wiki(root / "wiki", acl=RESTRICTED)
    proxy = FaultProxy(bed.base_url)
    site = proxy.start()
    out = root / "out"
    try:
        anonymous = crawl(site, out, "--summary-json", str(root / "anonymous.json"))
        after_anonymous = {n: table(out, n) for n in ("pages", "links", "access_denied")}
        wrong = crawl(site, root / "wrong", *login_options("--summary-json",
                      str(root / "wrong.json")), password="not-the-password", expect=1)
        start = len(proxy.hits)
        proxy.status(200, times=1, match="/robots.txt", body=b"User-agent: *\nDisallow:\n",
                      headers={"Set-Cookie": f"{PLANTED}; path=/"})
        login = crawl(site, out, *login_options(), password=EDITOR_PASSWORD)
        login_hits = proxy.hits[start:]
        after_login = {n: table(out, n) for n in ("pages", "changes", "access_denied")}
        again = crawl(site, out)
        after_again = {n: table(out, n) for n in ("pages", "changes", "access_denied")}
        later()
        bed.write_page(EDITED, EDITED_TEXT, when=datetime.now(UTC), summary="rewritten")
        bed.reindex()
        later()
        start = len(proxy.hits)
        incremental = crawl(site, out, *login_options(), password=EDITOR_PASSWORD)
        incremental_hits = proxy.hits[start:]
        yield {
            "bed": bed,
            "proxy": proxy,
            "site": site,
            "root": root,
            "out": out,
            "runs": {"anonymous": anonymous, "wrong": wrong, "login": login, "again": again,
                     "incremental": incremental},
            "ids": [crawl_id_of(r) for r in (anonymous, login, again, incremental)],
            "after_anonymous": after_anonymous,
            "after_login": after_login,
            "after_again": after_again,
            "hits": login_hits + incremental_hits,
            "incremental_hits": incremental_hits,
        }
    finally:
        proxy.stop()
        bed.stop()


def test_first_anonymous_crawl_lists_the_pages_it_may_not_read(logged_in):
    found = linked_from_readable(restricted_pages())
    assert found  # the corpus links to some of them from public pages
    tables = logged_in["after_anonymous"]
    assert set(tables["access_denied"].page_id) == found
    assert not set(tables["pages"].page_id) & restricted_pages()
    assert set(tables["pages"].page_id) == set(expected_by_id()) - restricted_pages()
    report = summary(logged_in["root"] / "anonymous.json")
    assert report["not_readable_pages"] == sorted(found)
    # DokuWiki marks the links as existing pages; access_denied says why they are not in pages
    links = tables["links"]
    assert set(links[links.target.isin(found)].kind) == {"page"}


def test_wrong_password_is_one_line_and_nothing_archived(logged_in):
    result = logged_in["runs"]["wrong"]
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "did not accept the login of editor" in result.stderr
    assert not list((logged_in["root"] / "wrong").glob("warc/*"))
    assert not (logged_in["root"] / "wrong" / "tables").exists()
    report = summary(logged_in["root"] / "wrong.json")
    assert report["outcome"] == "failed" and report["exit_code"] == 1


def test_login_archives_what_the_account_may_read(logged_in):
    out, ids = logged_in["out"], logged_in["ids"]
    assert ", logged in as editor)" in logged_in["runs"]["login"].stdout
    tables = logged_in["after_login"]
    pages = tables["pages"].set_index("page_id")
    assert set(pages.index) == set(expected_by_id()) - {DENIED_TO_ALL}
    assert set(pages.access) == {"readable"}
    denied = tables["access_denied"].set_index("page_id")
    assert list(denied.index) == [DENIED_TO_ALL]
    assert denied.loc[DENIED_TO_ALL].login == EDITOR_USER
    # Refused to the anonymous crawl, read with the login: new to the archive, no reading
    # of "readable again" across two accounts.
    mine = of_crawl(tables["changes"], ids[1]).set_index("page_id")
    assert set(mine.change) == {"added"} and set(mine.index) == private_pages()
    crawls = table(out, "crawls").set_index("crawl_id")
    assert crawls.loc[ids[1]].login == EDITOR_USER and crawls.loc[ids[0]].login is None


def test_later_anonymous_crawl_records_no_removal(logged_in):
    ids, tables = logged_in["ids"], logged_in["after_again"]
    assert of_crawl(tables["changes"], ids[2]).empty
    pages = tables["pages"].set_index("page_id")
    assert private_pages() <= set(pages.index)
    assert set(pages.loc[sorted(private_pages())].access) == {"denied"}
    assert set(pages.loc[sorted(private_pages())].crawl_id) == {ids[1]}
    denied = tables["access_denied"].set_index("page_id")
    assert set(denied.index) == restricted_pages()
    assert set(denied.loc[sorted(private_pages())].readable_crawl_id) == {ids[1]}


def test_incremental_crawl_with_a_login_sees_private_edits(logged_in):
    out, ids = logged_in["out"], logged_in["ids"]
    assert "(incremental, logged in as editor)" in logged_in["runs"]["incremental"].stdout
    mine = of_crawl(table(out, "changes"), ids[3]).set_index("page_id")
    # Refused to the anonymous crawl in between, which says nothing about this account.
    assert list(mine.index) == [EDITED]
    assert mine.loc[EDITED].change == "modified" and mine.loc[EDITED].body_changed
    # The feed was asked with the login, and named the private edit.
    feeds = [h for h in logged_in["incremental_hits"] if "/feed.php" in h.path]
    assert feeds and all(_header(h.request_headers, "Cookie") for h in feeds)
    (feed,) = [body for record, body in records(out, ids[3])
               if record.rec_type == "response"
               and "/feed.php" in record.rec_headers.get_header("WARC-Target-URI")
               and "view=pages" in record.rec_headers.get_header("WARC-Target-URI")]
    assert EDITED.encode() in feed


def test_export_of_logged_in_crawls_gives_the_same_tables(logged_in, tmp_path):
    # The account of each crawl comes back from its warcinfo, and with it every judgement.
    assert_export_reproduces(logged_in["out"], tmp_path)


def test_a_lost_login_fails_the_crawl_and_is_no_refusal(logged_in):
    # The wiki answering as to a visitor who is not logged in (the login form on a
    # Permission Denied page) in the middle of a logged-in crawl: its session ended.
    anonymous_answer = (Path(__file__).parent / "html" / "access_denied_igor.html").read_bytes()
    logged_in["proxy"].status(200, times=1, match=re.compile(r"id=magnesium$"),
                              body=anonymous_answer,
                              headers={"Content-Type": "text/html; charset=utf-8"})
    out = logged_in["root"] / "lost"
    result = crawl(logged_in["site"], out, *login_options(), password=EDITOR_PASSWORD, expect=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "the wiki no longer sees the login as editor" in result.stderr
    errors = table(out, "errors")
    assert "magnesium" in set(errors.page_id)
    assert "magnesium" not in set(table(out, "access_denied").page_id)
    assert table(out, "crawls").outcome.iloc[-1] == "failed"


def test_no_credential_in_any_record_or_table(logged_in):
    secrets = _secrets(logged_in["hits"]) | {PLANTED.partition("=")[2].encode()}
    assert len(secrets) >= 4  # the password, the session and the auth cookie at least
    out = logged_in["out"]
    places = {p.name: gzip.decompress(p.read_bytes()) for p in warc_files(out)}
    for path in (out / "tables").glob("*.csv"):
        places[path.name] = path.read_bytes()
    for path in (out / "tables").glob("*.parquet"):
        places[path.name] = str(pq.read_table(path).to_pylist()).encode()
    places["index.cdxj"] = (out / "indexes" / "index.cdxj").read_bytes()
    leaks = [(name, s) for name, data in places.items() for s in secrets if s in data]
    assert leaks == []


def test_logged_in_records_say_what_was_redacted(logged_in):
    out, login_id = logged_in["out"], logged_in["ids"][1]
    assert warcio_check(warc_files(out)).returncode == 0
    info = read_warcinfo(warc_files(out, login_id)[0])
    assert info["wikiarchive-login-user"] == EDITOR_USER
    assert info["wikiarchive-login-method"] == "form"
    assert "Set-Cookie" in info["wikiarchive-redacted"] and "Cookie" in info["wikiarchive-redacted"]
    kinds, set_cookies = set(), []
    for record, _body in records(out, login_id):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        assert "do=login" not in uri  # the login exchange is not archived
        if record.rec_type == "request":
            assert record.http_headers.protocol == "GET"
            cookie = record.http_headers.get_header("Cookie")
            if uri.endswith("/robots.txt"):  # outside the wiki's path: no cookie goes there
                assert cookie is None
                continue
            # the login's two cookies (session and auth), never the planted one
            assert re.fullmatch(r"DokuWiki=REDACTED; DW\w+=REDACTED", cookie), cookie
            kinds.add(record.rec_headers.get_header("WikiArchive-Redacted"))
        elif record.http_headers and record.http_headers.get_header("Set-Cookie"):
            set_cookies.append((uri, record.http_headers.get_header("Set-Cookie"),
                                record.rec_headers.get_header("WikiArchive-Redacted")))
    assert kinds == {"Cookie"}
    assert [(urlsplit(uri).path, value, note) for uri, value, note in set_cookies] == [
        ("/robots.txt", "lb_session=REDACTED; path=/", "Set-Cookie")
    ]


def _header(headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def _secrets(hits) -> set[bytes]:
    """Every credential that went over the wire: the password (also as basic auth), each
    cookie value the crawler sent and each one the wiki set."""
    found = {EDITOR_PASSWORD, base64.b64encode(f"{EDITOR_USER}:{EDITOR_PASSWORD}".encode())
             .decode()}
    for hit in hits:
        for name, value in hit.request_headers:
            if name.lower() == "cookie":
                found |= {pair.partition("=")[2] for pair in value.split("; ")}
            elif name.lower() == "authorization":
                found.add(value.partition(" ")[2])
        for name, value in hit.response_headers:
            if name.lower() == "set-cookie":
                found.add(value.split(";")[0].partition("=")[2])
    return {s.encode() for s in found if len(s) >= 8 and s != "deleted"}


# --------------------------------------------------------------------------- basic auth


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gated")
    bed = corpus_wiki(root / "wiki", acl=RESTRICTED, http_auth=(EDITOR_USER, EDITOR_PASSWORD))
    password_file = root / "password"
    password_file.write_text(EDITOR_PASSWORD + "\nanything after the first line\n")
    wrong_file = root / "wrong-password"
    wrong_file.write_text("nope\n")
    try:
        yield {"bed": bed, "root": root, "password_file": password_file,
               "wrong_file": wrong_file}
    finally:
        bed.stop()


def test_basic_auth_behind_a_web_server_password(gated: dict) -> None:
    bed: DokuWikiBed = gated["bed"]
    out = gated["root"] / "out"
    result = crawl(bed.base_url, out, "--login", EDITOR_USER, "--login-method", "basic",
                   "--password-file", str(gated["password_file"]))
    assert ", logged in as editor)" in result.stdout
    # DokuWiki takes the web server's user as its own login: the private pages are read.
    assert set(table(out, "pages").page_id) == set(expected_by_id()) - {DENIED_TO_ALL}
    crawl_id = crawl_id_of(result)
    requests = [r for r, _ in records(out, crawl_id) if r.rec_type == "request"]
    assert requests
    for record in requests:
        assert record.http_headers.get_header("Authorization") == "Basic REDACTED"
        assert record.rec_headers.get_header("WikiArchive-Redacted") == "Authorization"
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in warc_files(out))
    token = base64.b64encode(f"{EDITOR_USER}:{EDITOR_PASSWORD}".encode())
    assert EDITOR_PASSWORD.encode() not in raw and token not in raw


def test_basic_auth_refused_is_one_line(gated: dict) -> None:
    bed: DokuWikiBed = gated["bed"]
    out = gated["root"] / "refused"
    result = crawl(bed.base_url, out, "--login", EDITOR_USER, "--login-method", "basic",
                   "--password-file", str(gated["wrong_file"]), expect=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "refused the HTTP basic auth of editor (HTTP 401)" in result.stderr
    assert not list(out.glob("warc/*"))


def test_anonymous_crawl_of_a_gated_wiki_says_how_to_log_in(gated: dict) -> None:
    out = gated["root"] / "anonymous"
    result = crawl(gated["bed"].base_url, out, expect=1)
    error = result.stderr.splitlines()[-1]  # after the feed's warning in the log
    assert error.startswith("Error: ") and "asks for a password (HTTP 401" in error
    assert "--login-method basic" in error


def test_missing_password_is_refused_before_anything_is_fetched(gated: dict) -> None:
    out = gated["root"] / "no-password"
    result = crawl(gated["bed"].base_url, out, *login_options(), expect=2)
    assert result.stderr.count("\n") == 1
    assert f"set the environment variable {PASSWORD_ENV}" in result.stderr
    assert not list(out.glob("warc/*"))


# --------------------------------------------------------------------------- other engines


@pytest.mark.parametrize("template", [DEFAULT_TEMPLATE, "bootstrap3", "sprintdoc"])
def test_refusals_and_login_on_the_upstream_engine(template, engine_dir, tmp_path):
    bed = corpus_wiki(tmp_path / "wiki", engine=engine_dir(UPSTREAM, template),
                      template=template, acl=RESTRICTED)
    out = tmp_path / "out"
    try:
        crawl(bed.base_url, out)
        denied = table(out, "access_denied")
        assert set(denied.page_id) == linked_from_readable(restricted_pages())
        assert set(table(out, "pages").page_id) == set(expected_by_id()) - restricted_pages()
        login = crawl(bed.base_url, out, *login_options(), password=EDITOR_PASSWORD)
    finally:
        bed.stop()
    assert ", logged in as editor)" in login.stdout
    assert set(table(out, "pages").page_id) == set(expected_by_id()) - {DENIED_TO_ALL}
    denied = table(out, "access_denied").set_index("page_id")
    assert list(denied.index) == [DENIED_TO_ALL] and denied.loc[DENIED_TO_ALL].login == "editor"
    assert "removed" not in set(table(out, "changes").change)
