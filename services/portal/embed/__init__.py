"""The embeddable workspace UI (``GET /embed``): static assets, frame tickets, their routes."""
