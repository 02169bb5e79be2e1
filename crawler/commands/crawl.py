"""``scrapy crawl``, with the exit status of ``wikiarchive crawl``.

Scrapy's own command exits 0 whatever became of the crawl; a scheduled job must see a
failed (1), partial (3) or refused (4) crawl in its exit status.
"""

from __future__ import annotations

import argparse

from scrapy.commands import crawl

from crawler.outcome import exit_status


class Command(crawl.Command):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process is not None
        crawler = self.crawler_process.create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        self.exitcode = 1 if self.crawler_process.bootstrap_failed else exit_status(crawler)
