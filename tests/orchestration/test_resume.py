"""Row checkpoints: a rerun reads finished rows back, with the same numbers."""

from harness.boards.views import evaluate_board
from harness.orchestration.experiment import Experiment, RunSpec
from harness.splits import SplitConfig

SASREC = {"epochs": 1, "hidden": 8}


def _experiment(sasrec=SASREC) -> Experiment:
    return Experiment(
        split=SplitConfig(users=40), runs=[RunSpec("popularity"), RunSpec("sasrec", sasrec)]
    )


def test_reruns_reuse_finished_rows_and_a_changed_option_is_a_new_row(tmp_path, caplog):
    cache = tmp_path / "cache"
    caplog.set_level("INFO")
    first = evaluate_board(_experiment(), tmp_path / "a", cache_dir=cache, progress=False)
    assert "reused" not in caplog.text
    second = evaluate_board(_experiment(), tmp_path / "b", cache_dir=cache, progress=False)
    assert "reused 2 of 2 rows" in caplog.text
    assert [r["metrics"] for r in first["runs"]] == [r["metrics"] for r in second["runs"]]
    assert [r["costs"] for r in first["runs"]] == [r["costs"] for r in second["runs"]]
    # a reused row says so, with the commit it was computed at, on the board too
    assert [r["from_checkpoint"] for r in first["runs"]] == [False, False]
    assert [r["from_checkpoint"] for r in second["runs"]] == [True, True]
    assert [r["computed_at"] for r in second["runs"]] == [r["computed_at"] for r in first["runs"]]
    board = (tmp_path / "b" / "leaderboard.md").read_text()
    assert "Rows read back from their row checkpoints" in board
    assert "Rows read back" not in (tmp_path / "a" / "leaderboard.md").read_text()
    files = [sorted((tmp_path / d / "scores").iterdir()) for d in ("a", "b")]
    assert [f.read_bytes() for f in files[0]] == [f.read_bytes() for f in files[1]]
    caplog.clear()
    changed = evaluate_board(
        _experiment({**SASREC, "epochs": 2}), tmp_path / "c", cache_dir=cache, progress=False
    )
    assert "reused 1 of 2 rows" in caplog.text
    assert changed["runs"][1]["options"]["epochs"] == 2
    caplog.clear()
    evaluate_board(_experiment(), tmp_path / "d", cache_dir=cache, progress=False, fresh=True)
    assert "reused" not in caplog.text


def test_throughput_knobs_stay_out_of_the_row_key():
    """batch_tokens only sizes scoring batches (numbers move within the row's tolerance), so
    a row checkpointed before it existed, or run with another value, is the same row; an
    option that changes what is computed is another row."""
    from harness.options import key_options, options_dict
    from harness.recommenders.llm import LLMOptions

    plain, sized = LLMOptions(), LLMOptions(batch_tokens=65536)
    assert key_options(plain) == key_options(sized)
    assert "batch_tokens" not in key_options(plain) and "batch_tokens" in options_dict(plain)
    assert key_options(plain) != key_options(LLMOptions(negatives=5))
