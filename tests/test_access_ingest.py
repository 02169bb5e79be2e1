"""How archive.ingest records DokuWiki's refusals: no version, no removal, changes of
access between crawls of the same account only, a lost login recorded as nothing.

Fed with pages served by a real DokuWiki (tests/html), as a crawl or a rebuild hands them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.ingest import CrawlIngest
from archive.reader import ArchivedResponse
from crawler.access import Denial
from crawler.page import Page

HTML_DIR = Path(__file__).parent / "html"
SITE = "http://127.0.0.1:37453/wiki/"  # where tests/html/start.html was served
URL = SITE + "doku.php?id=start"
READABLE = (HTML_DIR / "start.html").read_bytes()
DENIED = (HTML_DIR / "access_denied_igor.html").read_bytes()  # with the login form
DENIED_TO_USER = (HTML_DIR / "access_denied_user_igor.html").read_bytes()


class Crawls:
    """Crawls of one page, each a CrawlIngest on the same catalog."""

    def __init__(self, path: Path):
        self.catalog = Catalog(path / "catalog.sqlite")
        self.warc_dir = path
        self.n = 0

    def crawl(self, body: bytes, login: str | None = None, method: str | None = None,
              url: str = URL):
        self.n += 1
        crawl_id = f"c{self.n}"
        started = datetime(2026, 1, self.n, tzinfo=UTC).isoformat()
        ingest = CrawlIngest(self.catalog, self.warc_dir, crawl_id=crawl_id, site=SITE,
                             mode="full", started_at=started, login=login, login_method=method)
        found = ingest.add(ArchivedResponse(
            url=url, date=datetime(2026, 1, self.n, 1, tzinfo=UTC), status=200,
            content_type="text/html; charset=utf-8", filename="f.warc.gz", offset=self.n,
            crawl_id=crawl_id, site=SITE, body=body,
        ))
        ingest.finish({"crawl_id": crawl_id, "site": SITE, "mode": "full",
                       "started_at": started, "finish_reason": "finished"}, [])
        return found

    def changes(self, crawl_id: str) -> list[str]:
        return [r["change"] for r in self.catalog.changes() if r["to_crawl_id"] == crawl_id]

    def refusal(self):
        return self.catalog.access("start")

    def state(self):
        return self.catalog.state("start")


@pytest.fixture
def crawls(tmp_path):
    history = Crawls(tmp_path)
    yield history
    history.catalog.close()


def test_refusal_keeps_the_page_and_reports_the_change_of_access(crawls):
    assert isinstance(crawls.crawl(READABLE), Page)
    version = crawls.state()["version_id"]
    assert crawls.crawl(DENIED) == Denial(logged_in=False)
    assert crawls.changes("c2") == ["no_longer_readable"]
    state = crawls.state()
    assert (state["present"], state["version_id"], state["crawl_id"]) == (1, version, "c1")
    assert dict(crawls.refusal()) == {
        "page_id": "start", "access": "denied", "login": None, "since_crawl_id": "c2",
        "crawl_id": "c2", "warc_filename": "f.warc.gz", "warc_offset": 2,
        "fetched_at": "2026-01-02T01:00:00+00:00",
    }
    crawls.crawl(DENIED)  # still refused: no news
    assert crawls.changes("c3") == []
    assert (crawls.refusal()["since_crawl_id"], crawls.refusal()["crawl_id"]) == ("c2", "c3")
    crawls.crawl(READABLE)
    assert crawls.changes("c4") == ["readable_again"]
    assert crawls.refusal() is None
    (again,) = [r for r in crawls.catalog.changes() if r["to_crawl_id"] == "c4"]
    assert again["before_version_id"] == again["after_version_id"] == version
    counts = {r["crawl_id"]: r["not_readable"] for r in crawls.catalog.crawls()}
    assert counts == {"c1": 0, "c2": 1, "c3": 1, "c4": 0}


def test_never_read_then_readable_is_readable_again_to_the_same_account(crawls):
    crawls.crawl(DENIED)
    assert crawls.changes("c1") == [] and crawls.state() is None
    crawls.crawl(READABLE)
    (row,) = [r for r in crawls.catalog.changes() if r["to_crawl_id"] == "c2"]
    assert row["change"] == "readable_again" and row["before_version_id"] is None
    assert row["chars_added"] > 0  # the whole page is new to the archive


def test_another_accounts_refusal_is_no_change(crawls):
    crawls.crawl(READABLE, login="editor", method="form")
    crawls.crawl(DENIED)  # anonymous: a page read with a login is not news
    assert crawls.changes("c2") == []
    assert crawls.refusal()["login"] is None
    crawls.crawl(READABLE, login="editor", method="form")  # nor is reading it again
    assert crawls.changes("c3") == []
    crawls.crawl(DENIED_TO_USER, login="editor", method="form")
    assert crawls.changes("c4") == ["no_longer_readable"]
    assert crawls.refusal()["login"] == "editor"


def test_a_lost_login_records_nothing(crawls):
    crawls.crawl(READABLE, login="editor", method="form")
    # The login form again: the wiki no longer sees the login, so no word on the account.
    assert crawls.crawl(DENIED, login="editor", method="form") == Denial(logged_in=False)
    assert crawls.refusal() is None and crawls.changes("c2") == []
    # Behind a web server password, DokuWiki may see an anonymous visitor all along.
    crawls.crawl(DENIED, login="editor", method="basic")
    assert crawls.refusal()["login"] == "editor"


@pytest.mark.parametrize("view", ["do=revisions", "rev=1704067200", "do=export_raw"])
def test_a_refused_history_view_is_no_revision_and_no_list(crawls, view):
    # The revision list, an old revision and the markup are as private as the page.
    url = f"{URL}&{view}"
    assert crawls.crawl(DENIED, url=url) == Denial(logged_in=False)
    assert crawls.catalog.revisions_of("start") == []
    assert list(crawls.catalog.all_revisions()) == []
    assert crawls.refusal() is None and crawls.changes("c1") == []
