"""The LLM recommender bases plugins build on.

:mod:`.llm` holds what every LLM recommender shares (options, training
examples, SFT and selection, summaries); :mod:`.yes_no` the pointwise yes/no
base that LLM-TRSR and the truncated baseline extend. Plugins reach them
through :mod:`harness`'s public names.
"""
