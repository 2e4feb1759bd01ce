"""Email backends for fault tests (loaded by name, also by worker processes)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from config.mail import OutboxEmailBackend


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise OSError("mail server unreachable")


class SlowOutboxBackend(OutboxEmailBackend):
    """Says it started (SLOW_MAIL_MARKER), then hangs before sending: a worker killed now has
    sent nothing and committed nothing."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        Path(os.environ["SLOW_MAIL_MARKER"]).touch()
        time.sleep(float(os.environ.get("SLOW_MAIL_SECONDS", "60")))
        return super().send_messages(email_messages)
