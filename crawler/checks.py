"""Settings the archive cannot honour, refused before anything is fetched or written.

Every crawl, ``wikiarchive crawl`` or ``scrapy crawl wiki``, is checked here: the WARC
files are the source of truth, so a setting that would fetch pages without archiving
them, archive them where the catalog never looks, or replay them from a cache is an
error, not a silent gap in the archive.
"""

from __future__ import annotations

from contextlib import suppress

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from crawler.handler import RecordingHTTPDownloadHandler
from crawler.login import LoginError, read_credentials

RECORDER = "crawler.recorder.WarcRecorderMiddleware"
LIFECYCLE = "crawler.lifecycle.ArchiveLifecycle"
HOST_SHARE = "crawler.transfers.HostShareMiddleware"
LOGIN = "crawler.login.LoginMiddleware"


# Numbers read by our components: a value that is none is refused before the crawl.
NUMBERS = {
    "WIKI_MAX_PAGES": "getint",
    "WIKI_FEED_ITEMS": "getint",
    "WIKI_RECENT_DAYS": "getfloat",
    "WIKI_CHANGE_MARGIN": "getfloat",
    "WIKI_SITEMAP_MAXSIZE": "getint",
    "WIKI_FRONTIER_BATCH": "getint",
    "WIKI_MEDIA_MAX_SIZE": "getint",
    "WIKI_PROGRESS_INTERVAL": "getfloat",
    "WIKI_RETRY_BACKOFF": "getfloat",
    "WIKI_RETRY_BACKOFF_MAX": "getfloat",
    "WIKI_RETRY_AFTER_MAX": "getfloat",
    "WARC_MAX_SIZE": "getint",
    "CONCURRENT_REQUESTS": "getint",
    "DOWNLOAD_DELAY": "getfloat",
    "DOWNLOAD_TIMEOUT": "getfloat",
    "RETRY_TIMES": "getint",
}


def settings_problems(settings: BaseSettings) -> list[str]:
    """One line per setting this crawl cannot honour; empty when all is well."""
    problems = []
    for name, getter in NUMBERS.items():
        try:
            value = getattr(settings, getter)(name)
        except (TypeError, ValueError):
            problems.append(f"{name}={settings.get(name)!r} is not a number")
            continue
        if value < 0:
            problems.append(f"{name}={value} is negative")
    with suppress(TypeError, ValueError):  # not a number: said above
        if settings.getint("WIKI_FRONTIER_BATCH") == 0:  # negative: said above
            problems.append(
                "WIKI_FRONTIER_BATCH must be at least 1: no page would ever be asked for"
            )
    if not settings.getbool("WARC_ENABLED"):
        problems.append("WARC_ENABLED=False: the WARC files are the archive; it cannot be off")
    if settings.get("WARC_DIR"):
        problems.append(
            "WARC_DIR is not supported: the WARC files always go to OUT/warc "
            "(choose the output folder with --out or WIKI_OUT_DIR)"
        )
    prefix = str(settings.get("WARC_PREFIX") or "")
    if not prefix or any(c in prefix for c in '/\\:*?"<>|') or prefix.startswith("."):
        problems.append(f"WARC_PREFIX={prefix!r}: use a plain file name prefix")
    if settings.getbool("HTTPCACHE_ENABLED"):
        problems.append(
            "HTTPCACHE_ENABLED=True: pages replayed from a cache are not fresh captures "
            "and would be missing from the archive"
        )
    if settings.get("JOBDIR"):
        problems.append("JOBDIR is not supported: an interrupted crawl is resumed by the next run")
    if settings.getwithbase("DOWNLOADER_MIDDLEWARES").get(RECORDER) is None:
        problems.append(f"{RECORDER} is disabled: nothing would be archived")
    if settings.getwithbase("EXTENSIONS").get(LIFECYCLE) is None:
        problems.append(f"{LIFECYCLE} is disabled: nothing would be recorded or published")
    if settings.getwithbase("DOWNLOADER_MIDDLEWARES").get(HOST_SHARE) is None:
        problems.append(
            f"{HOST_SHARE} is disabled: the wiki could see more requests at once than "
            "CONCURRENT_REQUESTS_PER_DOMAIN"
        )
    problems += _login_problems(settings)
    for scheme in ("http", "https"):
        handler = settings.getwithbase("DOWNLOAD_HANDLERS").get(scheme)
        if not _records(handler):
            problems.append(
                f"DOWNLOAD_HANDLERS[{scheme!r}] must be crawler.handler."
                "RecordingHTTPDownloadHandler (or a subclass): it keeps the exchange as sent"
            )
    return problems


def _login_problems(settings: BaseSettings) -> list[str]:
    try:
        credentials = read_credentials(settings)
    except LoginError as exc:
        return [f"cannot log in: {exc}"]
    if credentials is None:
        return []
    if settings.getwithbase("DOWNLOADER_MIDDLEWARES").get(LOGIN) is None:
        return [f"{LOGIN} is disabled: the crawl could not log in as {credentials.user}"]
    if settings.getbool("COOKIES_ENABLED"):
        # Scrapy's cookie jar would keep every cookie pages set, and send it on.
        return ["COOKIES_ENABLED=True cannot be combined with a login (crawler.login sends "
                "the login's own cookies)"]
    return []


def _records(handler: object) -> bool:
    if handler is None:
        return False
    try:
        cls = load_object(handler) if isinstance(handler, str) else handler
    except (ImportError, NameError, ValueError, AttributeError):
        return False
    return isinstance(cls, type) and issubclass(cls, RecordingHTTPDownloadHandler)
