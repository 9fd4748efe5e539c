"""Pictures of the committed dashboards drawn from real data: ``python -m
deploy.grafana.snapshot`` runs a local stack under load with Prometheus scraping it, asks
Prometheus each panel's queries and draws the answers in the dashboard's grid
(docs/operations.md, section 4). No Grafana is involved, and the pictures say so."""
