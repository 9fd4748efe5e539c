"""The portal: operator API, workspace API and (later) the embed and delivery log.

It never writes configuration itself: every change is a workspace command on Kafka,
applied by the router, and answered once the portal's own config view shows it.
"""
