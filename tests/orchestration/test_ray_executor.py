"""Rows (and seeds) as Ray tasks on a local Ray with 2 CPUs: the same boards as the serial run."""

import json
import sys

import pytest
from helpers import run_harness

from harness.errors import HarnessError

ROWS = ["random", "popularity", "sasrec[epochs=1,hidden=8]", "sasrec[epochs=1,hidden=8,blocks=1]"]


def _boards(tmp_path, name, *extra):
    args = ["evaluate", "--users", "40", "--seeds", "0,1"]
    args += [a for row in ROWS for a in ("-r", row)]
    env = {"HARNESS_CACHE": str(tmp_path / f"{name}-cache")}
    result = run_harness(*args, "--out", str(tmp_path / name), *extra, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    boards = [
        json.loads((tmp_path / name / f"seed-{s}" / "results.json").read_text()) for s in (0, 1)
    ]
    return boards, result.stderr


def test_ray_rows_and_seeds_give_the_serial_boards(tmp_path):
    pytest.importorskip("ray")
    serial, _ = _boards(tmp_path, "serial")
    fanned, log = _boards(tmp_path, "ray", "--executor", "ray")
    assert "ray: 8 rows as tasks" in log  # 4 rows x 2 seeds, all at once
    assert log.count("reused 4 of 4 rows") == 2  # the driver only assembled what tasks computed
    for one, other in zip(serial, fanned):
        assert [r["metrics"] for r in other["runs"]] == [r["metrics"] for r in one["runs"]]
        assert [r["full_ranking"] for r in other["runs"]] == [
            r["full_ranking"] for r in one["runs"]
        ]
    assert serial[0]["runs"][0]["metrics"] != serial[1]["runs"][0]["metrics"]  # seeds differ
    assert (tmp_path / "ray" / "seeds.md").read_text() == (
        tmp_path / "serial" / "seeds.md"
    ).read_text()


def test_without_ray_the_executor_names_the_extra(monkeypatch):
    from harness.orchestration.ray_executor import _import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(HarnessError, match=r"llmrec-harness\[ray\]"):
        _import_ray()
