"""What the WARC files' gzip costs per page: zlib against zlib-ng, level by level.

Usage: python benchmarks/gzip_levels.py [--pages 1000] [--rounds 3] [--warc FILE]
                                        [--output benchmarks/RESULTS-gzip.md]

Generates a wiki (benchmarks/bulkgen.py), serves it with the real DokuWiki on 127.0.0.1 and
crawls it once (or takes --warc), then compresses every gzip member of the WARC file again,
each on its own as archive.writer.GzipMembers does, with each compressor in turns: CPU
seconds, best of the rounds, and the bytes written. Every member is decompressed again and
compared, so a compressor that loses a byte fails the run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zlib
from pathlib import Path

from floor import crawled_once
from run import head_revision, log
from zlib_ng import zlib_ng

HERE = Path(__file__).resolve().parent
GZIP_WBITS = zlib.MAX_WBITS + 16
# (name, module, level); the first is zlib's default, the ratios' base.
COMPRESSORS = [("zlib", zlib, 6), ("zlib", zlib, 3)] + [
    ("zlib-ng", zlib_ng, level) for level in (6, 5, 4, 3, 2, 1)
]


def members(path: Path) -> list[bytes]:
    """The uncompressed bytes of each gzip member of *path*: one WARC record each."""
    data, found = path.read_bytes(), []
    while data:
        inflater = zlib.decompressobj(GZIP_WBITS)
        found.append(inflater.decompress(data) + inflater.flush())
        data = inflater.unused_data
    return found


def compress_all(records: list[bytes], module, level: int) -> tuple[float, list[bytes]]:
    began = time.process_time()
    out = []
    for record in records:
        deflater = module.compressobj(level, module.DEFLATED, GZIP_WBITS)
        out.append(deflater.compress(record) + deflater.flush())
    return time.process_time() - began, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warc", type=Path, help="a WARC file to use instead of a crawl")
    parser.add_argument("--output", default=str(HERE / "RESULTS-gzip.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wikiarchive-gzip-") as tmp:
        if args.warc is None:
            (warc,) = (crawled_once(args.pages, Path(tmp)) / "warc").glob("*.warc.gz")
        else:
            warc = args.warc
        records = members(warc)
    pages = sum(1 for r in records if b"WARC-Type: response" in r[:400])
    best: dict[int, float] = {}
    size: dict[int, int] = {}
    for turn in range(args.rounds):
        log(f"turn {turn + 1}")
        for n, (_, module, level) in enumerate(COMPRESSORS):
            seconds, out = compress_all(records, module, level)
            assert [zlib.decompress(m, GZIP_WBITS) for m in out] == records
            best[n] = min(best.get(n, seconds), seconds)
            size[n] = sum(map(len, out))
    text = render(args, warc, records, pages, best, size)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def render(args, warc: Path, records: list[bytes], pages: int, best: dict, size: dict) -> str:
    source = f"--warc {warc.name}" if args.warc else f"--pages {args.pages}"
    lines = [
        "# The WARC files' gzip, per page",
        "",
        f"Produced by `python benchmarks/gzip_levels.py {source} --rounds {args.rounds}` at "
        f"{head_revision()} ({os.cpu_count()} cores): the {len(records)} gzip members of one "
        f"crawl's WARC file ({pages} responses, {sum(map(len, records)) / 1e6:.1f} MB "
        "uncompressed), each compressed again on its own; CPU seconds, best of the rounds. "
        "Ratios against the first row, measured in the same run.",
        "",
        "| compressor | level | ms per response | time | MB written | size |",
        "|---|---|---|---|---|---|",
    ]
    for n, (name, _, level) in enumerate(COMPRESSORS):
        lines.append(
            f"| {name} | {level} | {best[n] / pages * 1000:.3f} | {best[n] / best[0]:.2f}x "
            f"| {size[n] / 1e6:.2f} | {size[n] / size[0]:.3f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
