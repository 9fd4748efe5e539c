"""The public SDK: emit events (HTTP or straight to Kafka) and verify deliveries.

Kept together so it can become a distribution of its own."""
