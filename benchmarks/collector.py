"""What Python's garbage collector costs a crawl process, with crawler.collector and without.

Usage: python benchmarks/collector.py [--pages 2000] [--rounds 2]
                                      [--output benchmarks/RESULTS-collector.md]

Generates a wiki (benchmarks/bulkgen.py), serves it with the real DokuWiki on 127.0.0.1,
then runs `wikiarchive crawl` in turns with the project's settings and with
`WIKI_COLLECTOR_TUNING=False` (crawler.collector off), timing every collection in the crawl
process (gc.callbacks) and the process's CPU. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bulkgen import generate_fast
from floor import FAST
from run import article_paths, head_revision, log, measure, stdlib_pass
from wikigen import DokuWikiBed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Runs the CLI in this interpreter with every collection timed; prints the totals last.
TIMED = """
import gc, json, runpy, sys, time
totals = {"count": [0, 0, 0], "seconds": [0.0, 0.0, 0.0]}
began = []
def timed(phase, info):
    if phase == "start":
        began.append(time.perf_counter())
    else:
        generation = info["generation"]
        totals["count"][generation] += 1
        totals["seconds"][generation] += time.perf_counter() - began.pop()
gc.callbacks.append(timed)
sys.argv = ["wikiarchive", *sys.argv[1:]]
try:
    runpy.run_module("crawler.cli", run_name="__main__")
finally:
    print("GC " + json.dumps(totals), file=sys.stderr)
"""


def crawl(site: str, out: Path, *, tuned: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    options = [] if tuned else ["-s", "WIKI_COLLECTOR_TUNING=False"]
    run = measure([sys.executable, "-c", TIMED, "crawl", site, "--out", str(out), *FAST,
                   "--concurrency", "2", *options])
    if run.returncode != 0:
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-3000:]}")
    line = next(x for x in reversed(run.stderr.splitlines()) if x.startswith("GC "))
    return {"run": run, "gc": json.loads(line[3:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", default=str(HERE / "RESULTS-collector.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="wikiarchive-collector-") as tmp:
        work = Path(tmp)
        bed = DokuWikiBed(work / "wiki")
        log(f"generating {args.pages} pages")
        ids = generate_fast(bed, args.pages)
        site = bed.start(workers=2)
        try:
            stdlib_pass(bed, article_paths(ids), 4)
            for turn in range(args.rounds):
                for tuned in (False, True):
                    log(f"turn {turn + 1}: {'tuned' if tuned else 'default'} collector")
                    results[tuned].append(crawl(site, work / "out", tuned=tuned))
        finally:
            bed.stop()
    text = render(results, len(ids), args, (time.perf_counter() - started) / 60)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def render(results: dict, n: int, args: argparse.Namespace, minutes: float) -> str:
    head = head_revision()
    lines = [
        f"# The crawl process's garbage collector ({n} pages)",
        "",
        f"Produced by `python benchmarks/collector.py --pages {args.pages} --rounds "
        f"{args.rounds}` at {head} in {minutes:.1f} min: {os.cpu_count()} cores, DokuWiki "
        "(Debian) under `php -S` with 2 workers on 127.0.0.1, `wikiarchive crawl "
        "--concurrency 2` without requisites or media, in turns. Collections are timed in "
        "the crawl process (the archivist's are a few ms).",
        "",
        "| collector | turn | seconds | CPU s (both processes) | collections (young, middle,"
        " full) | seconds in collections (young, middle, full) | in all |",
        "|---|---|---|---|---|---|---|",
    ]
    for tuned in (False, True):
        for turn, r in enumerate(results[tuned], 1):
            g = r["gc"]
            lines.append(
                f"| {'crawler.collector' if tuned else 'Python default'} | {turn} | "
                f"{r['run'].seconds:.1f} | {r['run'].cpu:.1f} | "
                f"{', '.join(str(c) for c in g['count'])} | "
                f"{', '.join(f'{s:.2f}' for s in g['seconds'])} | {sum(g['seconds']):.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
