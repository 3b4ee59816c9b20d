"""Outgoing email: rendering, composing, queueing (the outbox) and delivering."""
