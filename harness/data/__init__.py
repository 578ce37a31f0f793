"""Catalogs, interaction sequences and their loaders."""

from harness.data.model import Catalog, Dataset, Domain

__all__ = ["Catalog", "Dataset", "Domain"]
