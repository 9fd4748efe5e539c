"""Sealed secrets, key rotation, the SSRF guard and the delivery log's hash chain."""
