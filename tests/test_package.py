"""``wikiarchive package``: a WACZ that py-wacz validates, holding the WARC files, their
CDXJ index and a page list of every current article with its title.

The session's history (tests/conftest.py): a fresh test wiki crawled, edited (tests/
edits.py: a page retitled, pages added, one deleted...) and crawled again, so "current"
means something: the deleted page is left out and the edited ones are listed at their
new capture, with their new titles. Expected values come from the wiki sources.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from click.testing import CliRunner
from corpus_expect import expected_by_id, page_title, parsed_markup
from edits import DELETED, NEW_TITLE, RETITLED

from crawler.cli import package
from crawler.lock import locked

EDITED = RETITLED


def permalink(base: str, page_id: str) -> str:
    return base + "doku.php?id=" + quote(page_id, safe=":")


def run_package(*args: str):
    return CliRunner().invoke(package, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def archive(history, tmp_path_factory):
    """The shared history packaged into a WACZ (the history itself stays read-only)."""
    wacz = tmp_path_factory.mktemp("wacz") / "wiki.wacz"
    result = run_package(str(history.out), "--wacz", str(wacz), "--title", "Test wiki")
    assert result.exit_code == 0, result.output
    pages = len(current_titles(history.sources))
    assert f"WACZ {wacz}: 2 WARC files, {pages} pages" in result.output
    return {
        "out": history.out, "wacz": wacz, "base": history.bed.base_url,
        "sources": history.sources,
    }


def members(wacz: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wacz) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def current_titles(sources: dict[str, str]) -> dict[str, str]:
    """Title of every page after the edits: the corpus's, or that of the new source."""
    titles = {page_id: page.title for page_id, page in expected_by_id().items()}
    del titles[DELETED]
    for page_id, markup in sources.items():
        titles[page_id] = page_title(parsed_markup(markup), page_id)
    assert titles[EDITED] == NEW_TITLE
    return titles


def test_wacz_validate_passes(archive):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(archive["wacz"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation succeeded, the passed WACZ is valid" in result.stdout


def test_wacz_holds_every_warc_file_byte_for_byte(archive):
    warcs = sorted((archive["out"] / "warc").glob("*.warc.gz"))
    assert len(warcs) == 2
    files = members(archive["wacz"])
    datapackage = json.loads(files["datapackage.json"])
    hashes = {r["path"]: r["hash"] for r in datapackage["resources"]}
    with zipfile.ZipFile(archive["wacz"]) as zipped:
        for warc in warcs:
            name = f"archive/{warc.name}"
            assert files[name] == warc.read_bytes(), name
            # stored, not deflated: replay tools read records at their offsets
            assert zipped.getinfo(name).compress_type == zipfile.ZIP_STORED
            assert hashes[name] == "sha256:" + hashlib.sha256(warc.read_bytes()).hexdigest()
    assert datapackage["title"] == "Test wiki"
    assert not [
        n for n in files if n.startswith("archive/") and n[8:] not in {w.name for w in warcs}
    ]


def test_wacz_index_lists_every_capture_of_every_article(archive):
    files = members(archive["wacz"])
    assert "indexes/index.idx" in files
    lines = gzip.decompress(files["indexes/index.cdx.gz"]).decode("utf-8").splitlines()
    assert lines == sorted(lines)
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    urls = [e["url"] for e in entries]
    for page_id in expected_by_id():  # the deleted page too: its capture is archived
        assert permalink(archive["base"], page_id) in urls, page_id
    assert urls.count(permalink(archive["base"], EDITED)) == 2  # before and after the edit
    warcs = {p.name for p in (archive["out"] / "warc").glob("*.warc.gz")}
    assert {e["filename"] for e in entries} == warcs


def test_pages_list_every_current_article_with_its_title(archive):
    lines = members(archive["wacz"])["pages/pages.jsonl"].decode("utf-8").splitlines()
    header, pages = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["format"] == "json-pages-1.0" and header["id"]
    titles = current_titles(archive["sources"])
    assert sorted(p["url"] for p in pages) == sorted(
        permalink(archive["base"], page_id) for page_id in titles
    )
    by_url = {p["url"]: p for p in pages}
    for page_id, title in titles.items():
        assert by_url[permalink(archive["base"], page_id)]["title"] == title, page_id
    # Each entry is dated by the capture the tables hold for the page (to the second).
    table = pd.read_parquet(archive["out"] / "tables" / "pages.parquet")
    for row in table.itertuples():
        listed = datetime.fromisoformat(by_url[row.url]["ts"].replace("Z", "+00:00"))
        assert listed == row.fetched_at.to_pydatetime().replace(microsecond=0), row.page_id
    # The pages written between the crawls are listed at the second crawl's captures.
    written = {permalink(archive["base"], page_id) for page_id in archive["sources"]}
    assert permalink(archive["base"], EDITED) in written
    carried = [p["ts"] for p in pages if p["url"] not in written]
    assert carried and all(by_url[url]["ts"] > max(carried) for url in written)


def test_bad_input_is_one_line_and_non_zero(archive, tmp_path):
    missing = run_package(str(tmp_path), "--wacz", str(tmp_path / "x.wacz"))
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'warc'} does not exist: nothing to package"
    ]
    (tmp_path / "warc").mkdir()
    empty = run_package(str(tmp_path), "--wacz", str(tmp_path / "x.wacz"))
    assert empty.exit_code == 1 and len(empty.stderr.strip().splitlines()) == 1
    assert "nothing to package" in empty.stderr
    for warc in (archive["out"] / "warc").glob("*.warc.gz"):
        (tmp_path / "warc" / warc.name).symlink_to(warc)
    no_catalog = run_package(str(tmp_path), "--wacz", str(tmp_path / "x.wacz"))
    assert no_catalog.exit_code == 1 and len(no_catalog.stderr.strip().splitlines()) == 1
    assert "crawl first (or run export)" in no_catalog.stderr
    wrong_name = run_package(str(archive["out"]), "--wacz", str(tmp_path / "x.zip"))
    assert wrong_name.exit_code == 2 and "must end in .wacz" in wrong_name.stderr
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"warc", ".wikiarchive.lock"}, left  # no WACZ, no scratch file


def test_busy_output_folder_exits_4(archive, tmp_path):
    with locked(archive["out"]):
        busy = run_package(str(archive["out"]), "--wacz", str(tmp_path / "x.wacz"))
    assert busy.exit_code == 4 and "another wikiarchive run" in busy.stderr
    assert not (tmp_path / "x.wacz").exists()


def test_repackaging_replaces_the_file_and_leaves_no_scratch(archive, tmp_path):
    target = tmp_path / "again.wacz"
    target.write_bytes(b"an older file")
    result = run_package(str(archive["out"]), "--wacz", str(target))
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.wacz"]
