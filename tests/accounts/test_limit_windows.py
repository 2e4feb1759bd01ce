"""A rate-limit window ends when the page says it will, on every cache backend, even while
someone keeps trying.

The file cache's incr() stores the new count with the default timeout (300 s), so the old
counter outlived its 60-second window: a network that kept trying every few seconds was told
"try again in 1 minute" forever. Checked on the embedded file cache (in tmp_path) and on a
private redis-server of this test (ports 6371-6374; the shared 6379 is never touched).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client

from accounts import ratelimit
from config.settings import redis_cache
from tests.factories import UserFactory

from .helpers import sign_in

pytestmark = pytest.mark.django_db

REDIS_SERVER = shutil.which("redis-server")
PRIVATE_PORTS = range(6371, 6375)
HOME = {"REMOTE_ADDR": "198.51.100.7"}


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def file_cache(settings, tmp_path) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }


@pytest.fixture
def redis_cache_private(settings, tmp_path) -> Iterator[None]:
    if REDIS_SERVER is None:
        pytest.skip("needs redis-server on PATH to start a private Redis")
    port = next((p for p in PRIVATE_PORTS if _port_is_free(p)), None)
    assert port is not None, f"every private port {list(PRIVATE_PORTS)} is taken"
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    before = settings.CACHES
    try:
        deadline = time.monotonic() + 10
        while _port_is_free(port):
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start within 10 s"
            time.sleep(0.05)
        settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{port}/0")}
        caches["default"].set("probe", "up")
        assert caches["default"].get("probe") == "up"
        yield
    finally:
        # Back to the test's own cache first: later teardowns (cache.clear()) must not
        # call a server that is gone.
        settings.CACHES = before
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["file", "redis"])
def any_cache(request) -> None:
    request.getfixturevalue("file_cache" if request.param == "file" else "redis_cache_private")


def test_a_window_ends_when_announced_while_someone_keeps_trying(any_cache):
    """Real clocks (Redis expires keys on its own): 2 hits per 2 s, a try every 0.2 s."""
    refused_at = announced = None
    allowed_again_at = None
    give_up = time.time() + 8  # three windows and more: the old file cache never let go
    while time.time() < give_up:
        result = ratelimit.hit("login_ip:198.51.100.7", 2, 2)
        now = time.time()
        if not result.allowed and announced is None:
            refused_at, announced = now, now + result.retry_after
        elif result.allowed and announced is not None:
            allowed_again_at = now
            break
        time.sleep(0.2)
    assert refused_at is not None, "the third hit within the window was allowed"
    assert allowed_again_at is not None, "still refused long after the announced end"
    # retry_after is rounded up to a whole second: the real end lies in [announced - 1, announced].
    assert announced - 1.0 <= allowed_again_at <= announced + 0.5


def test_the_sign_in_pause_ends_at_the_time_it_showed_on_the_file_cache(file_cache, settings):
    """The embedded setup's sign-in rate limit, tried every 7 s from one address: refused
    while the window lasts, let through at the first try after the time the 429 announced."""
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login_ip": (3, 60)}
    settings.AXES_FAILURE_LIMIT = 1000  # only the rate limit is under test
    settings.ACCOUNTS_ACCOUNT_FAILURE_LIMIT = 1000
    settings.ACCOUNTS_IP_FAILURE_LIMIT = 1000
    user = UserFactory()
    start = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    outcomes: list[tuple[int, int, str]] = []  # (seconds since start, status, Retry-After)
    for second in range(0, 140, 7):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            response = sign_in(Client(), user.email, "wrong-password", **HOME)
        outcomes.append((second, response.status_code, response.get("Retry-After", "")))
    assert outcomes[:11] == [
        (0, 200, ""),
        (7, 200, ""),
        (14, 200, ""),
        # Refused until 12:01:00, as announced, however often it is tried meanwhile.
        (21, 429, "39"),
        (28, 429, "32"),
        (35, 429, "25"),
        (42, 429, "18"),
        (49, 429, "11"),
        (56, 429, "4"),
        # A new window from 63 s: three more tries, then refused until 123 s.
        (63, 200, ""),
        (70, 200, ""),
    ]
    assert outcomes[11:] == [
        (77, 200, ""),
        (84, 429, "39"),
        (91, 429, "32"),
        (98, 429, "25"),
        (105, 429, "18"),
        (112, 429, "11"),
        (119, 429, "4"),
        (126, 200, ""),
        (133, 200, ""),
    ]


def test_a_long_window_keeps_its_count_on_the_file_cache(file_cache):
    """The file cache's incr() stores with the default 300 s timeout: an hour's count must not
    vanish after five quiet minutes."""
    start = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    allowed = []
    for second in (0, 400, 800, 3599, 3601):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            allowed.append(ratelimit.hit("register_ip:198.51.100.7", 2, 3600).allowed)
    assert allowed == [True, True, False, False, True]
