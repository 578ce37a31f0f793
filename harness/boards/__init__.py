"""Boards: what turns a finished run folder into something people read and trust.

Tables (:mod:`.render`, :mod:`.formats`), plots (:mod:`.plots`), the views a
board folder gets before it is published (:mod:`.views`), the checks anyone
can rerun (:mod:`.verify`, :mod:`.regenerate`) and the static website
(:mod:`.site`). This layer sits above orchestration: it calls the runner,
the runner never calls it.
"""
