"""The delivery log: a SQL projection of ``signet.deliveries`` and ``signet.outcomes``.

``store.py`` is the seam (the :class:`~services.portal.delivery_log.store.LogStore` Protocol and its
values); ``sqlite_store.py`` and ``postgres_store.py`` are its two backends, chosen by
``SIGNET_DATABASE_URL`` in ``factory.py``; ``projection.py`` fills it from Kafka;
``chain.py`` extends each workspace's hash chain; ``retention.py`` trims it.
"""
