"""Shared-prefix scoring (N answer labels; yes/no is the two-label case) equals a plain
forward pass over each full prompt."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from helpers import tiny_llama_config
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from harness.llm import (
    AnswerTokenError,
    LoadedModel,
    ScoringRequest,
    ScoringStats,
    answer_token_ids,
    count_tokens,
    label_token_ids,
    score_choices,
    score_yes_no,
    yes_probability,
)


@pytest.fixture(scope="module", params=["sdpa", "eager", "harness_gqa"])
def tiny(request, embedded, tmp_path_factory) -> LoadedModel:
    """A random 2-layer Llama with the embedded tokenizer: fast wiring checks for both mask
    formats and for the folded grouped-query attention the loader switches models to."""
    from harness.llm.attention import register

    register()
    tokenizer = embedded.tokenizer
    config = tiny_llama_config(tokenizer, max_position_embeddings=4096)
    config._attn_implementation = request.param
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    path = tmp_path_factory.mktemp(f"tiny-{request.param}")
    return LoadedModel(model, tokenizer, "tiny", torch.device("cpu"), torch.float32, path)


def random_requests(
    tokenizer, seed: int, n_users: int, max_candidates: int = 6, words_max: int = 60
):
    """Word salad in the prompt layout the recommenders use; some requests share little or nothing."""
    rng = np.random.default_rng(seed)
    words = sorted(w[1:] for w in tokenizer.get_vocab() if w.startswith("Ġ") and w[1:].isalpha())

    def text(low: int, high: int) -> str:
        return " ".join(rng.choice(words, int(rng.integers(low, high))))

    requests = []
    for user in range(n_users):
        prefix = f"Instruction: {text(5, words_max)}\n[Recent Items]\n{text(0, words_max)}\n"
        if user % 4 == 3:
            prefix = ""  # nothing shared in text: the token split must still be right
        n = int(rng.integers(1, max_candidates + 1))
        continuations = tuple(f"[Candidate Item] {text(1, 12)}\nAnswer:" for _ in range(n))
        requests.append(ScoringRequest(prefix, continuations))
    return requests


def full_forward_p_yes(lm: LoadedModel, requests, model=None, yes=" yes", no=" no"):
    """The plain way: one forward pass per full prompt, full logits, softmax over yes/no."""
    model = lm.model if model is None else model
    yes_id, no_id = answer_token_ids(lm.tokenizer, yes, no)
    out = []
    with torch.no_grad():
        for request in requests:
            scores = []
            for continuation in request.continuations:
                ids = lm.tokenizer(request.prefix + continuation, return_tensors="pt").input_ids
                logits = model(input_ids=ids, logits_to_keep=1).logits[0, -1].double()
                scores.append(torch.softmax(logits[[yes_id, no_id]], dim=0)[0].item())
            out.append(np.array(scores))
    return out


def max_diff(a, b) -> float:
    assert [len(x) for x in a] == [len(y) for y in b]
    return max((np.abs(x - y).max() for x, y in zip(a, b) if len(x)), default=0.0)


def test_scores_equal_full_prompt_forward_tiny(tiny):
    requests = random_requests(tiny.tokenizer, seed=1, n_users=9)
    requests.append(ScoringRequest("no candidates here", ()))
    expected = full_forward_p_yes(tiny, requests)
    got = score_yes_no(tiny, requests, users_per_batch=4, progress=False)
    assert all(s.dtype == np.float64 for s in got)
    assert len(got[-1]) == 0
    assert max_diff(got, expected) <= 1e-5
    assert np.ptp(np.concatenate(got)) > 0.02  # the scores really vary


def test_scores_equal_full_prompt_forward_real_weights(embedded):
    requests = random_requests(
        embedded.tokenizer, seed=2, n_users=4, max_candidates=3, words_max=25
    )
    expected = full_forward_p_yes(embedded, requests)
    got = score_yes_no(embedded, requests, users_per_batch=3, progress=False)
    assert max_diff(got, expected) <= 1e-4


def test_batching_and_order_do_not_change_scores(tiny):
    requests = random_requests(tiny.tokenizer, seed=3, n_users=7)
    baseline = score_yes_no(tiny, requests, users_per_batch=1, progress=False)
    for users_per_batch, max_tail_tokens in ((3, 2048), (8, 2048), (8, 10)):
        got = score_yes_no(
            tiny,
            requests,
            users_per_batch=users_per_batch,
            max_tail_tokens=max_tail_tokens,
            progress=False,
        )
        assert max_diff(got, baseline) <= 1e-6
    for batch_tokens in (1, 120, 400, 100_000):  # one user per pass ... all in one
        stats = ScoringStats()
        got = score_yes_no(tiny, requests, batch_tokens=batch_tokens, progress=False, stats=stats)
        assert max_diff(got, baseline) <= 1e-6
        full = [r.prefix + c for r in requests for c in r.continuations]
        assert stats.prompt_tokens == count_tokens(tiny.tokenizer, full)  # tokenized once
        assert stats.tokenize_s > 0 and stats.forward_s > stats.tokenize_s
    order = np.random.default_rng(0).permutation(len(requests))
    shuffled = [
        ScoringRequest(requests[i].prefix, tuple(reversed(requests[i].continuations)))
        for i in order
    ]
    got = score_yes_no(tiny, shuffled, users_per_batch=3, progress=False)
    back = [None] * len(requests)
    for position, i in enumerate(order):
        back[i] = got[position][::-1]
    assert max_diff(back, baseline) <= 1e-6


def test_prefix_runs_once_and_no_vocabulary_logits(tiny):
    """The decoder sees each user's shared prefix once, and the full output head never runs."""
    requests = random_requests(tiny.tokenizer, seed=4, n_users=1, max_candidates=1)
    prefix = requests[0].prefix + "[Candidate Item]"
    requests = [ScoringRequest(prefix, tuple(f" item {i} text\nAnswer:" for i in range(21)))]
    n_prefix = len(tiny.tokenizer(prefix).input_ids)
    n_tails = sum(
        len(tiny.tokenizer(prefix + c).input_ids) - n_prefix for c in requests[0].continuations
    )
    seen_tokens, head_calls = [], []
    model = tiny.model
    hooks = [
        model.get_input_embeddings().register_forward_hook(
            lambda m, args, out: seen_tokens.append(args[0].numel())
        ),
        model.get_output_embeddings().register_forward_hook(
            lambda m, args, out: head_calls.append(out.shape)
        ),
    ]
    try:
        score_yes_no(tiny, requests, progress=False)
    finally:
        for hook in hooks:
            hook.remove()
    assert sum(seen_tokens) <= n_prefix + n_tails  # 21 full prompts would be ~21x the prefix
    assert head_calls == []


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_peft_model_is_scored_in_eval_mode(tiny):
    from peft import LoraConfig, get_peft_model

    base = LlamaForCausalLM(tiny.model.config)
    base.load_state_dict(tiny.model.state_dict())
    lora = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.5, target_modules=["q_proj", "v_proj"])
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # B starts at zero; make the adapter change the scores
    lora.train()
    requests = random_requests(tiny.tokenizer, seed=5, n_users=3)
    got = score_yes_no(tiny, requests, model=lora, progress=False)
    assert lora.training  # restored
    lora.eval()
    assert max_diff(got, full_forward_p_yes(tiny, requests, model=lora)) <= 1e-5
    assert max_diff(got, score_yes_no(tiny, requests, progress=False)) > 1e-3


def test_answer_strings_are_single_tokens(embedded):
    tokenizer = embedded.tokenizer
    yes_id, no_id = answer_token_ids(tokenizer, " yes", " no")
    # After "Answer:" the tokenizer emits exactly these tokens for " yes" / " no".
    for answer, token in ((" yes", yes_id), (" no", no_id)):
        context = tokenizer("Answer:").input_ids
        assert tokenizer("Answer:" + answer).input_ids == [*context, token]
    with pytest.raises(AnswerTokenError, match="not one") as error:
        answer_token_ids(tokenizer, " yes please", " no")
    assert isinstance(error.value, ValueError)
    assert "\n" not in str(error.value)
    with pytest.raises(AnswerTokenError, match="same token"):
        answer_token_ids(tokenizer, " yes", " yes")


def test_tokenizer_without_single_token_answers_is_rejected(tiny):
    chars = {c: i for i, c in enumerate(sorted(set("abcdefghijklmnopqrstuvwxyz :\n")))}
    backend = Tokenizer(models.BPE(vocab=chars, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    char_tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=" ")
    lm = LoadedModel(tiny.model, char_tokenizer, "chars", tiny.device, tiny.dtype, tiny.path)
    with pytest.raises(AnswerTokenError, match="' yes' is 4 tokens"):
        score_yes_no(lm, [ScoringRequest("a", ("b",))], progress=False)


def test_trailing_whitespace_before_spaced_answer_warns(tiny, caplog):
    with caplog.at_level(logging.WARNING, logger="harness.llm.scoring"):
        score_yes_no(tiny, [ScoringRequest("Answer", (": ",))], progress=False)
    assert "trailing whitespace" in caplog.text


LETTERS = tuple(f" {c}" for c in "ABCDEFGHIJKLMNOPQRSTU")


def full_forward_logits(lm: LoadedModel, requests, labels):
    """The plain way for N labels: one forward pass per full prompt, the labels' logits."""
    ids = list(label_token_ids(lm.tokenizer, labels))
    out = []
    with torch.no_grad():
        for request in requests:
            rows = []
            for continuation in request.continuations:
                tokens = lm.tokenizer(request.prefix + continuation, return_tensors="pt").input_ids
                rows.append(
                    lm.model(input_ids=tokens, logits_to_keep=1).logits[0, -1, ids].double()
                )
            out.append(torch.stack(rows).numpy() if rows else np.empty((0, len(ids))))
    return out


def test_choices_equal_full_prompt_forward_pointwise_and_listwise(tiny):
    """21 letter labels on many continuations (pointwise layout) and on one (listwise)."""
    pointwise = random_requests(tiny.tokenizer, seed=5, n_users=5)
    listwise = [ScoringRequest(r.prefix, ("".join(r.continuations),)) for r in pointwise]
    for requests in (pointwise, listwise):
        got = score_choices(tiny, requests, LETTERS, users_per_batch=2, progress=False)
        expected = full_forward_logits(tiny, requests, LETTERS)
        assert [g.shape for g in got] == [(len(r.continuations), 21) for r in requests]
        assert max(np.abs(g - e).max() for g, e in zip(got, expected)) <= 1e-4
        assert np.ptp(np.concatenate(got)) > 0.02


def test_yes_no_is_the_two_label_case_of_choices(tiny):
    requests = random_requests(tiny.tokenizer, seed=6, n_users=4)
    logits = score_choices(tiny, requests, (" yes", " no"), progress=False)
    pairs = zip(score_yes_no(tiny, requests, progress=False), logits)
    assert all(np.array_equal(p, yes_probability(pair)) for p, pair in pairs)


def test_a_label_of_several_tokens_is_named(tiny):
    with pytest.raises(AnswerTokenError, match="answer ' AB12' is"):
        score_choices(tiny, [ScoringRequest("a", ("b",))], (" A", " AB12"), progress=False)


def test_token_budget_batches_fit_the_budget():
    from harness.llm.scoring import _batches, _chunk, _Encoded

    rng = np.random.default_rng(0)
    todo = []
    for index in range(30):
        tails = [[1] * int(rng.integers(3, 12)) for _ in range(int(rng.integers(1, 22)))]
        todo.append(_Encoded(index, [1] * int(rng.integers(0, 300)), tails, _chunk(tails, 64)))
    todo.sort(key=lambda e: len(e.shared), reverse=True)

    def cost(batch):
        row = max(sum(len(e.tails[c]) for c in chunk) for e in batch for chunk in e.chunks)
        return len(batch) * (max(len(e.shared) for e in batch) + row)

    for budget in (50, 1000, 4000):
        batches = list(_batches(todo, users=8, tokens=budget))
        assert [e for b in batches for e in b] == todo  # in order, each user once
        assert all(len(b) == 1 or cost(b) <= budget for b in batches)
        # greedy: a batch stops only where the next user would not fit
        for b, after in zip(batches, batches[1:]):
            assert cost(b + after[:1]) > budget
    assert len(list(_batches(todo, users=8, tokens=None))) == 4  # 30 users, 8 at a time


def test_shared_prefix_leaves_every_row_its_last_token():
    from harness.llm.scoring import shared_prefix_length

    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the short row keeps its last
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix_length([[1, 2], [3, 4]]) == 0
    assert shared_prefix_length([[7]]) == 0


def test_training_rows_split_prompts_where_the_scorer_does(embedded):
    """The invariant of packed SFT: training sees the prefix and tails the scorer runs."""
    from harness.llm.packing import PromptGroup, tokenize_groups
    from harness.llm.scoring import _encode_requests

    requests = random_requests(embedded.tokenizer, seed=3, n_users=8)
    scored = _encode_requests(embedded.tokenizer, requests, max_tail_tokens=1 << 20)
    groups = [
        PromptGroup(r.prefix, r.continuations, (True,) * len(r.continuations)) for r in requests
    ]
    trained = tokenize_groups(embedded.tokenizer, groups, (1, 2))
    assert [(row["prefix"], row["tails"]) for row in trained] == [
        (e.shared, e.tails) for e in scored
    ]
