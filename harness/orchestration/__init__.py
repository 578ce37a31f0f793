"""Orchestration: from an experiment to a run folder.

The experiment file (:mod:`.experiment`), the runner that builds the split,
runs every row and writes results, scores and prompt records
(:mod:`.runner`, :mod:`.row_scores`, :mod:`.records`), row checkpoints
(:mod:`.checkpoints`), provenance, seed sweeps, the Ray executor and the
plugin conformance check. Plugins' code runs from here; nothing here names a
plugin.
"""
