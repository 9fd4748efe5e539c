"""Service plumbing on Kafka: clients, consumers and their offsets, topics, health, metrics."""
