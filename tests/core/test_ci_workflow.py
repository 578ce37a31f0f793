"""The GitHub workflow runs the same checks as .ci/run (the tests, then the boards)."""

import re

import yaml
from helpers import ROOT


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


def test_the_main_job_writes_an_ignored_folder_and_no_committed_board():
    """README: `tox -e main` leaves the checkout clean (its board goes to runs/ml-100k/)."""
    import subprocess

    tox = (ROOT / "tox.ini").read_text()
    main = tox.split("[testenv:main]")[1].split("[testenv:")[0]
    (out,) = re.findall(r"--out \{posargs:\{tox_root\}\{/\}(\S+)\}", main)
    out = out.replace("{/}", "/")
    assert out == "runs/ml-100k"
    assert "leaderboards" not in main.split("commands =")[1]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"{out}/results.json"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, f"{out} is not ignored by git"
