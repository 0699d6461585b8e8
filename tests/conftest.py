"""Test-suite settings shared by every test module: how tests are spread over parallel workers.

``make test`` runs the suite with pytest-xdist on every core (``-n auto --dist loadscope``): the
tests of one module run on one worker, so a module-scoped fixture (a built book, a served site, a
copy of the review) is made once, not once per worker. The real review's build, shared by several
modules, is made once per session whichever workers ask for it (``tests.buildutil.once_per_session``).

Why not ``--dist loadgroup`` with ``xdist_group`` marks, as before: pytest-xdist 3.8 marks a
group by rewriting ``item._nodeid``, which pytest 9 no longer reads (a node's id is ``item._id``),
so the groups were silently ignored and such fixtures were built on both workers
(``tests/test_commands.py`` checks the distribution itself). The ``xdist_group`` marks that remain
document which modules share the session's build.
"""
