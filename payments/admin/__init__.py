"""Payments in Django admin. Django autodiscovers only this module, so it imports each one that
registers a model admin."""

from . import attempts, methods, records

__all__ = ["attempts", "methods", "records"]
