"""SMS through a pluggable backend (settings.SMS_BACKEND), like Django's email backends.

The embedded default, OutboxSmsBackend, prints each message to the console and keeps it as a
text file in settings.OUTBOX_DIR (var/outbox/), beside the emails. A provider's backend only
needs `send_messages(messages) -> int`.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class BaseSmsBackend:
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        self.fail_silently = fail_silently

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def __init__(self, *args: Any, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {message.to}\n{message.body}\n{'-' * 40}\n")
            self.stream.flush()
        return len(messages)


class FileSmsBackend(BaseSmsBackend):
    """One text file per message in settings.OUTBOX_DIR."""

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox = Path(settings.OUTBOX_DIR)
        outbox.mkdir(parents=True, exist_ok=True)
        for message in messages:
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
            path = outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.sms.txt"
            path.write_text(f"To: {message.to}\n\n{message.body}\n", encoding="utf-8")
        return len(messages)


class OutboxSmsBackend(ConsoleSmsBackend):
    """The console and var/outbox/, as config.mail.OutboxEmailBackend does for email."""

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        sent = super().send_messages(messages)
        FileSmsBackend().send_messages(messages)
        return sent


# Filled by LocmemSmsBackend, for tests (like django.core.mail.outbox).
outbox: list[SmsMessage] = []


class LocmemSmsBackend(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


def get_backend(path: str | None = None, **kwargs: Any) -> BaseSmsBackend:
    return import_string(path or settings.SMS_BACKEND)(**kwargs)


def send_sms(to: str, body: str) -> int:
    return get_backend().send_messages([SmsMessage(to=to, body=body)])
