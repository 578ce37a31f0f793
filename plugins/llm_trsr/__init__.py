"""LLM-TRSR (Zheng et al., WWW 2024): summarize long text-rich histories, then
fine-tune an LLM with LoRA to answer whether the user will like a candidate."""
