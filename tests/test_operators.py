"""What an operator sees: live progress on a terminal, log lines under cron, a JSON summary."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

from corpus_expect import expected_by_id
from helpers import FAST, copy_output, wikiarchive

from crawler.progress import progress_line


def run_in_terminal(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its stdout and stderr; (status, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 120 columns, as a person would have
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.execv(sys.executable, [sys.executable, *args])
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_live_progress_bar_on_a_terminal(wiki, tmp_path):
    args = ["-m", "crawler.cli", "crawl", wiki.base_url, "--out", str(tmp_path / "out")]
    code, output = run_in_terminal([*args, *FAST, "--delay", "0.02"])
    assert code == 0, output[-2000:]
    total = len(expected_by_id())
    # tqdm redraws one line: "... 35/35 [00:01<00:00, 20.1 pages/s, errors=0, requests=52]"
    assert re.search(rf"\b{total}/{total} \[[\d:]+<[\d:]+, +[\d.]+ pages/s", output), output[-2000:]
    assert "errors=0" in output and "requests=" in output
    assert "\r" in output  # redrawn in place, not a line per update


def test_without_a_terminal_progress_comes_as_log_lines(wiki, tmp_path):
    log = tmp_path / "crawl.log"
    result = wikiarchive(
        "crawl", wiki.base_url, "--out", str(tmp_path / "out"), *FAST,
        "--log-level", "INFO", "-s", "WIKI_PROGRESS_INTERVAL=0.2", "--delay", "0.02",
        "--log-file", str(log),
    )
    assert result.returncode == 0, result.stderr
    assert "Progress:" not in result.stderr  # the log went to the file
    lines = [line for line in log.read_text().splitlines() if "Progress:" in line]
    assert len(lines) >= 2
    total = len(expected_by_id())
    assert f"Progress: {total}/{total} pages" in lines[-1]
    assert "\r" not in log.read_text()


def test_progress_line():
    line = progress_line({"done": 50, "discovered": 150, "requests": 60, "errors": 2}, 10.0)
    assert line == "Progress: 50/150 pages, 60 requests, 5.0 pages/s, 2 errors, ETA 20 s"
    start = {"done": 0, "discovered": 1, "requests": 1, "errors": 0}
    assert progress_line(start, 0.0).endswith("ETA unknown")


def test_quiet_prints_nothing_and_summary_json_tells_all(wiki, tmp_path):
    summary = tmp_path / "summary.json"
    result = wikiarchive(
        "crawl", wiki.base_url, "--out", str(tmp_path / "out"), *FAST, "--quiet",
        "--summary-json", str(summary),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 0 and data["error"] is None
    assert data["outcome"] == "finished" and data["mode"] == "full"
    assert data["pages"] == len(expected_by_id()) and data["failed_pages"] == []
    assert data["tables"]["pages"] == len(expected_by_id())
    assert data["warc_files"] and data["site"] == wiki.base_url


def test_summary_json_on_failure(tmp_path):
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "http://127.0.0.1:9/wiki/",
         "--out", str(tmp_path / "out"), "--summary-json", str(summary)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    data = json.loads(summary.read_text())
    assert data["outcome"] == "failed" and data["exit_code"] == 1
    assert data["error"].startswith("cannot reach http://127.0.0.1:9/wiki/")


def test_every_command_speaks_the_same_way(full_crawl, tmp_path):
    """export, report and package: --quiet prints nothing, --summary-json tells, --log-file
    takes the log; a failure is one line and a JSON summary too."""
    out = copy_output(full_crawl.out, tmp_path / "out")  # export writes its tables
    runs = {
        "export": [str(out)],
        "report": [str(out), "-o", str(tmp_path / "report.html")],
        "package": [str(out), "--wacz", str(tmp_path / "a.wacz")],
    }
    for command, args in runs.items():
        summary, log = tmp_path / f"{command}.json", tmp_path / f"{command}.log"
        result = wikiarchive(command, *args, "--quiet", "--summary-json", str(summary),
                             "--log-file", str(log), "--log-level", "DEBUG")
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout == "" and result.stderr == "", command
        data = json.loads(summary.read_text())
        assert (data["command"], data["outcome"], data["exit_code"]) == (command, "done", 0)
    assert json.loads((tmp_path / "export.json").read_text())["tables"]["pages"] == len(
        expected_by_id()
    )
    assert json.loads((tmp_path / "package.json").read_text())["pages"] == len(expected_by_id())
    failed = tmp_path / "failed.json"
    result = wikiarchive("export", str(tmp_path / "nothing"), "--summary-json", str(failed))
    assert result.returncode == 1 and result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    data = json.loads(failed.read_text())
    assert data["outcome"] == "failed" and "nothing to export" in data["error"]
    changes = wikiarchive("changes", str(out), "--log-level", "ERROR")
    assert changes.returncode == 0, changes.stderr
    assert "--quiet" not in wikiarchive("changes", "--help").stdout  # its output is the answer
