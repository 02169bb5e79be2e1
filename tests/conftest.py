"""Shared fixtures. The DokuWiki test bed is described in tests/wikibed.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import corpus_wiki
from wikibed import DokuWikiBed, requirements_problem


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
