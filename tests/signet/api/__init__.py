"""Tests of signet/api/."""
