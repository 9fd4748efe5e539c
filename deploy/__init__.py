"""Deployment artefacts: Grafana dashboards as code, Prometheus rules, the Helm chart."""
