"""End to end: the real CLI crawls the real test DokuWiki into WARC files and tables.

Expected values come from the corpus sources (tests/corpus_expect.py), never from
the crawler's own output.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rfc4180
from corpus_expect import expected_by_id, orphan_pages
from edits import HOSTILE_TITLE
from helpers import (
    FAST,
    dokuwiki_date,
    served_page,
    warc_record_at,
    warcio_check,
    wikiarchive,
)
from warcio.archiveiterator import ArchiveIterator

from exports.tables import SCHEMAS

TABLES = ("pages", "footnotes", "citations", "links", "page_versions", "changes", "crawls")


@pytest.fixture(scope="module")
def crawl(full_crawl):
    """The session's full crawl of the corpus wiki (tests/conftest.py): read-only."""
    return full_crawl.out, full_crawl.result


@pytest.fixture(scope="module")
def expected():
    return expected_by_id()


@pytest.fixture(scope="module")
def tables(crawl):
    out, _ = crawl
    frames = {name: pd.read_parquet(out / "tables" / f"{name}.parquet") for name in TABLES}
    # Missing values as None, the way the sources state them.
    return {name: df.astype(object).where(df.notna(), None) for name, df in frames.items()}


def permalink(wiki, page_id: str) -> str:
    return wiki.base_url + "doku.php?id=" + quote(page_id, safe=":")


def warc_records(out: Path):
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                yield path.name, record


def test_summary_printed(crawl, expected):
    _, result = crawl
    pattern = rf"Crawl \S+ \(full\): {len(expected)} pages, \d+ requests, 0 errors"
    assert re.search(pattern, result.stdout)
    assert "WARC files: wikiarchive-" in result.stdout


def test_exact_page_set_orphans_included(tables, expected):
    assert set(tables["pages"].page_id) == set(expected)
    assert len(tables["pages"]) == len(expected)
    orphans = orphan_pages(list(expected.values()))
    assert orphans and set(orphans) <= set(tables["pages"].page_id)


def test_only_permalinks_and_discovery_views_fetched(crawl, wiki, expected):
    out, _ = crawl
    articles = []
    for _, record in warc_records(out):
        if record.rec_type != "request":
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert "taskrunner" not in parts.path and "rev" not in query, url
        if parts.path == "/robots.txt" or parts.path == "/wiki/feed.php":
            continue
        if parts.path.startswith("/wiki/lib/"):
            # What pages load (tests/test_media.py): DokuWiki's stylesheet, scripts and
            # media scripts, static files; no other script.
            script = parts.path.removeprefix("/wiki/lib/")
            assert not script.endswith(".php") or script in (
                "exe/css.php", "exe/js.php", "exe/jquery.php", "exe/fetch.php", "exe/detail.php"
            ), url
            continue
        assert parts.path == "/wiki/doku.php", url
        if query.get("do") == ["sitemap"] or query.get("do") == ["index"] or "idx" in query:
            continue
        assert set(query) == {"id"}, url  # a permanent link, no action
        articles.append(query["id"][0])
    assert sorted(articles) == sorted(expected)  # each article once


def test_titles_dates_and_footnotes_match_sources(tables, expected):
    pages = tables["pages"].set_index("page_id")
    notes = tables["footnotes"]
    for page_id, page in expected.items():
        row = pages.loc[page_id]
        assert row.title == page.title, page_id
        assert row.namespace == page.namespace, page_id
        assert row.last_modified == pd.Timestamp(page.last_modified), page_id
        assert row.footnote_count == len(page.footnotes), page_id
        got = notes[notes.page_id == page_id].sort_values("number")
        assert len(got) == len(page.footnotes), page_id
        for want, (_, have) in zip(page.footnotes, got.iterrows(), strict=True):
            assert have.number == want.numbers[0], page_id
            assert have.numbers == " ".join(map(str, want.numbers)), page_id
            assert have.text == want.text, page_id
            assert (have.pmid, have.pmcid, have.doi) == (want.pmid, want.pmcid, want.doi), (
                page_id,
                have.number,
            )
            assert have.urls.split() == want.urls, (page_id, have.number)


def test_links_match_sources(tables, expected):
    links = tables["links"]
    for page_id, page in expected.items():
        mine = links[links.page_id == page_id]
        assert set(mine[mine.kind == "page"].target) == set(page.links_existing), page_id
        assert set(mine[mine.kind == "missing_page"].target) == set(page.links_missing), page_id
        assert set(mine[mine.kind == "media"].target) == set(page.media), page_id


def test_magnesium_in_full(tables, wiki):
    pages = tables["pages"].set_index("page_id")
    row = pages.loc["magnesium"]
    assert row.url == wiki.base_url + "doku.php?id=magnesium"
    assert row.title == "Magnesium"
    assert row.namespace == ""
    assert row.last_modified == pd.Timestamp("2024-06-07 03:00:00")
    assert row.last_modified_raw == "2024/06/07 03:00"
    body = row.body_text
    assert "see also Magnesium sulfate." in body
    assert "Furthermore, the IMAGES clinical trial found magnesium" in body
    assert "Serum magnesium levels had no significant association on lung cancer risk." in body
    assert "Meloni BP" not in body and "PMID" not in body  # footnotes are not body
    assert "Last modified" not in body and "Table of Contents" not in body
    assert row.footnote_count == 2
    notes = tables["footnotes"]
    notes = notes[notes.page_id == "magnesium"].sort_values("number").to_dict("records")
    assert [n["number"] for n in notes] == [1, 2]
    assert notes[0]["text"].startswith("Meloni BP, Campbell K, Knuckey NW. The use of magnesium")
    assert notes[0]["pmid"] == "29920002"
    assert notes[0]["urls"] == "http://www.ncbi.nlm.nih.gov/books/NBK507247/"
    assert notes[0]["doi"] is None
    assert notes[1]["text"].startswith("Song X, Zhong X, Tang K, Wu G, Jiang Y.")
    assert notes[1]["doi"] == "10.1186/s12957-018-1447-x"
    assert notes[1]["pmid"] == "30001198"
    links = tables["links"]
    mine = links[links.page_id == "magnesium"]
    assert ("magnesium_sulfate", "page", "Magnesium sulfate") in set(
        zip(mine.target, mine.kind, mine.text, strict=True)
    )
    cites = tables["citations"]
    mine = cites[cites.page_id == "magnesium"]
    wanted = {("pmid", "29920002"), ("pmid", "30001198"), ("doi", "10.1186/s12957-018-1447-x")}
    assert wanted <= set(zip(mine.kind, mine.value, strict=True))


def test_crawls_table(tables, expected, wiki):
    crawls = tables["crawls"]
    assert len(crawls) == 1
    row = crawls.iloc[0]
    assert (row["site"], row["mode"], row["outcome"]) == (wiki.base_url, "full", "finished")
    assert row.pages == len(expected) and row.errors == 0
    assert row.requests > len(expected)
    assert row.finished_at > row.started_at


def test_warcio_check_passes_on_every_file(crawl):
    out, _ = crawl
    files = sorted((out / "warc").glob("*.warc.gz"))
    assert files and not list((out / "warc").glob("*.open"))
    result = warcio_check(files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_complete_responses_are_not_marked_truncated(crawl):
    out, _ = crawl
    responses = [r for _, r in warc_records(out) if r.rec_type == "response"]
    assert responses
    assert not [r for r in responses if r.rec_headers.get_header("WARC-Truncated")]


def test_cdxj_indexer_lists_every_article(crawl, wiki, expected):
    out, _ = crawl
    files = sorted((out / "warc").glob("*.warc.gz"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cdxj-indexer"), *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    indexed = {line.split(" ", 2)[2] for line in result.stdout.splitlines() if line}
    for page_id in expected:
        assert any(f'"url": "{permalink(wiki, page_id)}"' in entry for entry in indexed), page_id


def test_non_ascii_ids_percent_encoded_in_target_uri(crawl, expected):
    out, _ = crawl
    non_ascii = [p for p in expected if not p.isascii()]
    assert non_ascii, "the corpus must hold a non-ASCII page id"
    uris = {r.rec_headers.get_header("WARC-Target-URI") for _, r in warc_records(out)}
    assert all(uri.isascii() for uri in uris if uri)


def test_locators_point_at_the_capture_of_the_row(crawl, tables, expected, wiki):
    """Each row's WARC file and offset hold, as warcio reads them, the response its page
    came from: its permanent link, its date, and the page as the corpus source says."""
    out, _ = crawl
    for row in tables["pages"].to_dict("records"):
        page = expected[row["page_id"]]
        record, body = warc_record_at(out / "warc" / row["warc_filename"], row["warc_offset"])
        assert record.rec_type == "response", row["page_id"]
        assert record.rec_headers.get_header("WARC-Target-URI") == permalink(wiki, page.page_id)
        fetched = datetime.fromisoformat(record.rec_headers.get_header("WARC-Date"))
        assert fetched == row["fetched_at"].to_pydatetime(), row["page_id"]
        assert record.http_headers.get_statuscode() == "200", row["page_id"]
        title, modified, notes = served_page(body.decode("utf-8"))
        assert (title or page.page_id) == page.title, row["page_id"]
        assert (modified, notes) == (dokuwiki_date(page.last_modified), len(page.footnotes))
        assert (row["title"], row["footnote_count"]) == (page.title, len(page.footnotes))
        assert row["last_modified"] == pd.Timestamp(page.last_modified), row["page_id"]


def test_export_from_warcs_alone_reproduces_tables(crawl, tmp_path):
    out, _ = crawl
    shutil.copytree(out / "warc", tmp_path / "warc")
    result = wikiarchive("export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in TABLES:
        for ext in ("csv", "parquet"):
            original = (out / "tables" / f"{name}.{ext}").read_bytes()
            assert (tmp_path / "tables" / f"{name}.{ext}").read_bytes() == original, (name, ext)


# revisions and sources hold rows only for history and source crawls (test_history.py)
@pytest.mark.parametrize("name", [name for name in TABLES if name not in ("revisions", "sources")])
def test_csv_and_parquet_hold_the_same_data(crawl, name):
    out, _ = crawl
    schema = SCHEMAS[name]
    parquet = pq.read_table(out / "tables" / f"{name}.parquet")
    assert parquet.schema.equals(schema)
    from_parquet = parquet.to_pandas()
    from_csv = pd.read_csv(
        out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8"
    )
    assert list(from_csv.columns) == schema.names
    assert len(from_csv) == len(from_parquet) > 0
    for field in schema:
        text = from_csv[field.name]
        values = from_parquet[field.name]
        if str(field.type).startswith("timestamp"):
            tz = "UTC" if getattr(field.type, "tz", None) else None
            parsed = pd.to_datetime(text.replace("", None), utc=tz == "UTC", format="ISO8601")
            assert parsed.equals(values.astype(parsed.dtype)) or (
                parsed.fillna(pd.Timestamp(0, tz=tz)) == values.fillna(pd.Timestamp(0, tz=tz))
            ).all(), field.name
        elif str(field.type) == "int64":
            present = text != ""  # empty: a missing value (e.g. no wiki revision known)
            assert (present == values.notna()).all(), field.name
            assert (text[present].astype("int64") == values[present]).all(), field.name
        elif str(field.type) == "bool":
            assert set(text) <= {"true", "false"}, field.name
            assert ((text == "true") == values).all(), field.name
        else:
            assert (text == values.fillna("")).all(), field.name


@pytest.mark.parametrize("name", TABLES)
def test_csv_is_rfc4180(crawl, expected, name):
    """Read by RFC 4180's grammar and by Python's csv module in strict mode, each file
    gives the same cells, which are the Parquet file's values written as README says
    (text quoted, missing values empty and unquoted, ISO 8601 times, true/false)."""
    out, _ = crawl
    raw = (out / "tables" / f"{name}.csv").read_bytes()
    records = rfc4180.parse(raw)
    assert raw.endswith(b"\r\n")
    assert [[f.value for f in r] for r in records] == strict_csv(raw)
    parquet = pq.read_table(out / "tables" / f"{name}.parquet")
    header, *rows = records
    assert [f.value for f in header] == parquet.schema.names
    assert len(rows) == parquet.num_rows > 0
    columns = parquet.to_pydict()
    for field in parquet.schema:
        cells = [row[parquet.schema.names.index(field.name)] for row in rows]
        assert [cell_value(c, field.type) for c in cells] == columns[field.name], field.name
        if pa.types.is_string(field.type):
            assert all(c.quoted == (v is not None) for c, v in zip(
                cells, columns[field.name], strict=True)), field.name
    if name == "pages":  # and the values are the corpus's
        ids = [c["page_id"] for c in as_dicts(records)]
        assert sorted(ids) == sorted(expected)
        assert {c["page_id"]: c["title"] for c in as_dicts(records)} == {
            page_id: page.title for page_id, page in expected.items()
        }
    if name == "footnotes":  # commas in every reference, typography, non-ASCII text
        got = {(c["page_id"], int(c["number"])): c["text"] for c in as_dicts(records)}
        assert got == {
            (page_id, note.numbers[0]): note.text
            for page_id, page in expected.items()
            for note in page.footnotes
        }
        assert any("," in text for text in got.values())


def strict_csv(raw: bytes) -> list[list[str]]:
    csv.field_size_limit(sys.maxsize)  # page bodies are long cells
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True)
    return list(reader)


def as_dicts(records: list[list[rfc4180.Field]]) -> list[dict[str, str]]:
    header, *rows = records
    names = [f.value for f in header]
    return [dict(zip(names, (f.value for f in row), strict=True)) for row in rows]


def cell_value(cell: rfc4180.Field, kind: pa.DataType) -> object:
    """A CSV cell as the value README says it stands for."""
    if cell.value == "" and not cell.quoted:
        return None
    if pa.types.is_timestamp(kind):
        when = datetime.fromisoformat(cell.value)
        assert (when.tzinfo is not None) == (kind.tz is not None), cell.value
        return when
    if pa.types.is_integer(kind):
        return int(cell.value)
    if pa.types.is_boolean(kind):
        return {"true": True, "false": False}[cell.value]
    return cell.value


def test_excel_safe_export_defuses_formula_cells_only(crawl, tmp_path):
    out, _ = crawl
    shutil.copytree(out / "warc", tmp_path / "warc")
    result = wikiarchive("export", str(tmp_path), "--excel-safe")
    assert result.returncode == 0, result.stderr
    plain = pd.read_csv(out / "tables" / "footnotes.csv", dtype=str, keep_default_na=False)
    safe = pd.read_csv(tmp_path / "tables" / "footnotes.csv", dtype=str, keep_default_na=False)
    risky = plain.text.str.match(r"[=+\-@\t\r]")
    assert risky.sum() >= 2  # the ward protocol footnotes start with + and -
    assert (safe.text[risky] == "'" + plain.text[risky]).all()
    assert (safe.text[~risky] == plain.text[~risky]).all()
    for name in TABLES:  # Parquet keeps the exact text
        parquet = f"{name}.parquet"
        original = (out / "tables" / parquet).read_bytes()
        assert (tmp_path / "tables" / parquet).read_bytes() == original


def test_excel_safe_crawl_writes_its_tables_so(crawl, wiki, tmp_path):
    """--excel-safe reaches the archivist, which writes the crawl's tables."""
    out, _ = crawl
    result = wikiarchive("crawl", wiki.base_url, "--out", str(tmp_path), *FAST, "--excel-safe")
    assert result.returncode == 0, result.stderr[-2000:]
    plain = pd.read_csv(out / "tables" / "footnotes.csv", dtype=str, keep_default_na=False)
    safe = pd.read_csv(tmp_path / "tables" / "footnotes.csv", dtype=str, keep_default_na=False)
    risky = plain.text.str.match(r"[=+\-@\t\r]")
    assert risky.sum() >= 2
    assert list(safe.text[risky]) == ["'" + text for text in plain.text[risky]]


def test_csv_doubles_the_quotes_of_a_text(history):
    """A title with double quotes (the history's hostile page) is one escaped field."""
    raw = (history.out / "tables" / "pages.csv").read_bytes()
    escaped = '"' + HOSTILE_TITLE.replace('"', '""') + '"'
    assert HOSTILE_TITLE.count('"') == 2 and escaped.encode() in raw
    titles = [c["title"] for c in as_dicts(rfc4180.parse(raw))]
    assert titles.count(HOSTILE_TITLE) == 1
    header, *rows = strict_csv(raw)
    assert [r[header.index("title")] for r in rows].count(HOSTILE_TITLE) == 1
