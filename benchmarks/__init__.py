"""Benchmarks: `python3 dev.py bench` (not part of the test suite)."""
