"""The living machinery: versions of a review, what changed between them, and contributions.

What lives here
    The review as a whole, computed from its data and plan (:mod:`.review`), the review version and
    data date (:mod:`.version`), results snapshots written at each release (:mod:`.snapshot`),
    the comparison of two snapshots or tables (:mod:`.changes`), what changed told in sentences
    (:mod:`.whatchanged`), ``python -m analysis diff``
    (:mod:`.diffcmd`), ``python -m analysis add-study`` (:mod:`.scaffold`), the literature
    and registry search ``python -m analysis search`` (:mod:`.searchcmd`: the services in
    :mod:`.searchsources`, HTTP with retries in :mod:`.webclient`, the screening record in
    :mod:`.screening`) and the PRISMA counts of each version (:mod:`.prisma`).

What it may import
    ``analysis.evidence`` and ``analysis.engine``, never ``analysis.book``: the book shows what
    this room computes, not the other way round.

Needs the ``evidence`` extra (``pip install ".[evidence]"`` from a clone); the search also needs the
``search`` extra (httpx, tenacity), imported only when a search runs.
"""
