"""Scrapy settings of the wikiarchive project: polite defaults for a live wiki.

Our own settings are prefixed ``WIKI_`` (what to crawl) and ``WARC_`` (how to
archive it). The CLI turns its options into these settings.
"""

from importlib.metadata import version

from crawler import archivist

BOT_NAME = "wikiarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"  # `scrapy crawl` with wikiarchive's exit statuses

USER_AGENT = (
    f"wikiarchive/{version('wikiarchive')} (DokuWiki archiver; Scrapy-based; obeys robots.txt)"
)
ROBOTSTXT_OBEY = True

# One request at a time, a pause between them, slowing down when the wiki does. Scrapy
# counts a response in CONCURRENT_REQUESTS until the archivist has stored it, so a few
# more than the wiki's share leave room for that beside the downloads.
CONCURRENT_REQUESTS_PER_DOMAIN = 1
CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN + archivist.ARCHIVING_ROOM
# The spider's callbacks yield requests only, which gain nothing from being handled in
# parallel; Scrapy starts CONCURRENT_ITEMS tasks (100 by default) for every response.
CONCURRENT_ITEMS = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
# A failed request (5xx, 429, 408, timeout, refused or reset connection, truncated body)
# is retried RETRY_TIMES times, each retry later than the one before (crawler.retryafter).
RETRY_TIMES = 3
WIKI_RETRY_BACKOFF = 2.0  # seconds before the first retry; doubled for each next one
WIKI_RETRY_BACKOFF_MAX = 60.0
WIKI_CRAWL_DELAY_MAX = 30.0  # longest robots.txt Crawl-delay honoured; longer is capped
WIKI_RETRY_AFTER_MAX = 300.0  # longest Retry-After (429, 503) waited for; longer: next run

# DokuWiki sets a session cookie on every response; sending it back only adds
# per-session breadcrumbs to the archived pages.
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening port on a scheduled job
LOG_LEVEL = "INFO"

DOWNLOAD_HANDLERS = {
    "http": "crawler.handler.RecordingHTTPDownloadHandler",
    "https": "crawler.handler.RecordingHTTPDownloadHandler",
}
EXTENSIONS = {
    "crawler.lifecycle.ArchiveLifecycle": 100,
    "crawler.progress.Progress": 200,
    # Connected after the lifecycle, so the collector is as it was only once the tables
    # are written.
    "crawler.collector.CollectorTuning": 300,
}
LOGSTATS_INTERVAL = 0  # crawler.progress reports instead
DOWNLOADER_MIDDLEWARES = {
    "crawler.scope.ScopeMiddleware": 50,
    "crawler.retryafter.RetryAfterMiddleware": 560,  # just outside RetryMiddleware (550)
    "crawler.login.LoginMiddleware": 710,  # where CookiesMiddleware (off) would be
    "crawler.recorder.WarcRecorderMiddleware": 950,
    "crawler.crawldelay.CrawlDelayMiddleware": 960,  # reads robots.txt before the recorder
    # Each host's share, taken last before the downloader and given back first after it.
    "crawler.transfers.HostShareMiddleware": 970,
}

REDIRECT_MAX_TIMES = 5  # DokuWiki redirects once at most (namespace -> its start page)
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # a page past this is skipped and reported
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024

# What to crawl.
WIKI_SITE = "https://neurosurgerywiki.com/wiki/"
WIKI_DISCOVERY = ["links", "index", "sitemap"]
WIKI_MAX_PAGES = 0  # 0: no limit
WIKI_DATE_FORMAT = None  # the wiki's dformat, e.g. "%d.%m.%Y %H:%M"; None: common formats
WIKI_OUT_DIR = "wikiarchive-data"  # WARC files in OUT/warc, tables in OUT/tables
WIKI_CRAWL_ID = None  # None: a new id per crawl
WIKI_CRAWL_MODE = "auto"  # auto: incremental when OUT holds a finished crawl of the site; full
WIKI_FEED_ITEMS = 1000  # recent changes asked of feed.php in an incremental crawl
WIKI_RECENT_DAYS = 7  # how long the wiki keeps its changelog (DokuWiki's recent_days)
WIKI_CHANGE_MARGIN = 600  # seconds before the previous crawl's start still checked for edits
WIKI_PROGRESS = "auto"  # auto: a live bar on a terminal, else log lines; bar; log; off
WIKI_PROGRESS_INTERVAL = 60  # seconds between progress log lines
# The crawl process's garbage collector set for the run (crawler.collector).
WIKI_COLLECTOR_TUNING = True
WIKI_EXCEL_SAFE = False  # CSV cells starting with = + - @ get a leading ' (Parquet unchanged)
WIKI_SCOPE_ENABLED = True  # drop requests outside the wiki and its allowed views
WIKI_SITEMAP_MAXSIZE = 50 * 1024 * 1024  # decompressed bytes
# Pages found wait as ids (crawler.frontier); Scrapy gets this many whenever it runs dry.
WIKI_FRONTIER_BATCH = 64
WIKI_HISTORY = False  # also every page's revision list and old revisions (--history)
WIKI_SOURCE = False  # also every page's markup, do=export_raw (--source)
# Logging in (crawler.login): off unless a user is named. The password is never a setting.
WIKI_LOGIN_USER = None
WIKI_LOGIN_METHOD = "form"  # form: DokuWiki's login form; basic: HTTP basic auth
WIKI_PASSWORD_ENV = "WIKIARCHIVE_PASSWORD"  # environment variable holding the password
WIKI_PASSWORD_FILE = None  # or a file holding it (first line); wins over the variable
# What pages load and link: stylesheets, scripts, template images, favicon, fonts
# (requisites); the wiki's media files and images' detail pages (media). A media file
# larger than WIKI_MEDIA_MAX_SIZE bytes is skipped (recorded so), never truncated.
WIKI_REQUISITES = True
WIKI_MEDIA = True
WIKI_MEDIA_MAX_SIZE = 50 * 1024 * 1024

# How to archive it.
WARC_ENABLED = True
WARC_PREFIX = "wikiarchive"
WARC_MAX_SIZE = 1_000_000_000  # bytes; files rotate past this size
