"""The alerting rules load (`promtool check rules`), behave as their unit tests say
(`promtool test rules`), and the local scrape config is valid (`promtool check config`)."""

from __future__ import annotations

import subprocess

import yaml

from tests.deploy.chart import ROOT, RULES_FILE
from tests.deploy.prometheus_server import require

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def _promtool(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own arguments
        [require("promtool"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_rules_load() -> None:
    output = _promtool("check", "rules", RULES_FILE.name)
    assert "SUCCESS" in output


def test_rules_unit_tests_pass() -> None:
    output = _promtool("test", "rules", "signet-rules.test.yml")
    assert "SUCCESS" in output


def test_every_alert_has_a_unit_test_and_a_runbook_entry() -> None:
    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS_DIR / "signet-rules.test.yml").read_text("utf-8"))
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a case where it fires, not only where it stays quiet
    }
    assert alerts == tested, f"alerts without a firing test: {sorted(alerts - tested)}"
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = sorted(a for a in alerts if a not in operations)
    assert not missing, f"docs/operations.md does not explain {missing}"
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_local_scrape_config_is_valid() -> None:
    output = _promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in output
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"signet-{s}" for s in ("ingest", "portal", "router", "dispatcher", "alerter")}
