"""Row checkpoints: a rerun reads finished rows back, with the same numbers."""

import json

from harness.experiment import Experiment, RunSpec
from harness.runner import evaluate
from harness.splits import SplitConfig


def _experiment() -> Experiment:
    return Experiment(
        split=SplitConfig(users=40),
        runs=[RunSpec("popularity"), RunSpec("sasrec", {"epochs": 2, "hidden": 16})],
    )


def test_a_rerun_reuses_finished_rows_with_identical_metrics(tmp_path, caplog):
    cache = tmp_path / "cache"
    first = evaluate(_experiment(), tmp_path / "a", cache_dir=cache, progress=False)
    with caplog.at_level("INFO"):
        second = evaluate(_experiment(), tmp_path / "b", cache_dir=cache, progress=False)
    assert "reused 2 of 2 rows" in caplog.text
    assert [r["metrics"] for r in first["runs"]] == [r["metrics"] for r in second["runs"]]
    assert [r["costs"] for r in first["runs"]] == [r["costs"] for r in second["runs"]]
    scores = [
        (tmp_path / d / "scores" / "sasrec_epochs_2_hidden_16.jsonl").read_text()
        for d in ("a", "b")
    ]
    assert scores[0] == scores[1]
    caplog.clear()
    with caplog.at_level("INFO"):
        evaluate(_experiment(), tmp_path / "c", cache_dir=cache, progress=False, fresh=True)
    assert "reused" not in caplog.text


def test_a_changed_option_is_a_new_row(tmp_path, caplog):
    cache = tmp_path / "cache"
    evaluate(_experiment(), tmp_path / "a", cache_dir=cache, progress=False)
    changed = _experiment()
    changed.runs[1] = RunSpec("sasrec", {"epochs": 3, "hidden": 16})
    with caplog.at_level("INFO"):
        results = evaluate(changed, tmp_path / "b", cache_dir=cache, progress=False)
    assert "reused 1 of 2 rows" in caplog.text
    assert (
        json.loads((tmp_path / "b" / "results.json").read_text())["runs"][1]["options"]["epochs"]
        == results["runs"][1]["options"]["epochs"]
        == 3
    )
