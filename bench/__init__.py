"""Benchmarks: `make bench` runs every one and prints a JSON document."""
