"""Tests of sdk/python that need the services or a broker (its unit tests: sdk/python/tests)."""
