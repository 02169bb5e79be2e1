"""Throughput benchmark: wikiarchive against the server's ceiling and the alternatives.

Usage: python benchmarks/run.py [--pages 5000] [--concurrency 4] [--skip-alternatives]
                                [--growth 1000] [--workers auto] [--no-profile]

One run generates a wiki of N pages (same generator as benchmarks/wikigen.py, bulk-loaded),
serves it with the real DokuWiki (`php -S`, several workers) on 127.0.0.1 and measures:
the server's ceiling (cold pass with a stdlib client, warm with wrk), `wikiarchive crawl`
(full), wget --mirror (careful and naive) and dokuWikiDumper, an incremental recrawl with 1%
of the pages edited, `wikiarchive export`, and growth in N. It prints a Markdown report and
writes it to benchmarks/RESULTS.md; cProfile top-25 listings go to benchmarks/profiles/.
Every request goes to 127.0.0.1. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import http.client
import io
import json
import os
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from bulkgen import generate_fast
from wikibed import BASE_PATH
from wikigen import DokuWikiBed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROFILES = HERE / "profiles"
DUMPER_VENV = Path("/tmp/wikiarchive-bench-dokuwikidumper")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MISSING_MARK = b"This topic does not exist yet"
# Any stray outbound call of a tool under test fails at once on this closed local port.
NO_OUTSIDE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
              "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
# What a careful wget user rejects: every action view (do=..., the per-page index link
# included: it is a different URL on every page), old revisions, media views, the task runner
# and the other lib/exe scripts, the feeds. Red links (missing pages) cannot be told by URL.
WGET_REJECT = (r"[?&](do|rev|rev2|at|difftype|image|ns|idx|tab_[a-z]+|media|sectok|q)=|"
               r"/lib/exe/|/feed\.php|/_media/|/_detail/")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def head_revision() -> str:
    """The checkout's commit, short, as the results name it."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


# --------------------------------------------------------------------------- processes


@dataclass
class Measured:
    seconds: float
    cpu: float  # user + system seconds of the process (and children it waited for)
    # Peak RSS: of the command's processes together (a crawl's archivist beside Scrapy),
    # sampled every 20 ms, or of its largest process (wait4), whichever is larger.
    maxrss_mb: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    marks: dict = field(default_factory=dict)  # phase name -> (seconds, cpu, rss MB)


def proc_cpu_rss(pid: int) -> tuple[float, float] | None:
    """(cpu seconds, peak RSS MB so far) of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    cpu = (int(stat[11]) + int(stat[12])) / CLK_TCK
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    return cpu, (int(hwm.group(1)) / 1024 if hwm else 0.0)


def children(pid: int) -> list[int]:
    """The live child processes of *pid*, from /proc (none once it has ended)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_rss_mb(pid: int) -> float:
    """Resident size of a process and its descendants now, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE_SIZE
        except OSError:
            continue  # ended meanwhile
        pending += children(current)
    return total / (1024 * 1024)


def measure(cmd: list[str], *, cwd: Path = ROOT, env: dict | None = None,
            timeout: float | None = None, watch=None) -> Measured:
    """Run cmd in its own process group; wall time, CPU and peak RSS from wait4().

    ``watch(pid, elapsed, marks)`` is called every 20 ms while it runs (phase marks).
    """
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, start_new_session=True)
    marks: dict = {}
    timed_out = False
    tree_peak = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree_peak = max(tree_peak, tree_rss_mb(proc.pid))
        elapsed = time.perf_counter() - started
        if watch is not None:
            watch(proc.pid, elapsed, marks)
        if timeout is not None and elapsed > timeout and not timed_out:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)  # our own child's group, nothing else
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    maxrss = max(usage.ru_maxrss / 1024, tree_peak)
    return Measured(seconds, usage.ru_utime + usage.ru_stime, maxrss,
                    proc.returncode, out.read().decode(errors="replace"),
                    err.read().decode(errors="replace"), timed_out, marks)


def turn_arguments(description: str, output: Path) -> argparse.Namespace:
    """--pages, --rounds, --baseline and --output of a benchmark timing a crawled wiki's
    work in turns against a baseline revision."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV")
    parser.add_argument("--output", default=str(output))
    return parser.parse_args()


def phases_on_one_core(code: Path, script: str, *args: str) -> dict:
    """Run *script* (``python -c``) on core 0 in the checkout at *code* with *args*; the
    JSON it prints last after ``PHASES `` (its timings)."""
    run = measure(["taskset", "-c", "0", sys.executable, "-c", script, *args], cwd=code)
    if run.returncode != 0:
        raise RuntimeError(f"timed run failed ({run.returncode}): {run.stderr[-3000:]}")
    line = next(x for x in reversed(run.stdout.splitlines()) if x.startswith("PHASES "))
    return json.loads(line[len("PHASES "):])


def server_cpu(bed: DokuWikiBed) -> float:
    """CPU seconds used so far by the php -S process group (master and workers)."""
    pgid = bed._proc.pid  # noqa: SLF001 - the bed starts php in its own process group
    total = 0.0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: process group
            total += sum(int(x) for x in fields[11:15]) / CLK_TCK
    return total


# --------------------------------------------------------------------------- the server


def article_paths(ids: list[str]) -> list[str]:
    """Permanent links, as paths on the server (``/wiki/doku.php?id=ns:page``)."""
    return [f"{BASE_PATH}doku.php?{urlencode({'id': p}, safe=':')}" for p in ids]


def stdlib_pass(bed: DokuWikiBed, paths: list[str], concurrency: int) -> dict:
    """Fetch every path once with `concurrency` threads (http.client): seconds, statuses."""
    local = threading.local()

    def fetch(path: str) -> tuple[int, int, bool]:
        for _ in range(3):
            conn = getattr(local, "conn", None) or http.client.HTTPConnection(
                "127.0.0.1", bed.port, timeout=60)
            local.conn = conn
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    local.conn = None
                return resp.status, len(body), MISSING_MARK in body
            except (OSError, http.client.HTTPException):
                conn.close()
                local.conn = None
        return 0, 0, False

    cpu0 = server_cpu(bed)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(fetch, paths))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rate": len(paths) / seconds,
        "bad": sum(1 for s, _, missing in results if s != 200 or missing),
        "bytes": sum(n for _, n, _ in results),
        "server_cpu_per_1000": (server_cpu(bed) - cpu0) / len(paths) * 1000,
    }


WRK_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
init = function(args) i = math.random(#paths) end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk(bed: DokuWikiBed, paths_file: Path, concurrency: int, seconds: int) -> dict:
    script = paths_file.with_suffix(".lua")
    script.write_text(WRK_LUA % paths_file, encoding="utf-8")
    cpu0 = server_cpu(bed)
    result = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
         f"http://127.0.0.1:{bed.port}/"],
        capture_output=True, text=True, check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    total = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    errors = re.search(r"Socket errors: (.*)", result.stdout)
    return {"rate": rate, "requests": total, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else "",
            "server_cpu_per_1000": (server_cpu(bed) - cpu0) / max(total, 1) * 1000}


# --------------------------------------------------------------------------- wikiarchive


FAST = ["--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "--log-level", "WARNING"]


def crawl_watch(out: Path):
    """Marks the end of the crawl phase: the WARC file is closed (no ``.open`` left)."""
    warc = out / "warc"
    before = set(warc.glob("*.warc.gz")) if warc.is_dir() else set()

    def watch(pid: int, elapsed: float, marks: dict) -> None:
        if "crawl" in marks or not warc.is_dir():
            return
        names = set(warc.iterdir())
        opened = any(p.name.endswith(".open") for p in names)
        if opened:
            marks["seen_open"] = True
        elif marks.get("seen_open") and set(warc.glob("*.warc.gz")) - before:
            now = proc_cpu_rss(pid)
            if now:
                marks["crawl"] = (elapsed, *now)
    return watch


@dataclass
class CrawlResult:
    run: Measured
    pages: int
    requests: int
    errors: int
    mode: str
    warc_bytes: int
    table_pages: int
    empty_pages: int

    @property
    def phase(self) -> tuple[float, float, float] | None:
        return self.run.marks.get("crawl")


def summary_numbers(stdout: str) -> tuple[str, int, int, int]:
    match = re.search(r"Crawl \S+ \((\w+)\): (\d+) pages, (\d+) requests, (\d+) errors", stdout)
    if not match:
        raise RuntimeError(f"no summary line in:\n{stdout[-2000:]}")
    return match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))


def table_pages(out: Path) -> tuple[int, int]:
    """(rows, rows with no words) of the pages table."""
    csv.field_size_limit(1 << 30)
    with open(out / "tables" / "pages.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return len(rows), sum(1 for r in rows if r.get("word_count") in ("0", ""))


def wikiarchive_crawl(site: str, out: Path, concurrency: int, *extra: str,
                      profile: Path | None = None) -> CrawlResult:
    python = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    cmd = [*python, "-m", "crawler.cli", "crawl", site, "--out", str(out), *FAST,
           "--concurrency", str(concurrency), *extra]
    run = measure(cmd, watch=crawl_watch(out))
    if run.returncode not in (0, 3):
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-3000:]}")
    mode, pages, requests, errors = summary_numbers(run.stdout)
    warc_bytes = sum(p.stat().st_size for p in (out / "warc").glob("*.warc.gz"))
    rows, empty = table_pages(out)
    return CrawlResult(run, pages, requests, errors, mode, warc_bytes, rows, empty)


def wikiarchive_export(out: Path, profile: Path | None = None) -> tuple[Measured, int]:
    python = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    run = measure([*python, "-m", "crawler.cli", "export", str(out)])
    if run.returncode != 0:
        raise RuntimeError(f"export failed ({run.returncode}): {run.stderr[-3000:]}")
    return run, table_pages(out)[0]


def top_of_profile(profile: Path, target: Path, title: str, lines: int = 25) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(str(profile), stream=stream)
    stats.sort_stats("cumulative").print_stats(lines)
    text = f"# {title}\n\n" + stream.getvalue().split("\n", 1)[1].strip() + "\n"
    target.write_text(text, encoding="utf-8")
    return text


def profile_cumulative(profile: Path, *names: str) -> dict[str, float]:
    """Cumulative seconds of functions by (file suffix, function name) 'file:func' keys."""
    stats = pstats.Stats(str(profile)).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    found = {}
    for name in names:
        path_part, func = name.rsplit(":", 1)
        best = 0.0
        for (filename, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.items():
            if fn == func and filename.endswith(path_part):
                best = max(best, ct)
        found[name] = best
    return found


# --------------------------------------------------------------------------- alternatives


def article_ids_in_warc(path: Path, site_path: str, ids: set[str]) -> tuple[int, int, int]:
    """(distinct article ids captured, response records, missing-page stubs) in a WARC
    (a torn tail is tolerated)."""
    from warcio.archiveiterator import ArchiveIterator

    seen: set[str] = set()
    stubs: set[str] = set()
    responses = 0
    with open(path, "rb") as fh:
        try:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                responses += 1
                url = urlsplit(record.rec_headers.get_header("WARC-Target-URI") or "")
                if url.path != site_path + "doku.php":
                    continue
                query = parse_qs(url.query)
                if set(query) != {"id"}:
                    continue
                status = record.http_headers.get_statuscode() if record.http_headers else ""
                body = record.content_stream().read()
                page_id = query["id"][0]
                if status == "200" and page_id in ids and MISSING_MARK not in body:
                    seen.add(page_id)
                elif MISSING_MARK in body:
                    stubs.add(page_id)
        except Exception as exc:  # a killed wget leaves a torn last record
            log(f"{path.name}: stopped reading at {type(exc).__name__}: {exc}")
    return len(seen), responses, len(stubs)


def run_wget(site: str, work: Path, ids: set[str], *, careful: bool,
             timeout: float | None) -> dict:
    name = "wget-careful" if careful else "wget-naive"
    target = work / name
    target.mkdir(parents=True)
    cmd = ["wget", "--mirror", "--no-parent", "--no-verbose", "--tries=2", "--timeout=60",
           f"--warc-file={target / 'crawl'}", "-P", str(target / "files")]
    if careful:
        cmd += ["--regex-type=pcre", f"--reject-regex={WGET_REJECT}"]
    run = measure([*cmd, site], env=NO_OUTSIDE, timeout=timeout)
    articles, responses, stubs = article_ids_in_warc(
        target / "crawl.warc.gz", urlsplit(site).path, ids)
    return {"name": name, "run": run, "articles": articles, "requests": responses,
            "stubs": stubs,
            "bytes": (target / "crawl.warc.gz").stat().st_size, "concurrency": 1,
            "cmd": " ".join(cmd[:1] + cmd[1:]).replace(str(work), "WORK")}


def ensure_dumper() -> Path:
    exe = DUMPER_VENV / "bin" / "dokuWikiDumper"
    if not exe.exists():
        log(f"installing dokuwikidumper into {DUMPER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(DUMPER_VENV)], check=True)
        subprocess.run([str(DUMPER_VENV / "bin" / "pip"), "install", "-q", "dokuwikidumper"],
                       check=True)
    return exe


def run_dumper(site: str, work: Path, ids: set[str], concurrency: int, what: str,
               timeout: float | None) -> dict:
    exe = ensure_dumper()
    target = work / f"dumper-{what}"
    # --i-love-retro: no version check; --force: no look-up of earlier dumps on the web.
    cmd = [str(exe), site + "doku.php", f"--{what}", "--current-only",
           "--threads", str(concurrency), "--path", str(target), "--i-love-retro", "--force"]
    run = measure(cmd, cwd=work, env=NO_OUTSIDE, timeout=timeout)
    folder = target / ("pages" if what == "content" else "html/pages")
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    captured = set()
    for path in files:
        rel = path.relative_to(folder).with_suffix("")
        captured.add(str(rel).replace("/", ":"))
    return {"name": f"dokuWikiDumper --{what}", "run": run, "articles": len(captured & ids),
            "files": len(files), "requests": None, "concurrency": concurrency,
            "bytes": sum(p.stat().st_size for p in files),
            "cmd": " ".join(cmd).replace(str(work), "WORK").replace(str(exe), "dokuWikiDumper")}


# --------------------------------------------------------------------------- scenario


def edit_pages(bed: DokuWikiBed, ids: list[str], share: float) -> list[str]:
    edited = random.Random(11).sample(ids[1:], max(1, int(len(ids) * share)))
    now = datetime.now(UTC)
    for page_id in edited:
        text = bed.page_path(page_id).read_text(encoding="utf-8")
        bed.write_page(page_id, text + "\nEdited for the benchmark.\n", when=now)
    return edited


def serve(bed: DokuWikiBed, workers: int) -> str:
    bed.stop()
    return bed.start(workers=workers)


def growth_point(n: int, work: Path, concurrency: int, workers: int) -> dict:
    bed = DokuWikiBed(work / f"wiki-{n}")
    t0 = time.perf_counter()
    ids = generate_fast(bed, n)
    generated = time.perf_counter() - t0
    site = bed.start(workers=workers)
    try:
        paths = article_paths(ids)
        cold = stdlib_pass(bed, paths, concurrency)
        out = work / f"out-{n}"
        crawl = wikiarchive_crawl(site, out, concurrency)
        export, _ = wikiarchive_export(out)
    finally:
        bed.stop()
    shutil.rmtree(work / f"wiki-{n}", ignore_errors=True)
    return {"n": len(ids), "generated": generated, "cold": cold, "crawl": crawl,
            "export": export}


def choose_workers(bed: DokuWikiBed, paths: list[str], paths_file: Path, concurrency: int,
                   candidates: list[int], seconds: int) -> tuple[int, dict]:
    """wrk over a subset of pages for each worker count. DokuWiki keys its page cache by
    host and port and every start takes a new port, so each candidate first renders the
    subset once (that pass is its cold rate)."""
    probe = {}
    for workers in candidates:
        serve(bed, workers)
        cold = stdlib_pass(bed, paths, concurrency)
        probe[workers] = wrk(bed, paths_file, concurrency, seconds)
        probe[workers]["cold"] = cold["rate"]
        log(f"  workers={workers}: cold {cold['rate']:.0f}, "
            f"warm {probe[workers]['rate']:.0f} req/s")
    best = max(probe, key=lambda w: probe[w]["rate"])
    return best, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000, help="articles to generate")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="requests in flight for the crawl, wrk and the alternatives")
    parser.add_argument("--workers", default="auto",
                        help="php -S workers, or 'auto': probe 1-4 with wrk, keep the best")
    parser.add_argument("--skip-alternatives", action="store_true",
                        help="no wget, no dokuWikiDumper")
    parser.add_argument("--growth", default="1000",
                        help="other wiki sizes to crawl and export, comma-separated ('' none)")
    parser.add_argument("--edited", type=float, default=0.01, help="share of pages edited")
    parser.add_argument("--naive-timeout", type=float, default=120,
                        help="seconds the naive wget gets before it is stopped")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the cProfile runs (benchmarks/profiles/)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--keep", help="keep the work folder here instead of a temp folder")
    args = parser.parse_args()
    C = args.concurrency
    started = time.perf_counter()
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=False)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="wikiarchive-bench-")
        work = Path(cleanup.name)
    R: dict = {"args": vars(args), "cores": os.cpu_count()}
    try:
        run_all(args, C, work, R)
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    R["total_seconds"] = time.perf_counter() - started
    report = render(R)
    print(report)
    Path(args.output).write_text(report, encoding="utf-8")
    log(f"written {args.output}")


def run_all(args: argparse.Namespace, C: int, work: Path, R: dict) -> None:
    PROFILES.mkdir(exist_ok=True)
    bed = DokuWikiBed(work / "wiki")
    log(f"generating {args.pages} pages")
    t0 = time.perf_counter()
    ids = generate_fast(bed, args.pages)
    R["generated"] = time.perf_counter() - t0
    R["n"] = len(ids)
    id_set = set(ids)
    paths = article_paths(ids)
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
    try:
        # 1. the ceiling. DokuWiki keys its page cache by host and port, and every server
        # start takes a new port: the server is started once for all that follows. Its
        # first pass renders every page (cold ceiling); everything after sees warm caches.
        if args.workers == "auto":
            log("probing php -S workers (cold pass + wrk on a subset of pages)")
            subset = paths[: min(len(paths), 600)]
            subset_file = work / "paths-subset.txt"
            subset_file.write_text("\n".join(subset) + "\n", encoding="utf-8")
            workers, R["probe"] = choose_workers(bed, subset, subset_file, C, [1, 2, 3, 4],
                                                 max(4, args.wrk_seconds // 2))
        else:
            workers, R["probe"] = int(args.workers), {}
        R["workers"] = workers
        site = serve(bed, workers)
        log(f"cold pass over {len(paths)} pages, {workers} workers, c={C}")
        R["cold"] = stdlib_pass(bed, paths, C)
        R["cold"]["workers"] = workers
        R["load_start"] = os.getloadavg()[0]
        R["ceiling"] = wrk(bed, paths_file, C, args.wrk_seconds)
        R["ceiling_by_c"] = {}
        for c in sorted({1, 2, C, 2 * C}):
            R["ceiling_by_c"][c] = wrk(bed, paths_file, c, max(4, args.wrk_seconds // 2))
        R["warm_stdlib"] = stdlib_pass(bed, paths, C)
        log(f"ceiling: {R['ceiling']['rate']:.0f} req/s (wrk, c={C}, {workers} workers)")

        # 2. wikiarchive crawl, full
        out = work / "out"
        cpu0 = server_cpu(bed)
        R["crawl"] = wikiarchive_crawl(site, out, C)
        R["crawl_server_cpu"] = server_cpu(bed) - cpu0
        R["load_crawl"] = os.getloadavg()[0]
        R["ceiling_after"] = wrk(bed, paths_file, C, args.wrk_seconds)
        log(f"ceiling again after the crawl: {R['ceiling_after']['rate']:.0f} req/s")
        log(f"crawl: {R['crawl'].run.seconds:.1f} s, {R['crawl'].pages} pages")

        # 5. export from the WARCs
        R["export"], R["export_rows"] = wikiarchive_export(out)
        log(f"export: {R['export'].seconds:.1f} s")

        # 3. alternatives (wiki unchanged; naive wget last: it may trigger the task runner)
        R["alternatives"] = []
        if not args.skip_alternatives:
            log("wget, careful")
            R["alternatives"].append(run_wget(site, work, id_set, careful=True, timeout=1800))
            for what in ("content", "html"):
                log(f"dokuWikiDumper --{what}")
                R["alternatives"].append(run_dumper(site, work, id_set, C, what, timeout=1800))

        # 4. incremental with 1% edited
        time.sleep(1.1)
        R["edited"] = len(edit_pages(bed, ids, args.edited))
        time.sleep(1.1)
        R["incremental"] = wikiarchive_crawl(site, out, C)
        log(f"incremental: {R['incremental'].run.seconds:.1f} s, "
            f"{R['incremental'].requests} requests")

        # profiles (a second full crawl into a fresh folder, the export, the incremental)
        if not args.no_profile:
            log("profiling crawl and export (cProfile)")
            prof_out = work / "out-profiled"
            crawl_prof = work / "crawl.prof"
            R["crawl_profiled"] = wikiarchive_crawl(site, prof_out, C, profile=crawl_prof)
            R["crawl_profile_text"] = top_of_profile(
                crawl_prof, PROFILES / "crawl.txt",
                f"wikiarchive crawl, full, {R['n']} pages, c={C} (cProfile, cumulative)")
            R["crawl_split"] = profile_cumulative(
                crawl_prof, "crawler/run.py:run_crawl", "scrapy/crawler.py:start",
                "exports/history.py:ingest", "exports/export.py:write_tables",
                "crawler/run.py:prepare")
            PROFILES.joinpath("crawl-tottime.txt").write_text(
                tottime_text(crawl_prof, "wikiarchive crawl (cProfile, internal time)"),
                encoding="utf-8")
            export_prof = work / "export.prof"
            wikiarchive_export(prof_out, profile=export_prof)
            R["export_profile_text"] = top_of_profile(
                export_prof, PROFILES / "export.txt",
                f"wikiarchive export, {R['n']} pages (cProfile, cumulative)")
            PROFILES.joinpath("export-tottime.txt").write_text(
                tottime_text(export_prof, "wikiarchive export (cProfile, internal time)"),
                encoding="utf-8")

        if not args.skip_alternatives:
            log(f"wget, naive (stopped after {args.naive_timeout:.0f} s)")
            R["alternatives"].append(run_wget(site, work, id_set, careful=False,
                                              timeout=args.naive_timeout))
    finally:
        bed.stop()
    shutil.rmtree(work / "wiki", ignore_errors=True)

    # 6. growth
    R["growth"] = []
    for n in [int(x) for x in args.growth.split(",") if x.strip()]:
        log(f"growth point N={n}")
        R["growth"].append(growth_point(n, work, C, R["workers"]))


def tottime_text(profile: Path, title: str, lines: int = 25) -> str:
    stream = io.StringIO()
    pstats.Stats(str(profile), stream=stream).sort_stats("tottime").print_stats(lines)
    return f"# {title}\n\n" + stream.getvalue().split("\n", 1)[1].strip() + "\n"


# --------------------------------------------------------------------------- report


def mark(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def render(R: dict) -> str:
    n, C, workers = R["n"], R["args"]["concurrency"], R["workers"]
    ceiling = (R["ceiling"]["rate"] + R["ceiling_after"]["rate"]) / 2
    crawl: CrawlResult = R["crawl"]
    crawl_rate = crawl.pages / crawl.run.seconds
    phase = crawl.phase
    head = head_revision()
    dirty = subprocess.run(["git", "status", "--porcelain", "crawler", "archive", "exports"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    L = [
        f"# wikiarchive throughput benchmark ({n} pages, concurrency {C})",
        "",
        f"Machine: **{R['cores']} cores**, {os.uname().sysname} {os.uname().release}; "
        f"DokuWiki (Debian) under `php -S` with **{workers} workers** on 127.0.0.1, "
        f"wiki generated (bulk loader, same pages as wikigen) in {R['generated']:.0f} s. "
        f"Code: {head}{' with uncommitted changes in crawler/archive/exports' if dirty else ''}. "
        f"Produced by `python benchmarks/run.py "
        f"--pages {R['args']['pages']} --concurrency {C}` in {R['total_seconds'] / 60:.1f} min.",
        "",
        f"Load average (1 min) at the start of the ceiling runs {R['load_start']:.1f}, after the "
        f"crawl {R['load_crawl']:.1f}: other work (other engineers' test suites) shared the "
        "machine, so wall-clock rates are noisy; CPU-second figures are not.",
        "",
        "Every run below saw warm DokuWiki caches (the cold pass rendered each page once "
        "first), except the incremental crawl (edits invalidate every cache).",
        "",
        "## Server ceiling",
        "",
        "| measurement | req/s | server CPU s / 1,000 req | notes |",
        "|---|---|---|---|",
        f"| cold pass, stdlib client, c={C}, {R['cold']['workers']} workers (first render of "
        f"every page) | {R['cold']['rate']:.0f} | {R['cold']['server_cpu_per_1000']:.1f} | "
        f"{R['cold']['bad']} bad answers |",
    ]
    for w, p in R["probe"].items():
        L.append(f"| probe, {w} worker{'s' if w > 1 else ''}, c={C}, 600 pages: wrk warm | "
                 f"{p['rate']:.0f} | {p['server_cpu_per_1000']:.1f} | cold pass {p['cold']:.0f}"
                 f" req/s; {p['non2xx']} non-2xx |")
    for label, key in (("before the crawl", "ceiling"), ("right after the crawl", "ceiling_after")):
        L.append(f"| wrk warm, c={C}, {workers} workers, all pages, {label} | "
                 f"{R[key]['rate']:.0f} | {R[key]['server_cpu_per_1000']:.1f} | "
                 f"{R[key]['requests']} requests, {R[key]['non2xx']} non-2xx |")
    L.append(f"| **the ceiling used below: mean of the two** | **{ceiling:.0f}** | | |")
    for c, p in R["ceiling_by_c"].items():
        L.append(f"| wrk warm, c={c}, {workers} workers | {p['rate']:.0f} | "
                 f"{p['server_cpu_per_1000']:.1f} | |")
    L.append(f"| stdlib client warm, c={C} | {R['warm_stdlib']['rate']:.0f} | "
             f"{R['warm_stdlib']['server_cpu_per_1000']:.1f} | Python client, all pages once |")

    # main table
    L += ["", "## Archiving the wiki", "",
          "| tool | concurrency | seconds | article pages captured (of "
          f"{n}) | article pages/s | vs server ceiling | our speed vs it | requests | "
          "requests / article | CPU s / 1,000 pages | peak RSS MB | output MB |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    L.append(
        f"| **wikiarchive crawl (full, end to end)** | {C} | {crawl.run.seconds:.1f} | "
        f"{crawl.pages} | **{crawl_rate:.0f}** | {crawl_rate / ceiling:.0%} | 1.00x | "
        f"{crawl.requests} | {crawl.requests / crawl.pages:.3f} | "
        f"{crawl.run.cpu / crawl.pages * 1000:.1f} | {crawl.run.maxrss_mb:.0f} | "
        f"{crawl.warc_bytes / 1e6:.1f} (WARC) |")
    if phase:
        p_rate = crawl.pages / phase[0]
        L.append(
            f"| ↳ crawl phase only (until the WARC is closed) | {C} | {phase[0]:.1f} | "
            f"{crawl.pages} | {p_rate:.0f} | {p_rate / ceiling:.0%} | | | | "
            f"{phase[1] / crawl.pages * 1000:.1f} | {phase[2]:.0f} | |")
        rest = crawl.run.seconds - phase[0]
        L.append(
            f"| ↳ after it: catalog ingest + tables | – | {rest:.1f} | | | | | | | "
            f"{(crawl.run.cpu - phase[1]) / crawl.pages * 1000:.1f} | | |")
    for alt in R["alternatives"]:
        run = alt["run"]
        rate = alt["articles"] / run.seconds
        reqs = alt["requests"]
        per_article = f"{reqs / alt['articles']:.2f}" if reqs and alt["articles"] else "n/a"
        note = " (stopped)" if run.timed_out else ("" if run.returncode == 0 else
                                                  f" (exit {run.returncode})")
        L.append(
            f"| {alt['name']}{note} | {alt['concurrency']} | {run.seconds:.1f} | "
            f"{alt['articles']} | {rate:.0f} | {rate / ceiling:.0%} | "
            f"{crawl_rate / rate if rate else float('inf'):.2f}x | "
            f"{reqs if reqs is not None else 'n/a'} | "
            f"{per_article} | "
            f"{run.cpu / max(alt['articles'], 1) * 1000:.1f} | {run.maxrss_mb:.0f} | "
            f"{alt['bytes'] / 1e6:.1f} |")
    inc: CrawlResult = R["incremental"]
    L.append(
        f"| wikiarchive crawl, incremental ({R['edited']} pages edited) | {C} | "
        f"{inc.run.seconds:.1f} | {inc.pages} | | | | {inc.requests} | | "
        f"{inc.run.cpu / max(inc.pages, 1) * 1000:.0f} | {inc.run.maxrss_mb:.0f} | |")
    export: Measured = R["export"]
    export_rate = R["export_rows"] / export.seconds
    L.append(
        f"| wikiarchive export (WARCs → catalog + tables) | 1 process | {export.seconds:.1f} | "
        f"{R['export_rows']} rows | {export_rate:.0f} | | | – | – | "
        f"{export.cpu / R['export_rows'] * 1000:.1f} | {export.maxrss_mb:.0f} | |")
    L += ["", "Commands: `python -m crawler.cli crawl SITE --out DIR --delay 0 --concurrency "
          f"{C} -s AUTOTHROTTLE_ENABLED=False --log-level WARNING`; `python -m crawler.cli "
          "export DIR`."]
    for alt in R["alternatives"]:
        stubs = (f" It saved {alt['stubs']} missing-page stubs (HTTP 200 'This topic does not "
                 "exist yet')." if alt.get("stubs") else "")
        L.append(f"`{alt['name']}`: `{alt['cmd']}`.{stubs}")
    L.append(
        "wget has no concurrency option (one request at a time). Articles are counted as "
        "distinct generated page ids captured at their permanent link with HTTP 200 and "
        "real content (WARC parsed with warcio for wget; page files for dokuWikiDumper). "
        f"Pages table of the crawl: {crawl.table_pages} rows, {crawl.empty_pages} with no "
        f"words; crawl errors: {crawl.errors}. Server CPU during the crawl: "
        f"{R['crawl_server_cpu'] / crawl.pages * 1000:.1f} s / 1,000 pages.")

    # growth
    points = [*R["growth"]]
    main_point = {"n": n, "cold": R["cold"], "crawl": crawl, "export": export,
                  "generated": R["generated"]}
    points.append(main_point)
    points.sort(key=lambda p: p["n"])
    L += ["", "## Growth in N", "",
          "| pages | generate s | cold pass req/s | crawl s | crawl pages/s | "
          "crawl CPU s / 1,000 | crawl peak RSS MB | crawl-phase peak RSS MB | export s | "
          "export pages/s | export peak RSS MB |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        c: CrawlResult = p["crawl"]
        ph = c.phase
        L.append(
            f"| {p['n']} | {p['generated']:.0f} | {p['cold']['rate']:.0f} | {c.run.seconds:.1f} | "
            f"{c.pages / c.run.seconds:.0f} | {c.run.cpu / c.pages * 1000:.1f} | "
            f"{c.run.maxrss_mb:.0f} | {ph[2]:.0f} | {p['export'].seconds:.1f} | "
            f"{c.pages / p['export'].seconds:.0f} | {p['export'].maxrss_mb:.0f} |"
            if ph else
            f"| {p['n']} | {p['generated']:.0f} | {p['cold']['rate']:.0f} | {c.run.seconds:.1f} | "
            f"{c.pages / c.run.seconds:.0f} | {c.run.cpu / c.pages * 1000:.1f} | "
            f"{c.run.maxrss_mb:.0f} | – | {p['export'].seconds:.1f} | "
            f"{c.pages / p['export'].seconds:.0f} | {p['export'].maxrss_mb:.0f} |")

    # targets
    server_per_1000 = R["crawl_server_cpu"] / crawl.pages * 1000
    our_per_1000 = crawl.run.cpu / crawl.pages * 1000
    small = points[0]
    rss_growth = crawl.run.maxrss_mb / small["crawl"].run.maxrss_mb if small is not main_point \
        else 1.0
    exp_growth = export.maxrss_mb / small["export"].maxrss_mb if small is not main_point else 1.0
    alt_rates = {a["name"]: a["articles"] / a["run"].seconds for a in R["alternatives"]}
    L += ["", "## Targets", "",
          "| target | measured | verdict |", "|---|---|---|",
          f"| full crawl ≥ 80% of the server ceiling at c={C} | {crawl_rate:.0f} vs "
          f"{ceiling:.0f} article pages/s = {crawl_rate / ceiling:.0%} end to end"
          + (f"; crawl phase alone {crawl.pages / phase[0] / ceiling:.0%}" if phase else "")
          + f" | {mark(crawl_rate >= 0.8 * ceiling)} |"]
    for name, rate in alt_rates.items():
        L.append(f"| more article pages/s than {name} | {crawl_rate:.0f} vs {rate:.0f} | "
                 f"{mark(crawl_rate > rate)} |")
    L.append(
        f"| our CPU per 1,000 pages small (≤ ¼ of the server's, so that sharing {R['cores']} "
        f"cores with it costs < 20% of the ceiling) | {our_per_1000:.1f} CPU s vs server "
        f"{server_per_1000:.1f} CPU s per 1,000 pages ({our_per_1000 / server_per_1000:.1f}x)"
        f" | {mark(our_per_1000 <= 0.25 * server_per_1000)} |")
    L.append(
        f"| peak RSS < 300 MB at {n} pages | crawl {crawl.run.maxrss_mb:.0f} MB, export "
        f"{export.maxrss_mb:.0f} MB | {mark(max(crawl.run.maxrss_mb, export.maxrss_mb) < 300)} |")
    if small is not main_point:
        L.append(
            f"| peak RSS flat in N (≤ 20% growth {small['n']} → {n} pages) | crawl "
            f"{small['crawl'].run.maxrss_mb:.0f} → {crawl.run.maxrss_mb:.0f} MB "
            f"(×{rss_growth:.2f}), export {small['export'].maxrss_mb:.0f} → "
            f"{export.maxrss_mb:.0f} MB (×{exp_growth:.2f}) | "
            f"{mark(rss_growth <= 1.2 and exp_growth <= 1.2)} |")
    export_cpu_rate = R["export_rows"] / export.cpu
    L.append(
        f"| export ≥ 500 pages/s on one core | {export_rate:.0f} pages/s wall, "
        f"{export_cpu_rate:.0f} pages per CPU second | {mark(export_rate >= 500)} |")
    L.append(
        f"| incremental, {R['edited']} pages edited (1%): ≤ 3% of the full crawl's requests | "
        f"{inc.requests} vs {crawl.requests} requests = {inc.requests / crawl.requests:.1%}; "
        f"time {inc.run.seconds:.1f} vs {crawl.run.seconds:.1f} s = "
        f"{inc.run.seconds / crawl.run.seconds:.0%} | "
        f"{mark(inc.requests <= 0.03 * crawl.requests)} |")

    split = R.get("crawl_split")
    if split:
        prof: CrawlResult = R["crawl_profiled"]
        L += ["", "## Where the crawl's time goes (cProfile run, cumulative seconds)", "",
              f"Profiled crawl: {prof.run.seconds:.1f} s wall under cProfile. "
              f"Scrapy reactor (crawl phase) {split['scrapy/crawler.py:start']:.1f} s, "
              f"catalog ingest (`Replayer.ingest`) {split['exports/history.py:ingest']:.1f} s, "
              f"tables (`write_tables`) {split['exports/export.py:write_tables']:.1f} s, "
              f"recovery/sync before the crawl {split['crawler/run.py:prepare']:.1f} s. "
              "Top 25 in benchmarks/profiles/crawl.txt and export.txt "
              "(*-tottime.txt: sorted by internal time)."]
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
