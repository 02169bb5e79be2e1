"""README.md stays true: every command, option and column is documented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest

from crawler.cli import main
from exports.docs import data_dictionary

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_data_dictionary_is_current():
    block = re.search(
        r"<!-- data dictionary:.*?-->\n(.*?)<!-- end of data dictionary -->", README, re.S
    )
    assert block, "README lost its data dictionary markers"
    assert block.group(1) == data_dictionary()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_and_option_is_documented(name):
    command = main.commands[name]
    assert f"`wikiarchive {name}" in README
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(f"`{opt}" in README for opt in param.opts), (name, param.opts)


def test_two_setup_commands_and_ci_uses_the_test_one():
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert len(commands) == 2
    assert "wikiarchive crawl" in commands[0]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_ci_runs_every_test_and_fails_when_none_ran():
    """CI deselects nothing (no marker or keyword filter), and pytest's own exit status,
    5 when no test ran, is the script's."""
    root = Path(__file__).parent.parent
    script = (root / "scripts" / "test").read_text().splitlines()
    assert "set -euo pipefail" in script
    # pytest is the script's last command; its options spread the tests over workers
    # and select none away.
    last = re.fullmatch(r'exec \.venv/bin/python -m pytest (.*)"\$@"', script[-1])
    assert last and not re.search(r"(^|\s)-[mk]\b", last.group(1)), script[-1]
    assert (root / ".ci" / "run").read_text().splitlines()[-1] == "bash scripts/test -q"
    with open(root / "pyproject.toml", "rb") as stream:
        options = tomllib.load(stream)["tool"]["pytest"]["ini_options"]
    assert not re.search(r"(^|\s)-[mk]\b", options["addopts"])
    assert options["testpaths"] == ["tests"]


def test_every_setting_is_in_the_settings_table():
    from crawler import settings

    ours = [name for name in dir(settings) if name.startswith(("WIKI_", "WARC_"))]
    assert ours
    for name in ours:
        assert f"| `{name}` |" in README, name


def test_every_guarantee_names_tests_that_exist():
    section = README.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`", section)
    assert len(named) >= 12
    tests_dir = Path(__file__).parent
    for module, test in named:
        source = (tests_dir / module).read_text(encoding="utf-8")
        if test:
            assert f"def {test}(" in source, (module, test)
