"""Scheduled work: thin job functions and the schedule table. Run with `digest scheduler`."""
