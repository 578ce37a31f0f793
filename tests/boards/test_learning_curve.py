"""The learning curve's x axis counts distinct training examples, so a point that
repeats 240 examples over 4 epochs sits at 240, not at the 960 presentations."""

from harness.boards.render import learning_curve_points


def row(name, zero_shot, examples=None, epochs=None, ndcg=0.3):
    costs = {} if zero_shot else {"train_examples": examples, "train_epochs": epochs}
    return {
        "name": name,
        "recommender": "truncated-llm",
        "options": {},
        "capabilities": {"trained": not zero_shot, "variant": None},
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


def test_rows_that_declare_no_training_mode_form_no_curve():
    results = {"runs": [dict(row("a", True), capabilities={}), row("b", False, 960, 1)]}
    assert learning_curve_points(results) == {}
