"""Payments in Django admin. Django autodiscovers only this module, so it imports each one that
registers a model admin."""

from . import attempts, methods, records, withdrawals

__all__ = ["attempts", "methods", "records", "withdrawals"]
