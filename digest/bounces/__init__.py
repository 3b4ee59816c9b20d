"""Bounces and complaints: reading DSN and ARF reports, classifying failures, and what
they do to an address (suppress, count, or only report)."""
