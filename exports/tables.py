"""The tables: their columns (name, type, meaning) and the pure record -> row rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa

from crawler.page import Page, content_sha256

TIMESTAMP = pa.timestamp("ms")  # Parquet has no seconds unit
TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: pa.DataType
    meaning: str


def _schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in columns])


PAGES = [
    Column("page_id", pa.string(), "DokuWiki page id, e.g. `spine:disc_herniation`"),
    Column("url", pa.string(), "Permanent link: `SITE/doku.php?id=<page_id>`"),
    Column("title", pa.string(), "The article's first heading (the page id if it has none)"),
    Column("namespace", pa.string(), "Namespace part of the page id (empty at the root)"),
    Column(
        "last_modified",
        TIMESTAMP,
        "Last update as the wiki states it, in the wiki's own time zone (no offset): the "
        "local part of `<time datetime>` when the page gives one, else the date shown; "
        "empty when the date could not be read",
    ),
    Column(
        "last_modified_utc",
        TIMESTAMP_UTC,
        "The same instant in UTC, when the page states its offset (`<time datetime>`, "
        "e.g. DokuWiki 2026-07-14b); empty when it does not",
    ),
    Column(
        "last_modified_raw",
        pa.string(),
        "The date as shown on the page; empty when the page shows none",
    ),
    Column("body_text", pa.string(), "Article text: no TOC, footnotes, navigation or footer"),
    Column("word_count", pa.int64(), "Words in `body_text`"),
    Column("footnote_count", pa.int64(), "Footnote blocks (rows in `footnotes`)"),
    Column(
        "content_sha256",
        pa.string(),
        "SHA-256 of the parsed content (title, body text, footnotes): equal hashes, same content",
    ),
    Column("crawl_id", pa.string(), "Crawl that captured this version"),
    Column("fetched_at", TIMESTAMP_UTC, "When it was fetched (the WARC-Date, UTC)"),
    Column("warc_filename", pa.string(), "WARC file holding the response, in `DIR/warc/`"),
    Column("warc_offset", pa.int64(), "Byte offset of the response record in that file"),
]

FOOTNOTES = [
    Column("page_id", pa.string(), "Page holding the footnote"),
    Column("number", pa.int64(), "Footnote number (the first one when DokuWiki merged several)"),
    Column(
        "numbers",
        pa.string(),
        "All numbers of the block, space-separated (identical footnotes are merged: `8 9`)",
    ),
    Column("text", pa.string(), "Footnote text as served"),
    Column(
        "pmid",
        pa.string(),
        "First PubMed id in the footnote's text (`PMID: …` or a PubMed URL); a link's "
        "target counts where the link's text shows none",
    ),
    Column("pmcid", pa.string(), "First PubMed Central id (`PMC…`), read the same way"),
    Column(
        "doi",
        pa.string(),
        "First DOI, read the same way from the text a reader sees (a link's text and what "
        "follows it), brackets kept when balanced, DokuWiki's `×` typography undone",
    ),
    Column("urls", pa.string(), "External link targets in the footnote, space-separated"),
    Column("crawl_id", pa.string(), "Crawl that captured this version of the page"),
]

CITATIONS = [
    Column("page_id", pa.string(), "Page holding the footnote"),
    Column("footnote_number", pa.int64(), "`number` of the footnote"),
    Column("kind", pa.string(), "`pmid`, `pmcid`, `doi` or `url`"),
    Column("value", pa.string(), "The identifier or URL"),
    Column("crawl_id", pa.string(), "Crawl that captured this version of the page"),
]

LINKS = [
    Column("page_id", pa.string(), "Page holding the link"),
    Column("target", pa.string(), "Page id, URL or media id the link points to"),
    Column(
        "kind",
        pa.string(),
        "`page` (a page that exists), `missing_page` (a page that does not: a red link, or a "
        "page removed since), `external` or `media`; for pages the archive holds, as of "
        "its latest crawl",
    ),
    Column("text", pa.string(), "Link text"),
    Column("crawl_id", pa.string(), "Crawl that captured this version of the page"),
]

PAGE_VERSIONS = [
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column("version_id", pa.int64(), "Catalog id of this version (increases with time)"),
    Column("content_sha256", pa.string(), "Hash of the parsed content, as in `pages`"),
    Column("last_modified", TIMESTAMP, "Last update the wiki stated for this version"),
    Column("first_crawl_id", pa.string(), "First crawl that saw this version"),
    Column("last_crawl_id", pa.string(), "Last crawl that saw this version"),
    Column("warc_filename", pa.string(), "WARC file of the first capture of this version"),
    Column("warc_offset", pa.int64(), "Offset of that response record"),
]

CHANGES = [
    Column(
        "from_crawl_id",
        pa.string(),
        "Previous crawl of the site in `crawls` (empty for the first)",
    ),
    Column("to_crawl_id", pa.string(), "Crawl that saw the change"),
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column("change", pa.string(), "`added`, `removed` or `modified`"),
    Column("title_changed", pa.bool_(), "The title differs"),
    Column("body_changed", pa.bool_(), "The body text differs"),
    Column("footnotes_added", pa.int64(), "Footnotes whose text is new"),
    Column("footnotes_removed", pa.int64(), "Footnotes whose text is gone"),
    Column("last_modified_before", TIMESTAMP, "Last update stated before"),
    Column("last_modified_after", TIMESTAMP, "Last update stated after"),
    Column("chars_added", pa.int64(), "Characters of body text inserted"),
    Column("chars_removed", pa.int64(), "Characters of body text deleted"),
    Column(
        "media_changed",
        pa.int64(),
        "Media files the page shows or links (`page_media`) whose file changed, appeared "
        "or disappeared in this crawl; a page whose text did not change has a `modified` "
        "row for it",
    ),
]

MEDIA = [
    Column("media_id", pa.string(), "DokuWiki media id, e.g. `imaging:ct_scan.png`"),
    Column(
        "url",
        pa.string(),
        "The URL fetched, exactly as a page (or an image's detail page) wrote it: a "
        "resized image's carries its size and token",
    ),
    Column("resized", pa.bool_(), "The wiki's resized copy (`w=`/`h=` in the URL), not the "
           "file as uploaded"),
    Column(
        "status",
        pa.string(),
        "`stored` (the file is in the archive), `missing` (the wiki answered 403/404/410: a "
        "red media link), `failed` (another answer, no file held before) or `skipped` "
        "(larger than `--media-max-size`: not fetched, not truncated)",
    ),
    Column("http_status", pa.int64(), "HTTP status of the latest answer (304: the file "
           "held was confirmed unchanged)"),
    Column("mime_type", pa.string(), "MIME type the wiki served it as"),
    Column("bytes", pa.int64(), "Size of the file (for `skipped`: the size the wiki "
           "announced, when it did)"),
    Column("sha256", pa.string(), "SHA-256 of the file"),
    Column("width", pa.int64(), "Width in pixels, for images whose header says it"),
    Column("height", pa.int64(), "Height in pixels, for images whose header says it"),
    Column("first_crawl_id", pa.string(), "First crawl that fetched this URL"),
    Column("last_crawl_id", pa.string(), "Latest crawl that fetched or confirmed it"),
    Column("changed_crawl_id", pa.string(), "Crawl that first saw the file as it is now"),
    Column("fetched_at", TIMESTAMP_UTC, "Latest capture (the WARC-Date, UTC)"),
    Column("warc_filename", pa.string(), "WARC file of the response record holding the "
           "file's bytes (a later 304 or identical answer refers to it)"),
    Column("warc_offset", pa.int64(), "Byte offset of that record"),
]

PAGE_MEDIA = [
    Column("page_id", pa.string(), "Page showing or linking the file"),
    Column("media_id", pa.string(), "DokuWiki media id"),
    Column("url", pa.string(), "The file's URL as the page writes it (a row of `media`)"),
    Column("relation", pa.string(), "`embeds` (the page shows it, e.g. an image at its "
           "size on the page) or `links` (a download link)"),
    Column("crawl_id", pa.string(), "Crawl that captured this version of the page"),
]

CRAWLS = [
    Column("crawl_id", pa.string(), "Crawl id: UTC start time and a random suffix"),
    Column("site", pa.string(), "Base URL of the wiki"),
    Column("mode", pa.string(), "`full` (every page fetched) or `incremental` (changes only)"),
    Column("started_at", TIMESTAMP_UTC, "Start time (UTC)"),
    Column("finished_at", TIMESTAMP_UTC, "End time (UTC); empty if the crawl was interrupted"),
    Column(
        "outcome",
        pa.string(),
        "Scrapy's finish reason (`finished`, …), `interrupted` or `running`",
    ),
    Column("pages", pa.int64(), "Article pages fetched"),
    Column("requests", pa.int64(), "HTTP requests made"),
    Column("errors", pa.int64(), "Failed requests and processing errors"),
]

ERRORS = [
    Column("crawl_id", pa.string(), "Crawl in which the request failed"),
    Column("url", pa.string(), "URL that failed (after retries)"),
    Column("page_id", pa.string(), "Page id when the URL was an article; it is retried next run"),
    Column("error", pa.string(), "What went wrong (HTTP status, timeout, reset, …)"),
    Column("failed_at", TIMESTAMP_UTC, "When it was given up (UTC)"),
]

TABLES: dict[str, list[Column]] = {
    "pages": PAGES,
    "footnotes": FOOTNOTES,
    "citations": CITATIONS,
    "links": LINKS,
    "page_versions": PAGE_VERSIONS,
    "changes": CHANGES,
    "crawls": CRAWLS,
    "errors": ERRORS,
    "media": MEDIA,
    "page_media": PAGE_MEDIA,
}
SCHEMAS: dict[str, pa.Schema] = {name: _schema(cols) for name, cols in TABLES.items()}


@dataclass(frozen=True, slots=True)
class Provenance:
    crawl_id: str | None
    fetched_at: datetime
    warc_filename: str
    warc_offset: int

    @classmethod
    def of(cls, capture: Mapping) -> Provenance:
        return cls(
            capture["crawl_id"],
            datetime.fromisoformat(capture["fetched_at"]),
            capture["warc_filename"],
            capture["warc_offset"],
        )


def page_row(page: Page, where: Provenance, sha: str | None = None) -> dict:
    """The page's row; *sha* is its content hash when the caller has it already."""
    return {
        "page_id": page.page_id,
        "url": page.url,
        "title": page.title,
        "namespace": page.namespace,
        "last_modified": _local(page.last_modified),
        "last_modified_utc": _local(page.last_modified_utc),
        "last_modified_raw": page.last_modified_raw,
        "body_text": page.body_text,
        "word_count": len(page.body_text.split()),
        "footnote_count": len(page.footnotes),
        "content_sha256": sha or content_sha256(page),
        "crawl_id": where.crawl_id,
        "fetched_at": where.fetched_at,
        "warc_filename": where.warc_filename,
        "warc_offset": where.warc_offset,
    }


def footnote_rows(page: Page, crawl_id: str | None) -> Iterator[dict]:
    for note in page.footnotes:
        yield {
            "page_id": page.page_id,
            "number": note.number,
            "numbers": " ".join(str(n) for n in note.numbers),
            "text": note.text,
            "pmid": note.pmid,
            "pmcid": note.pmcid,
            "doi": note.doi,
            "urls": " ".join(note.urls),
            "crawl_id": crawl_id,
        }


def citation_rows(page: Page, crawl_id: str | None) -> Iterator[dict]:
    for note in page.footnotes:
        found = [("pmid", note.pmid), ("pmcid", note.pmcid), ("doi", note.doi)]
        found += [("url", url) for url in note.urls]
        for kind, value in found:
            if value:
                yield {
                    "page_id": page.page_id,
                    "footnote_number": note.number,
                    "kind": kind,
                    "value": value,
                    "crawl_id": crawl_id,
                }


def link_rows(
    page: Page, crawl_id: str | None, presence: Mapping[str, bool] | None = None
) -> Iterator[dict]:
    """The page's links; a link to a page the archive knows says whether that page exists
    as of the latest crawl (the captured page may be older than the target's deletion or
    creation), other links keep the colour the wiki gave them."""
    presence = presence or {}
    for link in page.links:
        kind = link.kind
        if kind in ("page", "missing_page") and link.target in presence:
            kind = "page" if presence[link.target] else "missing_page"
        yield {
            "page_id": page.page_id,
            "target": link.target,
            "kind": kind,
            "text": link.text,
            "crawl_id": crawl_id,
        }


def version_row(version: Mapping) -> dict:
    return {
        "page_id": version["page_id"],
        "version_id": version["version_id"],
        "content_sha256": version["content_sha256"],
        "last_modified": _local(version["last_modified"]),
        "first_crawl_id": version["first_crawl_id"],
        "last_crawl_id": version["last_crawl_id"],
        "warc_filename": version["warc_filename"],
        "warc_offset": version["warc_offset"],
    }


def media_row(resource: Mapping) -> dict:
    """A media file's row from its catalog ``resources`` row."""
    row = {c.name: resource[c.name] for c in MEDIA if c.name in resource.keys()}
    query = dict(parse_qsl(urlsplit(resource["url"]).query))
    row["resized"] = bool(query.get("w") or query.get("h"))
    row["status"] = resource["outcome"]
    row["http_status"] = resource["status"]
    row["fetched_at"] = _local(resource["fetched_at"])
    return row


def page_media_row(row: Mapping) -> dict:
    return {c.name: row[c.name] for c in PAGE_MEDIA}


def change_row(change: Mapping) -> dict:
    row = {c.name: change[c.name] for c in CHANGES}
    row["title_changed"] = bool(row["title_changed"])
    row["body_changed"] = bool(row["body_changed"])
    row["last_modified_before"] = _local(row["last_modified_before"])
    row["last_modified_after"] = _local(row["last_modified_after"])
    return row


def crawl_row(crawl: Mapping) -> dict:
    row = {c.name: crawl[c.name] for c in CRAWLS}
    row["started_at"] = _local(row["started_at"])
    row["finished_at"] = _local(row["finished_at"])
    return row


def error_row(error: Mapping) -> dict:
    row = {c.name: error[c.name] for c in ERRORS}
    row["failed_at"] = _local(row["failed_at"])
    return row


def _local(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
