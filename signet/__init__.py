"""Signet: self-hosted webhook delivery on Kafka. The core library every service imports."""

__version__ = "0.1.0"
