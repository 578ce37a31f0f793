"""The embedded model: offline conversion to a plain HF folder, loading, prompts, generation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import harness.llm.devices as devices
import harness.llm.embedded_model as embedded_module
from harness.errors import HarnessError
from harness.llm import (
    EMBEDDED_MODEL,
    chat_prompt,
    check_device,
    count_tokens,
    generate,
    load_model,
    resolve_device,
)


def test_embedded_model_is_a_plain_hf_folder(embedded, session_cache):
    from transformers import AutoConfig

    assert embedded.name == EMBEDDED_MODEL
    assert embedded.path == session_cache / "models" / EMBEDDED_MODEL
    assert (embedded.path / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((embedded.path / "config.json").read_text())
    assert not AutoConfig.from_pretrained(embedded.path).to_dict().get("quantization_config")
    assert not getattr(embedded.model, "is_quantized", False)
    assert sorted(p.name for p in embedded.path.parent.iterdir()) == [EMBEDDED_MODEL]
    assert (embedded.device, embedded.dtype) == (torch.device("cpu"), torch.float32)
    assert not embedded.model.training


def test_load_model_is_memoized(embedded, session_cache):
    assert load_model(None, dtype="fp32", device="cpu", cache_dir=session_cache) is embedded
    assert load_model(EMBEDDED_MODEL, dtype=torch.float32, device="cpu") is embedded


def test_load_model_from_a_local_folder(embedded, tmp_path):
    from helpers import tiny_llama_config
    from transformers import LlamaForCausalLM

    LlamaForCausalLM(tiny_llama_config(embedded.tokenizer)).save_pretrained(tmp_path)
    embedded.tokenizer.save_pretrained(tmp_path)
    tokenizer_config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    tokenizer_config.pop("pad_token")  # a base model without a pad token
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))

    lm = load_model(str(tmp_path), dtype="bf16", device="cpu")
    assert (lm.path, lm.dtype, lm.name) == (tmp_path, torch.bfloat16, str(tmp_path))
    assert lm.model.dtype == torch.bfloat16
    assert lm.tokenizer.pad_token == lm.tokenizer.eos_token
    assert load_model(str(tmp_path / "."), dtype=torch.bfloat16, device="cpu") is lm


def test_tokenizer_special_tokens(embedded):
    tokenizer = embedded.tokenizer
    assert tokenizer.bos_token == "<|im_start|>"
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"


def test_chat_prompt(embedded):
    tokenizer = embedded.tokenizer
    default = chat_prompt(tokenizer, "Hi")
    assert default.startswith("<|im_start|>system\n")  # the template's default system prompt
    assert default.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    custom = chat_prompt(tokenizer, "Hi", system="Be brief.", add_generation_prompt=False)
    assert custom == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"

    class Plain:
        chat_template = None

    assert chat_prompt(Plain(), "Hi") == "Hi\n"
    assert chat_prompt(Plain(), "Hi", system="Sys") == "Sys\n\nHi\n"


def test_count_tokens(embedded):
    texts = ["", "hello world", chat_prompt(embedded.tokenizer, "Hi")]
    expected = [len(embedded.tokenizer(t).input_ids) for t in texts]
    assert count_tokens(embedded, texts) == count_tokens(embedded.tokenizer, texts) == expected


def test_greedy_generation_is_sensible_batch_independent_and_stops(embedded):
    prompts = [
        chat_prompt(embedded.tokenizer, "What is the capital of France? Answer in one word."),
        chat_prompt(embedded.tokenizer, "What is 2 + 2?"),
        chat_prompt(embedded.tokenizer, "Which animal says meow?"),
        "Once upon a time",
    ]
    france, two, meow, story = generate(embedded, prompts, max_new_tokens=16, progress=False)
    assert "Paris" in france
    assert "cat" in meow
    assert "4" in two
    assert count_tokens(embedded, [two])[0] < 16  # ended at <|im_end|>, not at the cap
    assert 12 <= count_tokens(embedded, [story])[0] <= 16  # ran into the cap
    # Left padding does not change what a prompt generates.
    alone = generate(embedded, prompts[::3], max_new_tokens=16, batch_size=1, progress=False)
    assert alone == [france, story]


def test_a_static_cache_generates_todays_greedy_token_ids(embedded):
    """Static KV caches with left padding have produced wrong tokens upstream: the static
    path (as CUDA runs it, widths bucketed) must give the dynamic path's greedy ids, for
    single prompts and for a left-padded batch of mixed lengths."""
    from harness.llm.generation import generate_ids
    from harness.llm.tokens import encode

    prompts = [
        chat_prompt(embedded.tokenizer, "Summarize: Toy Story, Heat, Casino, GoldenEye."),
        "Hi",
        "A longer prompt about the movies a user watched in 1995, such as Jumanji and Heat",
    ]
    ids = encode(embedded.tokenizer, prompts)
    assert len({len(row) for row in ids}) == 3
    run = dict(max_new_tokens=12, progress=False)
    singles = [generate_ids(embedded, [row], cache="dynamic", **run)[0] for row in ids]
    assert all(len(row) > 1 for row in singles)
    for cache, width in (("dynamic", 1), ("static", 1), ("static", 16)):
        batched = generate_ids(embedded, ids, cache=cache, width_multiple=width, **run)
        assert batched == singles, (cache, width)
    alone = [generate_ids(embedded, [row], cache="static", **run)[0] for row in ids]
    assert alone == singles
    with pytest.raises(ValueError, match="cache must be auto, static or dynamic"):
        generate_ids(embedded, ids, cache="paged")


def test_sampling_is_seeded_and_leaves_global_rng_alone(embedded):
    prompts = ["My favourite animal is"] * 2
    state = torch.random.get_rng_state()
    a = generate(embedded, prompts, max_new_tokens=8, do_sample=True, seed=7, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = generate(embedded, prompts, max_new_tokens=8, do_sample=True, seed=7, progress=False)
    assert a == b


def test_conversion_is_atomic(tmp_path, monkeypatch):
    """A failed conversion leaves nothing behind; a stale temp dir of a dead process is removed."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid now belongs to no process
    stale = tmp_path / "models" / f".{EMBEDDED_MODEL}.tmp-{finished.pid}-x"
    stale.mkdir(parents=True)

    def broken(gguf, out_dir):
        (out_dir / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded_module, "convert_gguf", broken)
    with pytest.raises(KeyboardInterrupt):
        embedded_module.embedded_model_path(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []

    def works(gguf, out_dir):
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(embedded_module, "convert_gguf", works)
    path = embedded_module.embedded_model_path(tmp_path)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [EMBEDDED_MODEL]
    assert (path / "config.json").read_text() == "{}"


def test_cache_dir_defaults_to_harness_cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    assert embedded_module.models_dir() == tmp_path / "models"
    assert embedded_module.models_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "models"


def test_auto_dtype_and_device(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: True)
    assert devices.resolve_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: False)
    assert devices.resolve_dtype("auto", cpu) == torch.float32
    assert devices.resolve_dtype("bf16", cpu) == torch.bfloat16
    assert devices.resolve_dtype(torch.float16, cpu) == torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        devices.resolve_dtype("float8", cpu)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.resolve_device("auto").type == expected
    assert devices.resolve_device("cpu") == cpu


def test_auto_device_is_cuda_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(torch.device("cuda:5")) == torch.device("cuda:5")  # code's choice


def test_a_device_this_machine_lacks_is_a_one_line_error_naming_the_option(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(HarnessError, match=r"^--device is 'cuda', but CUDA is not available"):
        resolve_device("cuda", option="--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert str(resolve_device("cuda")) == "cuda"  # as given: no index added
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(HarnessError, match=r"^device is 'cuda:3', but this machine has 1 CUDA"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cpu:0", "CUDA", " cpu", "", None])
def test_malformed_devices_are_errors(bad):
    message = r"^device must be auto, cpu, cuda or cuda:N, got "
    with pytest.raises(ValueError, match=message):
        check_device(bad)
    with pytest.raises(HarnessError, match=message):
        resolve_device(bad)


def test_device_check_does_not_import_torch():
    code = "import sys; from harness.llm import check_device; check_device('cuda:1')"
    subprocess.run([sys.executable, "-c", code + "; assert 'torch' not in sys.modules"], check=True)
