"""SIGKILL `harness evaluate` at every point where it writes, rerun, get the same board.

The process kills itself at a named point (``HARNESS_KILL_AT``, see
``harness/faults.py``), exactly as ``kill -9`` would: no cleanup runs. The
rerun of the same command must finish with the metrics of an uninterrupted
run, reuse the rows that had finished, and never read a half-written file.
Two runs sharing one cache at the same time must both finish.
"""

import json
import subprocess

import pytest
from conftest import HARNESS

ROWS = ["popularity", "random", "sasrec[epochs=1,hidden=8]"]
ARGS = ["evaluate", "--users", "60", *[a for row in ROWS for a in ("-r", row)]]


def _metrics(folder) -> dict:
    results = json.loads((folder / "results.json").read_text())
    return {r["name"]: r["metrics"] for r in results["runs"]}


def _run(out, cache, kill_at: str | None = None, env: dict | None = None):
    full_env = {**env, "HARNESS_CACHE": str(cache)}
    if kill_at:
        full_env["HARNESS_KILL_AT"] = kill_at
    return subprocess.run(
        [HARNESS, *ARGS, "--out", str(out)], capture_output=True, text=True, env=full_env
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("reference")
    result = _run(folder / "out", folder / "cache", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    return _metrics(folder / "out")


@pytest.mark.parametrize(
    ("point", "reused"),
    [
        ("split-write", 0),
        ("fit:random", 1),
        ("score:sasrec[epochs=1,hidden=8]", 2),
        ("row-checkpoint", 0),
        ("after:popularity", 1),
        ("rename", 3),
    ],
)
def test_killed_run_resumes_to_the_same_board(point, reused, reference, tmp_path):
    import os

    env = dict(os.environ)
    out, cache = tmp_path / "out", tmp_path / "cache"
    if point == "rename":  # the rename replaces an existing folder: make one first
        assert _run(out, cache, env=env).returncode == 0
    killed = _run(out, cache, kill_at=point, env=env)
    assert killed.returncode == -9, killed.stderr
    rerun = _run(out, cache, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert _metrics(out) == reference
    if reused:
        assert f"reused {reused} of 3 rows" in rerun.stderr
    else:
        assert "reused" not in rerun.stderr
    assert len(list((cache / "splits").glob("*.json"))) == 1
    for row in (cache / "rows").iterdir():  # every checkpoint a later run may read is whole
        assert row.name.startswith(".") or (row / "row.json").is_file()


def test_two_runs_sharing_a_cache_both_finish(tmp_path, reference):
    import os

    cache = tmp_path / "cache"
    env = {**os.environ, "HARNESS_CACHE": str(cache)}
    procs = [
        subprocess.Popen(
            [HARNESS, "evaluate", "--users", "60", "-r", row, "--out", str(tmp_path / f"o{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i, row in enumerate(["popularity", "sasrec[epochs=1,hidden=8]"])
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert len(list((cache / "splits").glob("*.json"))) == 1
    assert _metrics(tmp_path / "o0")["popularity"] == reference["popularity"]
    sasrec = "sasrec[epochs=1,hidden=8]"
    assert _metrics(tmp_path / "o1")[sasrec] == reference[sasrec]


def test_a_dataset_cache_killed_while_written_is_rebuilt(tmp_path):
    import os
    from pathlib import Path

    mind = Path(__file__).parent / "fixtures" / "mind"
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    args = [HARNESS, "evaluate", "--dataset", "mind", "--data-dir", str(mind), "-r", "popularity"]
    args += ["--negatives", "5", "--out", str(tmp_path / "out")]
    killed = subprocess.run(
        args, capture_output=True, text=True, env={**env, "HARNESS_KILL_AT": "dataset-cache"}
    )
    assert killed.returncode == -9
    assert not [
        p for p in (tmp_path / "cache" / "datasets").iterdir() if not p.name.startswith(".")
    ]
    rerun = subprocess.run(args, capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "removing" in rerun.stderr  # the killed build's temporary folder is cleaned up
