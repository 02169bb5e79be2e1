"""How close wikiarchive comes to the engine's floor: a bare Scrapy spider on the same URLs.

Usage: python benchmarks/floor.py [--pages 2000] [--workers 2] [--concurrency 2,4]
                                  [--rounds 2] [--baseline REV] [--setting NAME=VALUE]
                                  [--output benchmarks/RESULTS-floor.md]

One run generates a wiki of N pages (benchmarks/bulkgen.py), serves it with the real
DokuWiki (`php -S`, 2 workers) on 127.0.0.1, renders every page once (warm caches), then
measures, in turns, at each concurrency: a bare Scrapy spider fetching every article's
permanent link and doing nothing else (benchmarks/bare_spider.py), and `wikiarchive crawl`
end to end (crawl, WARC, catalog, tables); once: `wget --recursive --warc-file` with a
reject list for action views (one request at a time), and `wikiarchive export` on one
core. With --baseline, the code at a git revision too; with --setting, this code with a
Scrapy setting changed (e.g. a default the project overrides), each in the same turns.
Reports pages/s, CPU per 1,000 pages (ours beside Scrapy's floor), peak RSS, and how
long the tables took after the last response. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path

from bulkgen import generate_fast
from run import (
    NO_OUTSIDE,
    WGET_REJECT,
    Measured,
    article_ids_in_warc,
    article_paths,
    children,
    head_revision,
    log,
    measure,
    proc_cpu_rss,
    server_cpu,
    stdlib_pass,
)
from wikigen import DokuWikiBed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The same URLs as the bare spider: articles alone.
FAST = ["--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "--log-level", "WARNING",
        "--no-requisites", "--no-media"]


def response_span(out: Path) -> tuple[float, float]:
    """The earliest and latest WARC-Date of a response record in OUT/warc, as epoch
    seconds."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.timeutils import iso_date_to_datetime

    dates = []
    for path in (out / "warc").glob("*.warc.gz"):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    when = iso_date_to_datetime(record.rec_headers.get_header("WARC-Date"),
                                                tz_aware=True)
                    dates.append(when.timestamp())
    return min(dates), max(dates)


def bare(bed: DokuWikiBed, urls_file: Path, concurrency: int) -> dict:
    """The bare spider's run, its responses, when the first and last came, and the
    wiki's CPU seconds meanwhile."""
    wiki = server_cpu(bed)
    started = time.time()
    run = measure([sys.executable, str(HERE / "bare_spider.py"), str(urls_file),
                   str(concurrency)])
    if run.returncode != 0:
        raise RuntimeError(f"bare spider failed: {run.stderr[-2000:]}")
    count, first, last = run.stdout.split()[-3:]
    first, last = float(first), float(last)
    return {"run": run, "pages": int(count), "wiki": server_cpu(bed) - wiki,
            "before_first": first - started, "span": last - first,
            "exit_after_last": started + run.seconds - last}


def ours(
    bed: DokuWikiBed, site: str, out: Path, concurrency: int, code: Path = ROOT,
    settings: tuple[str, ...] = (),
) -> dict:
    """wikiarchive end to end, run from the checkout at *code* (the baseline's, or this),
    with Scrapy *settings* (NAME=VALUE) on top of the project's."""
    shutil.rmtree(out, ignore_errors=True)
    summary = out.parent / "summary.json"
    options = [o for o in FAST if code == ROOT or known_option(code, o)]
    options += [arg for setting in settings for arg in ("-s", setting)]
    wiki = server_cpu(bed)
    started = time.time()
    helpers: dict[int, float] = {}  # the crawl's child processes (the archivist): CPU s
    run = measure([sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out),
                   *options, "--concurrency", str(concurrency), "--summary-json", str(summary)],
                  cwd=code, watch=partial(children_cpu, helpers))
    if run.returncode != 0:
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-3000:]}")
    ended = started + run.seconds
    report = json.loads(summary.read_text())
    first, last = response_span(out)
    ready = report.get("tables_ready_at")  # a baseline may not say
    after = datetime.fromisoformat(ready).timestamp() - last if ready else None
    return {"run": run, "pages": report["pages"], "requests": report["requests"],
            "after_last": after, "wiki": server_cpu(bed) - wiki,
            "before_first": first - started, "span": last - first,
            "exit_after_last": ended - last, "helpers_cpu": sum(helpers.values())}


def children_cpu(seen: dict[int, float], pid: int, elapsed: float, marks: dict) -> None:
    """Note the CPU seconds of each child of *pid* so far (``measure``'s watch): the
    last sample before the run ends is what each used, within 20 ms."""
    for child in children(pid):
        found = proc_cpu_rss(child)
        if found is not None:
            seen[child] = found[0]


def crawled_once(pages: int, work: Path) -> Path:
    """A generated wiki of *pages* pages served in WORK/wiki and crawled once into
    WORK/out (the wiki stopped after); returns the output folder."""
    bed = DokuWikiBed(work / "wiki")
    log(f"generating {pages} pages")
    generate_fast(bed, pages)
    site = bed.start(workers=2)
    try:
        log("crawling once")
        run = measure([sys.executable, "-m", "crawler.cli", "crawl", site, "--out",
                       str(work / "out"), *FAST, "--concurrency", "2"])
        if run.returncode != 0:
            raise RuntimeError(f"crawl failed: {run.stderr[-3000:]}")
    finally:
        bed.stop()
    return work / "out"


def known_option(code: Path, option: str) -> bool:
    """Whether the checkout at *code* knows a ``--no-…`` option (a baseline from before
    it existed fetched what it turns off only later)."""
    return not option.startswith("--no-") or option in (code / "crawler" / "cli.py").read_text()


def baseline_checkout(rev: str, work: Path) -> Path:
    """A checkout of *rev* beside the run (git worktree), removed with the run's folder."""
    target = work / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(target), rev], cwd=ROOT,
                   check=True)
    return target


def remove_checkout(target: Path) -> None:
    """Remove a :func:`baseline_checkout`, git's record of it too."""
    subprocess.run(["git", "worktree", "remove", "--force", str(target)], cwd=ROOT)


def wget(bed: DokuWikiBed, site: str, work: Path, ids: set[str]) -> dict:
    target = work / "wget"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    cmd = ["wget", "--recursive", "--level=inf", "--no-parent", "--no-verbose", "--tries=2",
           f"--warc-file={target / 'crawl'}", "-P", str(target / "files"),
           "--regex-type=pcre", f"--reject-regex={WGET_REJECT}", site]
    wiki = server_cpu(bed)
    run = measure(cmd, env=NO_OUTSIDE)
    wiki = server_cpu(bed) - wiki
    articles, responses, _ = article_ids_in_warc(target / "crawl.warc.gz", "/wiki/", ids)
    return {"run": run, "pages": articles, "requests": responses, "wiki": wiki}


def export_one_core(out: Path) -> Measured:
    run = measure(["taskset", "-c", "0", sys.executable, "-m", "crawler.cli", "export",
                   str(out)])
    if run.returncode != 0:
        raise RuntimeError(f"export failed: {run.stderr[-2000:]}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", default="2,4")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each measurement")
    parser.add_argument("--output", default=str(HERE / "RESULTS-floor.md"))
    parser.add_argument("--baseline", metavar="REV",
                        help="also run wikiarchive as it was at this git revision, in turns")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="also run this code with this Scrapy setting, in turns "
                        "(repeatable: one run each)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wikiarchive-floor-") as tmp:
        work = Path(tmp)
        bed = DokuWikiBed(work / "wiki")
        log(f"generating {args.pages} pages")
        ids = generate_fast(bed, args.pages)
        site = bed.start(workers=args.workers)
        before = baseline_checkout(args.baseline, work) if args.baseline else None
        try:
            paths = article_paths(ids)
            urls = work / "urls.txt"
            urls.write_text("".join(f"http://127.0.0.1:{bed.port}{p}\n" for p in paths))
            log("rendering every page once (warm caches)")
            stdlib_pass(bed, paths, 4)
            load = os.getloadavg()[0]
            results: dict = {"bare": {}, "ours": {}, "before": {},
                             "settings": {setting: {} for setting in args.setting}}
            for level in levels:
                for turn in range(args.rounds):
                    log(f"c={level}, turn {turn + 1}: bare Scrapy")
                    results["bare"].setdefault(level, []).append(bare(bed, urls, level))
                    if before is not None:
                        log(f"c={level}, turn {turn + 1}: wikiarchive at {args.baseline}")
                        results["before"].setdefault(level, []).append(
                            ours(bed, site, work / "out-before", level, code=before))
                    for setting, runs in results["settings"].items():
                        log(f"c={level}, turn {turn + 1}: wikiarchive crawl -s {setting}")
                        runs.setdefault(level, []).append(
                            ours(bed, site, work / "out-setting", level, settings=(setting,)))
                    log(f"c={level}, turn {turn + 1}: wikiarchive crawl")
                    results["ours"].setdefault(level, []).append(
                        ours(bed, site, work / "out", level))
            log("wget")
            results["wget"] = wget(bed, site, work, set(ids))
            log("export on one core")
            results["export"] = export_one_core(work / "out")
            results["load"] = (load, os.getloadavg()[0])
        finally:
            bed.stop()
            if before is not None:
                remove_checkout(before)
    results["n"] = len(ids)
    results["minutes"] = (time.perf_counter() - started) / 60
    text = render(results, args)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def best(runs: list, key) -> object:
    return min(runs, key=key)


def busy(run: Measured, wiki: float) -> str:
    """How full the machine's cores were: the run's CPU and the wiki's over its wall time."""
    return f"{(run.cpu + wiki) / (run.seconds * (os.cpu_count() or 1)) * 100:.0f}%"


def crawl_line(name: str, runs: list, level: int, floor: dict, n: int, *, bold: bool) -> str:
    mine = best(runs, key=by_wall)
    rate = pages_per_s(mine)
    b = "**" if bold else ""
    after = mine["after_last"]
    ready = "–" if after is None else f"{after:.2f} s ({after / n * 1000:.2f} s per 1,000 pages)"
    return (f"| {name} | {level} | {mine['run'].seconds:.1f} | {mine['pages']} | "
            f"{b}{rate:.0f}{b} | {b}{rate / pages_per_s(floor):.2f}x{b} | "
            f"{mine['run'].cpu / mine['pages'] * 1000:.1f} | "
            f"{mine['wiki'] / mine['pages'] * 1000:.1f} | {busy(mine['run'], mine['wiki'])} | "
            f"{mine['run'].maxrss_mb:.0f} | {mine['before_first']:.1f} s | "
            f"{mine['span']:.1f} s ({mine['span'] / floor['span']:.2f}x the floor's) | {ready} | "
            f"{mine['exit_after_last']:.1f} s |")


def pages_per_s(run: dict) -> float:
    return run["pages"] / run["run"].seconds


def by_wall(run: dict) -> float:
    return run["run"].seconds


def split_line(level: int, floor: dict, mine: dict) -> str:
    """Where the run's time went against the floor's: start-up, the crawl between the
    first response and the last, the end; and the ratio with the floor's start and end."""
    ends = floor["before_first"] + floor["exit_after_last"]
    with_floor_ends = floor["run"].seconds / (ends + mine["span"]) * mine["pages"] / floor["pages"]
    return (f"| c={level} | {floor['before_first']:.2f} / {mine['before_first']:.2f} s | "
            f"{floor['span']:.1f} / {mine['span']:.1f} s ({mine['span'] / floor['span']:.2f}x) | "
            f"{floor['exit_after_last']:.2f} / {mine['exit_after_last']:.2f} s | "
            f"{with_floor_ends:.2f}x |")


def render(R: dict, args: argparse.Namespace) -> str:
    n = R["n"]
    head = head_revision()
    L = [
        f"# wikiarchive against the engine's floor ({n} pages)",
        "",
        f"Produced by `python benchmarks/floor.py --pages {args.pages} --workers "
        f"{args.workers} --concurrency {args.concurrency}"
        f"{' --baseline ' + args.baseline if args.baseline else ''}"
        f"{''.join(' --setting ' + setting for setting in args.setting)}` at {head} in "
        f"{R['minutes']:.1f} min: {os.cpu_count()} cores, DokuWiki (Debian) under `php -S` "
        f"with {args.workers} workers on 127.0.0.1, warm caches. Each measurement ran "
        f"{args.rounds} times in turns; the best wall time of each is shown. Load average "
        f"{R['load'][0]:.1f} before, {R['load'][1]:.1f} after (other work shares the machine:"
        " CPU seconds are steadier than wall time).",
        "",
        "CPU s / 1,000 pages: the run's own processes; the wiki's: `php -S` meanwhile. Cores"
        " busy: both together over the wall time and every core, so a run near 100% is"
        " held by the machine, not by waiting. The first response came that long after the"
        " start, and the run ended that long after the last one (its WARC-Dates; the bare"
        " spider's own clock when its callback ran): start-up and the end run on one core"
        " while the wiki waits. First to last response: the crawl itself, against the"
        " floor's at the same concurrency.",
        "",
        "| run | concurrency | seconds | pages | pages/s | vs bare Scrapy | CPU s / 1,000 pages |"
        " the wiki's CPU s / 1,000 pages | cores busy | peak RSS MB | first response |"
        " first to last response | tables ready after the last response |"
        " exit after the last response |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in sorted(R["bare"]):
        floor = best(R["bare"][level], key=by_wall)
        run, count, wiki = floor["run"], floor["pages"], floor["wiki"]
        L.append(f"| bare Scrapy spider (the floor) | {level} | {run.seconds:.1f} | {count} | "
                 f"{pages_per_s(floor):.0f} | 1.00x | {run.cpu / count * 1000:.1f} | "
                 f"{wiki / count * 1000:.1f} | {busy(run, wiki)} | {run.maxrss_mb:.0f} | "
                 f"{floor['before_first']:.1f} s | {floor['span']:.1f} s | – | "
                 f"{floor['exit_after_last']:.1f} s |")
        if R["before"]:
            L.append(crawl_line(f"wikiarchive at {args.baseline} (before)",
                                R["before"][level], level, floor, n, bold=False))
        for setting, runs in R["settings"].items():
            L.append(crawl_line(f"wikiarchive crawl with `-s {setting}`", runs[level], level,
                                floor, n, bold=False))
        L.append(crawl_line("**wikiarchive crawl, end to end**", R["ours"][level], level,
                            floor, n, bold=True))
    w = R["wget"]
    wrate = w["pages"] / w["run"].seconds
    L.append(f"| wget --recursive --warc-file (reject list) | 1 | {w['run'].seconds:.1f} | "
             f"{w['pages']} | {wrate:.0f} | | {w['run'].cpu / max(w['pages'], 1) * 1000:.1f} | "
             f"{w['wiki'] / max(w['pages'], 1) * 1000:.1f} | {busy(w['run'], w['wiki'])} | "
             f"{w['run'].maxrss_mb:.0f} | – | – | – | – |")
    e: Measured = R["export"]
    L.append(f"| wikiarchive export from the WARCs, one core | 1 | {e.seconds:.1f} | {n} | "
             f"{n / e.seconds:.0f} | | {e.cpu / n * 1000:.1f} | – | – | {e.maxrss_mb:.0f} | – | – "
             "| – | – |")
    L += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for level in sorted(R["bare"]):
        mine = best(R["ours"][level], key=by_wall)
        floor = best(R["bare"][level], key=by_wall)
        ratio = pages_per_s(mine) / pages_per_s(floor)
        L.append(f"| end to end ≥ 0.7x a bare Scrapy spider at c={level} | {ratio:.2f}x | "
                 f"{'**met**' if ratio >= 0.7 else '**missed**'} |")
    mine2 = best(R["ours"][min(R["ours"])], key=by_wall)
    rate2 = pages_per_s(mine2)
    L.append(f"| faster than wget's WARC crawl at c={min(R['ours'])} | {rate2:.0f} vs "
             f"{wrate:.0f} pages/s | {'**met**' if rate2 > wrate else '**missed**'} |")
    worst = max(r["after_last"] for runs in R["ours"].values() for r in runs)
    L.append(f"| tables within 1 s per 1,000 pages after the last response | worst "
             f"{worst:.2f} s for {n} pages | "
             f"{'**met**' if worst <= n / 1000 else '**missed**'} |")
    L.append(f"| export ≥ 1,000 pages/s on one core | {n / e.seconds:.0f} pages/s | "
             f"{'**met**' if n / e.seconds >= 1000 else '**missed**'} |")
    L += ["", "## Where the time goes", "",
          "The floor's and ours (best wall time of each): start-up to the first response, the"
          " crawl from the first response to the last, and the end after it. The last column"
          " is the ratio this run would reach with the floor's start-up and end, its crawl"
          " unchanged: below 0.7x, the crawl itself is too slow for the target, whatever the"
          " start and the end cost.", "",
          "| concurrency | start-up (floor / ours) | first to last response (floor / ours) |"
          " after the last response (floor / ours) | with the floor's start and end |",
          "|---|---|---|---|---|"]
    for level in sorted(R["bare"]):
        L.append(split_line(level, best(R["bare"][level], by_wall),
                            best(R["ours"][level], by_wall)))
    L += ["", "CPU ms a page, by process, every turn (from /proc while each ran): the floor is"
          " one process; ours is the crawl process and the archivist it starts (WARC"
          " records, parse, catalog, tables), the wiki's beside them on the same cores.", "",
          "| concurrency | bare spider | our crawl process | our archivist | ours together |"
          " the wiki's (floor / ours) |", "|---|---|---|---|---|---|"]
    for level in sorted(R["bare"]):
        L.append(process_line(level, R["bare"][level], R["ours"][level]))
    return "\n".join(L) + "\n"


def process_line(level: int, floors: list[dict], mine: list[dict]) -> str:
    """Each turn's CPU per page by process, as ranges over the turns."""
    def span(values: list[float]) -> str:
        low, high = min(values), max(values)
        return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"

    def per_page(runs: list[dict], cpu) -> str:
        return span([cpu(r) / r["pages"] * 1000 for r in runs])

    return (f"| c={level} | {per_page(floors, lambda r: r['run'].cpu)} | "
            f"{per_page(mine, lambda r: r['run'].cpu - r['helpers_cpu'])} | "
            f"{per_page(mine, lambda r: r['helpers_cpu'])} | "
            f"{per_page(mine, lambda r: r['run'].cpu)} | "
            f"{per_page(floors, lambda r: r['wiki'])} / {per_page(mine, lambda r: r['wiki'])} |")


if __name__ == "__main__":
    main()
