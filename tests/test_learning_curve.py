"""The learning curve's x axis counts distinct training examples, so a point that
repeats 240 examples over 4 epochs sits at 240, not at the 960 presentations."""

from harness.leaderboard import learning_curve_points


def row(name, zero_shot, examples=None, epochs=None, ndcg=0.3):
    costs = {} if zero_shot else {"train_examples": examples, "train_epochs": epochs}
    return {
        "name": name,
        "recommender": "truncated-llm",
        "options": {"zero_shot": zero_shot},
        "costs": costs,
        "metrics": {"ndcg@10": ndcg},
    }


def test_points_at_a_fixed_step_budget_sit_at_their_distinct_examples():
    results = {
        "runs": [
            row("zs", True, ndcg=0.2),
            row("30x4", False, 960, 4, 0.25),
            row("60x2", False, 960, 2, 0.3),
            row("120x1", False, 960, 1, 0.4),
        ]
    }
    assert learning_curve_points(results) == {
        "truncated-llm": [(0, 0.2), (240, 0.25), (480, 0.3), (960, 0.4)]
    }
