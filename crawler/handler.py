"""HTTP download handler that keeps the exchange exactly as it went over the wire.

Scrapy's Response loses what a faithful archive needs: the reason phrase, the
connection headers (Content-Length, Transfer-Encoding, Connection, which Twisted
files apart from the others) and the exact request bytes. This handler wraps
Scrapy's own HTTP/1.1 client, tees the bytes written for the request and the
header lines read for the response, and hands both to the WARC recorder in
``request.meta[RAW_META_KEY]``.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader.handlers import http11
from scrapy.http import Request, Response

RAW_META_KEY = "_wikiarchive_raw"


class _RecordingParser(http11._LenientHTTPClientParser):
    """Keeps the raw status and header lines of the response."""

    def lineReceived(self, line: bytes) -> None:
        if self.state == http11.STATUS:
            self.raw_lines: list[bytes] = []
        stripped = line.removesuffix(b"\r")
        self.raw_lines.append(stripped)
        if not stripped and self.state == http11.HEADER:
            self.response.raw_head = b"\r\n".join(self.raw_lines) + b"\r\n"
        super().lineReceived(line)


class _RecordingProtocol(http11._LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        transport = self.transport
        sent: list[bytes] = []

        def write(data: bytes) -> None:
            sent.append(data)
            type(transport).write(transport, data)

        def write_sequence(seq: list[bytes]) -> None:
            for data in seq:
                write(data)

        # Twisted writes the request synchronously inside request(); tee it.
        transport.write, transport.writeSequence = write, write_sequence
        try:
            d = super().request(request)
        finally:
            del transport.write, transport.writeSequence
        parser = self._parser
        parser.__class__ = _RecordingParser

        def attach(response: Any) -> Any:
            response.raw_request = b"".join(sent)
            return response

        return d.addCallback(attach)


class _RecordingFactory(http11._LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> _RecordingProtocol:
        return _RecordingProtocol(self._quiescentCallback)


class _RecordingAgent(http11._ScrapyAgent):
    def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
        request.meta[RAW_META_KEY] = (
            getattr(txresponse, "raw_request", None),
            getattr(txresponse, "raw_head", None),
        )
        return super()._cb_bodyready(txresponse, request)


class RecordingHTTPDownloadHandler(http11.HTTP11DownloadHandler):
    """Drop-in replacement of Scrapy's ``http``/``https`` handler."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self._pool._factory = _RecordingFactory

    async def download_request(self, request: Request) -> Response:
        # Same as the parent, with the recording agent in place of _ScrapyAgent.
        agent = _RecordingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with http11.wrap_twisted_exceptions():
                return await http11.maybe_deferred_to_future(agent.download_request(request))
        except http11.ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                http11.logger.warning(http11.get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
