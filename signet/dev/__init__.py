"""Dev tooling: the embedded broker, `signet up` and `signet demo`."""
