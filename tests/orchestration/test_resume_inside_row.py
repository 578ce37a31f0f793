"""A fine-tuned LLM row killed mid-training or mid-scoring resumes where it was.

The row trains two epochs with a Trainer checkpoint every 4 steps, in the
row's work folder. It is killed (SIGKILL, no cleanup) right after its first
epoch's checkpoint and before that epoch's validation, then inside the second
epoch, then after its first scored batch. Each rerun goes on from what the
killed run left, and the last one gives exactly the uninterrupted run's
metrics, training log and validation record.
"""

import json

import pytest
from helpers import run_harness


@pytest.fixture(scope="module")
def row(tiny_model_dir) -> str:
    return (
        f"truncated-llm[model={tiny_model_dir},train_sequences=4,examples_per_user=2,negatives=1,"
        "batch_size=1,epochs=2,valid_requests=4,users_per_batch=4,lr=1e-3]"
    )


def _run(out, cache, row, kill_at=None):
    env = {"HARNESS_CACHE": str(cache), "HARNESS_CHECKPOINT_STEPS": "4", "HARNESS_KILL_AT": kill_at}
    return run_harness("evaluate", "--users", "12", "-r", row, "--out", out, env=env)


def _row(out) -> dict:
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    return run


def test_a_row_killed_in_training_and_scoring_resumes_to_the_same_numbers(tmp_path, row):
    reference = _run(tmp_path / "reference", tmp_path / "reference-cache", row)
    assert reference.returncode == 0, reference.stderr
    expected = _row(tmp_path / "reference")
    steps_per_epoch = int(expected["costs"]["train_steps"]) // 2
    assert steps_per_epoch % 4 == 0, "the first kill needs a checkpoint at the epoch's end"

    out, cache = tmp_path / "out", tmp_path / "cache"
    chain = [
        ("validate:1", None),  # epoch 1's last checkpoint saved, its validation not run
        (f"train-step:{steps_per_epoch + 6}", f"checkpoint-{steps_per_epoch}"),
        ("score-batch:1", f"checkpoint-{steps_per_epoch + 4}"),  # two batches stored
    ]
    for point, resumed_from in chain:
        killed = _run(out, cache, row, kill_at=point)
        assert killed.returncode == -9, (point, killed.stderr)
        if resumed_from:
            assert "resuming LoRA training from" in killed.stderr, killed.stderr
            assert resumed_from in killed.stderr, killed.stderr
    finished = _run(out, cache, row)
    assert finished.returncode == 0, finished.stderr
    assert "resumed scoring: 2 of 3 batches read back" in finished.stderr
    assert "LoRA training already finished" in finished.stderr  # not one step retrained

    got = _row(out)
    assert got["metrics"] == expected["metrics"]
    assert got["training"]["log"] == expected["training"]["log"]
    untimed = [  # how long a validation took differs between runs; what it found may not
        [{k: v for k, v in e.items() if k != "validation_s"} for e in row["training"]["validation"]]
        for row in (got, expected)
    ]
    assert untimed[0] == untimed[1] and len(untimed[0]) == 2
    # where the row's time went (the resumed run's own phases: scoring was read back)
    costs = expected["costs"]
    for phase in ("train", "validation", "tokenize", "forward"):
        assert costs[f"phase_{phase}_s"] > 0, phase
    validated = sum(e["validation_s"] for e in expected["training"]["validation"])
    assert costs["phase_validation_s"] == pytest.approx(validated)
    assert not list((cache / "row-work").iterdir())  # the work folder goes with the checkpoint
