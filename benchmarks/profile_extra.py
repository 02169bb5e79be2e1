"""Profiles behind the misses in RESULTS.md (run after benchmarks/run.py).

    python benchmarks/profile_extra.py pyspy [--pages 2000] [--concurrency 4]
        py-spy (sampling, native frames, no cProfile overhead) of a full crawl of a generated
        wiki on 127.0.0.1: profiles/crawl-pyspy.svg and the top 25 frames by inclusive and
        by self samples in profiles/crawl-pyspy.txt.
    python benchmarks/profile_extra.py memory OUT_DIR [OUT_DIR ...]
        tracemalloc of `wikiarchive export OUT_DIR` (on a copy): the allocations alive when
        the catalog ingest finishes (its peak), top 15 by line, in profiles/export-memory.txt.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROFILES = HERE / "profiles"


def pyspy(pages: int, concurrency: int) -> None:
    from bulkgen import generate_fast
    from run import FAST, article_paths, stdlib_pass
    from wikigen import DokuWikiBed

    with tempfile.TemporaryDirectory() as tmp:
        bed = DokuWikiBed(Path(tmp) / "wiki")
        ids = generate_fast(bed, pages)
        site = bed.start(workers=2)
        try:
            stdlib_pass(bed, article_paths(ids), concurrency)  # warm, as in run.py
            raw = Path(tmp) / "crawl.txt"
            crawl = [sys.executable, "-m", "crawler.cli", "crawl", site, "--out",
                     str(Path(tmp) / "out"), *FAST, "--concurrency", str(concurrency)]
            started = time.perf_counter()
            subprocess.run(["py-spy", "record", "--rate", "200", "--format", "raw", "-o", str(raw),
                            "--", *crawl], cwd=ROOT, check=True, capture_output=True)
            seconds = time.perf_counter() - started
            subprocess.run(["py-spy", "record", "--rate", "100", "-o",
                            str(PROFILES / "crawl-pyspy.svg"), "--", *crawl[:5],
                            str(Path(tmp) / "out2"), *crawl[6:]],
                           cwd=ROOT, check=True, capture_output=True)
        finally:
            bed.stop()
        inclusive: collections.Counter = collections.Counter()
        own: collections.Counter = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            frames = [re.sub(r":\d+\)$", ")", short(f)) for f in stack.split(";")]
            for frame in set(frames):
                inclusive[frame] += n
            own[frames[-1]] += n
    lines = [f"# py-spy: wikiarchive crawl, full, {len(ids)} pages, c={concurrency}, "
             f"{seconds:.1f} s, {total} samples at 200 Hz (py-spy default: idle frames dropped); "
             "frames merged across line numbers", "",
             "## top 25 by inclusive samples", ""]
    lines += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(25)]
    lines += ["", "## top 25 by self samples", ""]
    lines += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(25)]
    (PROFILES / "crawl-pyspy.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def short(frame: str) -> str:
    for prefix in (str(ROOT) + "/", "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/",
                   "/root/.pyenv/versions/3.11.7/lib/python3.11/"):
        frame = frame.replace(prefix, "")
    return frame


def memory(out_dirs: list[Path]) -> None:
    sys.path.insert(0, str(ROOT))
    from exports import history
    from exports.export import export_tables

    report = ["# tracemalloc: `wikiarchive export` (allocations alive when the catalog "
              "ingest finishes)", ""]
    for out_dir in out_dirs:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "out"
            shutil.copytree(out_dir / "warc", copy / "warc")
            snapshots = []
            original = history.Replayer._record_changes

            def spy(self, *args, _original=original, _snaps=snapshots, **kwargs):
                _snaps.append(tracemalloc.take_snapshot())
                return _original(self, *args, **kwargs)

            history.Replayer._record_changes = spy
            tracemalloc.start(3)
            try:
                export_tables(copy)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                history.Replayer._record_changes = original
            csv.field_size_limit(1 << 30)
            with open(copy / "tables" / "pages.csv", newline="", encoding="utf-8") as fh:
                pages = sum(1 for _ in csv.DictReader(fh))
        stats = snapshots[0].statistics("lineno")
        alive = sum(s.size for s in stats)
        report += [f"## {out_dir.name}: {pages} pages; traced peak {peak / 2**20:.0f} MiB, "
                   f"alive at the end of ingest {alive / 2**20:.0f} MiB", ""]
        report += [f"{s.size / 2**20:8.1f} MiB {s.count:8d} blocks  {short(str(s.traceback[0]))}"
                   for s in stats[:15]]
        report.append("")
    (PROFILES / "export-memory.txt").write_text("\n".join(report), encoding="utf-8")
    print("\n".join(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pyspy")
    p.add_argument("--pages", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=4)
    m = sub.add_parser("memory")
    m.add_argument("out_dirs", nargs="+", type=Path)
    args = parser.parse_args()
    PROFILES.mkdir(exist_ok=True)
    if args.what == "pyspy":
        pyspy(args.pages, args.concurrency)
    else:
        memory(args.out_dirs)


if __name__ == "__main__":
    main()
