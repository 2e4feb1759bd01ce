"""Rows that change rarely, kept by each process until the database says they changed.

The checkout page and every Pay read the payment methods with their routes and health: two
queries and their model building, about a fifth of the page's time (bench/profile_pages.py).
Those rows change when an admin switches something or a circuit breaker moves, not per
request. So each group of watched tables has a `ChangeStamp` row, and triggers on the tables
give it a new random value in the same transaction as any insert, update or delete, however it
is made (admin, services, a queryset's update(), raw SQL, another machine). A process keeps
what it loaded under the value it read just before loading, and loads again once the value
differs: one indexed read of one row instead of the queries.

The triggers are dropped before every `migrate` and installed again after it, moving every
stamp (apps.py): a migration that rebuilds a table on SQLite drops that table's triggers with
it, and cannot rename a table other triggers name; writes made meanwhile moved no stamp. A
process checks they are all there before keeping anything, and keeps nothing (reads every time,
and says so in the log) if they are not.

Kept copies are read outside transactions only. Inside one, the rows read may be that
transaction's own uncommitted writes, which a rollback would leave kept as rows that never
existed; and on PostgreSQL the stamp moves at commit (deferred triggers: a write takes the stamp
rows' locks last, all of them in name order, and only for its commit, so two writers cannot
deadlock on them).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

T = TypeVar("T")

TABLE = "payments_changestamp"

# Stamp name -> the tables whose every write changes it. Apps above payments add theirs with
# watch() in their AppConfig.ready(), before any migrate installs the triggers.
WATCHED: dict[str, tuple[str, ...]] = {
    "payment_methods": (
        "payments_paymentmethod",
        "payments_paymentroute",
        "payments_methodhealth",
        "payments_routehealth",
    ),
}


def watch(name: str, *tables: str) -> None:
    """Give the stamp `name` to these tables (call from an AppConfig.ready())."""
    WATCHED[name] = tables


_SQLITE_EVENTS = ("insert", "update", "delete")
_PG_FUNCTION = "changestamp_bump"


def _trigger_name(stamp: str, table: str, event: str = "") -> str:
    # PostgreSQL names triggers per table; SQLite per schema, hence the table and event.
    return f"changestamp_{stamp}_{table}_{event}" if event else f"changestamp_{stamp}"


def _expected(vendor: str, tables: set[str]) -> set[tuple[str, str]]:
    """(table, trigger name) for every trigger that should exist on the tables present."""
    expected = set()
    for stamp, watched in WATCHED.items():
        for table in watched:
            if table not in tables:
                continue
            if vendor == "sqlite":
                expected |= {(table, _trigger_name(stamp, table, e)) for e in _SQLITE_EVENTS}
            else:
                expected |= {
                    (table, _trigger_name(stamp, table)),
                    (table, _trigger_name(stamp, table) + "_truncate"),
                }
    return expected


def _installed(connection: BaseDatabaseWrapper) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'changestamp%%'"
            )
        return {(str(table), str(name)) for table, name in cursor.fetchall()}


def triggers_missing(connection: BaseDatabaseWrapper = default_connection) -> list[str]:
    """The triggers that should exist and do not ("table.trigger"); every one, on a database
    other than SQLite and PostgreSQL (nothing is kept there)."""
    tables = set(connection.introspection.table_names())
    if connection.vendor not in ("sqlite", "postgresql"):
        return [f"{connection.vendor}: no change-stamp triggers"]
    missing = _expected(connection.vendor, tables) - _installed(connection)
    return sorted(f"{table}.{name}" for table, name in missing)


def triggers_install(connection: BaseDatabaseWrapper = default_connection) -> None:
    """Create every missing trigger (and the stamp rows). Safe to run again: after every
    migrate, on each database."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    tables = set(connection.introspection.table_names())
    if TABLE not in tables:
        return  # migrated back before the stamps existed
    installed = _installed(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The stamp's name comes from the trigger's argument.
            # Every name here is this module's constant.
            # All stamp rows are locked in name order before one is moved, so two commits
            # moving two stamps in opposite orders cannot deadlock; a stamp this transaction
            # already moved is not moved again (one update per commit, not one per row).
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger "  # noqa: S608
                "LANGUAGE plpgsql AS $$ BEGIN "
                f"PERFORM 1 FROM {TABLE} ORDER BY name FOR UPDATE; "
                f"UPDATE {TABLE} SET value = md5(random()::text || clock_timestamp()::text) "
                "WHERE name = TG_ARGV[0] AND xmin <> pg_current_xact_id()::xid; "
                "RETURN NULL; END $$"
            )
        for stamp, watched in WATCHED.items():
            for table in watched:
                if table not in tables:
                    continue
                for sql in _create_sql(connection.vendor, stamp, table, installed):
                    cursor.execute(sql)
    for stamp in WATCHED:
        stamp_read(stamp, connection=connection)  # creates a missing row
    # Writes made while a trigger was missing (a migration rebuilding a table drops its
    # triggers on SQLite; pre_migrate drops them all) moved no stamp: every process must read
    # the rows again, so every stamp moves now.
    stamps_move(connection)


def stamps_move(connection: BaseDatabaseWrapper = default_connection) -> None:
    """Give every stamp a new value: each process reads its kept rows again."""
    with connection.cursor() as cursor:
        for stamp in WATCHED:
            cursor.execute(
                f"UPDATE {TABLE} SET value = %s WHERE name = %s",  # noqa: S608
                [secrets.token_hex(16), stamp],
            )


def triggers_drop(connection: BaseDatabaseWrapper = default_connection) -> None:
    """Drop every change-stamp trigger: before the stamp table goes (migrating back), or a
    write to a watched table would fail on the missing table."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    with connection.cursor() as cursor:
        for table, name in _installed(connection):
            if not name.startswith("changestamp_"):
                continue
            if connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")


def _create_sql(vendor: str, stamp: str, table: str, installed: set[tuple[str, str]]) -> list[str]:
    # Every name here is this module's constant (WATCHED), never input.
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} BEGIN "  # noqa: S608
            f"UPDATE {TABLE} SET value = lower(hex(randomblob(16))) WHERE name = '{stamp}'; END"
            for event in _SQLITE_EVENTS
            if (table, name := _trigger_name(stamp, table, event)) not in installed
        ]
    name = _trigger_name(stamp, table)
    statements = []
    if (table, name) not in installed:
        statements.append(
            f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION {_PG_FUNCTION}('{stamp}')"
        )
    if (table, name + "_truncate") not in installed:
        statements.append(
            f"CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}('{stamp}')"
        )
    return statements


def stamp_read(name: str, *, connection: BaseDatabaseWrapper = default_connection) -> str:
    """The stamp's current value; a missing row (a flushed database) is created."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {TABLE} WHERE name = %s", [name])  # noqa: S608
        row = cursor.fetchone()
        if row is not None:
            return str(row[0])
        value = secrets.token_hex(16)
        # Two processes may both find it missing: either value does, the second insert is
        # skipped and the value read back is the one that stands.
        cursor.execute(
            f"INSERT INTO {TABLE} (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",  # noqa: S608
            [name, value],
        )
        cursor.execute(f"SELECT value FROM {TABLE} WHERE name = %s", [name])  # noqa: S608
        return str(cursor.fetchone()[0])


class StampedMemo(Generic[T]):
    """`load()`'s result, kept by this process while the stamp `name` keeps its value.

    What it returns is shared by every request of the process (and every thread of the demo's
    server): callers read it and never change it.
    """

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.name, self.load = name, load
        # (stamp value, what was loaded under it); replaced whole, so threads see one or the
        # other, never half of each.
        self._kept: tuple[str, T] | None = None
        self._usable: bool | None = None  # the triggers were all found (checked once)

    def get(self) -> T:
        if default_connection.in_atomic_block or not self._triggers_ready():
            return self.load()
        value = stamp_read(self.name)  # before loading: a write after it changes it
        kept = self._kept
        if kept is not None and kept[0] == value:
            return kept[1]
        loaded = self.load()
        self._kept = (value, loaded)
        return loaded

    def clear(self) -> None:
        self._kept, self._usable = None, None

    def _triggers_ready(self) -> bool:
        if self._usable is None:
            if self.name not in WATCHED:
                raise ValueError(f"no tables are watched for the stamp {self.name!r}")
            missing = triggers_missing()
            if missing:
                logger.error(
                    "change stamp %s: triggers missing (%s); reading the rows every time "
                    "(run manage.py migrate to install them)",
                    self.name,
                    ", ".join(missing),
                )
            self._usable = not missing
        return self._usable


def drop_before_migrate(*, using: str = "default", **kwargs: Any) -> None:
    """pre_migrate receiver (apps.py): no trigger may name a table a migration is about to
    rebuild (SQLite refuses to rename a table other tables' triggers name) or drop."""
    from django.db import connections

    triggers_drop(connections[using])


def install_after_migrate(*, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver (apps.py): the triggers back, and every stamp moved."""
    from django.db import connections

    triggers_install(connections[using])
