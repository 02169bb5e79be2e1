"""The same wiki gives the same tables under every DokuWiki engine and template.

Engines: Debian's package (2022-07-31b "Igor") and the upstream release 2026-07-14b
"Mort"; templates: the default one, bootstrap3 and sprintdoc (tarballs in
``../shared/dokuwiki/``, see tests/wikibed.py). Pairs whose files are absent skip with
the reason; Debian's engine with its default template never skips.

Expected values come from the corpus sources (tests/corpus_expect.py): the reference
crawl is checked against them here too, so equal tables cannot be equally wrong.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from corpus_expect import expected_by_id
from helpers import FAST, corpus_wiki, wikiarchive
from wikibed import DEBIAN, DEFAULT_TEMPLATE, UPSTREAM, DokuWikiBed, build_engine

TEMPLATES = (DEFAULT_TEMPLATE, "bootstrap3", "sprintdoc")
PAIRS = [(engine, template) for engine in (DEBIAN, UPSTREAM) for template in TEMPLATES]
REFERENCE = PAIRS[0]
# Where the page states its offset: Mort's tpl_pageinfo() prints <time datetime>;
# bootstrap3 prints a page info of its own without it, Igor has none.
STATES_OFFSET = {(UPSTREAM, DEFAULT_TEMPLATE), (UPSTREAM, "sprintdoc")}
TABLES = ("pages", "footnotes", "citations", "links", "page_versions", "changes")
# What differs between any two crawls: ids, times, where a response sits in the WARCs.
VOLATILE = {
    "crawl_id", "fetched_at", "warc_filename", "warc_offset", "version_id",
    "first_crawl_id", "last_crawl_id", "from_crawl_id", "to_crawl_id",
}
# The URL of a page names the bed's port; the id is what matters.
SITE_SPECIFIC = {"url"}
US_FORMAT = "%m/%d/%Y %H:%M"


def crawl(bed: DokuWikiBed, out: Path, *args: str) -> tuple[str, dict[str, pd.DataFrame]]:
    """(the CLI's standard output, the tables) of one crawl of *bed* into *out*."""
    result = wikiarchive("crawl", bed.base_url, "--out", str(out), *FAST, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    tables = {}
    for name in (*TABLES, "crawls"):
        frame = pd.read_parquet(out / "tables" / f"{name}.parquet")
        tables[name] = frame.astype(object).where(frame.notna(), None)
    return result.stdout, tables


def comparable(tables: dict[str, pd.DataFrame]) -> dict[str, list[dict]]:
    """Each table's rows without what differs between crawls, in a stable order."""
    drop = VOLATILE | SITE_SPECIFIC | {"last_modified_utc"}
    rows = {}
    for name in TABLES:
        frame = tables[name].drop(columns=[c for c in tables[name].columns if c in drop])
        records = frame.to_dict("records")
        rows[name] = sorted(records, key=lambda r: json.dumps(r, default=str, sort_keys=True))
    return rows


def corpus_date(iso: str) -> pd.Timestamp:
    return pd.Timestamp(iso)


@pytest.fixture(scope="module")
def expected():
    return expected_by_id()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, engine_dir, expected):
    engine, template = REFERENCE
    root = tmp_path_factory.mktemp("reference")
    bed = corpus_wiki(root / "wiki", engine=engine_dir(engine, template), template=template)
    try:
        _, tables = crawl(bed, root / "out")
    finally:
        bed.stop()
    pages = tables["pages"].set_index("page_id")
    assert set(pages.index) == set(expected)
    for page_id, page in expected.items():
        assert pages.loc[page_id].title == page.title, page_id
        assert pages.loc[page_id].last_modified == corpus_date(page.last_modified), page_id
    return tables


@pytest.mark.parametrize(("engine", "template"), PAIRS[1:], ids=lambda v: v)
def test_same_tables_under_every_engine_and_template(
    engine, template, reference, engine_dir, expected, tmp_path
):
    bed = corpus_wiki(tmp_path / "wiki", engine=engine_dir(engine, template), template=template)
    try:
        stdout, tables = crawl(bed, tmp_path / "out")
    finally:
        bed.stop()
    assert "Warning" not in stdout  # every date read, every page's structure recognised
    mine, theirs = comparable(tables), comparable(reference)
    for name in TABLES:
        assert len(mine[name]) == len(theirs[name]), name
        for have, want in zip(mine[name], theirs[name], strict=True):
            assert have == want, (name, have.get("page_id"))
    utc = tables["pages"].set_index("page_id").last_modified_utc
    if (engine, template) in STATES_OFFSET:
        for page_id, page in expected.items():
            assert utc[page_id] == pd.Timestamp(page.last_modified, tz="UTC"), page_id
    else:
        assert utc.isna().all()


@pytest.mark.parametrize("engine", [DEBIAN, UPSTREAM])
def test_us_date_format(engine, engine_dir, expected, tmp_path):
    """A US dformat makes most dates ambiguous; <time datetime> (Mort) states them exactly."""
    bed = corpus_wiki(
        tmp_path / "wiki", engine=engine_dir(engine, DEFAULT_TEMPLATE), conf={"dformat": US_FORMAT}
    )
    try:
        stdout, tables = crawl(bed, tmp_path / "out")
    finally:
        bed.stop()
    pages = tables["pages"].set_index("page_id")
    ambiguous = set()
    for page_id, page in expected.items():
        when = datetime.fromisoformat(page.last_modified)
        assert pages.loc[page_id].last_modified_raw == when.strftime(US_FORMAT), page_id
        if when.day <= 12:  # month and day both fit either place
            ambiguous.add(page_id)
    assert ambiguous and len(ambiguous) < len(expected)
    for page_id, page in expected.items():
        have = pages.loc[page_id].last_modified
        if engine == UPSTREAM or page_id not in ambiguous:
            assert have == corpus_date(page.last_modified), page_id
        else:
            assert have is None, page_id  # never guessed
    if engine == UPSTREAM:
        assert "could not be read" not in stdout
        exact = pages.last_modified_utc
        for page_id, page in expected.items():
            when = datetime.fromisoformat(page.last_modified).replace(tzinfo=UTC)
            assert exact[page_id] == pd.Timestamp(when), page_id
    else:
        example = min(ambiguous, key=list(pages.index).index)
        assert (
            f"Warning: {len(ambiguous)} pages show a date that could not be read (e.g. {example};"
            in stdout
        )


def test_template_switch_between_crawls_records_no_change(engine_dir, expected, tmp_path):
    # Mort's default template states <time datetime>, bootstrap3 does not: the dates
    # still agree, and only text and dates make a version.
    bed = corpus_wiki(tmp_path / "wiki", engine=engine_dir(UPSTREAM, "bootstrap3"))
    out = tmp_path / "out"
    try:
        crawl(bed, out)
        bed.set_template("bootstrap3")
        stdout, tables = crawl(bed, out, "--full")
    finally:
        bed.stop()
    assert "Warning" not in stdout
    first, second = tables["crawls"].sort_values("started_at").crawl_id
    assert set(tables["crawls"]["mode"]) == {"full"}
    changes = tables["changes"]
    assert set(changes.to_crawl_id) == {first}  # the first crawl added every page
    assert set(changes.change) == {"added"} and len(changes) == len(expected)
    versions = tables["page_versions"]
    assert len(versions) == len(expected)  # one version per page
    assert set(versions.last_crawl_id) == {second}
    assert tables["pages"].last_modified_utc.isna().all()  # as bootstrap3 shows it


# A template DokuWiki knows nothing special about: the content in a bare <div>, no
# #dokuwiki__content, no page info at all.
PLAIN_TEMPLATE = """<?php if (!defined('DOKU_INC')) die(); ?><!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" /><title><?php tpl_pagetitle() ?></title>
<?php tpl_metaheaders() ?></head>
<body><div class="shell"><div class="text"><?php tpl_content(false) ?></div></div>
<div class="no"><?php tpl_indexerWebBug() ?></div></body></html>
"""


def test_unknown_template_is_reported(tmp_path):
    engine = build_engine(tmp_path / "engines", DEBIAN, copy=True)
    (engine / "lib" / "tpl" / "plain").mkdir()
    (engine / "lib" / "tpl" / "plain" / "main.php").write_text(PLAIN_TEMPLATE)
    bed = DokuWikiBed(tmp_path / "wiki", engine=engine, template="plain")
    when = datetime(2021, 5, 17, 9, 30)
    bed.write_page("start", "====== Start ======\nSee [[lists only]].\n", when=when)
    bed.write_page("lists_only", "  * an item, no heading\n  * and no paragraph\n", when=when)
    bed.reindex()
    summary = tmp_path / "summary.json"
    with bed:
        stdout, tables = crawl(bed, tmp_path / "out", "--summary-json", str(summary))
    pages = tables["pages"].set_index("page_id")
    assert set(pages.index) == {"start", "lists_only"}
    assert pages.loc["start"].body_text == "Start\n\nSee lists only."  # found by its sections
    assert pages.last_modified_raw.isna().all()
    assert "Warning: 2 pages show no date where DokuWiki's templates put it (e.g. " in stdout
    assert (
        "Warning: 1 pages have an empty body or no DokuWiki page structure (e.g. lists_only)"
        in stdout
    )
    data = json.loads(summary.read_text())
    assert (data["undated_pages"], data["unrecognised_pages"]) == (2, 1)
