"""How the process's allocators hand memory back, so a crawl's footprint stays flat.

Two allocators kept what was freed: glibc raises its trim threshold each time a large
buffer (a page body, a table batch) is freed, up to 64 MB, and memory freed below it stays
with the process; Arrow's C++ default pool (mimalloc) keeps what the table writers free.
Measured in benchmarks/RESULTS-growth.md.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt(3)
TRIM_THRESHOLD = 1024 * 1024  # fixed; glibc starts at 128 KB


def tune_allocators() -> None:
    """Fix glibc's trim threshold (not glibc: nothing), and make the system allocator
    Arrow's default pool unless Arrow is loaded already or the user chose another."""
    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no C library to open this way (Windows)
        mallopt = None
    if mallopt is not None:
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    if "pyarrow" not in sys.modules:  # Arrow reads it once, when it loads
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
