"""SIGKILL `harness evaluate` at every point where it writes, rerun, get the same board.

The process kills itself at a named point (``HARNESS_KILL_AT``, see
``harness/faults.py``), exactly as ``kill -9`` would: no cleanup runs. One
cache lives through a chain of kills, as after repeated crashes: each rerun
reuses the rows finished so far, never reads a half-written file, and the
last one gives the metrics of an uninterrupted run. Two runs sharing one
cache at the same time both finish.
"""

import json

from helpers import FIXTURES, run_harness

SASREC = "sasrec[epochs=1,hidden=8]"
ROWS = ["popularity", "random", SASREC]
ARGS = ["evaluate", "--users", "60", *[a for row in ROWS for a in ("-r", row)]]


def _metrics(folder) -> dict:
    results = json.loads((folder / "results.json").read_text())
    return {r["name"]: r["metrics"] for r in results["runs"]}


def _run(out, cache, kill_at: str | None = None, rows=ARGS):
    env = {"HARNESS_CACHE": str(cache), "HARNESS_KILL_AT": kill_at}
    return run_harness(*rows, "--out", str(out), env=env)


def test_a_chain_of_kills_resumes_to_the_uninterrupted_board(tmp_path):
    reference = _run(tmp_path / "reference", tmp_path / "reference-cache")
    assert reference.returncode == 0, reference.stderr
    out, cache = tmp_path / "out", tmp_path / "cache"
    # (kill point, rows reused by the run that gets killed there)
    chain = [
        ("split-write", 0),  # half of split.json written
        ("fit:random", 0),  # popularity finished and checkpointed, random dies in fit
        ("row-checkpoint", 1),  # random's checkpoint half-written
        (f"score:{SASREC}", 1),  # random recomputed and saved; sasrec dies while scoring
        (None, 2),  # the first run to finish
        ("rename", 3),  # the old output folder removed, the new one not yet renamed
        (None, 3),
    ]
    for point, reused in chain:
        result = _run(out, cache, kill_at=point)
        if point is None:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode == -9, (point, result.stderr)
        assert result.stderr.count("reused the checkpoint of") == reused, (point, result.stderr)
        splits = list((cache / "splits").glob("*.json"))
        assert len(splits) <= 1 and all(not p.name.startswith(".") for p in splits)
        for row in (cache / "rows").glob("*"):  # a checkpoint a later run may read is whole
            assert row.name.startswith(".") or (row / "row.json").is_file()
    assert _metrics(out) == _metrics(tmp_path / "reference")


def test_two_runs_sharing_a_cache_both_finish(tmp_path):
    cache = tmp_path / "cache"
    procs = [
        run_harness(
            *("evaluate", "--users", "60", "-r", row, "--out", tmp_path / f"o{i}"),
            env={"HARNESS_CACHE": str(cache)},
            wait=False,
        )
        for i, row in enumerate(["popularity", SASREC])
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert len(list((cache / "splits").glob("*.json"))) == 1
    together = _run(tmp_path / "both", cache)
    assert "reused 2 of 3 rows" in together.stderr  # both rows' checkpoints are whole
    assert _metrics(tmp_path / "o0")["popularity"] == _metrics(tmp_path / "both")["popularity"]
    assert _metrics(tmp_path / "o1")[SASREC] == _metrics(tmp_path / "both")[SASREC]


def test_a_dataset_cache_killed_while_written_is_rebuilt(tmp_path):
    mind = FIXTURES / "mind"
    rows = ["evaluate", "--dataset", "mind", "--data-dir", str(mind), "-r", "popularity"]
    rows += ["--negatives", "5"]
    killed = _run(tmp_path / "out", tmp_path / "cache", kill_at="dataset-cache", rows=rows)
    assert killed.returncode == -9
    datasets = tmp_path / "cache" / "datasets"
    assert not [p for p in datasets.iterdir() if not p.name.startswith(".")]
    rerun = _run(tmp_path / "out", tmp_path / "cache", rows=rows)
    assert rerun.returncode == 0, rerun.stderr
    assert "removing" in rerun.stderr  # the killed build's temporary folder is cleaned up
