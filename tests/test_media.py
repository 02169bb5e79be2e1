"""Requisites and media files: archived once per crawl, asked conditionally, tabled.

A fresh wiki holding the media corpus (tests/corpus_media: images at several sizes, one in
the root namespace, one never uploaded, a linked PDF) is crawled; one image is replaced
through DokuWiki's media changelog and the wiki crawled again (incremental: no page
changed, the media feed names the file); then crawled once more with --full and nothing
changed, when every requisite and media file is answered 304. Expected values come from
the corpus files and markup (tests/media_corpus.py), never from the crawler.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest
from helpers import WHOLE, wait_for_fresh_caches, warcio_check, wikiarchive
from media_corpus import (
    EDITED_FILE,
    EDITED_MEDIA,
    MISSING_MEDIA,
    load,
    media_files,
    resized,
    uses,
)
from warcio.archiveiterator import ArchiveIterator
from wikibed import DokuWikiBed

from archive.reader import read_warcinfo
from archive.writer import NOT_MODIFIED_PROFILE
from crawler.requisites import css_references


def crawl(bed: DokuWikiBed, out: Path, *options: str) -> str:
    result = wikiarchive("crawl", bed.base_url, "--out", str(out), *WHOLE, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()[1]  # "Crawl <id> (...)"


def records(out: Path, crawl_id: str) -> list:
    """(type, url, status, headers, payload digest, WARC headers) of a crawl's records."""
    found = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        if read_warcinfo(path).get("wikiarchive-crawl-id") != crawl_id:
            continue
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type not in ("response", "revisit", "request"):
                    continue
                http = record.http_headers
                found.append({
                    "type": record.rec_type,
                    "url": record.rec_headers.get_header("WARC-Target-URI"),
                    "status": int(http.get_statuscode()) if http and record.rec_type != "request"
                    else None,
                    "http": http,
                    "warc": record.rec_headers,
                    "body": record.content_stream().read() if record.rec_type == "response"
                    else b"",
                    "file": path.name,
                })
    return found


def table(out: Path, name: str) -> list[dict[str, str]]:
    with open(out / "tables" / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def media_of(url: str) -> str | None:
    return (parse_qs(urlsplit(url).query).get("media") or [None])[0]


@pytest.fixture(scope="module")
def media_wiki(tmp_path_factory):
    bed = DokuWikiBed(tmp_path_factory.mktemp("media-wiki"))
    load(bed)
    bed.start()
    out = tmp_path_factory.mktemp("media") / "out"
    try:
        # What the first crawl makes DokuWiki cache (its stylesheet above all) must stay
        # cached, so the unchanged wiki answers every conditional request with a 304.
        wait_for_fresh_caches(bed)
        first = crawl(bed, out)
        first_tables = {n: table(out, n) for n in ("media", "page_media", "changes")}
        time.sleep(1.1)  # the replacement is later than the first crawl, as on a live wiki
        # Uploaded as on a live wiki: no configuration change (the media feed has not
        # been asked for yet, so no cached copy of it hides the upload).
        bed.write_media(EDITED_MEDIA, EDITED_FILE.read_bytes(), when=datetime.now(UTC),
                        changelog=True, summary="better contrast", refresh_caches=False)
        time.sleep(1.1)
        second = crawl(bed, out)
        third = crawl(bed, out, "--full")
        yield {"bed": bed, "out": out, "crawls": (first, second, third),
               "first_tables": first_tables}
    finally:
        bed.stop()


def test_every_media_file_the_pages_show_is_in_the_media_table(media_wiki):
    rows = media_wiki["first_tables"]["media"]
    files = media_files()
    stored = [r for r in rows if r["status"] == "stored"]
    for use in uses():
        if use.media_id == MISSING_MEDIA:
            continue
        source = files[use.media_id]
        shown = [r for r in stored if r["media_id"] == use.media_id]
        assert shown, use
        if use.is_image:
            # The image at the size the page shows it ...
            want = resized(use, source.size)
            assert any(int(r["width"]) == want[0] and int(r["height"]) == want[1]
                       and r["mime_type"] == "image/" + ("jpeg" if use.media_id.endswith(
                           "jpg") else "png") for r in shown), (use, want, shown)
        if not use.nolink:
            # ... and the original behind its link (the detail page's, or a direct link).
            originals = [r for r in shown if r["resized"] == "false"]
            assert originals, use
            for row in originals:
                assert row["sha256"] == source.sha256 and int(row["bytes"]) == len(source.data)
                if source.size:
                    assert (int(row["width"]), int(row["height"])) == source.size
                else:
                    assert row["width"] == row["height"] == ""
    pdf = [r for r in stored if r["media_id"].endswith(".pdf")]
    assert pdf and all(r["mime_type"] == "application/pdf" for r in pdf)
    missing = [r for r in rows if r["media_id"] == MISSING_MEDIA]
    assert missing and all((r["status"], r["http_status"], r["sha256"]) == ("missing", "404", "")
                           for r in missing)
    # Nothing but the corpus's media (and what DokuWiki's pages carry) is a media row.
    assert {r["media_id"] for r in rows} == {u.media_id for u in uses()}


def test_page_media_says_which_page_shows_or_links_which_file(media_wiki):
    got = {(r["page_id"], r["media_id"], r["relation"])
           for r in media_wiki["first_tables"]["page_media"]}
    want = set()
    for use in uses():
        want.add((use.page_id, use.media_id, "embeds" if use.is_image else "links"))
        if use.direct:  # the image, and a link straight to its file
            want.add((use.page_id, use.media_id, "links"))
    assert got == want
    media_urls = {r["url"] for r in media_wiki["first_tables"]["media"]}
    assert {r["url"] for r in media_wiki["first_tables"]["page_media"]} <= media_urls


def test_requisites_are_archived_once_each_and_the_task_runner_never(media_wiki):
    out, (first, _, _) = media_wiki["out"], media_wiki["crawls"]
    found = records(out, first)
    responses = [r for r in found if r["type"] != "request"]
    counts = Counter(r["url"] for r in responses)
    assert counts and max(counts.values()) == 1, counts.most_common(3)
    urls = set(counts)
    paths = {urlsplit(u).path.rsplit("/", 2)[-1] for u in urls}
    assert {"css.php", "js.php", "jquery.php", "favicon.ico", "logo.png"} <= paths
    assert not any("taskrunner.php" in u or "do=media" in u or "mediamanager" in u
                   for u in urls | {r["url"] for r in found})
    # Every image and font of the stylesheet is archived, at the URL it resolves to. (The
    # stylesheet's URL carries a seed of the wiki's configuration: pages may name more
    # than one.)
    sheets = [r for r in responses if "css.php" in r["url"] and r["type"] == "response"]
    assert sheets and all(css["status"] == 200 for css in sheets)
    site = media_wiki["bed"].base_url
    wanted = {
        urljoin(css["url"], ref) for css in sheets for ref in css_references(css["body"].decode())
        if not ref.startswith("data:") and urljoin(css["url"], ref).startswith(site + "lib/")
    }
    assert wanted and wanted <= urls, sorted(wanted - urls)[:5]


def test_a_media_file_changed_without_its_page_is_fetched_again_and_said(media_wiki):
    out, (first, second, _) = media_wiki["out"], media_wiki["crawls"]
    found = [r for r in records(out, second) if r["type"] != "request"]
    # No page changed: no article fetched; of the media, the replaced image's URLs only
    # (its detail page brings the requisites it loads, which answer 304).
    fetched = {media_of(r["url"]) for r in found if "fetch.php" in r["url"]
               or "detail.php" in r["url"]}
    assert fetched == {EDITED_MEDIA}, fetched
    assert all(r["status"] == 304 for r in found if "/lib/" in r["url"]
               and "fetch.php" not in r["url"] and "detail.php" not in r["url"]
               and r["type"] == "response")
    assert not any("doku.php?id=" in r["url"] and "do=" not in r["url"] and "idx=" not in r["url"]
                   for r in found)
    rows = {r["url"]: r for r in table(out, "media")}
    before = {r["url"]: r for r in media_wiki["first_tables"]["media"]}
    edited = [u for u, r in rows.items() if r["media_id"] == EDITED_MEDIA]
    for url in edited:
        assert rows[url]["changed_crawl_id"] == second != before[url]["changed_crawl_id"]
        assert rows[url]["sha256"] != before[url]["sha256"]
    original = [rows[u] for u in edited if rows[u]["resized"] == "false"]
    new_sha = hashlib.sha256(EDITED_FILE.read_bytes()).hexdigest()
    assert original and original[0]["sha256"] == new_sha
    others = [r for u, r in rows.items() if r["media_id"] != EDITED_MEDIA]
    assert all(r["changed_crawl_id"] == first for r in others if r["status"] == "stored")
    # The page showing it says its images changed; its text did not.
    pages = {u.page_id for u in uses() if u.media_id == EDITED_MEDIA}
    changes = [c for c in table(out, "changes") if c["to_crawl_id"] == second]
    assert {c["page_id"] for c in changes} == pages
    for change in changes:
        assert change["change"] == "modified" and change["body_changed"] == "false"
        assert int(change["media_changed"]) == 1
    shown = wikiarchive("changes", str(out), "--since", first)
    assert shown.returncode == 0, shown.stderr
    (line,) = [ln for ln in shown.stdout.splitlines() if "imaging_atlas" in ln]
    assert line.split()[0] == "modified" and f"media files changed: {EDITED_MEDIA}" in line
    report = out / "media-report.html"
    made = wikiarchive("report", str(out), "-o", str(report))
    assert made.returncode == 0, made.stderr
    rows = lxml.html.fromstring(report.read_bytes()).xpath("//table[@id='changes']//tr[td]")
    cells = {row.xpath("string(td[2])").strip(): row.xpath("string(td[4])") for row in rows}
    assert set(cells) == pages
    assert all(f"media files changed: {EDITED_MEDIA}" in what for what in cells.values())


def _rebuilt(answer: dict, first: list[dict]) -> bool:
    """A bundle (css.php, js.php) answered whole because DokuWiki rebuilt it during the
    first crawl: the first crawl saw two builds, and this is the later one."""
    bundle = next((b for b in ("lib/exe/css.php", "lib/exe/js.php") if b in answer["url"]), None)
    if bundle is None:
        return False
    built = {r["http"].get_header("Last-Modified") for r in first
             if r["type"] != "request" and bundle in r["url"]}
    return len(built) > 1 and answer["http"].get_header("Last-Modified") == max(
        built, key=parsedate_to_datetime)


def test_a_recrawl_of_an_unchanged_wiki_fetches_no_file_body_again(media_wiki):
    out, (first, _, third) = media_wiki["out"], media_wiki["crawls"]
    found = records(out, third)
    answers = [r for r in found if r["type"] != "request" and "lib/" in r["url"]]
    # Article pages and image detail pages name the stylesheet and the script bundle with
    # different seeds, and both URLs of each share one DokuWiki cache: when the first
    # crawl's two requests straddle DokuWiki's rebuild of it (seen for both bundles), the
    # URL captured first holds the older build, and the recrawl rightly gets the rebuild,
    # which must be the one the first crawl last saw.
    rebuilt = [r for r in answers if r["status"] == 200 and _rebuilt(r, records(out, first))]
    bodies = [r["url"] for r in answers if r["status"] == 200
              and "detail.php" not in r["url"] and r not in rebuilt]
    assert answers and not bodies, bodies[:5]
    # The stylesheet answered 304 too, and what it loads was still asked for (from the
    # stylesheet the 304 confirmed).
    sheets = [r for r in records(out, media_wiki["crawls"][0])
              if r["type"] == "response" and "css.php" in r["url"]]
    loaded = {urljoin(css["url"], ref) for css in sheets
              for ref in css_references(css["body"].decode()) if "/lib/images/" in ref}
    asked = {r["url"] for r in answers}
    assert loaded and loaded <= asked, sorted(loaded - asked)[:5]
    ids = {}
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                ids[record.rec_headers.get_header("WARC-Record-ID")] = record.rec_headers
    requests = {r["url"]: r for r in found if r["type"] == "request"}
    for revisit in (r for r in answers if r["status"] == 304):
        assert revisit["type"] == "revisit"
        warc = revisit["warc"]
        assert warc.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE
        original = ids[warc.get_header("WARC-Refers-To")]
        assert original.get_header("WARC-Type") == "response"
        assert warc.get_header("WARC-Refers-To-Target-URI") == original.get_header(
            "WARC-Target-URI")
        assert warc.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert warc.get_header("WARC-Payload-Digest") == original.get_header(
            "WARC-Payload-Digest")
        sent = requests[revisit["url"]]["http"]
        assert sent.get_header("If-None-Match") or sent.get_header("If-Modified-Since")
    # The 304s are the files held, never empty ones.
    for row in table(out, "media"):
        if row["status"] == "stored":
            assert row["last_crawl_id"] == third and int(row["bytes"]) > 0
            assert row["http_status"] == "304"
    assert warcio_check(sorted((out / "warc").glob("*.warc.gz"))).returncode == 0


def test_export_rebuilds_the_media_tables_from_the_warcs_alone(media_wiki, tmp_path):
    out = media_wiki["out"]
    copy = tmp_path / "copy"
    shutil.copytree(out / "warc", copy / "warc")
    result = wikiarchive("export", str(copy))
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("media", "page_media", "changes"):
        assert (copy / "tables" / f"{name}.csv").read_bytes() == (
            out / "tables" / f"{name}.csv"
        ).read_bytes(), name


def test_no_media_and_no_requisites_fetch_neither(media_wiki, tmp_path):
    bed = media_wiki["bed"]
    out = tmp_path / "bare"
    crawl_id = crawl(bed, out, "--no-media", "--no-requisites")
    urls = {r["url"] for r in records(out, crawl_id)}
    assert any("doku.php?id=imaging_atlas" in u for u in urls)
    assert not any("/lib/" in u for u in urls), sorted(u for u in urls if "/lib/" in u)[:5]
    assert table(out, "media") == [] and table(out, "page_media") != []
    media_only = tmp_path / "media-only"
    crawl_id = crawl(bed, media_only, "--no-requisites")
    urls = {r["url"] for r in records(media_only, crawl_id)}
    assert any("fetch.php" in u for u in urls)
    assert not any("css.php" in u or "/lib/tpl/" in u for u in urls)


def test_a_file_over_the_size_cap_is_skipped_not_truncated(media_wiki, tmp_path):
    bed = media_wiki["bed"]
    out = tmp_path / "capped"
    big = media_files()["imaging:angiogram.jpg"]
    cap_mb = (len(big.data) - 1) / 1_000_000  # just under the angiogram as uploaded
    crawl_id = crawl(bed, out, "--media-max-size", str(cap_mb))
    found = records(out, crawl_id)
    kept = [r for r in found if r["type"] == "response" and "fetch.php" in r["url"]]
    assert kept and all(len(r["body"]) <= len(big.data) - 1 for r in kept)
    assert all(r["warc"].get_header("WARC-Truncated") is None for r in kept)
    rows = [r for r in table(out, "media") if r["status"] == "skipped"]
    assert rows and all(r["media_id"] == "imaging:angiogram.jpg" and r["resized"] == "false"
                        for r in rows)
    assert all(int(r["bytes"]) == len(big.data) and r["sha256"] == "" for r in rows)


def index_lines(wacz: Path) -> list[tuple[str, dict]]:
    with zipfile.ZipFile(wacz) as archive:
        text = gzip.decompress(archive.read("indexes/index.cdx.gz")).decode("utf-8")
    return [(ts, json.loads(fields)) for _, ts, fields in
            (line.split(" ", 2) for line in text.splitlines())]


def record_in(wacz: Path, fields: dict):
    """The WARC record an index line names, read from the WACZ's copy of the file."""
    with zipfile.ZipFile(wacz) as archive:
        data = archive.read("archive/" + fields["filename"])
    offset, length = int(fields["offset"]), int(fields["length"])
    record = next(iter(ArchiveIterator(io.BytesIO(data[offset : offset + length]))))
    return record, record.content_stream().read()


def test_the_wacz_holds_the_requisites_and_replays_them_from_its_index(media_wiki, tmp_path):
    out, bed = media_wiki["out"], media_wiki["bed"]
    wacz = tmp_path / "media.wacz"
    result = wikiarchive("package", str(out), "--wacz", str(wacz))
    assert result.returncode == 0, result.stderr[-2000:]
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(wacz)],
        capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    lines = index_lines(wacz)
    by_url: dict[str, list[tuple[str, dict]]] = {}
    for ts, fields in lines:
        by_url.setdefault(fields["url"], []).append((ts, fields))
    # As ReplayWeb.page does: the page's latest capture, then for everything it loads (read
    # from the archived HTML with lxml here) the capture closest in time, a revisit
    # resolved to the response with its payload digest.
    page_url = bed.page_url("imaging_atlas")
    page_ts, page = max(by_url[page_url], key=lambda item: item[0])
    _, html = record_in(wacz, page)
    tree = lxml.html.fromstring(html)
    loads = {urljoin(page_url, src) for src in tree.xpath("//img/@src")}
    loads |= {urljoin(page_url, href) for href in tree.xpath("//link[@rel='stylesheet']/@href")}
    loads = {u for u in loads if "taskrunner.php" not in u}
    assert len(loads) > 10
    for url in loads:
        assert url in by_url, url
        ts, fields = min(by_url[url], key=lambda item: abs(int(item[0]) - int(page_ts)))
        if fields["mime"] == "warc/revisit":
            originals = [f for _, f in by_url[url] + [x for x in lines if x[1]["url"] != url]
                         if f["mime"] != "warc/revisit" and f["digest"] == fields["digest"]]
            assert fields["status"] in ("200", "404") and originals, (url, fields)
            fields = originals[0]
        record, body = record_in(wacz, fields)
        status = record.http_headers.get_statuscode()
        if media_of(url) == MISSING_MEDIA:
            assert status == "404"
        else:
            assert (status, record.rec_type) == ("200", "response") and body, (url, fields)
    # The last crawl's captures of what the page loads were 304s (archived as such): in the
    # index they name the bytes they confirmed, never an empty 304.
    confirmed = [f for ts, f in lines if ts >= page_ts and f["url"] in loads]
    assert confirmed and not any(f.get("status") == "304" and f["mime"] == "warc/revisit"
                                 for _, f in lines)


def requisite_answers(out: Path, crawl_id: str) -> dict[str, int]:
    """URL -> HTTP status of each requisite a crawl archived (stylesheet, scripts, images
    under lib/ other than media files and detail pages)."""
    return {r["url"]: r["status"] for r in records(out, crawl_id)
            if r["type"] != "request" and "/lib/" in r["url"]
            and "fetch.php" not in r["url"] and "detail.php" not in r["url"]}


def test_an_incremental_crawl_asks_for_requisites_again_only_when_their_seed_changed(tmp_path):
    bed = DokuWikiBed(tmp_path / "wiki")
    long_ago = datetime(2024, 6, 7, 3, 0, tzinfo=UTC)
    bed.write_page("start", "====== Start ======\nSee [[notes]].\n", when=long_ago)
    bed.write_page("notes", "====== Notes ======\nFirst words.\n", when=long_ago)
    bed.start()
    out = tmp_path / "out"
    try:
        wait_for_fresh_caches(bed)
        first = crawl(bed, out)
        # An edit as on a live wiki, which leaves the configuration alone (the bed's
        # usual edit touches it to drop every cache); the feed's cache expired meanwhile.
        bed.write_page("notes", "====== Notes ======\nSecond words.\n", when=datetime.now(UTC),
                       refresh_caches=False)
        bed.expire_feed_caches()
        same_look = crawl(bed, out)
        # An admin saves the configuration: DokuWiki names its stylesheet and scripts
        # with a new seed.
        bed.set_template(bed.template)
        bed.write_page("notes", "====== Notes ======\nThird words.\n", when=datetime.now(UTC))
        new_look = crawl(bed, out)
    finally:
        bed.stop()
    held = requisite_answers(out, first)
    sheets = [url for url in held if "css.php" in url]
    assert len(sheets) == 1 and held[sheets[0]] == 200
    notes = [r for r in records(out, same_look) if "id=notes" in r["url"]]
    assert notes, "the edited page was fetched"
    assert requisite_answers(out, same_look) == {}  # the same seeded look: nothing asked
    answered = requisite_answers(out, new_look)
    (sheet,) = [url for url in answered if "css.php" in url]
    assert sheet != sheets[0] and answered[sheet] == 200  # the new seed, fetched whole
    # What the new stylesheet loads and the archive holds is confirmed, not refetched.
    images = [url for url in answered if "/lib/images/" in url or "/images/" in url]
    assert images and all(answered[url] == 304 for url in images if url in held)
