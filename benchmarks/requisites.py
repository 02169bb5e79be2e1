"""What requisites and media cost: extra requests and bytes per article, full and incremental.

Usage: python benchmarks/requisites.py [--pages 500] [--images 60] [--edited 0.01]
Prints a Markdown table and writes it to benchmarks/RESULTS-requisites.md.

A generated wiki (benchmarks/wikigen.py) gets media files: JPEG scans, each page embedding
one or two of them at a page size (some linked to their detail page, some not) and now and
then a linked PDF. The same wiki is crawled four times, all on 127.0.0.1:

1. full, with ``--no-requisites --no-media``: the baseline, articles alone;
2. full, with requisites and media, into its own folder;
3. incremental, after 1% of the pages were edited (as an editor saves them: no change of
   the wiki's configuration, so the stylesheet keeps its URL);
4. ``--full`` again on the unchanged wiki: every file is asked conditionally.

Requests and bytes are counted from each crawl's own WARC records, by what was fetched
(``crawler.dokuwiki.request_kind``); bytes are those received (status line, headers and
body; a 304 has no body, an identical answer stored as a revisit counts its body). The
target: crawl 4 receives no media body again.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from warcio.archiveiterator import ArchiveIterator
from wikigen import DokuWikiBed, edit_sample, generate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.reader import read_warcinfo  # noqa: E402
from crawler.dokuwiki import request_kind  # noqa: E402

HERE = Path(__file__).resolve().parent
FAST = ["--delay", "0", "--concurrency", "2", "-s", "AUTOTHROTTLE_ENABLED=False",
        "--log-level", "WARNING"]
KINDS = ("article", "requisite", "media", "detail", "other")


def scan(seed: int) -> bytes:
    """A JPEG like a scan: 800x600, noise over a shape, about 40 KB."""
    rng = random.Random(seed)
    image = Image.effect_noise((800, 600), 40).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(700), rng.randrange(500)
        draw.ellipse((x, y, x + rng.randrange(50, 200), y + rng.randrange(50, 200)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages "
       b"/Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox "
       b"[0 0 200 100] >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def add_media(bed: DokuWikiBed, ids: list[str], images: int) -> None:
    rng = random.Random(5)
    when = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(images):
        bed.write_media(f"imaging:scan_{i}.jpg", scan(i), when=when, changelog=True,
                        refresh_caches=False)
    bed.write_media("protocols:protocol.pdf", PDF, when=when, changelog=True,
                    refresh_caches=False)
    later = datetime(2025, 1, 1, tzinfo=UTC)
    for n, page_id in enumerate(ids):
        text = bed.page_path(page_id).read_text(encoding="utf-8")
        embeds = []
        for _ in range(rng.choice((1, 1, 2))):
            width = rng.choice((200, 300, 400))
            link = "" if rng.random() < 0.7 else "nolink&"
            embeds.append(f"{{{{imaging:scan_{rng.randrange(images)}.jpg?{link}{width}|Scan}}}}")
        if rng.random() < 0.1:
            embeds.append("{{protocols:protocol.pdf|Protocol}}")
        bed.write_page(page_id, text + "\n" + "\n\n".join(embeds) + "\n",
                       when=later + timedelta(minutes=n), refresh_caches=False)
    bed.refresh_caches()
    bed.reindex()


def crawl(site: str, out: Path, *options: str) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out), *FAST, *options],
        capture_output=True, text=True, cwd=HERE.parent,
    )
    if result.returncode != 0:
        sys.exit(f"crawl failed: {result.stderr[-2000:]}")
    return result.stdout.split()[1], time.perf_counter() - started


def payload_sizes(out: Path) -> dict[str, int]:
    """Payload digest -> size of the body stored under it, over every crawl of *out*."""
    sizes = {}
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    digest = record.rec_headers.get_header("WARC-Payload-Digest")
                    sizes[digest] = len(record.content_stream().read())
    return sizes


def measure(out: Path, crawl_id: str, site: str) -> dict:
    """Requests, bytes received and file bodies received, by kind, for one crawl."""
    sizes = payload_sizes(out)
    requests: Counter[str] = Counter()
    received: Counter[str] = Counter()
    bodies: Counter[str] = Counter()
    not_modified = 0
    for path in sorted((out / "warc").glob("*.warc.gz")):
        if read_warcinfo(path).get("wikiarchive-crawl-id") != crawl_id:
            continue
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type not in ("response", "revisit"):
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                kind = request_kind(url, site)
                kind = kind if kind in KINDS else "other"
                http = record.http_headers
                status = http.get_statuscode()
                head = len(http.to_bytes()) if http else 0
                if record.rec_type == "response":
                    body = len(record.content_stream().read())
                elif status == "304":
                    body = 0
                    not_modified += 1
                else:  # an identical answer: received whole, stored once
                    body = sizes[record.rec_headers.get_header("WARC-Payload-Digest")]
                requests[kind] += 1
                received[kind] += head + body
                if status == "200" and body:
                    bodies[kind] += 1
    return {"requests": requests, "bytes": received, "bodies": bodies, "304": not_modified}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--edited", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # The feed is read fresh each time (DokuWiki caches it 5 minutes by default).
        bed = DokuWikiBed(Path(tmp) / "wiki", conf={"rss_update": 1})
        t0 = time.perf_counter()
        ids = generate(bed, args.pages)
        add_media(bed, ids, args.images)
        build = time.perf_counter() - t0
        site = bed.start()
        try:
            base_id, base_s = crawl(site, Path(tmp) / "base", "--no-requisites", "--no-media")
            out = Path(tmp) / "out"
            full_id, full_s = crawl(site, out)
            time.sleep(1.1)
            edited = edit_sample(bed, ids, args.edited)
            time.sleep(1.1)
            inc_id, inc_s = crawl(site, out)
            again_id, again_s = crawl(site, out, "--full")
            runs = [
                ("1. articles only (baseline)", measure(Path(tmp) / "base", base_id, site),
                 base_s),
                ("2. full, requisites and media", measure(out, full_id, site), full_s),
                (f"3. incremental, {len(edited)} pages edited", measure(out, inc_id, site),
                 inc_s),
                ("4. --full, nothing changed", measure(out, again_id, site), again_s),
            ]
        finally:
            bed.stop()
    articles = runs[1][1]["requests"]["article"]
    base = runs[0][1]
    lines = [
        f"# Requisites and media: what they cost ({len(ids)} pages, {args.images} scans)",
        "",
        f"Machine: {os.cpu_count()} cores; DokuWiki (Debian) served by one `php -S` worker on "
        f"127.0.0.1; crawls at concurrency 2, no delay. Wiki generated in {build:.0f} s: each "
        "page embeds one or two JPEG scans (800x600, about 40 KB) at 200, 300 or 400 px, 70% "
        "linked to their detail page; one page in ten links a PDF. Made by "
        "`benchmarks/requisites.py`.",
        "",
        "| crawl | seconds | articles | requisite requests | media requests | detail pages |"
        " requests | MB received | media bodies received | 304 answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m, seconds in runs:
        r = m["requests"]
        lines.append(
            f"| {name} | {seconds:.1f} | {r['article']} | {r['requisite']} | {r['media']} | "
            f"{r['detail']} | {sum(r.values())} | {sum(m['bytes'].values()) / 1e6:.2f} | "
            f"{m['bodies']['media']} | {m['304']} |"
        )
    full = runs[1][1]
    extra_requests = sum(full["requests"].values()) - sum(base["requests"].values())
    extra_bytes = sum(full["bytes"].values()) - sum(base["bytes"].values())
    inc = runs[2][1]
    inc_articles = inc["requests"]["article"] or 1
    inc_extra = sum(inc["requests"][k] for k in ("requisite", "media", "detail"))
    inc_bytes = sum(inc["bytes"][k] for k in ("requisite", "media", "detail"))
    again = runs[3][1]
    lines += [
        "",
        f"- Full crawl: {extra_requests / articles:.2f} extra requests and "
        f"{extra_bytes / articles / 1e3:.1f} KB extra received per article (crawl 2 less "
        f"crawl 1, over {articles} articles); the stylesheet, scripts and template images are "
        "fetched once per crawl, not per page.",
        f"- Incremental crawl, {len(edited)} pages edited: {inc_extra} requisite, media and "
        f"detail requests ({inc_extra / inc_articles:.1f} per article fetched), "
        f"{inc_bytes / 1e3:.1f} KB; {inc['bodies']['media']} media bodies received.",
        f"- `--full` on the unchanged wiki: {again['bodies']['media']} media bodies received "
        f"(target 0), {again['304']} answers 304; what it still receives whole are the "
        "articles and images' detail pages, which DokuWiki serves without validators.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    (HERE / "RESULTS-requisites.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
