"""Time ``parse_page`` over the saved pages in tests/html, for two versions of the parser.

Prints a Markdown table: the parser at ``--before`` (a git revision; default the point where
this branch left ``main``) and the parser in the working tree, each run in a process of its
own on the same files. The two take turns ``--turns`` times, so a busy machine slows both
alike, and each file's time is the best seen (the least disturbed). The committed output
is benchmarks/RESULTS-parse.md.

    .venv/bin/python benchmarks/parse_speed.py [--before REV] [--turns 6] [--out FILE]
        [--after-function parse_capture]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "tests" / "html"

# Run in a child process with the parser under test first on sys.path.
_TIMER = r"""
import json, sys, time
from pathlib import Path
from crawler import parse
parse_page = getattr(parse, sys.argv[4])
files = [Path(p) for p in json.loads(sys.argv[1])]
rounds, repeat = int(sys.argv[2]), int(sys.argv[3])
site = "http://127.0.0.1:37453/wiki/"
docs = [(site + "doku.php?id=" + f.stem, f.read_bytes()) for f in files]
for url, html in docs:  # warm-up: imports, caches, regexes
    parse_page(url, html, site=site)
per_file = {}
for _ in range(rounds):
    for (url, html), f in zip(docs, files):
        start = time.perf_counter()
        for _ in range(repeat):
            parse_page(url, html, site=site)
        spent = (time.perf_counter() - start) / repeat
        per_file[f.name] = min(per_file.get(f.name, spent), spent)
print(json.dumps({"per_file": per_file}))
"""


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _time(pythonpath: Path, files: list[Path], rounds: int, repeat: int,
          function: str = "parse_page") -> dict:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    result = subprocess.run(
        [sys.executable, "-c", _TIMER, json.dumps([str(f) for f in files]), str(rounds),
         str(repeat), function],
        capture_output=True, text=True, env=env, cwd=pythonpath, check=True,
    )
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git revision of the old parser (default: merge-base "
                        "with main)")
    parser.add_argument("--turns", type=int, default=6, help="runs of each parser, in turn")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the files per run")
    parser.add_argument("--repeat", type=int, default=20, help="parses per file per pass")
    parser.add_argument("--only", default="*.html", help="file name pattern in tests/html")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--after-function", default="parse_page",
                        help="what to time in the working tree, e.g. parse_capture (the page "
                        "and what it loads, from the same tree)")
    args = parser.parse_args(argv)
    before = args.before or _git("merge-base", "HEAD", "main")
    files = sorted(HTML_DIR.glob(args.only))
    with tempfile.TemporaryDirectory() as tmp:
        # The old revision's crawler package alone: parse.py and what it imports.
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", before, "crawler"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        # Take turns, so a busy machine penalises both alike.
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(args.turns):
            runs["before"].append(_time(Path(tmp), files, args.rounds, args.repeat))
            runs["after"].append(_time(ROOT, files, args.rounds, args.repeat,
                                       args.after_function))
    old, new = ({f.name: min(run["per_file"][f.name] for run in runs[side]) for f in files}
                for side in ("before", "after"))
    short = _git("rev-parse", "--short", before)
    lines = [
        f"`parse_page` over tests/html ({len(files)} files, {sum(f.stat().st_size for f in files)}"
        f" bytes): best of {args.turns} runs x {args.rounds} passes x {args.repeat} parses per "
        f"file, the two parsers taking turns; Python {platform.python_version()}, "
        f"{os.cpu_count()} cores",
        "",
        f"| file | before ({short}) ms | after (working tree, `{args.after_function}`) ms "
        "| change |",
        "|---|---:|---:|---:|",
    ]
    for f in files:
        a, b = old[f.name] * 1000, new[f.name] * 1000
        lines.append(f"| {f.name} | {a:.3f} | {b:.3f} | {(b / a - 1) * 100:+.1f}% |")
    a, b = sum(old.values()) * 1000, sum(new.values()) * 1000
    lines.append(f"| **all files** | **{a:.2f}** | **{b:.2f}** | **{(b / a - 1) * 100:+.1f}%** |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
