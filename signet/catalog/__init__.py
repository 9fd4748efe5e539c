"""The event-type catalog: the types a SaaS emits, each with a description and optionally
a JSON Schema of its payload and an example.

It is configuration like the rest, event-sourced on Kafka: the portal writes one
:class:`~signet.records.model.EventTypeDefinition` per change to the compacted topic
``event-types`` (keyed by type name; a tombstone deletes), and every service that needs
the catalog follows that topic with an :class:`~signet.catalog.view.EventTypeView`.
:mod:`signet.catalog.json_schema` checks a schema when it is stored and a payload against
it when an event arrives.
"""
