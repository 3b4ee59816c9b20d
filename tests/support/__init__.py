"""Real components for tests: databases, an SMTP sink, a live server, a browser."""
