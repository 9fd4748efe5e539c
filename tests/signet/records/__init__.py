"""Tests of signet/records/."""
