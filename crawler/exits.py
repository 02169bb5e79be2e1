"""Exit statuses, the same for every ``wikiarchive`` command and ``scrapy crawl wiki``."""

EXIT_OK = 0
EXIT_FAILED = 1  # nothing usable was done (unreachable, not a DokuWiki, unreadable archive…)
EXIT_USAGE = 2  # bad command line, or settings the archive cannot honour
EXIT_PARTIAL = 3  # some pages failed, or the crawl was stopped: the next run completes it
EXIT_BUSY = 4  # another run holds the output folder
