"""Real-browser tests: pytest-playwright's sync API driving Debian's Chromium against
pytest-django's live_server.

The network is closed, so Playwright must never download a browser: it launches the system
Chromium at CHROMIUM by path. When that binary is missing every test here is skipped with a
reason (shown by `pytest -rs`), never silently.

Two things here are deliberately limited to this package rather than the whole run:

* Playwright itself. pytest-playwright starts it once per session, and while it is alive the
  sync API leaves an asyncio loop marked as running in the main thread; later tests that call
  asyncio.run() or async_to_sync() (tests/checkout/test_live_status.py) then fail. So the
  `playwright`, `browser_type`, `launch_browser`, `browser` and `browser_context_args` fixtures
  are package-scoped copies of the plugin's: Playwright stops when the last browser test ends.
* DJANGO_ALLOW_ASYNC_UNSAFE. Because of that same loop Django refuses the test's own ORM calls
  (fixtures, DB assertions, the flush after each test) with SynchronousOnlyOperation. The
  variable is set while this package runs and removed afterwards: set at import time it would
  leak into every other test and into subprocesses (`manage.py check --deploy` reports it as
  async.E001). The live server answers requests in its own thread, which has no loop, so the
  app is still checked as usual there.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
MISSING_CHROMIUM = (
    f"{CHROMIUM} not found: browser tests need Debian's chromium "
    "(apt-get install chromium); Playwright's own browsers are never downloaded"
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this directory (and only here) carries the `browser` marker."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    # Autouse: every test here skips with the reason, before any browser is started.
    if not os.path.exists(CHROMIUM):
        pytest.skip(MISSING_CHROMIUM)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options (--headed, --slowmo...) plus the system Chromium."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(MISSING_CHROMIUM)
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="package")
def _django_allow_async_unsafe() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package", autouse=True)
def _browser_package(_django_allow_async_unsafe: None) -> None:
    """Package-scoped and autouse: set up before, and torn down after, every function-scoped
    fixture of these tests, including pytest-django's flush of the live server's data."""


# --- pytest-playwright's session fixtures, package-scoped (same bodies as the plugin's) --------


@pytest.fixture(scope="package")
def playwright(
    _django_allow_async_unsafe: None, request: pytest.FixtureRequest
) -> Iterator[Playwright]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(MISSING_CHROMIUM)
    pw = sync_playwright().start()
    # The plugin's private helper for --tracing of API requests; optional here.
    try:
        api_request_contexts = request.getfixturevalue("_pw_api_request_contexts")
    except pytest.FixtureLookupError:
        api_request_contexts = None
    if api_request_contexts:
        api_request_contexts.instrument(pw)
    yield pw
    pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict,
    browser_type: BrowserType,
    connect_options: dict | None,
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        launch_options = {**browser_type_launch_args, **kwargs}
        if connect_options:
            return browser_type.connect(
                **{
                    **connect_options,
                    "headers": {
                        "x-playwright-launch-options": json.dumps(launch_options),
                        **(connect_options.get("headers") or {}),
                    },
                }
            )
        return browser_type.launch(**launch_options)

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    base_url: str | None,
    _pw_artifacts_folder: Any,
) -> dict:
    context_args: dict = {}
    if device:
        context_args.update(playwright.devices[device])
    if base_url:
        context_args["base_url"] = base_url
    if pytestconfig.getoption("--video") in ["on", "retain-on-failure"]:
        context_args["record_video_dir"] = _pw_artifacts_folder.name
    return context_args


# --- data ------------------------------------------------------------------------------------


@pytest.fixture
def live_shop(transactional_db, live_server, shop):
    """The `shop` catalogue (mug $12.00, tea $18.50, card/alipay/wechat_pay/wallet) committed
    where the live server's thread can see it."""
    return shop


@pytest.fixture(scope="package")
def asgi_server() -> Iterator[str]:
    """The project's ASGI application (HTTP and websockets, behind the same origin check and
    session auth as production) in daphne on a free port, in a thread of this process: it
    shares the test database and the channel layer with the test (pytest-django's live_server
    speaks WSGI only). Twisted's reactor starts once per process, so one server serves every
    module of this package."""
    from daphne.server import Server  # installs the asyncio reactor: import it here, first
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from twisted.internet import reactor

    from config.asgi import application

    ready = threading.Event()
    server = Server(
        ASGIStaticFilesHandler(application),
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
    )

    def wait_for_port() -> None:
        if server.listening_addresses:
            ready.set()
        else:
            reactor.callLater(0.05, wait_for_port)

    reactor.callWhenRunning(wait_for_port)
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    assert ready.wait(20), "daphne did not start listening"
    host, port = server.listening_addresses[0]
    yield f"http://{host}:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(10)
