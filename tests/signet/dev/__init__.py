"""Tests of signet/dev/."""
