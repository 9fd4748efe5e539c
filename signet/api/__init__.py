"""The HTTP contract: request and response models, one field-error shape, and each route
declared once, so the OpenAPI documents derive from the code
(docs/architecture.md#the-http-contract).
"""
