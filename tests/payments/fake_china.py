"""What the Alipay and WeChat Pay fakes share: RSA keys made in the test session, and a real
local HTTP server (127.0.0.1, a free port, a thread) that can be told to misbehave."""

from __future__ import annotations

import base64
import functools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeyPair:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, message: str) -> str:
        signature = self.private.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verify(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


@functools.cache
def forger() -> KeyPair:
    """A key that is nobody's: answers signed with it must be refused. Made once, before any
    request, so a "bad_sign" answer is as fast as a good one (never mistaken for a timeout)."""
    return KeyPair()


class FakeServer:
    """A threaded HTTP server whose handler calls `self.handle(handler)`.

    `mode` tells it to misbehave on the next requests: "timeout" (answer after the client gave
    up), "500", "garbage" (not JSON), "bad_sign" (signed with a key that is not the provider's).
    `stop()` closes the port: the next request is refused before anything is sent."""

    def __init__(self) -> None:
        self.mode = ""
        self.delay = 2.0
        self.forger = forger()
        self.requests: list[dict[str, Any]] = []
        self.refused_signatures = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                fake._dispatch(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self.mode == "timeout":
            time.sleep(self.delay)
        if self.mode == "500":
            self._send(handler, 500, b"<html>502 Bad Gateway</html>", "text/html")
            return
        if self.mode == "garbage":
            self._send(handler, 200, b"<html>not json {", "application/json;charset=utf-8")
            return
        status, data, headers = self.handle(method, handler.path, handler.headers, body)
        self._send(handler, status, data, headers.pop("Content-Type", "application/json"), headers)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def handle(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError
