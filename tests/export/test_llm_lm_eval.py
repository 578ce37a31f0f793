"""The lm-eval export ranks candidates exactly as our own scoring does."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.export import lm_eval_task_utils as task_utils
from harness.export.lm_eval import write_lm_eval_task
from harness.llm import ScoringRequest, score_yes_no
from harness.metrics import positive_ranks, ranking_metrics


def small_requests() -> list[tuple[str, ScoringRequest, int]]:
    items = [
        "title: The Matrix; genre: sci-fi",
        "title: Toy Story; genre: animation",
        "title: Heat; genre: crime",
        "title: Alien; genre: horror, sci-fi",
        "title: Babe; genre: family",
    ]
    out = []
    for user, (history, positive) in enumerate([(items[:2], 3), (items[2:4], 0), (items[3:], 1)]):
        prefix = (
            "Decide if the user will like the candidate movie.\n[Recent Items]\n"
            + "\n".join(history)
            + "\n"
        )
        continuations = tuple(f"[Candidate Item]\n{item}\nAnswer:" for item in items)
        out.append((f"user-{user}", ScoringRequest(prefix, continuations), positive))
    return out


def test_lm_eval_agrees_with_score_yes_no(embedded, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    requests = small_requests()
    folder = write_lm_eval_task(requests, tmp_path / "task", "harness_rec_test")
    assert sorted(p.name for p in folder.iterdir()) == [
        "harness_rec_test.jsonl",
        "harness_rec_test.yaml",
        "utils.py",
    ]
    lm = HFLM(pretrained=str(embedded.path), dtype="float32", device="cpu", batch_size=16)
    results = simple_evaluate(
        model=lm,
        tasks=["harness_rec_test"],
        task_manager=TaskManager(include_path=str(folder), include_defaults=False),
        bootstrap_iters=0,
        log_samples=True,
    )

    ours = score_yes_no(embedded, [r for _, r, _ in requests], progress=False)
    # Per candidate: P(yes) from lm-eval's two log-likelihoods equals ours.
    theirs = {}
    for sample in results["samples"]["harness_rec_test"]:
        (ll_no, _), (ll_yes, _) = [resp[0] for resp in sample["resps"]]
        doc = sample["doc"]
        theirs[doc["request_id"], doc["candidate"]] = task_utils.p_yes(float(ll_yes), float(ll_no))
    for request_id, request, _ in requests:
        index = int(request_id.split("-")[1])
        lm_eval_scores = [theirs[request_id, c] for c in range(len(request.continuations))]
        np.testing.assert_allclose(lm_eval_scores, ours[index], atol=1e-4)

    # Grouped ranking metrics: lm-eval's aggregation equals harness.metrics on our scores.
    scores = np.stack(ours)
    positives = np.array([p for _, _, p in requests])
    expected = {k: v.mean() for k, v in ranking_metrics(positive_ranks(scores, positives)).items()}
    measured = results["results"]["harness_rec_test"]
    assert set(task_utils.METRICS) == set(expected)
    for metric, value in expected.items():
        assert measured[f"{metric},none"] == pytest.approx(value, abs=1e-9), metric


def test_ties_rank_the_positive_last():
    items = [("r", 0.5, False), ("r", 0.5, True), ("r", 0.5, False), ("r", 0.5, False)]
    assert task_utils.recall_at_3(items) == 0.0
    assert task_utils.mrr_at_5(items) == 0.25
    best = [("q", 0.9, True), ("q", 0.1, False)]
    assert task_utils.ndcg_at_3(items + best) == pytest.approx(0.5)


def test_export_layout_and_validation(tmp_path):
    requests = small_requests()
    folder = write_lm_eval_task(requests, tmp_path, "t1", yes="Yes", no="No")
    yaml_text = (folder / "t1.yaml").read_text()
    assert 'doc_to_choice: ["No", "Yes"]' in yaml_text
    assert 'target_delimiter: ""' in yaml_text
    docs = [json.loads(line) for line in (folder / "t1.jsonl").read_text().splitlines()]
    assert len(docs) == sum(len(r.continuations) for _, r, _ in requests)
    assert sum(d["label"] for d in docs) == len(requests)
    assert docs[0]["prompt"] == requests[0][1].prefix + requests[0][1].continuations[0]
    with pytest.raises(ValueError, match="positive index"):
        write_lm_eval_task([("a", ScoringRequest("p", ("x",)), 1)], tmp_path, "t2")
    with pytest.raises(ValueError, match="duplicate"):
        write_lm_eval_task([requests[0], requests[0]], tmp_path, "t3")
    with pytest.raises(ValueError, match="leading whitespace"):
        write_lm_eval_task(requests, tmp_path, "t4", yes=" yes", no="no")
