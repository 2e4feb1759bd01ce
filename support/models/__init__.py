"""The support desk: tickets with their messages and audit trail, live chats with ordered
messages, and help articles keyed by failure code. One module per seam; Django finds the models
through this module (the app's `models`), so every model class is imported here, and every
public name is re-exported so `from support.models import X` works wherever it did (the first
migration names `support.models.new_ticket_number` and `new_access_key`)."""

from .articles import CannedReply, HelpArticle
from .base import AboutPayment, SentNotification
from .chat import (
    CONVERSATION_ALLOWED,
    CS,
    AgentPresence,
    ChatMessage,
    Conversation,
    ConversationEvent,
)
from .tickets import (
    NUMBER_ALPHABET,
    TICKET_ALLOWED,
    TS,
    Ticket,
    TicketEvent,
    TicketMessage,
    new_access_key,
    new_ticket_number,
)

__all__ = [
    "CONVERSATION_ALLOWED",
    "CS",
    "NUMBER_ALPHABET",
    "TICKET_ALLOWED",
    "TS",
    "AboutPayment",
    "AgentPresence",
    "CannedReply",
    "ChatMessage",
    "Conversation",
    "ConversationEvent",
    "HelpArticle",
    "SentNotification",
    "Ticket",
    "TicketEvent",
    "TicketMessage",
    "new_access_key",
    "new_ticket_number",
]
