"""Tests of sdk/: the SDKs against the real services, and installed on their own."""
