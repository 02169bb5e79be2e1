"""The archivist: a second process that writes the crawl's WARC files and its catalog.

The crawl process hands it each exchange and awaits what the ingest made of it (the
parsed page's gist, what it loads); meanwhile Scrapy goes on downloading. So the
per-page work (gzip, parsing, catalog rows) runs beside Scrapy's own instead of after
it, and the crawl process, the busiest on a small machine, keeps only the engine's work.

The two speak over a pipe, one request and one answer at a time, in order; everything
sent is plain picklable data. The archivist holds the catalog's one write transaction:
it commits on ``finish`` and rolls back on ``abort`` or when the pipe closes (the crawl
process died), leaving the WARC file as it stands for the next run to recover. It
ignores SIGINT and SIGTERM: a stop is the crawl process's to handle, which then tells
it to finish.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from multiprocessing.connection import Connection
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any

from warcio.timeutils import iso_date_to_datetime

from archive.catalog import Catalog
from archive.index import FileIndexer, index_path, parts_dir, update_index
from archive.ingest import CrawlIngest
from archive.layout import Layout
from archive.media import Held
from archive.reader import ArchivedResponse, decoded_payload, http_fields, parse_http_head
from archive.writer import Exchange, RotatingWarcWriter, Stored
from crawler.allocators import tune_allocators
from crawler.page import Page, gist_of

if TYPE_CHECKING:
    from exports.result import ExportResult

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # prctl(2)
# Responses that may wait for the archivist beside the requests in flight to the wiki
# (Scrapy's CONCURRENT_REQUESTS counts both; CONCURRENT_REQUESTS_PER_DOMAIN is what
# the wiki sees): one being stored, one ready next, so storing never holds up a download.
ARCHIVING_ROOM = 2


@dataclass(frozen=True, slots=True)
class Setup:
    """What the archivist needs to open the crawl's WARC files and catalog."""

    out_dir: str
    prefix: str
    max_size: int
    crawl_id: str
    site: str
    mode: str
    started_at: str
    date_format: str | None = None
    login_user: str | None = None
    login_method: str | None = None
    excel_safe: bool = False  # how the tables are written (WIKI_EXCEL_SAFE)


@dataclass(frozen=True, slots=True)
class Archived:
    """What became of one exchange: where it went, and what the ingest read in it."""

    stored: Stored
    revisit: bool  # stored as a revisit of an earlier capture of the same payload
    # What the ingest read (archive.ingest.CrawlIngest.add): an article's PageGist, a
    # RevisionList, a Denial or None.
    parsed: Any
    found: tuple  # what it loads (CrawlIngest.take_found)


@dataclass(frozen=True, slots=True)
class Finished:
    """The crawl committed (``files``: the WARC files closed), or nothing to commit;
    for a committed crawl, the tables and CDXJ index brought up to it, or why not."""

    files: tuple[str, ...]
    archived: bool  # False: no exchange was written, the catalog stays as it was
    tables: ExportResult | None = None
    tables_ready_at: str | None = None  # when they were in place (UTC, ISO 8601)
    tables_error: Exception | None = None  # why they could not be written


class ArchivistGone(OSError):
    """The archivist process stopped answering: the archive is not being written."""


# ---- the crawl process's side


class Archivist:
    """The crawl process's handle on the archivist: ``call`` sends one request and
    waits for its answer (run it off the reactor thread); one call at a time."""

    def __init__(self) -> None:
        # A new interpreter running this module (no fork of a process running a
        # reactor, and unlike multiprocessing's spawn, no import of the caller's main
        # module), on the same code as this process. It starts and loads its modules at
        # once, then waits for open().
        from_parent, to_child = os.pipe()
        from_child, to_parent = os.pipe()
        # The same code as this process: its folder first, unless the interpreter finds
        # it there anyway (an installed package: site-packages must not move before the
        # standard library).
        code_root = str(Path(__file__).resolve().parent.parent)
        start = (
            f"import sys; r = {code_root!r}; sys.path.insert(0, r) if r not in sys.path "
            f"else None; import {__name__} as a; a.main(sys.argv[1:])"
        )
        try:
            self._process = subprocess.Popen(
                # Run as this module (not as __main__), so what it pickles names it.
                [sys.executable, "-c", start, str(from_parent), str(to_parent),
                 str(os.getpid())],
                pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(from_parent)
            os.close(to_parent)
        self._out = Connection(to_child, readable=False)
        self._in = Connection(from_child, writable=False)
        self._lock = Lock()
        self._answered_last = False  # finish answered: its files are closed

    def open(self, setup: Setup, info: dict[str, str]) -> None:
        """Have it open the crawl's WARC files and catalog."""
        self._out.send((setup, info))

    def store(
        self,
        exchange: Exchange,
        *,
        held: Held | None,
        discover: bool,
        info: dict[str, str] | None = None,
    ) -> Archived:
        """Write the exchange and ingest it; *info*: new warcinfo fields, when changed."""
        return self.call(("store", exchange, held, discover, info))

    def finish(self, summary: dict) -> Finished:
        finished = self.call(("finish", summary))
        self._answered_last = True
        return finished

    def abort(self) -> None:
        """Drop the crawl's catalog changes; what is written stays for recovery."""
        try:
            self.call(("abort",))
        except (OSError, sqlite3.Error):
            pass  # failed or gone already: its transaction went with it
        self.close()

    def call(self, request: tuple) -> Any:
        """The answer, or the archivist's exception raised here: an OSError or
        sqlite3.Error means the archive cannot be written."""
        with self._lock:
            try:
                self._out.send(request)
                kind, value, logged = self._in.recv()
            except (EOFError, OSError) as exc:
                raise ArchivistGone(f"the archiving process stopped ({self._ended()})") from exc
        for name, level, message in logged:
            logging.getLogger(name).log(level, "%s", message)
        if kind == "error":
            raise value
        return value

    def _ended(self) -> str:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "still running, not answering"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def close(self) -> None:
        """Hang up; wait for the archivist to end, unless it answered ``finish`` (then it
        has closed its files and only exits: the crawl need not wait for that)."""
        self._out.close()
        self._in.close()
        if not self._answered_last:
            self.wait()

    def wait(self) -> None:
        """Reap the archivist (killed if it does not end within 30 s)."""
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_spare: Archivist | None = None


def start_spare() -> None:
    """Start the archivist before the crawl is set up (``wikiarchive crawl``): its
    interpreter and imports then overlap Scrapy's set-up, instead of delaying the first
    pages stored. :func:`take` hands it to the recorder."""
    global _spare
    if _spare is None:
        _spare = Archivist()


def take() -> Archivist:
    """The archivist started ahead, or a new one."""
    global _spare
    archivist, _spare = _spare or Archivist(), None
    return archivist


def drop_spare() -> None:
    """End an archivist started ahead that no crawl took (a crawl refused before it
    opened): it reads the end of its pipe and exits."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        spare.close()


# ---- the archivist's side


class _Collected(logging.Handler):
    """What the archivist logs, sent with each answer for the crawl's own log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))

    def take(self) -> list[tuple[str, int, str]]:
        taken, self.records = self.records, []
        return taken


def serve(incoming: Connection, outgoing: Connection) -> None:
    """The archivist's loop: answer requests until ``finish``, ``abort`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logged = _Collected()
    logging.getLogger().addHandler(logged)
    logging.getLogger().setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        setup, info = incoming.recv()
    except EOFError:
        return
    work = _Work(setup, info)
    try:
        while True:
            try:
                request = incoming.recv()
            except EOFError:
                return  # the crawl process is gone
            kind, value, done = work.answer(request)
            try:
                outgoing.send((kind, value, logged.take()))
            except Exception as exc:  # an exception that does not pickle
                outgoing.send(("error", _portable(value, exc), logged.take()))
            if done:
                return
    finally:
        work.close()


class _Work:
    def __init__(self, setup: Setup, info: dict[str, str]):
        self.setup = setup
        self.info = info
        self.writer: RotatingWarcWriter | None = None
        self.catalog: Catalog | None = None
        self.ingest: CrawlIngest | None = None
        self.failed: Exception | None = None  # why the archive cannot be written
        self.committed = False
        try:
            self._open()
        except (OSError, sqlite3.Error) as exc:
            self.failed = exc
            self.close()

    def _open(self) -> None:
        layout = Layout(Path(self.setup.out_dir))
        self.writer = RotatingWarcWriter(
            layout.warc, prefix=self.setup.prefix, info=lambda: self.info,
            max_size=self.setup.max_size,
            indexer=partial(FileIndexer, parts_dir(layout.root)),
        )
        self.catalog = Catalog(layout.catalog)
        self.ingest = CrawlIngest(
            self.catalog,
            layout.warc,
            crawl_id=self.setup.crawl_id,
            site=self.setup.site,
            mode=self.setup.mode,
            started_at=self.setup.started_at,
            date_format=self.setup.date_format,
            login=self.setup.login_user,
            login_method=self.setup.login_method,
        )

    def answer(self, request: tuple) -> tuple[str, Any, bool]:
        """(kind, value, whether the conversation ends)."""
        action = request[0]
        if action == "abort":
            self.close()
            return "ok", None, True
        if self.failed is not None:
            return "error", self.failed, action == "finish"
        try:
            if action == "store":
                return "ok", self._store(*request[1:]), False
            return "ok", self._finish(request[1]), True
        except (OSError, sqlite3.Error) as exc:
            # The archive is torn: nothing more is written, the catalog stays as it was.
            self.failed = exc
            self.close()
            return "error", exc, action == "finish"
        except Exception as exc:  # the crawl process logs it as this response's error
            return "error", exc, False

    def _store(
        self, exchange: Exchange, held: Held | None, discover: bool, info: dict | None
    ) -> Archived:
        assert self.writer is not None and self.ingest is not None
        if info is not None:
            self.info = info
        earlier = confirmed(held) if held else self._earlier(exchange)
        stored = self.writer.write_exchange(
            exchange, refers_to=earlier, not_modified=held.digest if held else None
        )
        parsed = self.ingest.add(
            archived_response(exchange, stored, earlier, self.setup.site,
                              self.setup.crawl_id, digest=held.digest if held else None)
        )
        if isinstance(parsed, Page):
            parsed = gist_of(parsed)
        found = self.ingest.take_found(parse=discover)
        return Archived(replace(stored, http=None), earlier is not None, parsed, tuple(found))

    def _earlier(self, exchange: Exchange) -> Stored | None:
        """The first capture of the same payload, which a revisit record refers to."""
        if not exchange.body:
            return None
        assert self.catalog is not None
        row = self.catalog.payload(exchange.payload_digest)
        if row is None:
            return None
        return Stored(
            row["warc_filename"], row["warc_offset"], row["record_id"], row["date"], row["uri"],
            False,
        )

    def _finish(self, summary: dict) -> Finished:
        assert self.writer is not None and self.ingest is not None
        if not self.writer.exchanges:
            self.close()  # nothing archived: the catalog stays as it was
            return Finished((), False)
        self.writer.write_metadata(self.setup.crawl_id, summary)
        self.writer.close()
        files = tuple(p.name for p in self.writer.closed_files)
        self.ingest.finish(summary, list(files))
        self.committed = True
        logger.info(
            "Committed crawl %s: %d exchanges in %s", self.setup.crawl_id,
            self.writer.exchanges, ", ".join(files),
        )
        self.close()
        return self._publish(Finished(files, True))

    def _publish(self, finished: Finished) -> Finished:
        """The tables and the CDXJ index, brought up to the crawl just committed (here,
        so the crawl process never loads Arrow; a crawl that changed nothing rewrites
        neither)."""
        from exports.export import write_tables  # loaded by main(), as Arrow

        root = Path(self.setup.out_dir)
        try:
            tables = write_tables(root, excel_safe=self.setup.excel_safe)
            ready = datetime.now(UTC).isoformat()
            if tables.rewritten or not index_path(root).exists():
                update_index(root)
        except Exception as exc:  # noqa: BLE001 - the crawl is archived; say why tables are not
            logger.debug("Publishing failed", exc_info=True)
            return replace(finished, tables_error=_portable(exc))
        return replace(finished, tables=tables, tables_ready_at=ready)

    def close(self) -> None:
        """Roll back what is not committed and let the files be; idempotent."""
        ingest, self.ingest = self.ingest, None
        if ingest is not None and not self.committed:
            try:
                ingest.abort()
            except sqlite3.Error:
                pass  # the transaction goes with the connection
        catalog, self.catalog = self.catalog, None
        if catalog is not None:
            catalog.close()


def _portable(value: object, failed: Exception | None = None) -> Any:
    """*value*, or a RuntimeError naming it when it cannot cross the pipe (*failed*:
    why sending it failed)."""
    if failed is None:
        try:
            pickle.dumps(value)
            return value
        except Exception as exc:  # noqa: BLE001 - whatever stops it pickling
            failed = exc
    return RuntimeError(f"{type(value).__name__}: {value} ({failed})")


def confirmed(held: Held) -> Stored:
    """The capture a 304 confirms, as the revisit record refers to it."""
    return Stored(held.warc_filename, held.warc_offset, held.record_id, held.record_date,
                  held.record_uri, False)


def archived_response(
    exchange: Exchange,
    stored: Stored,
    earlier: Stored | None,
    site: str,
    crawl_id: str,
    *,
    digest: str | None = None,
) -> ArchivedResponse:
    """The response as a rebuild will read it back from the record just written (a 304
    revisit carries the payload digest of the capture it confirms, *digest*)."""
    http = stored.http or parse_http_head(exchange.response_head)
    return ArchivedResponse(
        url=exchange.url,
        date=iso_date_to_datetime(stored.date, tz_aware=True),
        filename=stored.filename,
        offset=stored.offset,
        crawl_id=crawl_id,
        site=site,
        rec_type="revisit" if stored.revisit else "response",
        payload_digest=digest or exchange.payload_digest,
        record_id=stored.record_id,
        refers_to=earlier.record_id if earlier else None,
        truncated=exchange.truncated,
        body=decoded_payload(http, BytesIO(exchange.body)),
        **http_fields(http),
    )


def main(args: list[str]) -> None:
    """The archivist's process: serve on the pipes whose descriptors *args* name, for
    the crawl process whose pid follows them."""
    _die_with(int(args[2]))
    tune_allocators()
    # Loaded now, not when the first file opens or the tables are written: a spare
    # (start_spare) loads them while the crawl process sets up. Only this process loads
    # Arrow and the tables' code.
    import cdxj_indexer.main  # noqa: F401

    import exports.export  # noqa: F401
    from exports.write import load_arrow

    load_arrow()
    serve(Connection(int(args[0]), writable=False), Connection(int(args[1]), readable=False))


def _die_with(parent: int) -> None:
    """Be killed with the crawl process (Linux): a crawl killed mid-record leaves its
    WARC file torn at one place, as a single process would, and the folder's lock,
    released by the crawl process's death, never outlives what writes in the folder."""
    try:
        prctl = getattr(ctypes.CDLL(None), "prctl", None)
    except (OSError, TypeError):  # no C library to open this way
        prctl = None
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(0)  # it died before this process could ask
