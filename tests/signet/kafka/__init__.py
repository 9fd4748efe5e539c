"""Tests of signet/kafka/."""
