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
    bed: DokuWikiBed, n: int, seed: int = 7, *, full_index: bool = False, revisions: int = 1
) -> list[str]:
    """Write the wiki; ``full_index`` runs DokuWiki's indexer (about 30 ms a page) instead of
    writing only the page list (``index/page.idx``), which is all the sitemap reads.

    With ``revisions`` > 1 every page gets that many revisions, a day apart, each adding a
    paragraph to the one before; the last is the page ``generate`` writes plus the added
    paragraphs (with 1, exactly the pages of ``wikigen.generate``)."""
    rng = random.Random(seed)
    ids = page_ids(n, rng)
    dates = sorted(EPOCH + timedelta(minutes=rng.randint(0, 6_000_000)) for _ in ids)
    global_lines = []
    made_dirs: set = set()
    for page_id, when in zip(ids, dates, strict=True):
        base = page_text(page_id, ids, rng)
        page_lines = []
        size = 0
        for k in range(revisions):
            text = base + "".join(f"\nRevision {j + 1} adds this paragraph.\n" for j in range(k))
            data = text.encode("utf-8")
            ts = int((when + timedelta(days=k)).timestamp())
            kind, summary = ("C", "generated") if k == 0 else ("E", f"revision {k + 1}")
            line = "\t".join([str(ts), CHANGELOG_IP, kind, page_id, "", summary, "",
                              str(len(data) - size)])
            size = len(data)
            page_lines.append(line)
            global_lines.append((ts, line))
            attic = bed.attic_path(page_id, ts)
            _write(attic, gzip.compress(data, mtime=ts), made_dirs)
            os.utime(attic, (ts, ts))
        _write(bed.meta_path(page_id, "changes"), ("\n".join(page_lines) + "\n").encode(),
               made_dirs)
        _write(bed.page_path(page_id), data, made_dirs)
        os.utime(bed.page_path(page_id), (ts, ts))  # "Last modified" is the file's mtime
    global_lines.sort(key=lambda item: item[0])  # the global log is chronological
    bed.global_changelog.parent.mkdir(parents=True, exist_ok=True)
    bed.global_changelog.write_text("\n".join(line for _, line in global_lines) + "\n",
                                    encoding="utf-8")
    text = "====== Neurosurgery Wiki ======\n" + "\n".join(f"  * [[:{p}]]" for p in ids[:50])
    # through the bed: its changelog line, and the cache invalidation for all of the above
    last = max(ts for ts, _ in global_lines)
    start = max(dates[-1] + timedelta(minutes=1), EPOCH.fromtimestamp(last + 60, EPOCH.tzinfo))
    bed.write_page("start", text + "\n", when=start)
    if full_index:
        bed.reindex()
    else:
        write_page_list(bed, ["start", *ids])
    return ["start", *ids]


def _write(path, content: bytes, made_dirs: set) -> None:
    if path.parent not in made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        made_dirs.add(path.parent)
    path.write_bytes(content)


def write_page_list(bed: DokuWikiBed, ids: list[str]) -> None:
    """The indexer's page list, which do=sitemap is built from; the sitemap is rebuilt."""
    index = bed.data_dir / "index"
    index.mkdir(parents=True, exist_ok=True)
    (index / "page.idx").write_text("".join(f"{p}\n" for p in sorted(ids)), encoding="utf-8")
    (bed.data_dir / "cache" / "sitemap.xml.gz").unlink(missing_ok=True)
