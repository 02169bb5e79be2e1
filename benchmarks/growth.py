"""Day after day on a big wiki: memory, disk and the cost of a no-op recrawl, as N grows.

Usage: python benchmarks/growth.py [--sizes 1000,5000,20000] [--output benchmarks/RESULTS-growth.md]

For each size: generate the wiki (benchmarks/bulkgen.py), serve it with the real DokuWiki
(`php -S`, 2 workers) on 127.0.0.1, crawl it in full (peak RSS of the crawl, the catalog's
and the tables' sizes), export it from its WARC files (peak RSS), then crawl it again with
nothing changed, as a daily job would: its wall and CPU time, and whether any table file
was written again. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bulkgen import generate_fast
from run import head_revision, log, measure, proc_cpu_rss
from wikigen import DokuWikiBed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAST = ["--delay", "0", "--concurrency", "2", "-s", "AUTOTHROTTLE_ENABLED=False",
        "--log-level", "WARNING"]


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def table_files(out: Path) -> dict[str, int]:
    """Each table file and its mtime (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in (out / "tables").iterdir() if p.is_file()}


def crawl_phase_watch(out: Path):
    """A ``measure`` watch marking the peak RSS when the crawl's last WARC file is closed
    (its ``.open`` name goes): the crawl itself, before the tables are written."""

    def watch(pid: int, elapsed: float, marks: dict) -> None:
        if "crawled" in marks:
            return
        writing = any((out / "warc").glob("*.open")) if (out / "warc").is_dir() else False
        if writing:
            marks["writing"] = True
        elif marks.get("writing"):
            found = proc_cpu_rss(pid)
            if found is not None:
                marks["crawled"] = (elapsed, *found)

    return watch


def crawl(site: str, out: Path):
    run = measure([sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out), *FAST],
                  watch=crawl_phase_watch(out))
    if run.returncode != 0:
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-3000:]}")
    return run


def point(n: int, work: Path) -> dict:
    bed = DokuWikiBed(work / f"wiki-{n}")
    ids = generate_fast(bed, n)
    site = bed.start(workers=2)
    out = work / f"out-{n}"
    try:
        log(f"N={n}: full crawl")
        full = crawl(site, out)
        catalog = size_mb(out / "catalog.sqlite")
        tables = size_mb(out / "tables")
        csv = sum(size_mb(p) for p in (out / "tables").glob("*.csv"))
        warc = size_mb(out / "warc")
        log(f"N={n}: export")
        export = measure([sys.executable, "-m", "crawler.cli", "export", str(out)])
        before = table_files(out)
        time.sleep(1.1)  # a later second, so a rewritten file would show a new mtime
        log(f"N={n}: no-op recrawl")
        noop = crawl(site, out)
        rewritten = sorted(name for name, mtime in table_files(out).items()
                           if before.get(name) != mtime)
    finally:
        bed.stop()
    return {"n": len(ids), "full": full, "export": export, "noop": noop, "catalog": catalog,
            "tables": tables, "csv": csv, "warc": warc, "rewritten": rewritten}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--output", default=str(HERE / "RESULTS-growth.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    points = []
    with tempfile.TemporaryDirectory(prefix="wikiarchive-growth-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            points.append(point(n, Path(tmp)))
    text = render(points, args, (time.perf_counter() - started) / 60)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def render(points: list[dict], args: argparse.Namespace, minutes: float) -> str:
    head = head_revision()
    L = [
        "# Growth: memory, disk and no-op recrawls as the wiki grows",
        "",
        f"Produced by `python benchmarks/growth.py --sizes {args.sizes}` at {head} in "
        f"{minutes:.0f} min on {os.cpu_count()} cores (DokuWiki under `php -S`, 2 workers, "
        "concurrency 2). Peak RSS is that of all the command's processes together (a crawl's "
        "archivist beside Scrapy), sampled every 20 ms; \"before the tables\" is the crawl "
        "process's own high-water mark when the crawl ended.",
        "",
        "| pages | crawl s | crawl peak RSS MB | of which before the tables | export s | "
        "export peak RSS MB | WARC MB | catalog MB | tables MB (CSV) | no-op recrawl s | "
        "no-op CPU s | tables rewritten |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        L.append(
            f"| {p['n']} | {p['full'].seconds:.0f} | {p['full'].maxrss_mb:.0f} | "
            f"{crawl_phase_rss(p) or '–'} | "
            f"{p['export'].seconds:.0f} | {p['export'].maxrss_mb:.0f} | {p['warc']:.0f} | "
            f"{p['catalog']:.0f} | {p['tables']:.0f} ({p['csv']:.0f}) | "
            f"{p['noop'].seconds:.1f} | {p['noop'].cpu:.1f} | "
            f"{', '.join(p['rewritten']) or 'none'} |")
    small, large = points[0], points[-1]
    L += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for what in ("full", "export"):
        ratio = large[what].maxrss_mb / small[what].maxrss_mb
        L.append(f"| {what} peak RSS at {large['n']} pages within 10% of {small['n']} | "
                 f"{small[what].maxrss_mb:.0f} → {large[what].maxrss_mb:.0f} MB (×{ratio:.2f})"
                 f" | {'**met**' if ratio <= 1.10 else '**missed**'} |")
    if crawl_phase_rss(small) and crawl_phase_rss(large):
        ratio = crawl_phase_rss(large) / crawl_phase_rss(small)
        L.append(f"| crawl peak RSS before the tables, {large['n']} vs {small['n']} pages | "
                 f"{crawl_phase_rss(small)} → {crawl_phase_rss(large)} MB (×{ratio:.2f}) | "
                 f"{'**met**' if ratio <= 1.10 else '**missed**'} |")
    clean = all(not p["rewritten"] for p in points)
    L.append(f"| a no-op recrawl rewrites no table | "
             f"{'none rewritten at any size' if clean else 'rewritten: see above'} | "
             f"{'**met**' if clean else '**missed**'} |")
    return "\n".join(L) + "\n"


def crawl_phase_rss(point: dict) -> int | None:
    crawled = point["full"].marks.get("crawled")
    return round(crawled[2]) if crawled else None


if __name__ == "__main__":
    main()
