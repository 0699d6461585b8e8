"""The evidence toolkit: a review's data package, read, validated and turned into syntheses.

What lives here
    The Table Schema data package, checked by frictionless (:mod:`.datapackage`), the rules its
    descriptor writes (:mod:`.rules`, evaluated by simpleeval), the checks across tables it
    declares (:mod:`.crosschecks`: coverage of included studies, counts against their quotes in
    :mod:`.quotes`), file readers that keep line numbers (:mod:`.readers`), the validator behind
    ``python -m analysis validate`` (:mod:`.validate`), loading of the evidence tables and of
    private individual patient data (:mod:`.loading`, :mod:`.ipd`), the BibTeX bibliography
    (:mod:`.bibliography`), GRADE certainty ratings (:mod:`.grade`) and the executor of the
    analysis plan (:mod:`.pipeline`), which calls the engine, with the plan's decision rules for
    selecting one result per study (:mod:`.hierarchy`) and for few or conflicting studies
    (:mod:`.fewstudies`).

What it may import
    ``analysis.engine`` and the libraries of the ``evidence`` extra (PyYAML, bibtexparser,
    pylatexenc, frictionless and its simpleeval), never ``analysis.living`` or ``analysis.book``. Nothing here knows a clinical
    topic: columns, vocabularies and rules come from the data package.

Needs the ``evidence`` extra for files in YAML and BibTeX: ``pip install ".[evidence]"`` from a
clone (or ``".[book]"``, which includes it). A missing extra is named when it is needed
(:func:`analysis.evidence.extras.require`).
"""
