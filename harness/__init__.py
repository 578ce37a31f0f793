"""A plugin-based benchmark harness for LLM sequential recommenders."""

from harness.hookspecs import hookimpl

__all__ = ["hookimpl"]
__version__ = "0.1.0"
