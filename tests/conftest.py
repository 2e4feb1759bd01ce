"""Shared fixtures. The named cast for permission tests: alice the customer, bob the support
agent, carol the admin, mallory the stranger."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from config.celery import app as celery_app

from .factories import PaymentMethodFactory, ProductFactory, UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
# No connection pool in the test process: the race tests hold 50 connections at once across a
# barrier (a pool of DB_POOL_MAX would deadlock them), and pytest-django drops the test database
# at the end, which pooled idle connections would keep open. Settings still build the pool
# (tests/test_db_pool.py checks them, and the pool itself in a process of its own); processes
# the tests start (daphne, workers) read the environment and use it.
settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
ON_REDIS = bool(os.environ.get("REDIS_URL"))


def test_database_url() -> str:
    """The test database as a URL, for processes the tests start (workers, web servers)."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Each test gets its own outbox and a private cache; tasks run in-process unless a test
    asks for the real worker."""
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if ON_REDIS:
        # A namespace of its own on the shared Redis: counters (rate limits) start at zero.
        default = settings.CACHES["default"]
        settings.CACHES = {"default": {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}"}}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        cache.clear()  # LocMemCache stores are shared by name: start each test empty
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """channels-redis creates its receive lock inside the event loop that first receives; a
    test whose loop ends mid-receive would leave the next test's loop a lock it cannot use.
    On Redis every test gets a new layer object (the state lives in Redis, not the object)."""
    yield
    if ON_REDIS:
        from channels.layers import channel_layers

        channel_layers.backends.clear()


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", full_name="Alice Customer")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", full_name="Bob Support", is_staff=True)


@pytest.fixture
def carol(db):
    return UserFactory(
        email="carol@example.com", full_name="Carol Admin", is_staff=True, is_superuser=True
    )


@pytest.fixture
def mallory(db):
    return UserFactory(email="mallory@example.com", full_name="Mallory Stranger")


@pytest.fixture
def shop(db):
    """A small catalogue and the four demo payment methods."""
    products = [
        ProductFactory(sku="mug", name_en="Mug", name_zh="马克杯", price=1200),
        ProductFactory(sku="tea", name_en="Tea", name_zh="茶", price=1850),
    ]
    methods = [
        PaymentMethodFactory(
            code="card", kind="card", label_en="Card", label_zh="银行卡", display_order=10
        ),
        PaymentMethodFactory(
            code="alipay", kind="alipay", label_en="Alipay", label_zh="支付宝", display_order=20
        ),
        PaymentMethodFactory(
            code="wechat_pay",
            kind="wechat_pay",
            label_en="WeChat Pay",
            label_zh="微信支付",
            display_order=30,
        ),
        PaymentMethodFactory(
            code="wallet",
            kind="wallet",
            provider="wallet",
            label_en="Wallet",
            label_zh="钱包",
            display_order=40,
        ),
    ]
    return {"products": {p.sku: p for p in products}, "methods": {m.code: m for m in methods}}
