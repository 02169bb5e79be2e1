"""Fast twin of ``wikigen.generate``: the same wiki, written in bulk.

``DokuWikiBed.write_page`` rewrites the global changelog for every page (quadratic in N).
This writes exactly the same files (page text, gzipped attic copy, per-page and global
changelog lines, mtimes) with the global changelog written once, then the start page
through the bed as usual, and reindexes. Same seed, same random stream: same pages.
"""

from __future__ import annotations

import gzip
import os
import random
from datetime import timedelta

from wikigen import EPOCH, DokuWikiBed, page_ids, page_text

CHANGELOG_IP = "127.0.0.1"


def generate_fast(
    bed: DokuWikiBed, n: int, seed: int = 7, *, full_index: bool = False
) -> list[str]:
    """Write the wiki; ``full_index`` runs DokuWiki's indexer (about 30 ms a page) instead of
    writing only the page list (``index/page.idx``), which is all the sitemap reads."""
    rng = random.Random(seed)
    ids = page_ids(n, rng)
    dates = sorted(EPOCH + timedelta(minutes=rng.randint(0, 6_000_000)) for _ in ids)
    global_lines = []
    made_dirs: set = set()
    for page_id, when in zip(ids, dates, strict=True):
        data = page_text(page_id, ids, rng).encode("utf-8")
        ts = int(when.timestamp())
        line = "\t".join([str(ts), CHANGELOG_IP, "C", page_id, "", "generated", "", str(len(data))])
        global_lines.append(line)
        for path, content in (
            (bed.attic_path(page_id, ts), gzip.compress(data, mtime=ts)),
            (bed.meta_path(page_id, "changes"), (line + "\n").encode("utf-8")),
            (bed.page_path(page_id), data),
        ):
            if path.parent not in made_dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(path.parent)
            path.write_bytes(content)
        os.utime(bed.attic_path(page_id, ts), (ts, ts))
        os.utime(bed.page_path(page_id), (ts, ts))  # "Last modified" is the file's mtime
    # dates are sorted, so the global log is already chronological
    bed.global_changelog.parent.mkdir(parents=True, exist_ok=True)
    bed.global_changelog.write_text("\n".join(global_lines) + "\n", encoding="utf-8")
    text = "====== Neurosurgery Wiki ======\n" + "\n".join(f"  * [[:{p}]]" for p in ids[:50])
    # through the bed: its changelog line, and the cache invalidation for all of the above
    bed.write_page("start", text + "\n", when=dates[-1] + timedelta(minutes=1))
    if full_index:
        bed.reindex()
    else:
        write_page_list(bed, ["start", *ids])
    return ["start", *ids]


def write_page_list(bed: DokuWikiBed, ids: list[str]) -> None:
    """The indexer's page list, which do=sitemap is built from; the sitemap is rebuilt."""
    index = bed.data_dir / "index"
    index.mkdir(parents=True, exist_ok=True)
    (index / "page.idx").write_text("".join(f"{p}\n" for p in sorted(ids)), encoding="utf-8")
    (bed.data_dir / "cache" / "sitemap.xml.gz").unlink(missing_ok=True)
