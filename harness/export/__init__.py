"""Exports: the harness's split and requests in other tools' formats.

A Hugging Face ``datasets`` split (:mod:`.split`) and an lm-eval-harness task
(:mod:`.lm_eval`), so a result can be checked outside this harness.
"""
