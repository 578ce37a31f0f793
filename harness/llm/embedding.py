"""Text embeddings from a causal LM: the LLM as an item encoder, cached by content.

A recommender that reads an LLM's view of item texts (``llm-emb``, SASRec on
text embeddings) embeds its catalog here. Texts are batched by length (right
padding with an attention mask, so a text's vector does not depend on its
batch) and pooled over the last hidden layer: ``mean`` over the text's tokens
or the ``last`` token's state. Vectors are float32 on the CPU and cached in
SQLite under ``$HARNESS_CACHE/embeddings/``, keyed by (model fingerprint,
pooling, text), so a catalog is embedded once across rows and runs and a
rerun embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.llm.loading import LoadedModel
from harness.llm.scoring import Backbone, _eval_mode
from harness.llm.tokens import encode, pad_token_id
from harness.paths import embeddings_dir

Pooling = Literal["mean", "last"]


def model_fingerprint(lm: LoadedModel) -> str:
    """What identifies the weights: name, dtype and a checksum of the input embeddings, so a
    model folder rewritten in place does not read another model's cached vectors."""
    weight = lm.model.get_input_embeddings().weight
    checksum = float(weight.detach().double().sum()), float(weight.detach()[:7].double().sum())
    return json.dumps([lm.name, str(lm.dtype), checksum, list(weight.shape)])


class TextEmbedder:
    """Embed texts with ``lm``, reading and writing the content cache.

    ``requested`` counts the texts asked for and ``embedded`` those actually
    run through the model, which is how tests show that a rerun embeds 0.
    """

    def __init__(
        self,
        lm: LoadedModel,
        pooling: Pooling = "mean",
        cache_dir: Path | None = None,
        batch_size: int = 32,
    ):
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', not {pooling!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.lm, self.pooling, self.batch_size = lm, pooling, batch_size
        self.requested = 0
        self.embedded = 0
        self._model_key = model_fingerprint(lm)
        folder = embeddings_dir(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "embeddings.sqlite")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, v BLOB)")
        self._db.commit()

    def key(self, text: str) -> str:
        payload = json.dumps([self._model_key, self.pooling, text], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def __call__(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """One float32 vector per text, shape (len(texts), hidden size)."""
        keys = [self.key(t) for t in texts]
        self.requested += len(keys)
        found = self._lookup(keys)
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())
        if missing:
            vectors = self._embed([t for _, t in missing], progress)
            self.embedded += len(missing)
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(k, v.tobytes()) for (k, _), v in zip(missing, vectors)],
                )
            found.update({k: v for (k, _), v in zip(missing, vectors)})
        width = self.lm.model.config.hidden_size
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, width), np.float32)

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        unique = list(set(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, v FROM vectors WHERE key IN ({marks})", chunk)
            out.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return out

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        """Run the texts through the decoder in length-sorted, right-padded batches."""
        ids = encode(self.lm.tokenizer, texts)
        if any(len(row) == 0 for row in ids):
            raise ValueError("cannot embed an empty text")
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        backbone = Backbone(self.lm.model)
        pad = pad_token_id(self.lm.tokenizer)
        out = np.empty((len(ids), self.lm.model.config.hidden_size), dtype=np.float32)
        bar = tqdm(
            total=len(ids), desc="embedding", unit="text", disable=None if progress else True
        )
        with bar, _eval_mode(self.lm.model), torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                lengths = torch.tensor([len(ids[i]) for i in batch])
                width = int(lengths.max())
                rows = [ids[i] + [pad] * (width - len(ids[i])) for i in batch]
                mask = torch.arange(width)[None, :] < lengths[:, None]
                hidden = backbone.decoder(
                    input_ids=torch.tensor(rows, device=backbone.device),
                    attention_mask=mask.long().to(backbone.device),
                    use_cache=False,
                ).last_hidden_state.float()
                if self.pooling == "mean":
                    weights = mask.to(hidden.device, hidden.dtype)[:, :, None]
                    pooled = (hidden * weights).sum(1) / weights.sum(1)
                else:
                    pooled = hidden[torch.arange(len(batch)), lengths.to(hidden.device) - 1]
                out[batch] = pooled.cpu().numpy()
                bar.update(len(batch))
        return out

    def close(self) -> None:
        self._db.close()


def embed_texts(
    lm: LoadedModel,
    texts: Sequence[str],
    pooling: Pooling = "mean",
    *,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """Float32 vectors of ``texts`` from ``lm``'s last hidden layer (see :class:`TextEmbedder`),
    read from the content cache where they were embedded before."""
    embedder = TextEmbedder(lm, pooling, cache_dir, batch_size)
    try:
        return embedder(texts, progress=progress)
    finally:
        embedder.close()


def catalog_vectors(
    catalog, context, model: str | None = None, pooling: Pooling = "mean", batch_size: int = 32
) -> np.ndarray:
    """Float32 vectors of every catalog item's text (row ``i`` = item ``i``) from ``model``
    (None: the embedded one), through the content cache: what a recommender that reads the
    LLM's view of its items starts from. The embedding time and the texts actually embedded
    (0 when the cache has them all) go to the run's costs."""
    import time

    from harness.llm.loading import load_model

    lm = load_model(model, device=context.device, cache_dir=context.cache_dir)
    embedder = TextEmbedder(lm, pooling, context.cache_dir, batch_size)
    started = time.perf_counter()
    try:
        vectors = embedder(catalog.texts(np.arange(len(catalog))), progress=context.progress)
    finally:
        embedder.close()
    context.record_cost("catalog_embedding_s", time.perf_counter() - started)
    context.record_cost("texts_embedded", float(embedder.embedded))
    return vectors
