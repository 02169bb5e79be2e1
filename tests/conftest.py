"""Shared fixtures and the ``wiki`` marker. The DokuWiki test bed is in tests/wikibed.py.

Built once per session and read-only for every test (a test that must change an output
folder copies it with ``helpers.copy_output``; the session fails if a shared folder was
changed):

* ``wiki``: the corpus wiki served by php -S.
* ``full_crawl``: one full ``wikiarchive crawl`` of ``wiki``.
* ``history``: a wiki of its own crawled, edited (tests/edits.py) and crawled again.
* ``engine_dir``: DokuWiki engines with their templates, built once each.

Tests that need the DokuWiki test bed carry the ``wiki`` marker, given here to every test
that uses these fixtures or whose code or fixtures call ``corpus_wiki`` or ``DokuWikiBed``;
a test that starts a bed some other way says so with ``@pytest.mark.wiki``. ``pytest -m
"not wiki"`` runs the others; in such a run a test that starts a bed without the marker
fails and says so.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from edits import edit_for_history
from helpers import (
    WHOLE,
    CrawlRun,
    History,
    corpus_wiki,
    crawl_once,
    folder_state,
    wait_for_fresh_caches,
    wikiarchive,
)
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

# Fixtures that serve a DokuWiki, hold one or build its engine: a test using any of them
# needs the bed. So does a test whose own code or fixtures build a bed.
BED_FIXTURES = frozenset({"wiki", "history", "engine_dir"})
BUILDS_A_BED = re.compile(r"\b(corpus_wiki|DokuWikiBed)\(")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_the_bed(item):
            item.add_marker(pytest.mark.wiki)


def needs_the_bed(item: pytest.Item) -> bool:
    if BED_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    functions = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        functions += [d.func for defs in info.name2fixturedefs.values() for d in defs]
    return any(builds_a_bed(f) for f in functions if f is not None)


@functools.cache
def builds_a_bed(function: Callable) -> bool:
    try:
        return bool(BUILDS_A_BED.search(inspect.getsource(function)))
    except (OSError, TypeError):  # no source (a builtin fixture)
        return False


@pytest.fixture(autouse=True)
def _bed_only_with_the_marker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When tests are selected by marker, a test that starts a bed must carry ``wiki``."""
    if not request.config.option.markexpr or request.node.get_closest_marker("wiki"):
        return

    def refuse(*_args: object, **_kwargs: object) -> None:
        pytest.fail(
            f"{request.node.nodeid} uses the DokuWiki test bed: mark it @pytest.mark.wiki",
            pytrace=False,
        )

    monkeypatch.setattr(DokuWikiBed, "start", refuse)
    monkeypatch.setattr(DokuWikiBed, "run_cli", refuse)


def require_bed() -> None:
    problem = requirements_problem()
    if problem:
        # Fail, never skip: a missing wiki must not turn the crawler tests green.
        pytest.fail(f"DokuWiki test bed unavailable: {problem}", pytrace=False)


def unchanged(out: Path, before: dict[str, str], name: str) -> None:
    after = folder_state(out)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a test changed the shared {name} (copy it to change it): {changed}"


@pytest.fixture(scope="session")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DokuWikiBed]:
    """The corpus wiki served by php -S; read-only for tests (build your own bed to edit)."""
    require_bed()
    bed = corpus_wiki(tmp_path_factory.mktemp("wiki"))
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture(scope="session")
def full_crawl(wiki: DokuWikiBed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlRun]:
    """One full crawl of the corpus wiki, read-only (copy it with copy_output to change it)."""
    out = tmp_path_factory.mktemp("full-crawl") / "out"
    result = wikiarchive("crawl", wiki.base_url, "--out", str(out), *WHOLE)
    assert result.returncode == 0, result.stderr[-3000:]
    before = folder_state(out)
    yield CrawlRun(out, result)
    unchanged(out, before, "full crawl")


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """A fresh corpus wiki crawled, edited (``edits.edit_for_history``) and crawled again.

    Read-only, the wiki included: later crawls of a copy expect it unchanged. Its feed
    stays cached until the next edit (``rss_update`` of a day, not DokuWiki's 5 minutes),
    so a crawl of a copy, however late in the session, gets the second crawl's feed.
    """
    require_bed()
    bed = corpus_wiki(tmp_path_factory.mktemp("history-wiki"), conf={"rss_update": 86400})
    out = tmp_path_factory.mktemp("history") / "out"
    try:
        first = crawl_once(bed, out, whole=True)
        after_first = {
            str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
        }
        sources = edit_for_history(bed)
        # The only wait: the second crawl's feed must be cached after the edits' stamp
        # (DokuWiki compares whole seconds), so a later crawl gets 304 Not Modified; it
        # also puts every capture of the second crawl in a later second than the first's,
        # as pywb's timestamps need.
        wait_for_fresh_caches(bed)
        second = crawl_once(bed, out, whole=True)
        before = folder_state(out)
        yield History(bed, out, (first, second), sources, after_first)
        unchanged(out, before, "history")
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
