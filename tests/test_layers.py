"""Imports point down the layers of docs/architecture.md, and no module imports itself back.

Layers, bottom to top: pure DokuWiki knowledge -> archive/ -> exports/ -> Scrapy components
and the CLI. Read from the source with ast, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "archive", "exports")
KNOWLEDGE = {
    "crawler.access",
    "crawler.revisions",
    "crawler.page",
    "crawler.parse",
    "crawler.dates",
    "crawler.dokuwiki",
    "crawler.feed",
    "crawler.sitemap",
    "crawler.requisites",
}


def layer(module: str) -> int:
    if module in KNOWLEDGE:
        return 0
    top = module.split(".")[0]
    return {"archive": 1, "exports": 2, "crawler": 3}[top]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def project_imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports (``from crawler import settings`` names the
    module ``crawler.settings``)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in imported if name in known and name not in PACKAGES}


GRAPH = {name: project_imports(path, set(modules())) for name, path in modules().items()}


def test_the_layers_hold_every_module():
    assert KNOWLEDGE <= set(GRAPH)
    assert {"archive.ingest", "exports.export", "crawler.lifecycle"} <= set(GRAPH)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    upward = sorted(i for i in GRAPH[module] if layer(i) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports from above: {upward}"


def test_no_import_cycles():
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_the_crawl_process_does_not_load_arrow():
    """The archivist writes the tables; the crawl process, the busiest, never pays for
    loading Arrow (and the pandas its first array imports)."""
    code = (
        "import sys, crawler.cli, crawler.run, crawler.recorder, crawler.lifecycle, "
        "crawler.spiders.wiki; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('pyarrow', 'pandas', 'exports') "
        "and m not in ('exports', 'exports.result')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]"
