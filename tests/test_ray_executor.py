"""Rows as Ray tasks on a local Ray with 2 CPUs: the same board as the serial run."""

import json
import sys

import pytest
from conftest import run_harness

from harness.errors import HarnessError

ROWS = ["random", "popularity", "sasrec[epochs=1,hidden=8]", "sasrec[epochs=1,hidden=8,blocks=1]"]


def _board(tmp_path, name, *extra):
    args = ["evaluate", "--users", "40", *[a for row in ROWS for a in ("-r", row)]]
    env = {"HARNESS_CACHE": str(tmp_path / f"{name}-cache")}
    result = run_harness(*args, "--out", str(tmp_path / name), *extra, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / name / "results.json").read_text()), result.stderr


def test_ray_rows_give_the_serial_board(tmp_path):
    pytest.importorskip("ray")
    serial, _ = _board(tmp_path, "serial")
    fanned, log = _board(tmp_path, "ray", "--executor", "ray")
    assert "ray: 4 rows as tasks" in log
    assert "reused 4 of 4 rows" in log  # the driver only assembled what the tasks computed
    assert [r["metrics"] for r in fanned["runs"]] == [r["metrics"] for r in serial["runs"]]
    assert [r["full_ranking"] for r in fanned["runs"]] == [
        r["full_ranking"] for r in serial["runs"]
    ]


def test_without_ray_the_executor_names_the_extra(monkeypatch):
    from harness.ray_executor import _import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(HarnessError, match=r"llmrec-harness\[ray\]"):
        _import_ray()
