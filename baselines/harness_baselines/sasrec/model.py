"""The SASRec network: causal Pre-LN self-attention over item-id sequences.

Token ``i + 1`` is catalog item ``i``; token 0 is padding. Sequences are
left-padded, so the last column is always the most recent item. Positions
count from the first real item (1, 2, ...; padding gets position 0), which
makes the output independent of how much padding precedes a sequence, and
gives every training position the same numbering a scored history gets.
Padding is masked out of attention and its outputs are zeroed; the output
layer shares the item embedding and never includes the padding token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head attention on one sequence with a boolean mask (True = may attend)."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, hidden // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out(y.transpose(1, 2).reshape(batch, length, hidden))


class Block(nn.Module):
    """Pre-LN transformer block: x + Attn(LN(x)), then x + FFN(LN(x)).

    pmixer/SASRec.pytorch measured pre-normalisation above the original
    post-LN placement of Kang & McAuley; the feed-forward width equals the
    hidden size, as in SASRec.
    """

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.attn = SelfAttention(hidden, heads, dropout)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), mask))
        return x + self.drop(self.ffn(self.ffn_norm(x)))


class SASRec(nn.Module):
    """Item and position embeddings, ``blocks`` causal blocks, a final LayerNorm.

    With ``text`` (frozen per-item text vectors, row ``i`` = item ``i``), an
    item's embedding, input and output alike, is its ID embedding plus a
    trained linear projection of its text vector; ``id_embeddings=False``
    keeps the projection alone.
    """

    def __init__(
        self,
        n_items: int,
        hidden: int,
        blocks: int,
        heads: int,
        dropout: float,
        max_length: int,
        text: torch.Tensor | None = None,
        id_embeddings: bool = True,
    ):
        super().__init__()
        self.n_items = n_items
        self.max_length = max_length
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_length + 1, hidden, padding_idx=0)
        self.emb_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(hidden, heads, dropout) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.id_embeddings = id_embeddings
        self.text_proj = None
        self._init_weights()
        if text is not None:  # built after the rest is initialised: that init is as without text
            if text.shape[0] != n_items:
                raise ValueError(f"text vectors for {text.shape[0]} items, not {n_items}")
            padded = torch.cat([text.new_zeros(1, text.shape[1]), text]).float()
            self.register_buffer("text", padded, persistent=False)
            self.text_proj = nn.Linear(text.shape[1], hidden)
            nn.init.xavier_normal_(self.text_proj.weight)
            nn.init.zeros_(self.text_proj.bias)
        if not id_embeddings:
            if self.text_proj is None:
                raise ValueError("id_embeddings=False needs text vectors")
            with torch.no_grad():
                self.item_emb.weight.zero_()
            self.item_emb.weight.requires_grad_(False)

    def _init_weights(self) -> None:
        """Xavier-normal matrices (as pmixer/SASRec.pytorch), zero biases, zero padding rows."""
        for name, param in self.named_parameters():
            if param.dim() >= 2:
                nn.init.xavier_normal_(param)
            elif name.endswith("bias") and "norm" not in name:
                nn.init.zeros_(param)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
            self.pos_emb.weight[0].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(batch, length, hidden)`` of left-padded ``tokens``; zero at padding."""
        real = tokens != 0
        positions = torch.cumsum(real, dim=1) * real
        if positions.numel() and int(positions.amax()) > self.max_length:
            raise ValueError(f"sequence longer than max_length={self.max_length}")
        x = self.embed_items(tokens) * math.sqrt(self.item_emb.embedding_dim)
        keep = real.unsqueeze(-1).to(x.dtype)
        x = self.emb_drop(x + self.pos_emb(positions)) * keep
        mask = attention_mask(real)
        for block in self.blocks:
            x = block(x, mask) * keep
        return self.final_norm(x) * keep

    def embed_items(self, tokens: torch.Tensor) -> torch.Tensor:
        """The embedding of each item token (0 is padding)."""
        x = self.item_emb(tokens)
        if self.text_proj is not None:
            x = x + self.text_proj(self.text[tokens]) * (tokens != 0).unsqueeze(-1).to(x.dtype)
        return x

    def item_weights(self) -> torch.Tensor:
        """Output embeddings of the catalog, row ``i`` = item ``i`` (padding excluded)."""
        if self.text_proj is None:
            return self.item_emb.weight[1:]
        return self.item_emb.weight[1:] + self.text_proj(self.text[1:])


def attention_mask(real: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, L, L)``: causal, never a padding key; each position may see itself.

    The diagonal keeps a padding query's softmax defined (no all-masked rows,
    no NaN); real queries never see padding because padding only precedes them.
    """
    length = real.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=real.device).tril()
    eye = torch.eye(length, dtype=torch.bool, device=real.device)
    return ((causal & real[:, None, :]) | eye).unsqueeze(1)
