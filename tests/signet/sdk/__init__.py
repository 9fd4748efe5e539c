"""Tests of signet/sdk/."""
