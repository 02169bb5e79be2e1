"""The command line: options become settings; bad input gives one line and a non-zero exit."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest
from helpers import wikiarchive

from crawler.archivist import ARCHIVING_ROOM
from crawler.cli import crawl_settings, main
from crawler.run import project_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], result.stderr


@pytest.fixture
def not_a_wiki(tmp_path):
    """A plain static web server on loopback."""
    (tmp_path / "index.html").write_text("<html><body>hello</body></html>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/wiki/"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_polite_defaults():
    settings = project_settings({})
    assert settings.getbool("ROBOTSTXT_OBEY")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1  # what the wiki sees
    # Scrapy counts a response until the archivist has stored it (crawler.archivist).
    assert settings.getint("CONCURRENT_REQUESTS") == 1 + ARCHIVING_ROOM
    assert settings.getfloat("DOWNLOAD_DELAY") >= 1
    assert settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.get("USER_AGENT").startswith("wikiarchive/")
    assert settings.get("WIKI_SITE") == "https://neurosurgerywiki.com/wiki/"


def test_options_become_settings(tmp_path):
    options = {
        "discovery": ["index"],
        "max_pages": 7,
        "date_format": "%d.%m.%Y %H:%M",
        "warc_max_size": 2.5,
        "log_level": "warning",
        "delay": 0.0,
        "concurrency": 3,
        "overrides": ("AUTOTHROTTLE_ENABLED=False",),
        "full": True,
        "excel_safe": True,
        "quiet": False,
        "log_file": tmp_path / "crawl.log",
        "summary_json": None,
        "no_requisites": True,
        "no_media": False,
        "media_max_size": 1.5,
    }
    settings = project_settings(crawl_settings("http://127.0.0.1:1/wiki/", tmp_path, **options))
    assert not settings.getbool("WIKI_REQUISITES") and settings.getbool("WIKI_MEDIA")
    assert settings.getint("WIKI_MEDIA_MAX_SIZE") == 1_500_000
    assert settings.getint("WIKI_MAX_PAGES") == 7
    assert settings.getlist("WIKI_DISCOVERY") == ["index"]
    assert settings.getint("WARC_MAX_SIZE") == 2_500_000
    assert settings.getfloat("DOWNLOAD_DELAY") == 0
    assert settings.getint("CONCURRENT_REQUESTS") == 3 + ARCHIVING_ROOM
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 3
    assert not settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.get("LOG_LEVEL") == "WARNING"
    assert settings.get("WIKI_DATE_FORMAT") == "%d.%m.%Y %H:%M"
    assert settings.get("WIKI_CRAWL_MODE") == "full"
    assert settings.getbool("WIKI_EXCEL_SAFE")
    assert settings.get("LOG_FILE") == str(tmp_path / "crawl.log")
    assert settings.get("WIKI_PROGRESS") == "auto"


def test_the_group_holds_every_documented_command():
    """README documents each command under a heading of its own; a command missing from
    the click group (written but never registered) would not run at all."""
    documented = set(re.findall(r"^### `wikiarchive (\w+)", README, re.M))
    assert documented and set(main.commands) == documented


def installed_command(*args: str) -> subprocess.CompletedProcess:
    """The `wikiarchive` script pip installed (pyproject's [project.scripts])."""
    script = Path(sys.executable).parent / "wikiarchive"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_help_for_each_command(name):
    """`wikiarchive NAME --help`, the installed script, names the command's arguments and every
    option with its help text."""
    result = installed_command(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: wikiarchive {name} "), result.stdout
    shown = " ".join(result.stdout.split())
    command = main.commands[name]
    for param in command.params:
        if isinstance(param, click.Argument):
            assert param.human_readable_name in shown, (name, param.name)
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            assert re.search(rf"(^|[\s,/]){re.escape(opt)}\b", shown), (name, opt)
        assert " ".join(param.help.split()) in shown, (name, param.opts)
    assert "--help" in shown


def test_help_of_the_group_lists_every_command():
    result = installed_command("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: wikiarchive ")
    listed = result.stdout.split("Commands:", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    assert names == sorted(main.commands)
    assert "--version" in result.stdout


@pytest.mark.parametrize("url", ["ftp://example.org/wiki/", "not a url", "http:///wiki/"])
def test_bad_url(tmp_path, url):
    assert_one_line_error(wikiarchive("crawl", url, "--out", str(tmp_path)), "SITE_URL")


def test_unreachable_site(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/wiki/"
    result = wikiarchive("crawl", url, "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "cannot reach", url)


def test_site_that_is_not_a_dokuwiki(tmp_path, not_a_wiki):
    result = wikiarchive("crawl", not_a_wiki, "--out", str(tmp_path / "out"), "--delay", "0")
    assert_one_line_error(result, "does not look like a DokuWiki")


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = wikiarchive("crawl", "http://127.0.0.1:1/wiki/", "--out", str(blocker / "sub"))
    assert_one_line_error(result, "cannot write")


@pytest.mark.parametrize(
    "option",
    [
        ["--discovery", "telepathy"],
        ["--date-format", "dd.mm.yyyy"],
        ["--max-pages", "-1"],
        ["--warc-max-size", "0"],
        ["-s", "NOEQUALS"],
    ],
)
def test_bad_options(tmp_path, option):
    result = wikiarchive("crawl", "http://127.0.0.1:1/wiki/", "--out", str(tmp_path), *option)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Error:" in result.stderr


def test_export_without_warcs(tmp_path):
    assert_one_line_error(wikiarchive("export", str(tmp_path)), "nothing to export")


def test_export_leaves_no_partial_tables_on_bad_warc(tmp_path):
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "broken-00000.warc.gz").write_bytes(b"this is not a warc file")
    result = wikiarchive("export", str(tmp_path))
    assert_one_line_error(result)
    assert not (tmp_path / "tables").exists()
    assert not Path(str(tmp_path / "tables") + ".new").exists()


def test_excel_safe_cells():
    from exports.write import excel_safe

    for risky in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert excel_safe(risky) == "'" + risky
    for plain in ("Magnesium", "", "10.1186/x", "'quoted", "a=b"):
        assert excel_safe(plain) == plain
    assert excel_safe(42) == 42


@pytest.mark.parametrize("args", [["--help"], ["crawl", "--concurrency", "0"],
                                  ["export", "/nonexistent/wikiarchive-out"]])
def test_the_installed_command_ends_as_main_does(args, tmp_path):
    # `python -m crawler.cli` and the console script run cli.run(), which leaves without
    # the interpreter's teardown: the status and every byte of output must be main's.
    from click.testing import CliRunner

    expected = CliRunner().invoke(main, args, prog_name="python -m crawler.cli")
    ran = subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == expected.exit_code
    assert ran.stdout == expected.stdout
    assert ran.stderr == expected.stderr
