"""HTTP/1.1 for uvicorn with a header timeout, and the uvicorn settings ``adain serve`` runs with.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``); a client that opens
a connection and sends its request line and headers a byte at a time (slowloris) holds the
connection, and a slot of ``limit_concurrency``, for as long as it likes. :class:`GuardedH11Protocol`
is uvicorn's h11 protocol with one timer more: from the moment a connection is waiting for a
request (it opened, or the first byte of the next request came in), the request line and all its
headers must arrive within ``header_timeout`` seconds; otherwise the server answers 408 (if the
client sent anything) and closes the connection. Once the headers are in, the request timeout of
the app (:attr:`~adain.server.config.ServerLimits.request_timeout_s`) bounds the body.

It also answers malformed HTTP (a bad request line, a bad ``Content-Length``, broken chunked
encoding, headers over h11's 16 KB) with the service's JSON error shape instead of uvicorn's
plain text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from adain.server.config import ServerLimits

__all__ = ["KEEP_ALIVE_S", "GuardedH11Protocol", "guarded_protocol", "uvicorn_settings"]

#: Idle seconds a keep-alive connection is kept between requests.
KEEP_ALIVE_S = 5


def _raw_response(status: int, reason: str, code: str, detail: str) -> bytes:
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline on the request line and headers (``header_timeout``)."""

    header_timeout: float = ServerLimits.header_timeout_s

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def _waiting_for_request(self) -> bool:
        """No request of this connection is being answered: the next bytes are a new request's head."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and not self.transport.is_closing():
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_handler)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_request():
            self._arm_header_timer()  # the first byte of a new request starts its clock, not each byte
            self._header_bytes += len(data)
        super().data_received(data)
        if self._waiting_for_request():
            # the head is still incomplete, or the answer is out and the client still sends the old body
            self._arm_header_timer()
        else:
            self._cancel_header_timer()  # a request is being answered: the app's request timeout holds

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _header_timeout_handler(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._waiting_for_request():
            return
        if self._header_bytes and self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self.logger.warning("Request headers not received within %g s: connection closed.", self.header_timeout)
            self.transport.write(
                _raw_response(
                    408,
                    "Request Timeout",
                    "request_timeout",
                    f"the request line and headers did not arrive within {self.header_timeout:g} s",
                )
            )
        self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        """An ``Upgrade`` header is ignored (the request is served as plain HTTP): one log line, no advice."""
        self.logger.info("Upgrade request ignored: this service has no WebSocket or HTTP/2 upgrade.")

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP: the JSON error shape (uvicorn sends ``text/plain``), then close."""
        self._cancel_header_timer()
        answering = self.cycle is not None and not self.cycle.response_complete and self.cycle.response_started
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and not answering:
            self.transport.write(
                _raw_response(
                    400,
                    "Bad Request",
                    "bad_request",
                    "invalid HTTP request (request line, headers, Content-Length or chunked encoding; "
                    "headers are limited to 16 KB)",
                )
            )
        self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` class with this header timeout (uvicorn instantiates the class)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": float(header_timeout)})


def uvicorn_settings(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``: the guarded HTTP protocol, the
    keep-alive timeout, a cap on connections, and no WebSocket upgrades (the service has none)."""
    return {
        "http": guarded_protocol(limits.header_timeout_s),
        "ws": "none",
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": max(128, 8 * (limits.workers + limits.queue_size)),
    }
