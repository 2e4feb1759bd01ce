"""The methods a process keeps between requests (payments/stamps.py): kept while nothing changed,
read again after any write however it is made, never kept from inside a transaction, and not
kept at all when the triggers are missing.

These tests commit (transactional_db): inside a test's transaction nothing is kept, by design.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.models import Product
from payments import stamps
from payments.models import (
    ChangeStamp,
    MethodHealth,
    PaymentMethod,
    PaymentRoute,
    RouteHealth,
)
from payments.selectors import _ENABLED_METHODS, enabled_methods, methods_for_amount

from ..conftest import ON_POSTGRES
from ..factories import PaymentMethodFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    _ENABLED_METHODS.clear()
    yield
    _ENABLED_METHODS.clear()


@pytest.fixture
def methods() -> tuple[PaymentMethod, PaymentMethod]:
    card = PaymentMethodFactory(code="card", display_order=1)
    alipay = PaymentMethodFactory(
        code="alipay", kind="alipay", label_en="Alipay", label_zh="支付宝", display_order=2
    )
    PaymentRoute.objects.create(method=card, provider="simulator", priority=1)
    PaymentRoute.objects.create(method=card, provider="simulator_b", priority=2)
    return card, alipay


def offered(amount: int = 1000) -> list[tuple[str, bool, str]]:
    return [
        (a.method.code, a.available, a.reason)
        for a in methods_for_amount(amount=amount, currency="USD")
    ]


def test_the_second_read_costs_one_query_of_one_row(methods):
    with CaptureQueriesContext(connection) as first:
        enabled_methods()
    with CaptureQueriesContext(connection) as second:
        kept = enabled_methods()
    # Once a process: are the triggers there (tables, triggers); then the stamp, the methods
    # with their health, the routes with theirs.
    assert len(first) == 5
    assert [q["sql"] for q in second.captured_queries] == [
        "SELECT value FROM payments_changestamp WHERE name = 'payment_methods'"
    ]
    assert [m.code for m in kept] == ["card", "alipay"]
    assert [r.provider for r in kept[0].routes.all()] == ["simulator", "simulator_b"]


def _switch_off_by_save(card, alipay):
    alipay.enabled = False
    alipay.save()


def _maintenance_by_queryset_update(card, alipay):
    PaymentMethod.objects.filter(code="alipay").update(maintenance=True)


def _maximum_by_raw_sql(card, alipay):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE payments_paymentmethod SET max_amount = 500 WHERE code = 'alipay'")


def _method_deleted(card, alipay):
    alipay.delete()


def _method_added(card, alipay):
    PaymentMethodFactory(code="wechat", kind="wechat_pay", label_en="WeChat Pay", display_order=3)


def _route_switched_off(card, alipay):
    PaymentRoute.objects.filter(method=card).update(enabled=False)


def _routes_deleted_then_one_limited(card, alipay):
    PaymentRoute.objects.filter(method=card, provider="simulator_b").delete()
    PaymentRoute.objects.filter(method=card).update(max_amount=500)


def _route_added_for_alipay_in_cny_only(card, alipay):
    PaymentRoute.objects.create(method=alipay, provider="simulator", currencies="CNY")


def _method_circuit_opened(card, alipay):
    MethodHealth.objects.create(method=alipay, state="open", changed_at=timezone.now())


def _both_route_circuits_opened(card, alipay):
    for route in PaymentRoute.objects.filter(method=card):
        RouteHealth.objects.create(route=route, state="open", changed_at=timezone.now())


def _method_circuit_closed_again(card, alipay):
    # Read (and kept) while open, then closed: the close must be seen too.
    health = MethodHealth.objects.create(method=alipay, state="open", changed_at=timezone.now())
    assert offered()[1] == ("alipay", False, "method_unhealthy")
    health.state = "healthy"
    health.save()


BEFORE = [("card", True, ""), ("alipay", True, "")]

# Every way a row is written, and what the next read says (literal).
WRITES: list[tuple[Callable[..., None], list[tuple[str, bool, str]]]] = [
    (_switch_off_by_save, [("card", True, "")]),
    (_maintenance_by_queryset_update, [("card", True, ""), ("alipay", False, "maintenance")]),
    (_maximum_by_raw_sql, [("card", True, ""), ("alipay", False, "above_maximum")]),
    (_method_deleted, [("card", True, "")]),
    (_method_added, [("card", True, ""), ("alipay", True, ""), ("wechat", True, "")]),
    (_route_switched_off, [("alipay", True, ""), ("card", False, "disabled")]),
    (_routes_deleted_then_one_limited, [("alipay", True, ""), ("card", False, "above_maximum")]),
    (
        _route_added_for_alipay_in_cny_only,
        [("card", True, ""), ("alipay", False, "currency_not_supported")],
    ),
    (_method_circuit_opened, [("card", True, ""), ("alipay", False, "method_unhealthy")]),
    (_both_route_circuits_opened, [("alipay", True, ""), ("card", False, "method_unhealthy")]),
    (_method_circuit_closed_again, [("card", True, ""), ("alipay", True, "")]),
]


@pytest.mark.parametrize(("write", "after"), WRITES, ids=[w.__name__ for w, _ in WRITES])
def test_every_write_is_seen_by_the_next_read(methods, write, after):
    assert offered() == BEFORE  # read and kept
    assert offered() == BEFORE  # from the kept copy
    write(*methods)
    assert offered() == after


def test_nothing_is_kept_from_inside_a_transaction_and_a_rollback_leaves_no_trace(methods):
    card, alipay = methods
    with pytest.raises(RuntimeError), transaction.atomic():
        PaymentMethod.objects.filter(pk=alipay.pk).update(enabled=False)
        # Inside it the transaction's own write is what the page sees...
        assert [c for c, _, _ in offered()] == ["card"]
        raise RuntimeError("rolled back")
    # ...and after the rollback nobody does: it was never kept.
    assert offered() == BEFORE
    with CaptureQueriesContext(connection) as inside, transaction.atomic():
        offered()
        offered()
    selects = [q["sql"] for q in inside.captured_queries if q["sql"].startswith("SELECT")]
    # Read twice (methods, routes), no stamp read: nothing is kept in a transaction.
    assert len(selects) == 4
    assert not any("changestamp" in sql for sql in selects)


def test_a_stamp_row_that_is_gone_is_made_again_and_the_rows_read_again(methods):
    assert offered() == BEFORE
    ChangeStamp.objects.all().delete()  # a flushed database
    PaymentMethod.objects.filter(code="alipay").update(enabled=False)  # its trigger finds no row
    assert offered() == [("card", True, "")]
    assert ChangeStamp.objects.filter(name="payment_methods").count() == 1


def test_without_its_triggers_nothing_is_kept_and_the_log_says_so(methods, caplog):
    stamps.triggers_drop(connection)
    try:
        assert stamps.triggers_missing(connection)  # named in the log below
        with caplog.at_level(logging.ERROR, logger="payments.stamps"):
            assert offered() == BEFORE
        PaymentMethod.objects.filter(code="alipay").update(enabled=False)  # no trigger to see it
        with CaptureQueriesContext(connection) as queries:
            assert offered() == [("card", True, "")]  # read again all the same
        assert len(queries) == 2  # no stamp: methods, then routes (each with its health)
        assert "triggers missing" in caplog.text
        assert "payments_paymentmethod" in caplog.text
    finally:
        stamps.triggers_install(connection)
    assert stamps.triggers_missing(connection) == []


SQLITE_TRIGGERS = {
    ("checkout_product", "changestamp_catalog_checkout_product_delete"),
    ("checkout_product", "changestamp_catalog_checkout_product_insert"),
    ("checkout_product", "changestamp_catalog_checkout_product_update"),
    ("payments_methodhealth", "changestamp_payment_methods_payments_methodhealth_delete"),
    ("payments_methodhealth", "changestamp_payment_methods_payments_methodhealth_insert"),
    ("payments_methodhealth", "changestamp_payment_methods_payments_methodhealth_update"),
    ("payments_paymentmethod", "changestamp_payment_methods_payments_paymentmethod_delete"),
    ("payments_paymentmethod", "changestamp_payment_methods_payments_paymentmethod_insert"),
    ("payments_paymentmethod", "changestamp_payment_methods_payments_paymentmethod_update"),
    ("payments_paymentroute", "changestamp_payment_methods_payments_paymentroute_delete"),
    ("payments_paymentroute", "changestamp_payment_methods_payments_paymentroute_insert"),
    ("payments_paymentroute", "changestamp_payment_methods_payments_paymentroute_update"),
    ("payments_routehealth", "changestamp_payment_methods_payments_routehealth_delete"),
    ("payments_routehealth", "changestamp_payment_methods_payments_routehealth_insert"),
    ("payments_routehealth", "changestamp_payment_methods_payments_routehealth_update"),
}
POSTGRES_TRIGGERS = {
    ("checkout_product", "changestamp_catalog"),
    ("checkout_product", "changestamp_catalog_truncate"),
    ("payments_methodhealth", "changestamp_payment_methods"),
    ("payments_methodhealth", "changestamp_payment_methods_truncate"),
    ("payments_paymentmethod", "changestamp_payment_methods"),
    ("payments_paymentmethod", "changestamp_payment_methods_truncate"),
    ("payments_paymentroute", "changestamp_payment_methods"),
    ("payments_paymentroute", "changestamp_payment_methods_truncate"),
    ("payments_routehealth", "changestamp_payment_methods"),
    ("payments_routehealth", "changestamp_payment_methods_truncate"),
}


def _triggers() -> set[tuple[str, str]]:
    return {t for t in stamps._installed(connection) if t[1].startswith("changestamp")}


def test_migrate_puts_back_triggers_a_rebuilt_table_lost(methods):
    assert _triggers() == (POSTGRES_TRIGGERS if ON_POSTGRES else SQLITE_TRIGGERS)
    assert offered() == BEFORE  # kept
    with connection.cursor() as cursor:  # as SQLite's table rebuild in a migration does
        if ON_POSTGRES:
            cursor.execute(
                "DROP TRIGGER changestamp_payment_methods ON payments_paymentroute; "
                "DROP TRIGGER changestamp_payment_methods_truncate ON payments_paymentroute"
            )
        else:
            for event in ("insert", "update", "delete"):
                cursor.execute(
                    f"DROP TRIGGER changestamp_payment_methods_payments_paymentroute_{event}"
                )
    assert stamps.triggers_missing(connection) != []
    # A write while its trigger is gone moves no stamp...
    PaymentRoute.objects.filter(method__code="card").update(enabled=False)
    assert offered() == BEFORE  # (what a running process would still show)
    call_command("migrate", verbosity=0)
    assert _triggers() == (POSTGRES_TRIGGERS if ON_POSTGRES else SQLITE_TRIGGERS)
    # ...so putting the triggers back moves every stamp, and the write is seen.
    assert offered() == [("alipay", True, ""), ("card", False, "disabled")]


def test_no_trigger_stands_in_a_migrations_way():
    """pre_migrate drops them all (a migration rebuilding the stamp table on SQLite could not
    rename it while other tables' triggers name it); post_migrate puts them back."""
    stamps.drop_before_migrate(using="default")
    assert _triggers() == set()
    stamps.install_after_migrate(using="default")
    assert _triggers() == (POSTGRES_TRIGGERS if ON_POSTGRES else SQLITE_TRIGGERS)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: deferred triggers")
def test_one_commit_writing_many_rows_of_both_groups_moves_each_stamp(methods):
    ProductFactory(sku="mug")
    before = {name: stamps.stamp_read(name) for name in ("catalog", "payment_methods")}
    with transaction.atomic():
        PaymentRoute.objects.update(priority=7)  # two rows
        PaymentMethod.objects.update(display_order=9)  # two rows
        Product.objects.update(price=999)
        assert {n: stamps.stamp_read(n) for n in before} == before  # not before the commit
    after = {name: stamps.stamp_read(name) for name in before}
    assert after["catalog"] != before["catalog"]
    assert after["payment_methods"] != before["payment_methods"]


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: another connection's commit")
def test_a_write_from_another_connection_moves_the_stamp_at_its_commit(methods):
    """Another machine's admin: its write is seen once committed, and the stamp moves with the
    commit (deferred), not at the write."""
    assert offered() == BEFORE
    written, commit, done = threading.Event(), threading.Event(), threading.Event()
    before = stamps.stamp_read("payment_methods")

    def admin() -> None:
        try:
            with transaction.atomic():
                PaymentMethod.objects.filter(code="alipay").update(enabled=False)
                written.set()
                commit.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=admin)
    thread.start()
    assert written.wait(10)
    assert stamps.stamp_read("payment_methods") == before  # not until the commit
    assert offered() == BEFORE  # nothing committed yet
    commit.set()
    assert done.wait(10)
    thread.join()
    assert stamps.stamp_read("payment_methods") != before
    assert offered() == [("card", True, "")]
