"""Shared fixtures. The DokuWiki test bed is described in tests/wikibed.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import corpus_wiki
from wikibed import (
    DEBIAN,
    DEFAULT_TEMPLATE,
    ENGINE_DIR,
    TEMPLATE_TARBALLS,
    DokuWikiBed,
    build_engine,
    engine_problem,
    requirements_problem,
)


@pytest.fixture(scope="session")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DokuWikiBed]:
    """The corpus wiki served by php -S; read-only for tests (build your own bed to edit)."""
    problem = requirements_problem()
    if problem:
        # Fail, never skip: a missing wiki must not turn the crawler tests green.
        pytest.fail(f"DokuWiki test bed unavailable: {problem}", pytrace=False)
    bed = corpus_wiki(tmp_path_factory.mktemp("wiki"))
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``engine_dir(engine, template)``: an engine folder serving that template.

    Each engine is unpacked or copied once per session, with every template whose
    tarball is there. Debian's engine with its default template is the installed
    package and never skips; any other pair skips when its files are absent.
    """
    root = tmp_path_factory.mktemp("engines")
    built: dict[str, Path] = {}

    def get(engine: str, template: str) -> Path:
        if engine == DEBIAN and template == DEFAULT_TEMPLATE:
            return ENGINE_DIR
        problem = engine_problem(engine, template)
        if problem:
            pytest.skip(f"DokuWiki {engine} with template {template}: {problem}")
        if engine not in built:
            templates = tuple(t for t in TEMPLATE_TARBALLS if not engine_problem(engine, t))
            built[engine] = build_engine(root, engine, templates)
        return built[engine]

    return get
