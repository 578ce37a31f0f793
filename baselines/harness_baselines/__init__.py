"""Baseline recommenders shipped with the harness, registered as ordinary plugins."""
