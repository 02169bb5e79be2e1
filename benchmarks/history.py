"""History benchmark: `wikiarchive crawl --history --source` against dokuWikiDumper.

Usage: python benchmarks/history.py [--pages 400] [--revisions 5] [--concurrency 4]
                                    [--workers 4]

One run generates a wiki of N pages with R revisions each (benchmarks/bulkgen.py), serves
it with the real DokuWiki (`php -S`) on 127.0.0.1, and measures, at the same concurrency:
a first history crawl into an empty folder (`--history --source`: every revision rendered
and its markup, WARC files, catalog and tables included), and `dokuWikiDumper --content
--html` (full history: every revision's markup and its exported HTML). Both start on warm
DokuWiki caches (a pass renders every revision first). Requests are counted in the
server's own log, the same way for both. A third run, a later history crawl after 1% of
the pages got one more revision, shows the incremental cost. Writes benchmarks/
RESULTS-history.md. Every request goes to 127.0.0.1. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from bulkgen import generate_fast
from run import (
    FAST,
    NO_OUTSIDE,
    ensure_dumper,
    head_revision,
    log,
    measure,
    server_cpu,
    stdlib_pass,
)
from wikibed import BASE_PATH
from wikigen import DokuWikiBed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# php -S logs no request lines, but one "Accepted" per connection, and it answers one
# request per connection (it sends Connection: close).
REQUEST_LINE = re.compile(r"\] 127\.0\.0\.1:\d+ Accepted$", re.M)


def served_requests(bed: DokuWikiBed, since: int) -> int:
    """Requests the server logged after byte offset `since` of its log."""
    with open(bed.server_log, "rb") as log_file:
        log_file.seek(since)
        text = log_file.read().decode(errors="replace")
    return len(REQUEST_LINE.findall(text))


def log_size(bed: DokuWikiBed) -> int:
    return bed.server_log.stat().st_size


def warm(bed: DokuWikiBed, ids: list[str], revisions: int, concurrency: int) -> dict:
    """Render every page and old revision once, in both views the tools fetch."""
    paths = []
    for page_id in ids:
        base = f"{BASE_PATH}doku.php?id={page_id}"
        paths += [base, f"{base}&do=export_xhtml"]
        changes = bed.meta_path(page_id, "changes").read_text().splitlines()
        for line in changes[:-1]:
            rev = line.split("\t", 1)[0]
            paths += [f"{base}&rev={rev}", f"{base}&rev={rev}&do=export_xhtml"]
    return stdlib_pass(bed, paths, concurrency)


def history_crawl(site: str, out: Path, concurrency: int, bed: DokuWikiBed,
                  *options: str) -> dict:
    since, cpu0 = log_size(bed), server_cpu(bed)
    run = measure([sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out),
                   *FAST, "--concurrency", str(concurrency), "--history", *options])
    if run.returncode not in (0, 3):
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-3000:]}")
    revisions = pd.read_parquet(out / "tables" / "revisions.parquet")
    sources = pd.read_parquet(out / "tables" / "sources.parquet")
    return {
        "run": run,
        "revisions": int(revisions.archived.sum()),
        "listed": len(revisions),
        "sources": len(sources),
        "requests": served_requests(bed, since),
        "server_cpu": server_cpu(bed) - cpu0,
        "bytes": sum(p.stat().st_size for p in (out / "warc").glob("*.warc.gz")),
        "summary": run.stdout.splitlines()[0] if run.stdout else "",
    }


def dumper(site: str, work: Path, concurrency: int, bed: DokuWikiBed) -> dict:
    exe = ensure_dumper()
    target = work / "dumper"
    # --i-love-retro: no version check; --force: no look-up of earlier dumps on the web.
    cmd = [str(exe), site + "doku.php", "--content", "--html", "--threads", str(concurrency),
           "--path", str(target), "--i-love-retro", "--force"]
    since, cpu0 = log_size(bed), server_cpu(bed)
    run = measure(cmd, cwd=work, env=NO_OUTSIDE, timeout=3600)
    # Its markup of each revision: pages/<id>.txt (current), attic/<id>.<rev>.txt (old);
    # the exported HTML of each: html/pages/<id>.html, html/attic/<id>.<rev>.html.
    markup = _dumped_in(target, "*.txt")
    html = _dumped_in(target / "html", "*.html")
    files = [p for p in target.rglob("*") if p.is_file()]
    return {
        "run": run,
        "revisions": len(markup & html),
        "markup": len(markup),
        "html": len(html),
        "requests": served_requests(bed, since),
        "server_cpu": server_cpu(bed) - cpu0,
        "bytes": sum(p.stat().st_size for p in files),
        "cmd": " ".join(cmd).replace(str(work), "WORK").replace(str(exe), "dokuWikiDumper"),
    }


def _dumped_in(root: Path, pattern: str) -> set[tuple[str, str]]:
    """(page id, revision) of every file the dumper wrote under root/pages and root/attic."""
    return {_dumped(p, root / sub) for sub in ("pages", "attic")
            for p in (root / sub).rglob(pattern)}


def _dumped(path: Path, folder: Path) -> tuple[str, str]:
    """(page id, revision or 'current') of a file the dumper wrote."""
    rel = path.relative_to(folder).with_suffix("")
    name, _, rev = rel.name.rpartition(".") if folder.name == "attic" else (rel.name, "", "")
    page_id = ":".join([*rel.parent.parts, name])
    return page_id, rev or "current"


def add_revisions(bed: DokuWikiBed, ids: list[str], share: float) -> int:
    edited = random.Random(11).sample(ids[1:], max(1, int(len(ids) * share)))
    now = datetime.now(UTC)
    for page_id in edited:
        text = bed.page_path(page_id).read_text(encoding="utf-8")
        bed.write_page(page_id, text + "\nOne more revision.\n", when=now, summary="more")
    return len(edited)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--revisions", type=int, default=5, help="revisions per page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="php -S workers")
    parser.add_argument("--output", default=str(HERE / "RESULTS-history.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wikiarchive-history-") as tmp:
        work = Path(tmp)
        bed = DokuWikiBed(work / "wiki")
        log(f"generating {args.pages} pages x {args.revisions} revisions")
        ids = generate_fast(bed, args.pages, revisions=args.revisions)
        site = bed.start(workers=args.workers)
        try:
            log("warming DokuWiki's caches (every revision, both views)")
            cold = warm(bed, ids, args.revisions, args.concurrency)
            log("wikiarchive crawl --history")
            ours = history_crawl(site, work / "out", args.concurrency, bed)
            log(f"  {ours['run'].seconds:.1f} s, {ours['revisions']} revisions")
            log("wikiarchive crawl --history --source")
            sourced = history_crawl(site, work / "out-source", args.concurrency, bed,
                                    "--source")
            log(f"  {sourced['run'].seconds:.1f} s, {sourced['revisions']} revisions")
            log("dokuWikiDumper --content --html")
            theirs = dumper(site, work, args.concurrency, bed)
            log(f"  {theirs['run'].seconds:.1f} s, {theirs['revisions']} revisions")
            time.sleep(1.1)
            edited = add_revisions(bed, ids, 0.01)
            bed.reindex()
            time.sleep(1.1)
            log("a later history crawl")
            later = history_crawl(site, work / "out-source", args.concurrency, bed,
                                  "--source")
        finally:
            bed.stop()
    report = render(args, len(ids), cold, ours, sourced, theirs, edited, later,
                    time.perf_counter() - started)
    print(report)
    Path(args.output).write_text(report, encoding="utf-8")
    log(f"written {args.output}")


def render(args, n: int, cold: dict, ours: dict, sourced: dict, theirs: dict, edited: int,
           later: dict, total: float) -> str:
    head = head_revision()
    expected = (n - 1) * args.revisions + 1

    def row(name: str, r: dict, what: str) -> str:
        run = r["run"]
        rate = r["revisions"] / run.seconds
        return (f"| {name} | {args.concurrency} | {run.seconds:.1f} | {r['revisions']} | "
                f"**{rate:.1f}** | {r['requests']} | {r['requests'] / r['revisions']:.2f} | "
                f"{run.cpu / r['revisions'] * 1000:.0f} | "
                f"{r['server_cpu'] / r['revisions'] * 1000:.0f} | {run.maxrss_mb:.0f} | "
                f"{r['bytes'] / 1e6:.1f} | {what} |")

    ours_rate = ours["revisions"] / ours["run"].seconds
    sourced_rate = sourced["revisions"] / sourced["run"].seconds
    theirs_rate = theirs["revisions"] / theirs["run"].seconds
    lines = [
        f"# History benchmark: {n} pages, {args.revisions} revisions each, concurrency "
        f"{args.concurrency}",
        "",
        f"Machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}; DokuWiki "
        f"(Debian) under `php -S` with {args.workers} workers on 127.0.0.1. Code: {head}. "
        f"Produced by `python benchmarks/history.py --pages {args.pages} --revisions "
        f"{args.revisions} --concurrency {args.concurrency} --workers {args.workers}` in "
        f"{total / 60:.1f} min. The wiki holds {expected} revisions (the start page has one). "
        f"Caches were warmed first ({cold['rate']:.0f} req/s over every revision's two views). "
        "Requests are the connections the server accepted during each run (php -S answers "
        "one request per connection).",
        "",
        "| tool | concurrency | seconds | revisions archived | revisions/s | requests | "
        "requests / revision | client CPU ms / revision | server CPU ms / revision | "
        "peak RSS MB | output MB | what it keeps of each revision |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        row("**wikiarchive crawl --history** (WARC, catalog, tables)", ours,
            "the rendered page as a reader saw it (request/response records in WARC); "
            "revision list, versions and changes tables"),
        row("**wikiarchive crawl --history --source** (WARC, catalog, tables)", sourced,
            "the same, and its markup (`export_raw`), in WARC and the sources table"),
        row("dokuWikiDumper --content --html", theirs,
            "markup and `export_xhtml` HTML as files (no HTTP headers, no WARC)"),
        "",
        f"wikiarchive --history: {ours['summary']}; {ours['listed']} revisions listed, "
        f"{ours['revisions']} archived. With --source: {sourced['summary']}; "
        f"{sourced['sources']} sources.",
        f"dokuWikiDumper (`{theirs['cmd']}`): {theirs['markup']} revisions' markup, "
        f"{theirs['html']} revisions' HTML; a revision counts when it has both; exit "
        f"{theirs['run'].returncode}.",
        "",
        f"A later `--history --source` crawl after {edited} pages (1%) got one more revision: "
        f"{later['run'].seconds:.1f} s, {later['requests']} requests "
        f"({later['summary']}).",
        "",
        "## Target",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| a history crawl archives more revisions per second than dokuWikiDumper "
        f"--content --html, WARC and tables included | {ours_rate:.1f} vs "
        f"{theirs_rate:.1f} revisions/s ({ours_rate / theirs_rate:.2f}x) | "
        f"{'**met**' if ours_rate > theirs_rate else '**missed**'} |",
        f"| the same with each revision's markup too (`--source`, like the dumper's "
        f"`--content`) | {sourced_rate:.1f} vs {theirs_rate:.1f} revisions/s "
        f"({sourced_rate / theirs_rate:.2f}x) | "
        f"{'**met**' if sourced_rate > theirs_rate else '**missed**'} |",
        f"| every revision archived | wikiarchive {ours['revisions']} "
        f"({sourced['revisions']} with --source), dokuWikiDumper "
        f"{theirs['revisions']} of {expected} | "
        f"{'**met**' if ours['revisions'] == expected else '**missed**'} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
