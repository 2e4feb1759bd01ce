"""The agent console and chat admin (filled in by the live-chat work)."""
