"""Signals other apps listen to, so accounts never has to import them."""

from django.dispatch import Signal

# Sent inside the deletion's transaction with `user` (already anonymised) and `old_email`:
# every app that holds personal data about the person removes it too.
account_deleted = Signal()
