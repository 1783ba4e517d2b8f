"""config/prometheus/alerts.yml: valid for Prometheus, unit-tested with promtool (firing and
quiet, every rule), querying only metrics syncd serves, each alert with its runbook line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prometheus import ALERTS, ALERTS_TEST, PROMTOOL, ROOT, alerting_rules, require
from tests.promql import metric_names

SEVERITIES = {"critical", "warning"}


def promtool(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    require(PROMTOOL)
    return subprocess.run(
        [str(PROMTOOL), *arguments], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )


def alert_names() -> list[str]:
    return [rule["alert"] for rule in alerting_rules(ALERTS)]


def test_promtool_finds_every_rule_valid() -> None:
    checked = promtool("check", "rules", ALERTS.name, cwd=ALERTS.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in checked.stdout


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    tested = promtool("test", "rules", ALERTS_TEST.name, cwd=ALERTS_TEST.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_rule_is_unit_tested_firing_and_quiet() -> None:
    cases: list[dict[str, Any]] = [
        case
        for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    names = set(alert_names())
    assert names - firing == set(), "never seen firing in alerts_test.yml"
    assert names - quiet == set(), "never seen quiet in alerts_test.yml"
    assert (firing | quiet) - names == set(), "tested but not in alerts.yml"


def test_the_rules_query_only_metrics_syncd_serves(served_series: set[str]) -> None:
    queried = {name for rule in alerting_rules(ALERTS) for name in metric_names(rule["expr"])}
    assert queried, "no metric found in the rules"
    assert queried - served_series == set(), "queried by alerts.yml but not served by syncd"


def test_every_alert_has_a_severity_a_summary_and_its_runbook_line() -> None:
    runbook = readme_section("Alerts and dashboard")
    for rule in alerting_rules(ALERTS):
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        assert rule["annotations"]["runbook"] == f"README.md, Alerts and dashboard: {name}"
        assert f"\n- `{name}`" in runbook, f"no runbook line for {name} in README.md"


def test_the_readme_runbook_names_only_alerts_that_exist() -> None:
    runbook = readme_section("Alerts and dashboard")
    listed = {line.split("`")[1] for line in runbook.splitlines() if line.startswith("- `Syncd")}
    assert listed == set(alert_names())


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    marker = f"\n## {title}\n"
    if marker not in readme:
        pytest.fail(f"README.md has no section {title!r}")
    return readme.split(marker, 1)[1].split("\n## ", 1)[0]
