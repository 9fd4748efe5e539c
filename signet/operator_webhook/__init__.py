"""Operational webhooks: Signet telling the operator's own backend about its events.

- ``events.py``: the event types, the body, and the ``Delivery`` that carries one (its ids
  derived from the cause, so whoever produces it again produces the same delivery);
- ``view.py``: the operator's webhook as configured, followed from its compacted topic.

Who produces what: the router announces the destination changes it applies
(``services/router/announce.py``), the dispatcher the deliveries that give up and the
destinations that deliver again (``services/dispatcher/operator_hook.py``), the portal
stores the webhook (``services/portal/operator_webhook_api.py``). The dispatcher sends
them like every delivery, to the operator's URL. docs/operations.md, "Operational
webhooks".
"""
