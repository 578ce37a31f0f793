"""SASRec building blocks: options, padding and masking, windows, negatives, cold items."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import run_cli
from tqdm import tqdm

from harness.dataset import Catalog, Dataset
from harness.errors import HarnessError
from harness.options import build_options
from harness.orchestration.experiment import RunSpec
from harness.orchestration.runner import prepare_runs
from harness.plugins import default_registry
from harness.recommender import Request, RunContext
from harness.splits import SplitConfig, build_split
from harness_baselines.sasrec import SASRecOptions
from harness_baselines.sasrec import train as train_module
from harness_baselines.sasrec.batches import NegativeSampler, batches, pad_left, windows
from harness_baselines.sasrec.model import SASRec, attention_mask
from harness_baselines.sasrec.recommender import SASRecRecommender
from harness_baselines.sasrec.runtime import cpu_threads

OWNER = "recommender 'sasrec'"


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, word",
    [
        ({"loss": "foo"}, "loss"),
        ({"hidden": "-1"}, "hidden"),
        ({"hidden": "64", "heads": "3"}, "divisible"),
        ({"dropout": "1.5"}, "dropout"),
        ({"lr": "0"}, "lr"),
        ({"max_length": "0"}, "max_length"),
        ({"device": "gpu"}, "device"),
        ({"epochs": "many"}, "epochs"),
        ({"hiden": "64"}, "hiden"),
    ],
)
def test_bad_options_are_clean_errors(raw, word):
    with pytest.raises(HarnessError, match=word):
        build_options(SASRecOptions, raw, OWNER)


def test_bad_options_fail_before_training_through_the_registry():
    with pytest.raises(HarnessError, match="loss"):
        prepare_runs([RunSpec("sasrec", {"loss": "foo"})], default_registry())


def test_defaults_and_registration():
    reg = default_registry().get("recommenders", "sasrec")
    assert reg.options is SASRecOptions
    opts = build_options(SASRecOptions, {"loss": "bce", "heads": "2"}, OWNER)
    assert (opts.loss, opts.heads, opts.hidden, opts.blocks, opts.lr) == ("bce", 2, 64, 2, 1e-3)
    assert opts.max_length >= SplitConfig().history


def test_plugin_module_does_not_import_torch():
    code = "import sys, harness_baselines.sasrec; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- padding and masking ----------------------------------------------------------------


def _model(dropout: float = 0.0) -> SASRec:
    torch.manual_seed(0)
    return SASRec(n_items=20, hidden=16, blocks=2, heads=2, dropout=dropout, max_length=12)


@pytest.mark.parametrize("training", [False, True])
def test_more_or_less_padding_gives_the_same_outputs(training):
    model = _model().train(training)  # dropout 0: train mode is deterministic too
    sequence = np.array([3, 5, 7, 2])
    outs = [model(torch.as_tensor(pad_left([sequence], n))) for n in (4, 6, 12)]
    for out in outs[1:]:
        torch.testing.assert_close(out[:, -4:], outs[0], rtol=0, atol=1e-6)
        assert torch.count_nonzero(out[:, :-4]) == 0  # padding outputs are zero


def test_padding_in_a_batch_does_not_change_a_sequence():
    model = _model().eval()
    short, long = np.array([4, 9]), np.array([1, 2, 3, 4, 5, 6, 7])
    alone = model(torch.as_tensor(pad_left([short])))[0, -1]
    batched = model(torch.as_tensor(pad_left([long, short])))[1, -1]
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-6)


def test_attention_never_sees_padding_or_the_future():
    real = torch.tensor([[False, False, True, True]])
    mask = attention_mask(real)[0, 0]
    assert not mask[2:, :2].any()  # real queries never see padding
    assert not mask[2, 3]  # nor the future
    assert mask.diagonal().all()  # every row has one key: no NaN for padding rows
    assert mask[3, 2] and mask[3, 3]


def test_output_layer_excludes_the_padding_token():
    model = _model()
    assert model.item_weights().shape == (20, 16)
    torch.testing.assert_close(model.item_weights(), model.item_emb.weight[1:])


# --- training data ------------------------------------------------------------------------


def test_windows_make_every_position_but_the_first_a_target_once():
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1, 50, size=n) for n in (1, 2, 5, 11, 12, 13, 40)]
    chunks, source = windows(sequences, max_length=5)
    assert all(2 <= len(c) <= 6 for c in chunks)
    got = sorted(
        target
        for chunk, s in zip(chunks, source)
        for target in _targets(chunk, sequences[s], int(s))
    )
    want = sorted((s, i) for s, seq in enumerate(sequences) for i in range(1, len(seq)))
    assert got == want


def _targets(chunk, sequence, s):
    for start in range(len(sequence) - len(chunk) + 1):
        if np.array_equal(sequence[start : start + len(chunk)], chunk):
            return [(s, start + i) for i in range(1, len(chunk))]
    raise AssertionError("chunk not found")


def test_batches_never_predict_from_or_to_padding():
    chunks = [np.array([1, 2, 3, 4]), np.array([5, 6])]
    rng = np.random.default_rng(0)
    sampler = NegativeSampler(chunks, n_items=8)
    for batch in batches(chunks, np.array([0, 1]), 2, rng, sampler):
        assert np.array_equal(batch.inputs == 0, batch.targets == 0)
        assert np.array_equal(batch.negatives == 0, batch.targets == 0)


def test_negatives_avoid_the_source_sequence():
    rng = np.random.default_rng(0)
    sequences = [np.arange(1, 9), np.array([2, 4])]
    sampler = NegativeSampler(sequences, n_items=10)
    negatives = sampler.sample(np.array([0, 1]), (2, 500), rng)
    assert set(negatives[0].tolist()) <= {9, 10}
    assert not set(negatives[1].tolist()) & {2, 4}
    assert negatives.min() >= 1 and negatives.max() <= 10


# --- fitting on a tiny catalog with cold items --------------------------------------------


def _tiny_dataset() -> Dataset:
    """40 items; items 30-39 never occur, so they are cold; users walk i -> i+1 (mod 30)."""
    rng = np.random.default_rng(0)
    ids = [f"i{i}" for i in range(40)]
    sequences = []
    for _ in range(80):
        start, length = int(rng.integers(30)), int(rng.integers(6, 12))
        sequences.append(((start + np.arange(length)) % 30).astype(np.int32))
    return Dataset("tiny", "movies", Catalog(ids, ids), [f"u{i}" for i in range(80)], sequences)


@pytest.fixture(scope="module")
def tiny_fit():
    split = build_split(_tiny_dataset(), SplitConfig(history=5, negatives=12))
    options = SASRecOptions(hidden=16, heads=2, epochs=3, max_length=8, batch_size=16, threads=1)
    recommender = SASRecRecommender(options)
    recommender.fit(split.train_data(), RunContext(seed=0, progress=False))
    return recommender, split


def test_cold_items_get_the_documented_score(tiny_fit):
    recommender, split = tiny_fit
    context = RunContext(progress=False)
    cold = recommender.scorer.cold_score()
    catalog = recommender.score_catalog(split.test, context)
    assert catalog.shape == (len(split.test), 40)
    assert np.all(catalog[:, 30:] == np.float32(cold))
    assert np.all(catalog[:, :30].min(axis=1) > cold)
    scores = recommender.score(split.test, context)
    candidates = np.stack([r.candidates for r in split.test])
    assert np.isfinite(scores).all()
    assert (candidates >= 30).any()
    assert np.all(scores[candidates >= 30] == cold)
    assert np.all(scores[candidates < 30] > cold)


def test_histories_with_cold_or_no_known_items_are_scored(tiny_fit):
    recommender, _ = tiny_fit
    requests = [
        Request("a", np.array([3, 35, 4], dtype=np.int32), np.array([5, 36, 7])),
        Request("b", np.array([31, 32], dtype=np.int32), np.array([5, 36, 7])),
        Request("c", np.array([3, 4], dtype=np.int32), np.array([5, 36, 7])),
    ]
    scores = recommender.score(requests, RunContext(progress=False))
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[0], scores[2], atol=1e-5)  # cold history items skipped
    assert scores[1, 1] < scores[1, 0]


def test_fit_rejects_a_window_shorter_than_the_history():
    split = build_split(_tiny_dataset(), SplitConfig(history=10, negatives=12))
    recommender = SASRecRecommender(SASRecOptions(max_length=8, epochs=1))
    with pytest.raises(HarnessError, match="max_length"):
        recommender.fit(split.train_data(), RunContext(progress=False))


def test_score_before_fit_is_a_clean_error():
    with pytest.raises(HarnessError, match="before fit"):
        SASRecRecommender().score(_tiny_requests(), RunContext(progress=False))


def _tiny_requests() -> list[Request]:
    return [Request("a", np.array([1, 2], dtype=np.int32), np.array([3, 4]))]


def test_option_device_overrides_the_run_device(tiny_fit):
    _, split = tiny_fit
    options = SASRecOptions(hidden=8, epochs=1, max_length=8, device="cpu", threads=1)
    recommender = SASRecRecommender(options)
    recommender.fit(split.train_data(), RunContext(device="cuda:7", progress=False))
    assert recommender.scorer.device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize(
    ("option", "run", "named"),
    [("cuda", "cpu", "sasrec option device"), (None, "cuda:1", "device")],
)
def test_a_missing_device_is_a_clean_error_naming_its_option(tiny_fit, option, run, named):
    _, split = tiny_fit
    options = SASRecOptions(hidden=8, epochs=1, max_length=8, device=option, threads=1)
    with pytest.raises(HarnessError, match=f"^{named} is '{run if option is None else option}'"):
        SASRecRecommender(options).fit(split.train_data(), RunContext(device=run, progress=False))


def test_progress_bar_shows_epoch_loss_and_validation_metric(tiny_fit):
    _, split = tiny_fit
    stream = io.StringIO()

    class Context(RunContext):
        def bar(self, iterable, desc, total=None, **kw):
            return tqdm(iterable, desc=desc, total=total, file=stream, ncols=200, **kw)

    options = SASRecOptions(hidden=8, epochs=2, max_length=8, threads=1)
    SASRecRecommender(options).fit(split.train_data(), Context(progress=True))
    text = stream.getvalue()
    assert "sasrec" in text and "2/2" in text and "loss=" in text and "ndcg@10=" in text


def test_chunked_cross_entropy_matches_the_plain_one(monkeypatch):
    torch.manual_seed(0)
    states = torch.randn(37, 8, requires_grad=True)
    weights = torch.randn(50, 8, requires_grad=True)
    targets = torch.randint(0, 50, (37,))
    plain = torch.nn.functional.cross_entropy(states @ weights.T, targets)
    want = torch.autograd.grad(plain, (states, weights))
    monkeypatch.setattr(train_module, "LOGIT_BUDGET", 500)  # 10 positions per chunk
    chunked = train_module.full_softmax_ce(states, weights, targets)
    got = torch.autograd.grad(chunked, (states, weights))
    torch.testing.assert_close(chunked, plain)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_cli_reports_a_bad_option_in_one_line(tmp_path):
    result = run_cli("evaluate", "-r", "sasrec[loss=foo]", "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "Error:" in result.stderr and "loss" in result.stderr
    assert "Traceback" not in result.stderr


def test_thread_setting_is_scoped():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before
