"""A small JSON-RPC proxy in front of a real node that can drop connections or stall, for fault tests.

Why: dead or flaky RPC endpoints are the most common fault a keeper sees; tests must produce them on demand,
against the real node behind, without mocking web3.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class RpcProxy:
    """Forwards POSTs to ``upstream``. ``drop(n, after=k)``: let ``k`` requests through, then drop the next ``n``
    (close the connection without answering); ``n=-1`` drops all. ``stall_s`` delays every answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests = 0
        self.dropped = 0
        self._drop_from = 0
        self._drop_count = 0
        self.stall_s = 0.0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy._should_drop():
                    self.close_connection = True
                    self.connection.close()
                    return
                if proxy.stall_s:
                    time.sleep(proxy.stall_s)
                answer = requests.post(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=60
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _should_drop(self) -> bool:
        with self._lock:
            self.requests += 1
            index = self.requests
            if index > self._drop_from and (self._drop_count < 0 or index <= self._drop_from + self._drop_count):
                self.dropped += 1
                return True
            return False

    def drop(self, n: int, after: int = 0) -> None:
        """Drop ``n`` requests (all if ``n < 0``) once ``after`` more requests have passed."""
        with self._lock:
            self._drop_from = self.requests + after
            self._drop_count = n

    def heal(self) -> None:
        """Stop dropping."""
        self.drop(0)

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
