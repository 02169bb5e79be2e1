"""The floor: a bare Scrapy spider that fetches a list of URLs and does nothing else.

    python benchmarks/bare_spider.py URLS_FILE CONCURRENCY

Same engine, same politeness switches as a wikiarchive crawl run by the benchmark
(robots.txt obeyed, no delay, no AutoThrottle, no cookies), no recorder, no parsing,
no catalog, no tables. Prints the number of responses, then when the first and the
last came (epoch seconds). Every URL is on 127.0.0.1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs: object):
        super().__init__(**kwargs)
        self.urls = urls
        self.responses = 0
        self.first = self.last = 0.0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: Response) -> None:
        self.last = time.time()
        self.first = self.first or self.last
        self.responses += 1


def main() -> None:
    urls = Path(sys.argv[1]).read_text(encoding="utf-8").split()
    concurrency = int(sys.argv[2])
    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    })
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    spider = crawler.spider
    print(spider.responses, spider.first, spider.last)


if __name__ == "__main__":
    main()
