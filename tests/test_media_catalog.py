"""How the catalog records a file a page loads (archive.media), answer by answer.

Responses are handed to the ingest as the recorder and a rebuild hand them; the payloads are
small files made here. A 304 is the file it confirms, never an empty one, and a 304 whose
capture is not in the archive is an error.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from archive.catalog import Catalog
from archive.ingest import CrawlIngest
from archive.reader import ArchivedResponse, ArchiveError
from archive.writer import payload_digest

SITE = "http://wiki.test/wiki/"
URL = SITE + "lib/exe/fetch.php?w=200&tok=abc&media=ns:scan.png"
# A 1x1 PNG: its header says its size.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def answer(crawl: str, **fields) -> ArchivedResponse:
    base = dict(url=URL, date=datetime(2026, 1, 1, tzinfo=UTC), status=200,
                content_type="image/png", filename="a.warc.gz", offset=0, crawl_id=crawl,
                site=SITE, rec_type="response", payload_digest=payload_digest(PNG),
                record_id="<urn:uuid:1>", etag='"v1"', body=PNG)
    return ArchivedResponse(**{**base, **fields})


def crawl(catalog: Catalog, tmp_path, crawl_id: str, *answers: ArchivedResponse) -> None:
    ingest = CrawlIngest(catalog, tmp_path, crawl_id=crawl_id, site=SITE, mode="full",
                         started_at="2026-01-01T00:00:00+00:00")
    try:
        for item in answers:
            ingest.add(item)
        ingest.finish({"crawl_id": crawl_id, "site": SITE, "mode": "full",
                       "started_at": "2026-01-01T00:00:00+00:00", "finish_reason": "finished"},
                      [])
    except BaseException:
        ingest.abort()
        raise


def row(catalog: Catalog) -> dict:
    return dict(catalog.db.execute("SELECT * FROM resources WHERE url = ?", (URL,)).fetchone())


def test_a_304_is_the_file_it_confirms(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    crawl(catalog, tmp_path, "c1", answer("c1"))
    first = row(catalog)
    assert (first["sha256"], first["bytes"], first["width"], first["height"]) == (
        hashlib.sha256(PNG).hexdigest(), len(PNG), 1, 1)
    not_modified = answer("c2", status=304, content_type="", rec_type="revisit",
                          record_id="<urn:uuid:2>", refers_to="<urn:uuid:1>", body=b"",
                          offset=900, filename="b.warc.gz")
    crawl(catalog, tmp_path, "c2", not_modified)
    second = row(catalog)
    for name in ("sha256", "bytes", "width", "height", "mime_type", "warc_filename",
                 "warc_offset", "record_id", "first_crawl_id", "changed_crawl_id"):
        assert second[name] == first[name], name
    assert (second["last_crawl_id"], second["status"]) == ("c2", 304)
    assert catalog.db.execute("SELECT count(*) FROM media_changes").fetchone()[0] == 0


def test_a_304_whose_capture_is_not_archived_is_an_error(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    orphan = answer("c1", status=304, content_type="", rec_type="revisit",
                    record_id="<urn:uuid:9>", refers_to="<urn:uuid:missing>", body=b"")
    with pytest.raises(ArchiveError, match="not in the archive"):
        crawl(catalog, tmp_path, "c1", orphan)
    assert catalog.db.execute("SELECT count(*) FROM resources").fetchone()[0] == 0


def test_a_changed_file_and_a_missing_one_are_media_changes(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    crawl(catalog, tmp_path, "c1", answer("c1"))
    other = PNG + b"\0"  # other bytes
    crawl(catalog, tmp_path, "c2", answer("c2", body=other, payload_digest=payload_digest(other),
                                          record_id="<urn:uuid:3>"))
    crawl(catalog, tmp_path, "c3", answer("c3", status=404, content_type="text/html",
                                          body=b"gone", payload_digest=payload_digest(b"gone"),
                                          record_id="<urn:uuid:4>"))
    changes = catalog.db.execute(
        "SELECT crawl_id, change FROM media_changes ORDER BY crawl_id").fetchall()
    assert [tuple(c) for c in changes] == [("c2", "modified"), ("c3", "removed")]
    assert row(catalog)["outcome"] == "missing" and row(catalog)["sha256"] is None
