"""Dataset cards: exact figures on a hand-made dataset, and the embedded MovieLens sets."""

import numpy as np
import pytest

from harness.data.card import count_words, dataset_card, render_card
from harness.data.embedded_dataset import MovieLensOptions, load_ml_1m, load_ml_100k
from harness.dataset import Catalog, Dataset


def tiny() -> Dataset:
    catalog = Catalog(["a", "b", "c", "d"], ["one", "one two", "one two three", "x y z w"])
    sequences = [np.array(s, dtype=np.int32) for s in ([0, 1], [0, 1, 2], [2, 1, 0, 1, 2])]
    return Dataset("tiny", "products", catalog, ["s1", "s2", "s3"], sequences, kind="sessions")


def test_card_figures_on_a_tiny_dataset():
    card = dataset_card(tiny(), count_words)
    assert card["sequences"] == 3 and card["items"] == 4 and card["items_in_sequences"] == 3
    assert card["interactions"] == 10
    assert card["history_length"] == {
        "min": 1.0,
        "q1": 1.5,
        "median": 2.0,
        "q3": 3.0,
        "max": 4.0,
        "mean": pytest.approx(7 / 3),
    }
    assert card["tokens_per_item"] == {"mean": 2.5, "median": 2.5, "max": 4}
    assert card["tokenizer"] == "whitespace words"


def test_card_names_a_custom_counter():
    def characters(texts: list[str]) -> list[int]:
        return [len(t) for t in texts]

    card = dataset_card(tiny(), characters)
    assert card["tokenizer"] == "characters" and card["tokens_per_item"]["max"] == 13
    assert dataset_card(tiny(), characters, tokenizer="chars")["tokenizer"] == "chars"


@pytest.mark.parametrize(
    ("load", "users", "items", "interactions"),
    [(load_ml_100k, 943, 1682, 100_000), (load_ml_1m, 6040, 3883, 1_000_209)],
)
def test_card_of_the_embedded_movielens(load, users, items, interactions):
    card = dataset_card(load(MovieLensOptions()), count_words)
    assert (card["sequences"], card["items"], card["interactions"]) == (users, items, interactions)
    assert card["history_length"]["min"] == 19  # every MovieLens user rated at least 20 movies
    assert 5 < card["tokens_per_item"]["mean"] < 15
    text = render_card(card)
    assert f"users            {users:,}" in text
    assert "history length   min 19 / q1 " in text
    assert "one sequence per user, split leave-one-out" in text
