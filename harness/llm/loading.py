"""Load a causal LM once per process, so every plugin of a run shares the same weights."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harness.llm.devices import resolve_device, resolve_dtype
from harness.llm.embedded_model import EMBEDDED_MODEL, embedded_model_path

log = logging.getLogger(__name__)

_LOADED: dict[tuple[str, torch.dtype, torch.device], LoadedModel] = {}
_LOCK = threading.Lock()


@dataclass(eq=False)
class LoadedModel:
    """A model in eval mode with its tokenizer, and the local folder its plain HF weights live in.

    ``path`` is what other tools load from: ``from_pretrained``, peft, lm-eval.
    """

    model: torch.nn.Module = field(repr=False)
    tokenizer: object = field(repr=False)
    name: str
    device: torch.device
    dtype: torch.dtype
    path: Path


def load_model(
    name: str | None = None,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device = "auto",
    cache_dir: Path | None = None,
) -> LoadedModel:
    """Load ``name`` (a Hugging Face model id or a local folder; ``None``: the embedded model).

    Memoized per (name, resolved dtype, resolved device) for the life of the
    process (``cache_dir`` only matters for the first load). ``dtype``/``device`` ``"auto"`` pick bf16 where the hardware runs
    it natively and CUDA when present (see :mod:`harness.llm.devices`).
    """
    name = name or EMBEDDED_MODEL
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    key_name = str(Path(name).resolve()) if Path(name).is_dir() else name
    key = (key_name, resolved_dtype, resolved_device)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(name, resolved_dtype, resolved_device, cache_dir)
        return _LOADED[key]


def clear_loaded_models() -> None:
    """Forget memoized models (frees their memory once no caller holds them)."""
    with _LOCK:
        _LOADED.clear()


def _load(
    name: str, dtype: torch.dtype, device: torch.device, cache_dir: Path | None
) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.llm.attention import use_folded_gqa

    folder = _local_folder(name, cache_dir)
    source = folder or name
    log.info("loading %s from %s (%s, %s)", name, source, dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
    use_folded_gqa(model)  # grouped heads without copying K/V under a mask (same numbers)
    path = folder if folder is not None else _hub_snapshot(name)
    return LoadedModel(
        model=model, tokenizer=tokenizer, name=name, device=device, dtype=dtype, path=path
    )


def _local_folder(name: str, cache_dir: Path | None) -> Path | None:
    """The converted embedded model or a local folder; ``None`` for a hub id."""
    if name == EMBEDDED_MODEL:
        return embedded_model_path(cache_dir)
    if Path(name).is_dir():
        return Path(name).resolve()
    return None


def _hub_snapshot(name: str) -> Path:
    """The hub cache snapshot folder that ``from_pretrained`` just filled for ``name``."""
    from transformers.utils import cached_file

    return Path(cached_file(name, "config.json")).parent


def load_tokenizer(name: str | None = None, cache_dir: Path | None = None):
    """Only the tokenizer of ``name`` (default: the embedded model), for token counts."""
    from transformers import AutoTokenizer

    name = name or EMBEDDED_MODEL
    return AutoTokenizer.from_pretrained(_local_folder(name, cache_dir) or name)
