"""Where `wikiarchive export` spends its CPU, phase by phase, against a baseline revision.

Usage: python benchmarks/export_phases.py [--pages 2000] [--rounds 3] [--baseline REV]
                                          [--output benchmarks/RESULTS-export-phases.md]

Generates a wiki (benchmarks/bulkgen.py), serves it with the real DokuWiki on 127.0.0.1,
crawls it once, then times `export`'s phases on one core in turns, with this checkout's
code and (with --baseline) a git worktree of REV: the imports, the catalog rebuilt from the
WARCs (reading, parsing, recording each capture) and the tables written from the catalog
(with code that has `exports.write.load_arrow`, called among the imports as `export` does;
before it, the tables' first Arrow array imported pandas: part of the tables). CPU seconds
of the process, best of the turns. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from floor import baseline_checkout, crawled_once, remove_checkout
from run import head_revision, log, phases_on_one_core, turn_arguments

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("imports", "rebuild", "tables")
# Run in a checkout's folder (its code first on sys.path): the phases of one export of a
# copy of the archive, as CPU seconds, printed last.
TIMED = """
import json, shutil, sys, time
from pathlib import Path
sys.path.insert(0, ".")
began = time.process_time()
from archive.ingest import rebuild_catalog
from exports.export import write_tables
try:  # as `wikiarchive export` does since 9ff2973: Arrow loaded, pandas kept out
    from exports.write import load_arrow
except ImportError:  # an older checkout: its first table imports pandas
    load_arrow = None
if load_arrow is not None:
    load_arrow()
imported = time.process_time()
source, work = Path(sys.argv[1]), Path(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
shutil.copytree(source, work)
shutil.rmtree(work / "tables")
copied = time.process_time()
rebuild_catalog(work)
rebuilt = time.process_time()
write_tables(work)
written = time.process_time()
print("PHASES " + json.dumps({"imports": imported - began, "rebuild": rebuilt - copied,
                              "tables": written - rebuilt}))
"""


def main() -> None:
    args = turn_arguments(__doc__.splitlines()[0], HERE / "RESULTS-export-phases.md")
    started = time.perf_counter()
    runs: dict[str, list[dict[str, float]]] = {"this": [], "before": []}
    with tempfile.TemporaryDirectory(prefix="wikiarchive-export-") as tmp:
        work = Path(tmp)
        archive = crawled_once(args.pages, work)
        # Made only now, so a failed crawl leaves no checkout for git to remember.
        before = baseline_checkout(args.baseline, work) if args.baseline else None
        try:
            for turn in range(args.rounds):
                log(f"turn {turn + 1}")
                timed = (TIMED, str(archive), str(work / "copy"))
                if before is not None:
                    runs["before"].append(phases_on_one_core(before, *timed))
                runs["this"].append(phases_on_one_core(ROOT, *timed))
        finally:
            if before is not None:
                remove_checkout(before)
    text = render(runs, args, args.pages + 1, (time.perf_counter() - started) / 60)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def render(runs: dict, args: argparse.Namespace, pages: int, minutes: float) -> str:
    rev = head_revision()
    lines = [
        f"# `wikiarchive export`, phase by phase ({pages} pages)",
        "",
        f"Produced by `python benchmarks/export_phases.py --pages {args.pages} --rounds "
        f"{args.rounds}{f' --baseline {args.baseline}' if args.baseline else ''}` at {rev} "
        f"in {minutes:.1f} min on one core ({os.cpu_count()} on the machine). CPU seconds of "
        "the process, best of the turns (each turn runs both, one after the other); ms per "
        "page in brackets.",
        "",
        "| code | " + " | ".join(PHASES) + " | total | pages/s of CPU |",
        "|---|" + "---|" * (len(PHASES) + 2),
    ]
    names = [("before", f"at {args.baseline} (before)"), ("this", f"at {rev}")]
    for key, name in names:
        if not runs[key]:
            continue
        best = {phase: min(run[phase] for run in runs[key]) for phase in PHASES}
        total = sum(best.values())
        cells = " | ".join(f"{best[p]:.2f} s ({best[p] / pages * 1000:.2f})" for p in PHASES)
        lines.append(f"| {name} | {cells} | {total:.2f} s | {pages / total:.0f} |")
    lines += ["", "Every turn (imports / rebuild / tables, s):", ""]
    for key, name in names:
        for run in runs[key]:
            lines.append(f"- {name}: " + " / ".join(f"{run[p]:.2f}" for p in PHASES))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
