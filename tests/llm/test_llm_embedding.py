"""Text embeddings from a causal LM: batching does not change a vector, the content cache
returns identical vectors and a rerun embeds nothing (tiny random model, real tokenizer)."""

import numpy as np
import pytest
import torch

from harness.llm import TextEmbedder, embed_texts, load_model

TEXTS = [
    "movie_title: Toy Story; release_year: 1995; class: Animation Children's Comedy",
    "movie_title: Heat; release_year: 1995; class: Action Crime Thriller",
    "a",
    "movie_title: Star Wars; release_year: 1977; class: Action Adventure Romance Sci-Fi War",
    "news: Local team wins the cup after extra time",
    "b c d",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, session_cache):
    return load_model(str(tiny_model_dir), dtype="float32", device="cpu", cache_dir=session_cache)


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_a_vector_does_not_depend_on_its_batch(tiny, tmp_path, pooling):
    one = embed_texts(tiny, TEXTS, pooling, cache_dir=tmp_path / "a", batch_size=1)
    four = embed_texts(tiny, TEXTS, pooling, cache_dir=tmp_path / "b", batch_size=4)
    assert one.shape == (len(TEXTS), tiny.model.config.hidden_size) and one.dtype == np.float32
    np.testing.assert_allclose(one, four, atol=1e-5)


def test_pooling_reads_the_last_hidden_layer(tiny, tmp_path):
    ids = tiny.tokenizer(TEXTS[0])["input_ids"]
    with torch.no_grad():
        hidden = tiny.model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0]
    mean, last = (embed_texts(tiny, TEXTS[:1], p, cache_dir=tmp_path)[0] for p in ("mean", "last"))
    np.testing.assert_allclose(mean, hidden.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(last, hidden[-1].numpy(), atol=1e-5)


def test_the_cache_returns_identical_vectors_and_a_rerun_embeds_nothing(tiny, tmp_path):
    first = TextEmbedder(tiny, "mean", tmp_path)
    vectors = first(TEXTS + TEXTS[:2])  # repeated texts are embedded once
    assert first.embedded == len(TEXTS) and first.requested == len(TEXTS) + 2
    first.close()
    again = TextEmbedder(tiny, "mean", tmp_path)
    assert np.array_equal(again(TEXTS + TEXTS[:2]), vectors)
    assert again.embedded == 0
    # another pooling is another key
    other = TextEmbedder(tiny, "last", tmp_path)
    other(TEXTS[:1])
    assert other.embedded == 1


def test_bad_input_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(ValueError, match="pooling must be 'mean' or 'last'"):
        TextEmbedder(tiny, "max", tmp_path)
    with pytest.raises(ValueError, match="cannot embed an empty text"):
        embed_texts(tiny, [""], cache_dir=tmp_path)
