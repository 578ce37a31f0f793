"""The GitHub workflow runs the same checks as .ci/run (the tests, then the boards)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _tox_commands(lines) -> list[str]:
    """The tox runs, without the install-only ones (``--notest``) that prepare a browser."""
    return [
        line.strip() for line in lines if re.match(r"\s*tox -e ", line) and "--notest" not in line
    ]


def test_the_workflow_runs_what_ci_runs():
    ci = _tox_commands((ROOT / ".ci" / "run").read_text().splitlines())
    assert ci == ["tox -e tests", "tox -e leaderboards", "tox -e site"]
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "leaderboards.yml").read_text())
    on_push = workflow["jobs"]["tests-and-boards"]
    assert _tox_commands(step.get("run", "") for step in on_push["steps"]) == ci
    scheduled = workflow["jobs"]["slow-boards"]
    assert _tox_commands(step.get("run", "") for step in scheduled["steps"]) == [
        "tox -e leaderboards-slow"
    ]
    assert workflow[True]["schedule"]  # YAML 1.1 reads the key `on` as True


def test_every_board_the_ci_verifies_exists_and_every_board_is_verified():
    tox = (ROOT / "tox.ini").read_text()
    section = tox.split("[testenv:leaderboards]")[1].split("[testenv:")[0]
    verified = set(re.findall(r"leaderboards\{/\}([\w.-]+)", section.split("regenerate")[0]))
    boards = {p.parent.name for p in (ROOT / "leaderboards").glob("*/results.json")}
    assert verified == boards
    site = tox.split("[testenv:site]")[1].split("[testenv:")[0]
    verify, build = site.split("harness leaderboard site")
    assert set(re.findall(r"leaderboards\{/\}([\w.-]+)", verify)) == boards
    assert set(re.findall(r"leaderboards\{/\}([\w.-]+)", build)) == boards
