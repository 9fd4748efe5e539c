"""The HTTP ingest gateway: publishable-key auth → validated events → ``signet.events``."""
