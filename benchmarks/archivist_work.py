"""What the archivist spends per page, in isolation, against a baseline revision.

Usage: python benchmarks/archivist_work.py [--pages 2000] [--rounds 3] [--baseline REV]
                                           [--output benchmarks/RESULTS-archivist.md]

Crawls a generated wiki once (benchmarks/floor.py's ``crawled_once``: the real DokuWiki
on 127.0.0.1), turns the WARC's response and request records back into the exchanges the
crawl process handed the archivist, then times, on one core and in turns, each
checkout's own code on those exchanges in one process (no crawl, no wiki, no pipe):

* store: the archivist's work loop storing every exchange (WARC records and their index,
  parse, catalog) and committing the crawl (with its tables, since b6a2870);
* parse: the parse of every article alone (page and what it loads, one tree);
* WARC: the WARC writer alone on the same exchanges (records, gzip, index parts).

CPU seconds of the process, best of the turns. In a crawl three processes share two cores
and one turn of benchmarks/floor.py moves by up to 15%; here a few percent of the
archivist's own work show.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

from floor import baseline_checkout, crawled_once, remove_checkout
from run import head_revision, log, phases_on_one_core, turn_arguments
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_datetime

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("store", "parse", "warc")
# Run in a checkout's folder (its code first on sys.path) with the exchanges' file and a
# scratch folder: CPU seconds of each phase, printed last.
TIMED = """
import dataclasses, json, pickle, shutil, sys, time
from functools import partial
from io import BytesIO
from pathlib import Path
sys.path.insert(0, ".")
from archive.index import FileIndexer, parts_dir
from archive.reader import decoded_payload, parse_http_head
from archive.writer import Exchange, RotatingWarcWriter
from crawler.archivist import Setup, _Work
from crawler.parse import parse_capture
import cdxj_indexer.main  # the archivist loads it before its first exchange

saved = pickle.loads(Path(sys.argv[1]).read_bytes())
scratch = Path(sys.argv[2])
names = {f.name for f in dataclasses.fields(Exchange)}
exchanges = [Exchange(**{k: v for k, v in e.items() if k in names}) for e in saved["exchanges"]]
site = saved["setup"]["site"]

def fresh():
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "warc").mkdir(parents=True)

fresh()
setup = Setup(**{**saved["setup"], "out_dir": str(scratch)})
began = time.process_time()
work = _Work(setup, saved["info"])
for exchange in exchanges:
    kind, value, _ = work.answer(("store", exchange, None, False, None))
    if kind != "ok":
        raise SystemExit(f"store failed: {value!r}")
kind, value, _ = work.answer(("finish", saved["summary"]))
if kind != "ok" or not value.archived:
    raise SystemExit(f"finish failed: {value!r}")
stored = time.process_time() - began

articles = []
for e in exchanges:
    http = parse_http_head(e.response_head)
    if http.get_statuscode() == "200" and "html" in (http.get_header("Content-Type") or ""):
        articles.append((e.url, decoded_payload(http, BytesIO(e.body))))
began = time.process_time()
for url, body in articles:
    parse_capture(url, body, site=site, date_format=setup.date_format)
parsed = time.process_time() - began

fresh()
began = time.process_time()
writer = RotatingWarcWriter(
    scratch / "warc", prefix=setup.prefix, info=lambda: saved["info"],
    max_size=setup.max_size, indexer=partial(FileIndexer, parts_dir(scratch)),
)
for exchange in exchanges:
    writer.write_exchange(exchange)
writer.close()
written = time.process_time() - began
shutil.rmtree(scratch, ignore_errors=True)
print("PHASES " + json.dumps({"store": stored, "parse": parsed, "warc": written,
                              "exchanges": len(exchanges), "articles": len(articles)}))
"""


def exchanges_of(out: Path) -> dict:
    """The crawl's exchanges as field dicts (any checkout's Exchange takes them), with the
    setup, warcinfo fields and summary its archivist had."""
    from archive.reader import crawl_files, iter_file_records, read_warcinfo

    files = next(iter(crawl_files(out / "warc").values()))
    info = read_warcinfo(files[0])
    summary = next(item for path in files for item in iter_file_records(path)
                   if isinstance(item, dict))
    responses: dict[str, dict] = {}
    exchanges = []
    for path in files:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, no_record_parse=True):
                headers = record.rec_headers
                block = record.raw_stream.read()
                if record.rec_type == "response":
                    head, _, body = block.partition(b"\r\n\r\n")
                    responses[headers.get_header("WARC-Record-ID")] = {
                        "url": headers.get_header("WARC-Target-URI"),
                        "response_head": head + b"\r\n\r\n",
                        "body": body,
                        "started_at": iso_date_to_datetime(
                            headers.get_header("WARC-Date"), tz_aware=True),
                        "ip_address": headers.get_header("WARC-IP-Address"),
                        "truncated": headers.get_header("WARC-Truncated"),
                    }
                elif record.rec_type == "request":
                    response = responses.pop(headers.get_header("WARC-Concurrent-To"), None)
                    if response is not None:  # a revisit's request has none: left out
                        exchanges.append({**response, "request": block})
    setup = {
        "out_dir": "", "prefix": "wikiarchive", "max_size": 1_000_000_000,
        "crawl_id": info["wikiarchive-crawl-id"], "site": info["wikiarchive-site"],
        "mode": info.get("wikiarchive-mode", "full"),
        "started_at": info["wikiarchive-started-at"],
    }
    return {"exchanges": exchanges, "setup": setup, "info": info, "summary": summary}


def main() -> None:
    args = turn_arguments(__doc__.splitlines()[0], HERE / "RESULTS-archivist.md")
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="wikiarchive-archivist-") as tmp:
        work = Path(tmp)
        out = crawled_once(args.pages, work)
        saved = work / "exchanges.pickle"
        saved.write_bytes(pickle.dumps(exchanges_of(out)))
        codes = {"this checkout": ROOT}
        if args.baseline:
            codes = {f"at {args.baseline} (before)": baseline_checkout(args.baseline, work),
                     f"at {head_revision()}": ROOT}
        turns: dict[str, list[dict]] = {name: [] for name in codes}
        try:
            for turn in range(args.rounds):
                for name, code in codes.items():
                    log(f"turn {turn + 1}: {name}")
                    turns[name].append(phases_on_one_core(code, TIMED, str(saved),
                                                         str(work / "scratch")))
        finally:
            if args.baseline:
                remove_checkout(codes[f"at {args.baseline} (before)"])
    text = render(turns, args, (time.perf_counter() - started) / 60)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")


def render(turns: dict[str, list[dict]], args: argparse.Namespace, minutes: float) -> str:
    first = next(iter(turns.values()))[0]
    n, pages = first["exchanges"], first["articles"]
    L = [
        f"# The archivist's work per page, in isolation ({n} exchanges, {pages} articles)",
        "",
        f"Produced by `python benchmarks/archivist_work.py --pages {args.pages} --rounds "
        f"{args.rounds}{' --baseline ' + args.baseline if args.baseline else ''}` at "
        f"{head_revision()} in {minutes:.1f} min on one core ({os.cpu_count()} on the "
        "machine). CPU ms per exchange, best of the turns (each turn runs every checkout, "
        "one after the other). store: the archivist's loop on every exchange, then the "
        "commit (since b6a2870 with the tables, data package and CDXJ index); parse and "
        "WARC: those parts alone, on the same exchanges.",
        "",
        "| code | store | parse | WARC | the rest (catalog, tables, hashes, bookkeeping) | "
        "exchanges/s of one core |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in turns.items():
        b = {phase: min(run[phase] for run in runs) / n * 1000 for phase in PHASES}
        L.append(f"| {name} | {b['store']:.3f} | {b['parse']:.3f} | {b['warc']:.3f} | "
                 f"{b['store'] - b['parse'] - b['warc']:.3f} | {1000 / b['store']:.0f} |")
    L += ["", "Every turn (store / parse / WARC, CPU s):", ""]
    for name, runs in turns.items():
        for run in runs:
            L.append(f"- {name}: " + " / ".join(f"{run[p]:.2f}" for p in PHASES))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
