"""Tests of signet/security/."""
