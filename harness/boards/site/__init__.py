"""The leaderboards as a static website: one folder, no server, works from ``file://``.

:func:`build_site` reads committed board folders (``results.json``,
``split.json``, ``scores/``, ``records/``) and writes an index of the boards,
a page per board (quality and cost tables, charts, provenance) and a request
explorer per board. Charts are Plotly figures drawn by the Plotly bundle that
the ``plotly`` package ships, copied into the site: nothing is fetched from a
CDN when a page is viewed.
"""

from harness.boards.site.build import build_site

__all__ = ["build_site"]
