"""Hierarchical and recurrent summarization of item-text histories (LLM-TRSR, Sec. 3).

Both cut a history (oldest first) into blocks of ``block_size`` items.
Hierarchical summarizes every block independently, then the ordered block
summaries into one; recurrent summarizes block 1, then feeds each next block
with the previous summary and asks for an updated, complete summary. Each
level is one batched generation call across all users, and every generation
goes through a content-addressed cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness import (
    SUMMARY_PROMPTS,
    SUMMARY_PROMPTS_GENERATED,
    SUMMARY_TOKENS_GENERATED,
    Summarizer,
    check_model_name,
    generations_dir,
)
from harness.llm import CachedGenerator, Generator
from llm_trsr.prompts import (
    BLOCK_TEMPLATE,
    MERGE_TEMPLATE,
    RECURRENT_TEMPLATE,
    check_template,
    cut_blocks,
    domain_words,
    fill,
    numbered,
)

log = logging.getLogger(__name__)
EMPTY_HISTORY = "The user has no history yet."


@dataclass(frozen=True)
class SummarizerOptions:
    model: str | None = field(
        default=None, metadata={"help": "HF model id or folder (default: the embedded SmolLM2)"}
    )
    block_size: int = field(default=5, metadata={"help": "items per block (B)"})
    max_new_tokens: int = field(default=64, metadata={"help": "cap on each generated summary"})
    batch_size: int = field(default=64, metadata={"help": "prompts per generation batch"})
    block_template: str = field(default=BLOCK_TEMPLATE, metadata={"help": "block prompt"})
    merge_template: str = field(default=MERGE_TEMPLATE, metadata={"help": "merge prompt"})
    recurrent_template: str = field(default=RECURRENT_TEMPLATE, metadata={"help": "update prompt"})

    def __post_init__(self):
        check_model_name(self.model)
        for name, needed in (
            ("block_template", ("lines",)),
            ("merge_template", ("summaries",)),
            ("recurrent_template", ("summary", "lines")),
        ):
            check_template(name, getattr(self, name), needed)
        if self.block_size < 1:
            raise ValueError("block_size must be at least 1")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be at least 1")


class BlockSummarizer(Summarizer):
    """Shared machinery: the generator (real or scripted), the cache, the fallbacks."""

    kind = "base"

    def __init__(self, options: SummarizerOptions, generator: Generator | None = None):
        self.options = options
        self.block_size = options.block_size
        self._generator = generator
        self.empty_summaries = 0
        self.lm = None
        self._tokens_counted = 0
        self.tokens_generated = 0

    def generator(self, context) -> Generator:
        """The cached LLM generator, built on first use (loading a model is expensive)."""
        if self._generator is None:
            from harness.llm import chat_prompt, generate, load_model

            lm = load_model(self.options.model, device=context.device, cache_dir=context.cache_dir)
            self.lm = lm

            def run(prompts: list[str]) -> list[str]:
                chats = [chat_prompt(lm.tokenizer, p) for p in prompts]
                return generate(
                    lm,
                    chats,
                    max_new_tokens=self.options.max_new_tokens,
                    batch_size=self.options.batch_size,
                    progress=context.progress,
                )

            self._generator = CachedGenerator(
                run,
                generations_dir(context.cache_dir) / "summaries.sqlite",
                model=str(lm.path),
                settings={
                    "max_new_tokens": self.options.max_new_tokens,
                    "greedy": True,
                    "chat": True,
                },
                batch_size=self.options.batch_size,
                length=lambda prompt: len(lm.tokenizer(prompt).input_ids),
            )
        return self._generator

    def generation_counts(self) -> tuple[int, int] | None:
        """(prompts asked for, prompts generated rather than read from the cache) so far."""
        if isinstance(self._generator, CachedGenerator):
            return self._generator.requested, self._generator.generated
        return None

    def _checked(self, outputs: Sequence[str], fallbacks: Sequence[str]) -> list[str]:
        """An empty summary is replaced by the text it should have summarized."""
        result = []
        for text, fallback in zip(outputs, fallbacks):
            text = text.strip()
            if not text:
                self.empty_summaries += 1
                text = fallback
            result.append(text)
        return result

    def summarize(self, histories, context, domain: str = "movies") -> list[str]:
        words = domain_words(domain)
        blocks = [cut_blocks(list(h), self.options.block_size) for h in histories]
        summaries = self._summarize_blocks(blocks, words, context)
        if self.empty_summaries:
            log.warning("%d empty summaries were replaced by raw item text", self.empty_summaries)
        self._report(context)
        return [s if b else EMPTY_HISTORY for s, b in zip(summaries, blocks)]

    def _report(self, context) -> None:
        """Generation counts (cumulative: a rerun on a warm cache shows 0 generated)."""
        if not isinstance(self._generator, CachedGenerator):
            return
        generator = self._generator
        fresh = generator.new_texts[self._tokens_counted :]
        if fresh and self.lm is not None:
            from harness.llm import count_tokens

            self.tokens_generated += sum(count_tokens(self.lm, fresh))
        self._tokens_counted = len(generator.new_texts)
        context.record_cost(SUMMARY_PROMPTS, generator.requested)
        context.record_cost(SUMMARY_PROMPTS_GENERATED, generator.generated)
        context.record_cost(SUMMARY_TOKENS_GENERATED, self.tokens_generated)

    def _summarize_blocks(self, blocks, words, context) -> list[str]:
        raise TypeError("use HierarchicalSummarizer or RecurrentSummarizer")


class HierarchicalSummarizer(BlockSummarizer):
    """Summarize each block, then merge the ordered block summaries."""

    kind = "hierarchical"

    def _summarize_blocks(self, blocks, words, context) -> list[str]:
        generate = self.generator(context)
        flat = [block for user in blocks for block in user]
        block_texts = [numbered(block) for block in flat]
        prompts = [fill(self.options.block_template, words, lines=text) for text in block_texts]
        firsts = self._checked(generate(prompts), block_texts)
        per_user, start = [], 0
        for user in blocks:
            per_user.append(firsts[start : start + len(user)])
            start += len(user)
        merge_rows = [i for i, parts in enumerate(per_user) if len(parts) > 1]
        merged_inputs = [numbered(per_user[i]) for i in merge_rows]
        merge_prompts = [
            fill(self.options.merge_template, words, summaries=text) for text in merged_inputs
        ]
        merged = self._checked(generate(merge_prompts), merged_inputs) if merge_prompts else []
        result = [parts[0] if parts else "" for parts in per_user]
        for row, text in zip(merge_rows, merged):
            result[row] = text
        return result


class RecurrentSummarizer(BlockSummarizer):
    """Summarize block 1, then update the summary block by block (batched across users)."""

    kind = "recurrent"

    def _summarize_blocks(self, blocks, words, context) -> list[str]:
        generate = self.generator(context)
        summaries = ["" for _ in blocks]
        steps = max((len(b) for b in blocks), default=0)
        for step in range(steps):
            rows = [i for i, user in enumerate(blocks) if len(user) > step]
            texts = [numbered(blocks[i][step]) for i in rows]
            if step == 0:
                prompts = [fill(self.options.block_template, words, lines=t) for t in texts]
                fallbacks = texts
            else:
                prompts = [
                    fill(self.options.recurrent_template, words, summary=summaries[i], lines=t)
                    for i, t in zip(rows, texts)
                ]
                fallbacks = [f"{summaries[i]}\n{t}" for i, t in zip(rows, texts)]
            for i, text in zip(rows, self._checked(generate(prompts), fallbacks)):
                summaries[i] = text
        return summaries
