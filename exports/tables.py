"""The tables: their columns (name, type, meaning) and the pure record -> row rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa

from crawler.dokuwiki import namespace, page_url
from crawler.page import Page, content_sha256
from crawler.revisions import ListedRevision, revision_kinds
from exports.presence import Presence

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
    Column(
        "access",
        pa.string(),
        "`readable`, or `denied` when the latest crawl that asked for the page got DokuWiki's "
        "Permission Denied: this row is then the last version a crawl could read "
        "(see `access_denied`)",
    ),
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
    Column(
        "version_id", pa.int64(), "Catalog id of this version (increases in the order archived)"
    ),
    Column("content_sha256", pa.string(), "Hash of the parsed content, as in `pages`"),
    Column("last_modified", TIMESTAMP, "Last update the wiki stated for this version"),
    Column("first_crawl_id", pa.string(), "First crawl that saw this version"),
    Column("last_crawl_id", pa.string(), "Last crawl that saw this version"),
    Column("warc_filename", pa.string(), "WARC file of the first capture of this version"),
    Column("warc_offset", pa.int64(), "Offset of that response record"),
    Column(
        "revision",
        pa.int64(),
        "The wiki revision this version is (its time as in `revisions`), when a history "
        "crawl established it; empty otherwise",
    ),
]

CHANGES = [
    Column(
        "from_crawl_id",
        pa.string(),
        "Previous crawl of the site in `crawls` (empty for the first)",
    ),
    Column("to_crawl_id", pa.string(), "Crawl that saw the change"),
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column(
        "change",
        pa.string(),
        "`added`, `removed` or `modified`; `no_longer_readable` or `readable_again` when the "
        "wiki refused the page to the crawl's account (Permission Denied) or shows it again "
        "(the text columns then count what changed against the last version read)",
    ),
    Column("title_changed", pa.bool_(), "The title differs"),
    Column("body_changed", pa.bool_(), "The body text differs"),
    Column("footnotes_added", pa.int64(), "Footnotes whose text is new"),
    Column("footnotes_removed", pa.int64(), "Footnotes whose text is gone"),
    Column("last_modified_before", TIMESTAMP, "Last update stated before"),
    Column("last_modified_after", TIMESTAMP, "Last update stated after"),
    Column("chars_added", pa.int64(), "Characters of body text inserted"),
    Column("chars_removed", pa.int64(), "Characters of body text deleted"),
    Column(
        "revision_before",
        pa.int64(),
        "For a change between two wiki revisions: the earlier revision (empty when the "
        "page was created); empty for a change between two crawls",
    ),
    Column(
        "revision_after",
        pa.int64(),
        "For a change between two wiki revisions: the revision that made it; empty for a "
        "change between two crawls",
    ),
    Column(
        "media_changed",
        pa.int64(),
        "Media files the page shows or links (`page_media`) whose file changed, appeared "
        "or disappeared in this crawl; a page whose text did not change has a `modified` "
        "row for it",
    ),
]

REVISIONS = [
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column(
        "revision",
        pa.int64(),
        "Revision time as the wiki gives it: Unix time, the `rev=` of its URL",
    ),
    Column("revised_at", TIMESTAMP_UTC, "The same instant (UTC)"),
    Column("date_shown", pa.string(), "The date as the revision list shows it (wiki-local)"),
    Column(
        "kind",
        pa.string(),
        "`created`, `edited`, `minor`, `deleted`, `reverted` (DokuWiki's revert) or "
        "`external` (the page file changed outside DokuWiki)",
    ),
    Column("author", pa.string(), "User name as shown, or the IP address of an anonymous edit"),
    Column("summary", pa.string(), "Edit summary"),
    Column("size_change", pa.string(), "Size change as shown, e.g. `+1.8 KB`"),
    Column("current", pa.bool_(), "The page's current revision when last listed"),
    Column(
        "served",
        pa.bool_(),
        "The wiki serves the revision's text (false for a deletion, and for a revision the "
        "wiki lists but whose text it no longer holds)",
    ),
    Column(
        "archived",
        pa.bool_(),
        "Its content is in the archive: the rendered old revision, or a capture of the "
        "page made while this revision was current",
    ),
    Column("listed_crawl_id", pa.string(), "Crawl that last read it in the revision list"),
    Column("warc_filename", pa.string(), "WARC file of its archived content; empty if none"),
    Column("warc_offset", pa.int64(), "Offset of that response record"),
]

SOURCES = [
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column(
        "revision",
        pa.int64(),
        "Revision of the markup (as in `revisions`); empty for a current page's markup "
        "when no history crawl named its revision",
    ),
    Column("markup", pa.string(), "The page's wiki markup, as `do=export_raw` served it"),
    Column("sha256", pa.string(), "SHA-256 of the markup as served (UTF-8 bytes)"),
    Column("crawl_id", pa.string(), "Crawl that fetched it"),
    Column("fetched_at", TIMESTAMP_UTC, "When it was fetched (the WARC-Date, UTC)"),
    Column("warc_filename", pa.string(), "WARC file holding the response, in `DIR/warc/`"),
    Column("warc_offset", pa.int64(), "Byte offset of the response record in that file"),
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
    Column("login", pa.string(), "Account the crawl logged in as (`--login`); empty: anonymous"),
    Column(
        "not_readable",
        pa.int64(),
        "Pages the wiki refused to show it (Permission Denied), listed in `access_denied`",
    ),
]

ERRORS = [
    Column("crawl_id", pa.string(), "Crawl in which the request failed"),
    Column("url", pa.string(), "URL that failed (after retries)"),
    Column("page_id", pa.string(), "Page id when the URL was an article; it is retried next run"),
    Column("error", pa.string(), "What went wrong (HTTP status, timeout, reset, …)"),
    Column("failed_at", TIMESTAMP_UTC, "When it was given up (UTC)"),
]

ACCESS_DENIED = [
    Column("page_id", pa.string(), "DokuWiki page id"),
    Column("url", pa.string(), "Permanent link: `SITE/doku.php?id=<page_id>`"),
    Column("namespace", pa.string(), "Namespace part of the page id (empty at the root)"),
    Column("login", pa.string(), "Account it was refused to; empty: an anonymous crawl"),
    Column("since_crawl_id", pa.string(), "First of the crawls (of this account) refused in a row"),
    Column("crawl_id", pa.string(), "Latest crawl refused"),
    Column(
        "readable_crawl_id",
        pa.string(),
        "Last crawl that could read the page (its version is in `pages`); empty when none could",
    ),
    Column("fetched_at", TIMESTAMP_UTC, "When the refusal was fetched (the WARC-Date, UTC)"),
    Column("warc_filename", pa.string(), "WARC file holding the refusal, as served"),
    Column("warc_offset", pa.int64(), "Byte offset of its response record in that file"),
]

TABLES: dict[str, list[Column]] = {
    "pages": PAGES,
    "footnotes": FOOTNOTES,
    "citations": CITATIONS,
    "links": LINKS,
    "page_versions": PAGE_VERSIONS,
    "changes": CHANGES,
    "revisions": REVISIONS,
    "sources": SOURCES,
    "crawls": CRAWLS,
    "errors": ERRORS,
    "access_denied": ACCESS_DENIED,
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


def page_row(
    page: Page, where: Provenance, sha: str | None = None, access: str = "readable"
) -> dict:
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
        "access": access,
    }


# The tables of many rows a page are given as columns (exports.write.TableWriter.
# write_columns), in their schema's order: a dict a row cost more than the rest of the
# export. Their order is the schema's (tests/test_table_columns.py).


def footnote_columns(page: Page, crawl_id: str | None) -> list[Sequence]:
    """The page's footnotes, as the columns of FOOTNOTES."""
    notes = page.footnotes
    n = len(notes)
    return [
        (page.page_id,) * n,
        [note.number for note in notes],
        [" ".join(map(str, note.numbers)) for note in notes],
        [note.text for note in notes],
        [note.pmid for note in notes],
        [note.pmcid for note in notes],
        [note.doi for note in notes],
        [" ".join(note.urls) for note in notes],
        (crawl_id,) * n,
    ]


def citation_columns(page: Page, crawl_id: str | None) -> list[Sequence]:
    """The identifiers and URLs its footnotes cite, as the columns of CITATIONS."""
    numbers, kinds, values = [], [], []
    for note in page.footnotes:
        found = [("pmid", note.pmid), ("pmcid", note.pmcid), ("doi", note.doi)]
        found += [("url", url) for url in note.urls]
        for kind, value in found:
            if value:
                numbers.append(note.number)
                kinds.append(kind)
                values.append(value)
    n = len(values)
    return [(page.page_id,) * n, numbers, kinds, values, (crawl_id,) * n]


PAGE_KINDS = ("page", "missing_page")  # links whose colour the archive may know better


def link_columns(
    page: Page, crawl_id: str | None, presence: Presence | None = None
) -> list[Sequence]:
    """The page's links, as the columns of LINKS; a link to a page the archive knows
    says whether that page exists as of the latest crawl (the captured page may be older
    than the target's deletion or creation), other links keep the colour the wiki gave
    them."""
    n = len(page.links)
    if not n:
        return [()] * len(LINKS)
    targets, kinds, texts = zip(*page.links, strict=True)
    if presence is not None:
        kinds = [
            kind if kind not in PAGE_KINDS or exists is None
            else "page" if exists else "missing_page"
            for kind, exists in zip(kinds, presence.get_many(targets), strict=True)
        ]
    return [(page.page_id,) * n, targets, kinds, texts, (crawl_id,) * n]


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
        "revision": version["revision"],
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


def revision_rows(revisions: list[Mapping]) -> Iterator[dict]:
    """The rows of one page's listed revisions (oldest first), each with its kind."""
    listed = [
        ListedRevision(
            r["revision"], r["date_shown"], r["date"], r["summary"], r["author"],
            r["size_change"], bool(r["minor"]), bool(r["deleted"]), bool(r["current"]),
            bool(r["served"]),
        )
        for r in revisions
    ]
    complete = bool(revisions) and bool(revisions[0]["complete"])
    for r, kind in zip(revisions, revision_kinds(listed, complete=complete), strict=True):
        archived = r["version_id"] is not None
        yield {
            "page_id": r["page_id"],
            "revision": r["revision"],
            "revised_at": datetime.fromtimestamp(r["revision"], UTC),
            "date_shown": r["date_shown"],
            "kind": kind,
            "author": r["author"],
            "summary": r["summary"],
            "size_change": r["size_change"],
            "current": bool(r["current"]),
            "served": bool(r["served"]) and not r["deleted"] and not r["not_served"],
            "archived": archived,
            "listed_crawl_id": r["crawl_id"],
            "warc_filename": r["warc_filename"] if archived else None,
            "warc_offset": r["warc_offset"] if archived else None,
        }


def source_row(source: Mapping) -> dict:
    row = {c.name: source[c.name] for c in SOURCES}
    row["fetched_at"] = _local(row["fetched_at"])
    return row


def crawl_row(crawl: Mapping) -> dict:
    row = {c.name: crawl[c.name] for c in CRAWLS}
    row["started_at"] = _local(row["started_at"])
    row["finished_at"] = _local(row["finished_at"])
    return row


def access_denied_row(refusal: Mapping, site: str) -> dict:
    """A page the wiki refused, from the catalog's ``refused_pages()``."""
    page_id = refusal["page_id"]
    return {
        "page_id": page_id,
        "url": page_url(site, page_id),
        "namespace": namespace(page_id),
        "login": refusal["login"],
        "since_crawl_id": refusal["since_crawl_id"],
        "crawl_id": refusal["crawl_id"],
        "readable_crawl_id": refusal["readable_crawl_id"],
        "fetched_at": _local(refusal["fetched_at"]),
        "warc_filename": refusal["warc_filename"],
        "warc_offset": refusal["warc_offset"],
    }


def error_row(error: Mapping) -> dict:
    row = {c.name: error[c.name] for c in ERRORS}
    row["failed_at"] = _local(row["failed_at"])
    return row


def _local(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
