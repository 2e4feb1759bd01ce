"""Signals checkout sends for the apps above it, which it does not import."""

from django.dispatch import Signal

# Sent by `manage.py seed_demo` inside its transaction, after checkout's and payments' demo rows:
# each receiver adds its own app's demo rows (idempotently) and returns how many it created.
demo_seeding = Signal()
