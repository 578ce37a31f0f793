"""Reranking for full ranking: a row reorders a retriever's top K of the catalog. Real rows
(popularity as retriever, text-knn as ranker) on real ml-100k users."""

import json
import shutil

import numpy as np
import pytest
from helpers import run_cli

from harness.boards.views import evaluate_board
from harness.errors import HarnessError
from harness.orchestration.experiment import Experiment, RunSpec
from harness.orchestration.runner import prepare_runs, reorder_top, top_k_excluding
from harness.plugins import default_registry
from harness.splits import SplitConfig


def test_top_k_skips_earlier_items_and_breaks_ties_by_index():
    scores = np.array([[5.0, 9.0, 9.0, 1.0, 7.0]])
    assert top_k_excluding(scores, [np.array([2])], 3).tolist() == [[1, 4, 0]]
    assert top_k_excluding(scores, [np.array([], dtype=int)], 2).tolist() == [[1, 2]]


def test_the_top_k_is_lifted_in_the_rankers_order():
    scores = np.array([[5.0, 9.0, 8.0, 1.0, 7.0]])
    top = np.array([[1, 2, 4]])
    out = reorder_top(scores, top, np.array([[0.1, 0.9, 0.1]]))
    ranked = np.argsort(-out[0], kind="stable").tolist()
    assert ranked[:3] == [2, 1, 4]  # ranker first; its tie (items 1, 4) keeps retriever order
    assert ranked[3:] == [0, 3] and out[0, 0] == 5.0  # the rest as the retriever had it


def test_a_reranked_row_keeps_its_retrievers_recall_and_reorders_the_top(tmp_path):
    experiment = Experiment(
        split=SplitConfig(users=60),
        runs=[
            RunSpec("popularity"),
            RunSpec("text-knn"),
            RunSpec("text-knn", {"rerank": "popularity", "rerank_k": "20"}),
        ],
    )
    results = evaluate_board(
        experiment, tmp_path / "board", cache_dir=tmp_path / "c", progress=False
    )
    popularity, plain, reranked = results["runs"]
    assert reranked["name"] == "text-knn [reranks popularity top 20]"
    assert reranked["rerank"]["k"] == 20 and reranked["rerank"]["retriever"] == "popularity"
    # the same 20 items, reordered: recall@20 is the retriever's, and that is the ceiling
    assert reranked["full_ranking"]["recall@20"] == popularity["full_ranking"]["recall@20"]
    ceiling = reranked["rerank"]["retriever_recall_at_k"]
    assert ceiling == pytest.approx(popularity["full_ranking"]["recall@20"])
    assert reranked["full_ranking"]["ndcg@10"] != popularity["full_ranking"]["ndcg@10"]
    # on the sampled candidates the row is the plain row
    assert reranked["metrics"] == plain["metrics"]
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "reorders the top 20 of `popularity`" in board
    # the reranked row is read against its retriever by a paired test on the full catalog
    full = results["full_paired_tests"]
    assert full["metric"] == "ndcg@10"
    pairs = {frozenset((p["a"], p["b"])) for p in full["pairs"]}
    assert frozenset(("text-knn [reranks popularity top 20]", "popularity")) in pairs
    assert len(full["pairs"]) == 3  # all three rows rank the whole catalog
    # its sampled-candidate numbers repeat the plain row's: not a row of those families
    name = "text-knn [reranks popularity top 20]"
    sampled = {frozenset((p["a"], p["b"])) for p in results["paired_tests"]["pairs"]}
    assert sampled == {frozenset(("text-knn", "popularity"))}
    assert name not in results["chance_tests"]["ndcg@10"]["rows"]
    quality = board.split("### Quality")[1].split("###")[0]
    cost = board.split("### Cost")[1].split("###")[0]
    assert name not in quality.split("\n\n")[1] and name in cost
    assert "### Paired tests on full-catalog NDCG@10 (3 pairs" in board


def test_verify_recomputes_both_families_of_paired_tests(tmp_path):
    experiment = Experiment(
        split=SplitConfig(users=40),
        runs=[RunSpec("popularity"), RunSpec("text-knn"), RunSpec("random")],
    )
    evaluate_board(experiment, tmp_path / "board", cache_dir=tmp_path / "c", progress=False)
    code, out, err = run_cli("leaderboard", "verify", str(tmp_path / "board"))
    assert code == 0, err
    for key, pairs in (("full_paired_tests", 1), ("paired_tests", 3)):
        changed = tmp_path / key
        shutil.copytree(tmp_path / "board", changed)
        results = json.loads((changed / "results.json").read_text())
        assert len(results[key]["pairs"]) == pairs
        results[key]["pairs"][0]["holm_p"] = 0.0123
        (changed / "results.json").write_text(json.dumps(results))
        code, _, err = run_cli("leaderboard", "verify", str(changed))
        assert code == 1
        assert f"{key}: " in err and "holm_p recorded 0.0123, recomputed" in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("text-knn[rerank=nope]", "rerank='nope': unknown recommender 'nope'"),
        ("text-knn[rerank=random]", "'random' cannot score the whole catalog"),
        ("text-knn[rerank=popularity,rerank_k=0]", "rerank_k must be at least 1"),
        ("text-knn[rerank='sasrec[lossy=1]']", "unknown option 'lossy'"),
    ],
)
def test_bad_rerank_options_fail_before_any_row(spec, message):
    with pytest.raises(HarnessError, match=message.replace("[", r"\[")):
        prepare_runs([RunSpec.from_spec(spec)], default_registry())


def test_k_above_the_catalog_fails_before_the_first_row(tmp_path):
    out = tmp_path / "o"
    rows = ["-r", "popularity", "-r", "text-knn[rerank=popularity,rerank_k=5000]"]
    result = run_cli("evaluate", *rows, "--out", out)
    assert result.returncode == 2
    assert "rerank_k=5000 is above the catalog's 1682 items" in result.stderr
    assert not out.exists()
