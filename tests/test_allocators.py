"""The process's allocators hand freed memory back (crawler.allocators)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os
os.environ.pop("ARROW_DEFAULT_MEMORY_POOL", None)
import crawler.allocators as allocators
allocators.tune_allocators()
import pyarrow
print(pyarrow.default_memory_pool().backend_name)
"""


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


def test_arrow_loads_with_the_system_allocator_as_its_default():
    assert run(PROBE) == "system"


def test_a_pool_the_user_chose_is_kept():
    chosen = PROBE.replace('os.environ.pop("ARROW_DEFAULT_MEMORY_POOL", None)',
                           'os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "jemalloc"')
    assert run(chosen) in ("jemalloc", "mimalloc")  # a build without jemalloc falls back


def test_the_command_line_tunes_them_before_any_command():
    code = ("import sys, pyarrow  # noqa\n"
            "import crawler.cli as cli\n"
            "sys.argv = ['wikiarchive', 'export', '/nonexistent/wikiarchive-out']\n"
            "called = []\n"
            "cli.tune_allocators = lambda: called.append(True)\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(bool(called))\n")
    assert run(code).endswith("True")
