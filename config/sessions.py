"""Sessions in the database, as Django keeps them, read with one prepared statement.

Every page with a cart or a signed-in customer reads its session first. Django's database store
builds that read through the ORM on every request (a query compiled from a filter), about a
tenth of the checkout page's time; the statement never changes, so it is written out here. Only
the read differs: saving, deleting, expiry and `clearsessions` are Django's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key  # None unless the cookie held a well-formed key
        if not key:
            self._session_key = None
            return None
        model = self.model
        connection = connections[router.db_for_read(model)]
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} "  # noqa: S608 - the model's own table
                "WHERE session_key = %s AND expire_date > %s",
                [key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # unknown or expired: a new session starts, as in Django
            return None
        return model(session_key=key, session_data=row[0])
