"""Catalogs, interaction sequences, their loaders and the helpers a loader plugin may use.

A loader is ``loader(options, context: DatasetContext) -> Dataset``. Its
public helpers: :func:`harness.data.cache.load_or_build` (parse once, then
memory-map Arrow files) and :func:`harness.data.text.render_item` /
:func:`harness.data.render.render_columns` (one ``"field: value; ..."`` line
per item).
"""

from harness.data.context import DatasetContext
from harness.dataset import KNOWN_DOMAINS, Catalog, Dataset, Domain

__all__ = ["KNOWN_DOMAINS", "Catalog", "Dataset", "DatasetContext", "Domain"]
