"""SASRec on LLM text embeddings (``item_text=llm``): an item's vector is its ID embedding
plus a trained projection of its frozen text embedding; with ``id_embeddings=false`` the text
part alone, so a cold item still has a vector. Tiny random LLM, real ml-100k texts."""

import numpy as np
import pytest
import torch

from harness import RunContext
from harness.errors import HarnessError
from harness.options import build_options
from harness.splits import SplitConfig, build_split
from harness_baselines.sasrec import SASRecOptions
from harness_baselines.sasrec.model import SASRec
from harness_baselines.sasrec.recommender import SASRecRecommender

SMALL = {"hidden": 16, "epochs": 2, "batch_size": 64}


@pytest.fixture(scope="module")
def split(ml100k):
    return build_split(ml100k, SplitConfig(seed=0, users=40, history=10))


def test_plain_sasrec_initialises_as_before_text_or_not():
    """The projection is registered last, so adding text leaves the other weights' init as is."""
    text = torch.randn(30, 5)
    torch.manual_seed(0)
    plain = SASRec(30, 8, 1, 1, 0.0, 12)
    torch.manual_seed(0)
    texty = SASRec(30, 8, 1, 1, 0.0, 12, text=text)
    for name, weight in plain.state_dict().items():
        assert torch.equal(weight, texty.state_dict()[name]), name


def test_item_vectors_are_id_plus_projected_text():
    text = torch.randn(30, 5)
    model = SASRec(30, 8, 1, 1, 0.0, 12, text=text)
    tokens = torch.tensor([[0, 3, 7]])
    expected = model.item_emb(tokens) + model.text_proj(text[tokens - 1]) * (tokens != 0)[..., None]
    assert torch.allclose(model.embed_items(tokens), expected)
    assert torch.allclose(model.item_weights()[6], model.embed_items(torch.tensor([7]))[0])
    text_only = SASRec(30, 8, 1, 1, 0.0, 12, text=text, id_embeddings=False)
    assert not text_only.item_emb.weight.requires_grad
    assert torch.allclose(text_only.item_weights(), text_only.text_proj(text))


def test_text_only_gives_a_cold_item_its_own_score(split, tiny_model_dir, tmp_path):
    context = RunContext(seed=0, cache_dir=tmp_path, progress=False)
    options = SASRecOptions(
        **SMALL, item_text="llm", id_embeddings=False, text_model=str(tiny_model_dir)
    )
    rec = SASRecRecommender(options)
    rec.fit(split.train_data(), context)
    assert rec.scorer.known.all()
    assert context.costs["texts_embedded"] > 0
    requests = [r.unlabeled() for r in split.test]
    scores = rec.score(requests, context)
    full = rec.score_catalog(requests, context)
    np.testing.assert_allclose(full[0][requests[0].candidates], scores[0], rtol=1e-4, atol=1e-4)
    assert len(np.unique(np.round(full[0], 5))) > len(full[0]) // 2  # no shared cold score
    again = RunContext(seed=0, cache_dir=tmp_path, progress=False)
    SASRecRecommender(options).fit(split.train_data(), again)
    assert again.costs["texts_embedded"] == 0  # the catalog is embedded once


def test_id_plus_text_trains_and_differs_from_plain(split, tiny_model_dir, tmp_path):
    context = RunContext(seed=0, cache_dir=tmp_path, progress=False)
    requests = [r.unlabeled() for r in split.test]
    plain = SASRecRecommender(SASRecOptions(**SMALL))
    plain.fit(split.train_data(), context)
    texty = SASRecRecommender(
        SASRecOptions(**SMALL, item_text="llm", text_model=str(tiny_model_dir))
    )
    texty.fit(split.train_data(), context)
    assert not np.allclose(plain.score(requests, context), texty.score(requests, context))


def test_bad_text_options_are_clean_errors():
    with pytest.raises(HarnessError, match="id_embeddings=false needs item_text=llm"):
        build_options(SASRecOptions, {"id_embeddings": "false"}, "recommender 'sasrec'")
    with pytest.raises(HarnessError, match="item_text"):
        build_options(SASRecOptions, {"item_text": "bert"}, "recommender 'sasrec'")
