"""How close the LLM paths come to the hardware's limits: scoring, generation, LoRA SFT.

One process, one device, each phase for today's path ("before") and the new one
("after"), on the embedded model and on a 7B-class Llama built from its config
with random weights (no download; the half of the story that is not
launch-bound). Every measurement is one JSON line: throughput, the share of
the device's peak (MFU against its bf16 FLOP/s, HBM share against its memory
bandwidth), and on CUDA the mean of ``nvidia-smi`` utilization sampled while
the phase ran.

    python benchmarks/gpu_limits.py --out benchmarks/gpu-runs/DATE-DEVICE/limits.jsonl

At most about 3 minutes on one H100/H200. ``--tiny`` runs every phase at toy
size on a random 2-layer model (the test suite does this on the CPU so the
script cannot rot); what needs CUDA (peak tables, ``nvidia-smi``, the 7B
model) is skipped there and its fields are null.

What "before" and "after" are:
- scoring: 8 users per forward, SDPA with K/V repeated for the grouped heads;
  after: batches sized by tokens, grouped heads folded (no K/V copies);
- generation: 64 prompts per ``generate`` call with a dynamic KV cache; after:
  the whole batch the caller asks for, a static cache (transformers compiles
  the decoding step on CUDA), widths bucketed to 64 tokens;
- SFT: the loss read back every step, the mask built in the collator on the
  CPU, no loader workers; after: a log every 10 steps, the mask built on the
  device, 2 loader workers (both with folded attention: SFT loads its own copy).
Generation runs each path twice and reports the second call (``first_call_s``
holds the first, which pays for compiling); "before" generates for fewer prompts
(it is the slow one), the rates are per second either way.
FLOPs are estimated as 2 x (weights a token passes through) per token forward
and 4x for a LoRA step (forward, and backward through frozen weights),
attention's own FLOPs left out; they are estimates and say so in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

# dense bf16 tensor-core FLOP/s and HBM bytes/s by device name (vendor datasheets, SXM parts)
PEAKS = {
    "H200": (989e12, 4.8e12),
    "H100": (989e12, 3.35e12),
    "A100": (312e12, 2.0e12),
    "L40S": (362e12, 0.864e12),
}


def device_peaks(device: torch.device) -> tuple[float | None, float | None, str]:
    """(bf16 FLOP/s, HBM bytes/s, name) of a CUDA device; Nones elsewhere."""
    if device.type != "cuda":
        return None, None, platform.processor() or "cpu"
    name = torch.cuda.get_device_name(device)
    for key, (flops, bandwidth) in PEAKS.items():
        if key in name:
            return flops, bandwidth, name
    return None, None, name


class Utilization:
    """``nvidia-smi`` GPU and memory utilization sampled every 200 ms while a phase runs."""

    def __init__(self, device: torch.device):
        self.enabled = device.type == "cuda" and shutil.which("nvidia-smi") is not None
        self.index = device.index or 0
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        query = [
            "nvidia-smi",
            f"--id={self.index}",
            "--query-gpu=utilization.gpu,utilization.memory",
            "--format=csv,noheader,nounits",
        ]
        while not self._stop.is_set():
            try:
                line = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                gpu, memory = (float(x) for x in line.strip().split(","))
                self.samples.append((gpu, memory))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self._stop.wait(0.2)

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self.samples, self._stop = [], threading.Event()
        thread = threading.Thread(target=self._run, daemon=True) if self.enabled else None
        if thread:
            thread.start()
        try:
            yield
        finally:
            self._stop.set()
            if thread:
                thread.join()

    def means(self) -> dict[str, float | None]:
        if not self.samples:
            return {"gpu_util_pct": None, "mem_util_pct": None}
        gpu, memory = np.mean(np.array(self.samples), axis=0)
        return {"gpu_util_pct": float(gpu), "mem_util_pct": float(memory)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, result) of ``work``."""
    process = psutil.Process()
    sync(device)
    cpu0, wall0 = process.cpu_times(), time.perf_counter()
    result = work()
    sync(device)
    wall, cpu1 = time.perf_counter() - wall0, process.cpu_times()
    return wall, (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), result


def weights(model: torch.nn.Module) -> tuple[int, int]:
    """(parameters a token passes through in the decoder, output-head parameters)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = base.get_output_embeddings().weight.numel()
    embed = base.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in base.parameters())
    tied = base.get_output_embeddings().weight is base.get_input_embeddings().weight
    return total - embed - (0 if tied else head), head


def words(tokenizer) -> list[str]:
    vocab = tokenizer.get_vocab()
    return sorted(w[1:] for w in vocab if w.startswith("Ġ") and w[1:].isalpha() and len(w) > 3)


def scoring_requests(tokenizer, users: int, prefix_words: int, seed: int = 0):
    """Users in the recommenders' prompt layout: a long prefix, 21 short candidate tails."""
    from harness.llm import ScoringRequest

    rng = np.random.default_rng(seed)
    pool = words(tokenizer)

    def text(n: int) -> str:
        return " ".join(rng.choice(pool, n))

    return [
        ScoringRequest(
            f"Instruction: {text(prefix_words)}\n",
            tuple(f"[Candidate Item] {text(8)}\nAnswer:" for _ in range(21)),
        )
        for _ in range(users)
    ]


def measure_scoring(lm, size: dict, peaks, util: Utilization, label: str) -> list[dict]:
    from harness.llm import ScoringStats, score_yes_no
    from harness.llm.attention import NAME, register

    requests = scoring_requests(lm.tokenizer, size["users"], size["prefix_words"])
    decoder, _ = weights(lm.model)
    out = []
    register()
    for path, attention, kwargs in (
        ("before", "sdpa", {"users_per_batch": 8}),
        ("after", NAME, {"batch_tokens": size["batch_tokens"]}),
    ):
        lm.model.set_attn_implementation(attention)
        score_yes_no(lm, requests[:2], progress=False, **kwargs)  # warm-up, not timed
        stats = ScoringStats()
        with util.sampling():
            wall, cpu, _ = timed(
                lm.device,
                lambda: score_yes_no(lm, requests, progress=False, stats=stats, **kwargs),  # noqa: B023
            )
        # tokens through the decoder: each user's shared prefix once, then every tail
        prefix = [len(s) for s in _shared_prefixes(lm, requests)]
        tails = sum(stats.prompt_tokens) - sum(p * 21 for p in prefix)
        tokens = sum(prefix) + tails
        flops = 2 * decoder * tokens
        out.append(
            {
                "phase": "scoring",
                "model": label,
                "path": path,
                "attention": attention,
                **{k: v for k, v in kwargs.items()},
                "requests": len(requests),
                "seconds": wall,
                "requests_per_s": len(requests) / wall,
                "ms_per_request": 1000 * wall / len(requests),
                "tokens_per_s": tokens / wall,
                "flops_estimate": flops,
                "tflops_per_s": flops / wall / 1e12,
                "mfu": flops / wall / peaks[0] if peaks[0] else None,
                "cpu_busy": cpu / wall,
                **util.means(),
            }
        )
    return out


def _shared_prefixes(lm, requests) -> list[list[int]]:
    from harness.llm.scoring import _encode_requests

    return [e.shared for e in _encode_requests(lm.tokenizer, requests, 2048)]


def measure_generation(lm, size: dict, peaks, util: Utilization, label: str) -> list[dict]:
    from harness.llm.generation import generate_ids
    from harness.llm.tokens import encode

    rng = np.random.default_rng(1)
    pool = words(lm.tokenizer)
    prompts = [
        "Summarize the movies this user watched: " + " ".join(rng.choice(pool, int(n)))
        for n in rng.integers(size["prompt_words"] // 2, size["prompt_words"], size["prompts"])
    ]
    ids = encode(lm.tokenizer, prompts)
    new = size["new_tokens"]
    decoder, head = weights(lm.model)
    config = lm.model.config
    kv_heads = getattr(config, "num_key_value_heads", config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    element = torch.finfo(lm.dtype).bits // 8
    out = []
    for path, kwargs, prompts in (
        ("before", {"batch_size": 64, "cache": "dynamic", "width_multiple": 1}, size["before"]),
        ("after", {"batch_size": size["batch"], "cache": "static"}, len(ids)),
    ):
        run = dict(max_new_tokens=new, progress=False, stop_at_end=False, **kwargs)
        # the first call compiles the static path's decoding step (CUDA): timed on its own
        first, _, _ = timed(lm.device, lambda: generate_ids(lm, ids[:prompts], **run))  # noqa: B023
        with util.sampling():
            wall, cpu, result = timed(lm.device, lambda: generate_ids(lm, ids[:prompts], **run))  # noqa: B023
        produced = sum(map(len, result))
        batches = -(-prompts // kwargs["batch_size"])
        steps = batches * new
        flops = 2 * (decoder + head) * produced
        # per decoding step: every weight once, and the KV cache of the batch so far
        mean_context = float(np.mean([len(r) for r in ids])) + new / 2
        kv_bytes = 2 * config.num_hidden_layers * kv_heads * head_dim * element * mean_context
        step_bytes = (decoder + head) * element + kv_bytes * min(prompts, kwargs["batch_size"])
        out.append(
            {
                "phase": "generation",
                "model": label,
                "path": path,
                **kwargs,
                "prompts": prompts,
                "new_tokens_each": new,
                "first_call_s": first,
                "seconds": wall,
                "tokens_per_s": produced / wall,
                "ms_per_step": 1000 * wall / steps,
                "tflops_per_s": flops / wall / 1e12,
                "mfu": flops / wall / peaks[0] if peaks[0] else None,
                "hbm_share": step_bytes * steps / wall / peaks[1] if peaks[1] else None,
                "cpu_busy": cpu / wall,
                **util.means(),
            }
        )
    return out


def measure_sft(lm, size: dict, peaks, util: Utilization, label: str) -> list[dict]:
    from harness.llm import PromptGroup, SFTSettings, train_lora
    from harness.llm.packing import row_tokens, tokenize_groups
    from harness.llm.tokens import label_token_ids

    rng = np.random.default_rng(2)
    pool = words(lm.tokenizer)
    groups = [
        PromptGroup(
            f"The user watched: {' '.join(rng.choice(pool, size['prefix_words']))}\n",
            tuple(f"Candidate: {' '.join(rng.choice(pool, 8))}\nAnswer:" for _ in range(2)),
            (True, False),
        )
        for _ in range(size["rows"])
    ]
    answers = (" yes", " no")
    rows = tokenize_groups(lm.tokenizer, groups, label_token_ids(lm.tokenizer, answers))
    tokens = sum(map(row_tokens, rows))
    decoder, _ = weights(lm.model)
    out = []
    for path, knobs in (
        ("before", {"log_steps": 1, "mask_on_device": False, "loader_workers": 0}),
        ("after", {}),
    ):
        settings = SFTSettings(batch_size=size["batch"], lr=1e-4, **knobs)
        with tempfile.TemporaryDirectory() as folder, util.sampling():
            wall, cpu, (_, report) = timed(
                lm.device,
                lambda: train_lora(lm, groups, settings, Path(folder), progress=False),  # noqa: B023
            )
        seconds = report.training_seconds
        flops = 4 * decoder * tokens
        out.append(
            {
                "phase": "sft",
                "model": label,
                "path": path,
                **knobs,
                "batch_rows": size["batch"],
                "steps": report.steps,
                "seconds": seconds,
                "steps_per_s": report.steps / seconds,
                "tokens_per_s": tokens / seconds,
                "tflops_per_s": flops / seconds / 1e12,
                "mfu": flops / seconds / peaks[0] if peaks[0] else None,
                "cpu_busy": cpu / wall,
                "setup_s": wall - seconds,
                **util.means(),
            }
        )
    return out


SIZES = {
    "tiny": {
        "scoring": {"users": 4, "prefix_words": 30, "batch_tokens": 2048},
        "generation": {"prompts": 6, "prompt_words": 20, "new_tokens": 6, "batch": 6, "before": 6},
        "sft": {"rows": 8, "prefix_words": 20, "batch": 4},
    },
    "embedded": {
        "scoring": {"users": 512, "prefix_words": 300, "batch_tokens": 131072},
        "generation": {
            "prompts": 512,
            "prompt_words": 150,
            "new_tokens": 150,
            "batch": 512,
            "before": 128,
        },
        "sft": {"rows": 1024, "prefix_words": 200, "batch": 32},
    },
    "7b": {
        "scoring": {"users": 64, "prefix_words": 300, "batch_tokens": 32768},
        "generation": {
            "prompts": 64,
            "prompt_words": 150,
            "new_tokens": 32,
            "batch": 64,
            "before": 64,
        },
        "sft": None,  # a 7B LoRA step is another benchmark's question
    },
}


def random_llama(tokenizer, tiny: bool, device: torch.device, dtype: torch.dtype):
    """A Llama from its config with random weights: 7B-class, or 2 layers for --tiny."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from harness.llm import LoadedModel
    from harness.llm.attention import use_folded_gqa

    shape = (
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
        if tiny
        else dict(
            hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32
        )
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_key_value_heads=shape["num_attention_heads"] // 4,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **shape,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype).eval()
    model.config._attn_implementation = "sdpa"
    use_folded_gqa(model)
    folder = Path(tempfile.mkdtemp(prefix="random-llama-"))
    model.save_pretrained(folder)  # train_lora copies the weights from a folder
    tokenizer.save_pretrained(folder)
    return LoadedModel(model, tokenizer, "random-llama", device, dtype, folder)


def run(tiny: bool, device: str, out: Path, skip_7b: bool = False) -> list[dict]:
    from harness.llm import load_model

    resolved = torch.device(
        device if device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    dtype = torch.bfloat16 if resolved.type == "cuda" else torch.float32
    peaks = device_peaks(resolved)
    util = Utilization(resolved)
    embedded = load_model(dtype=dtype, device=resolved)
    models = []
    if tiny:
        models.append(
            ("tiny-random", random_llama(embedded.tokenizer, True, resolved, dtype), SIZES["tiny"])
        )
    else:
        models.append(("embedded", embedded, SIZES["embedded"]))
        if resolved.type == "cuda" and not skip_7b:
            models.append(("7b-random", None, SIZES["7b"]))
    header = {
        "phase": "device",
        "device": peaks[2],
        "bf16_peak_flops": peaks[0],
        "hbm_bytes_per_s": peaks[1],
        "dtype": str(dtype),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "flops_note": "2x weights per forward token, 4x per LoRA training token; attention FLOPs left out",
    }
    records = [header]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        handle.write(json.dumps(header) + "\n")
        for label, lm, size in models:
            if lm is None:  # built only when reached: 15 GB of random weights
                lm = random_llama(embedded.tokenizer, False, resolved, dtype)
            for phase, measure in (
                ("scoring", measure_scoring),
                ("generation", measure_generation),
                ("sft", measure_sft),
            ):
                if size[phase] is None:
                    continue
                started = time.perf_counter()
                for record in measure(lm, size[phase], peaks, util, label):
                    record["phase_wall_s"] = time.perf_counter() - started
                    records.append(record)
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                    print(json.dumps(record), flush=True)
            if label != "embedded" and lm is not embedded:
                shutil.rmtree(lm.path, ignore_errors=True)
                del lm
                if resolved.type == "cuda":
                    torch.cuda.empty_cache()
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON lines written here")
    parser.add_argument("--device", default="auto", help="cuda, cuda:N or cpu (default: auto)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes on a random 2-layer model")
    parser.add_argument("--skip-7b", action="store_true", help="leave out the random 7B model")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run(args.tiny, args.device, args.out, args.skip_7b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
