"""The fake Stripe (tests/payments/fake_stripe.py) served over real HTTP on 127.0.0.1.

The deploy guide's smoke test points STRIPE_API_BASE here, so the production processes it
starts pay and refund through stripe-python over a socket, with real keys checked and the same
answers and idempotent replays as the in-process fake. Nothing leaves the machine.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.payments.fake_stripe import FakeStripe


class FakeStripeServer:
    def __init__(self, *, secret_key: str) -> None:
        self.fake = FakeStripe()
        self.secret_key = secret_key
        self.lock = threading.Lock()
        self.unauthorized = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeStripeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                if self.headers.get("Authorization", "") != f"Bearer {server.secret_key}":
                    server.unauthorized += 1
                    payload, status = '{"error": {"type": "invalid_request_error"}}', 401
                    headers: dict[str, str] = {}
                else:
                    with server.lock:
                        payload, status, headers = server.fake.request(
                            method, self.path, dict(self.headers), body
                        )
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer("get")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("post")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
