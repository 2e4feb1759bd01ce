"""The server `make demo` runs (one uvicorn process, config.asgi: HTTP through Django's WSGI
handler in threads, websockets through Channels) serves the whole project: a page, the API,
static files, and the live-status websocket with its origin check. Started for real, as
`make demo` starts it, on a throwaway SQLite database. (Production's gunicorn + uvicorn pair is
started by tests/deploy/test_deploy_guide.py.)"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MAKEFILE = (ROOT / "Makefile").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, **kwargs) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request(kwargs.pop("method", "GET"), path, **kwargs)
    response = conn.getresponse()
    return (
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        response.read().decode(errors="replace"),
    )


def test_make_demo_runs_uvicorn_with_one_worker():
    # One worker: the demo's in-memory channel layer does not cross processes.
    assert (
        "\t$(VENV)/bin/uvicorn --no-server-header --lifespan off --host 127.0.0.1 --port $(PORT) "
        "\\\n\t\t--workers 1 config.asgi:application\n"
    ) in MAKEFILE
    assert "daphne" not in MAKEFILE.split("demo: install", 1)[1].split("\n\n", 1)[0]


@pytest.fixture(scope="module")
def uvicorn(tmp_path_factory):
    var = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"VAR_DIR": str(var), "PORT": str(port), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env["LOG_LEVEL"] = "WARNING"
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log = (var / "uvicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "--no-server-header",
            "--lifespan",
            "off",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/favicon.ico")
                break
            except OSError:
                assert server.poll() is None, (var / "uvicorn.log").read_text()
                assert time.monotonic() < deadline, "uvicorn did not answer within 60 s"
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        log.close()


def test_uvicorn_serves_pages_api_static_and_the_live_status_websocket(uvicorn):
    port = uvicorn
    status, headers, page = _get(port, "/")
    assert status == 200 and 'value="mug-classic"' in page
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "server" not in headers
    css = re.search(r'href="(/static/css/[^"]+)"', page)
    assert css and _get(port, css.group(1))[0] == 200

    status, _, body = _get(
        port,
        "/api/v1/orders/",
        method="POST",
        body=json.dumps(
            {"email": "a@example.com", "items": [{"sku": "mug-classic", "quantity": 1}]}
        ),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, body
    order = json.loads(body)

    async def listen(origin: str) -> dict[str, str]:
        url = f"ws://127.0.0.1:{port}/ws/orders/{order['number']}/?key={order['client_secret']}"
        async with websockets.connect(url, origin=origin, open_timeout=20) as socket_:
            return json.loads(await asyncio.wait_for(socket_.recv(), 20))

    told = asyncio.run(listen(f"http://127.0.0.1:{port}"))
    assert told == {"order": order["number"], "status": "pending", "attempt": ""}
    # Another site's page may not open it (channels' origin check runs under uvicorn too).
    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(listen("http://evil.example"))
