"""Incremental recrawl vs full crawl on a generated wiki with 1% of its pages edited.

Usage: python benchmarks/incremental_crawl.py [--pages 2000] [--edited 0.01]
Prints a Markdown table and writes it to benchmarks/RESULTS-incremental.md.
Every request goes to the test DokuWiki on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wikigen import DokuWikiBed, edit_sample, generate

HERE = Path(__file__).resolve().parent
FAST = ["--delay", "0", "--concurrency", "2", "-s", "AUTOTHROTTLE_ENABLED=False",
        "--log-level", "WARNING"]


def crawl(site: str, out: Path, *options: str) -> tuple[float, int, int, str]:
    """(seconds, requests, article pages, summary line) of one crawl."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out), *FAST, *options],
        capture_output=True, text=True, cwd=HERE.parent,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"crawl failed: {result.stderr[-2000:]}")
    line = result.stdout.splitlines()[0]  # Crawl ID (mode): P pages, R requests, E errors
    words = line.replace(",", "").split()
    return seconds, int(words[5]), int(words[3]), line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--edited", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bed = DokuWikiBed(Path(tmp) / "wiki")
        t0 = time.perf_counter()
        ids = generate(bed, args.pages)
        build = time.perf_counter() - t0
        site = bed.start()
        try:
            out = Path(tmp) / "out"
            full = crawl(site, out)
            time.sleep(1.1)
            edited = edit_sample(bed, ids, args.edited)
            bed.expire_feed_caches()  # as a crawl a day later finds it
            time.sleep(1.1)
            incremental = crawl(site, out)
            time.sleep(1.1)
            unchanged = crawl(site, out)
        finally:
            bed.stop()
    rows = [
        ("full crawl", full),
        (f"incremental, {len(edited)} pages edited", incremental),
        ("incremental, nothing changed since", unchanged),
    ]
    lines = [
        f"# Incremental vs full crawl ({len(ids)} pages, {len(edited)} edited)",
        "",
        f"Machine: {os.cpu_count()} cores; DokuWiki (Debian) served by one `php -S` worker on "
        f"127.0.0.1; crawl at concurrency 2, no delay, with the requisites pages load (the "
        f"default). Wiki generated in {build:.0f} s. Edits are written as on a live wiki "
        "(the configuration untouched, the feed's cache expired).",
        "",
        "| crawl | seconds | requests | article pages | requests vs full | time vs full |",
        "|---|---|---|---|---|---|",
    ]
    for name, (seconds, requests, pages, _) in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {requests} | {pages} | "
            f"{requests / full[1]:.1%} | {seconds / full[0]:.1%} |"
        )
    lines += ["", "Summary lines:", "", *[f"    {r[1][3]}" for r in rows], ""]
    report = "\n".join(lines)
    print(report)
    (HERE / "RESULTS-incremental.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
