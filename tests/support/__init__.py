"""Helpers shared by the test suites (real server on loopback, corpus replay, clocks)."""
