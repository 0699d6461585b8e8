"""What the chapters of a living-review Jupyter Book call: load, compute once, show.

Chapters stay thin (``rv = review(); rv.show_outcome("x")``). :class:`Review` is the review as
computed by :class:`analysis.living.review.LivingReview` (evidence, plan, syntheses, certainty,
versions) with what its pages show added: the plots (:mod:`analysis.book.plots`) and the text
formatting (:mod:`analysis.book.report`) in page-sized pieces. It holds no statistics of its own
and knows no clinical topic: outcome ids, subgroups, table columns and wording come from the data
package, the outcome vocabulary and the analysis plan.

Numbers reach the prose through ``myst_nb.glue``; tables and figures are displayed as cell outputs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.book import report
from analysis.book.figcache import Plot
from analysis.book.figstore import StoredFigure
from analysis.evidence.pipeline import (
    OutcomeSynthesis,
    Plan,
    sensitivity_methods,
    sensitivity_subsets,
)
from analysis.evidence.readers import load_yaml
from analysis.evidence.words import lower_first as _lower_first
from analysis.living.review import LivingReview

__all__ = ["NO_COMPARATOR", "Review", "find_root", "prewarm", "review", "show_figure", "show_stored_figure", "show_table"]

#: What a proportion from single-arm series can and cannot say (home page and summary of findings).
NO_COMPARATOR = ("None has a comparator: each proportion is the share of patients with the outcome after the "
                 "intervention, not its effect, since the outcome can also occur without it.")


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder at or above ``start`` holding ``_config.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").exists():
            return folder
    raise FileNotFoundError(f"no _config.yml at or above {here}")


def review(root: str | None = None) -> Review:
    """The review of the project containing the working directory (loaded once per kernel)."""
    return _review_at(find_root(Path(root)) if root else find_root())


@functools.cache
def _review_at(root: Path) -> Review:
    return Review(root)


def prewarm(root: str) -> bool:
    """Load the review of ``root`` and compute its syntheses, for processes forked afterwards.

    Called by a book build in the process its chapters are forked from
    (:mod:`analysis.book.nbfork`, the ``live_inputs_prewarm`` setting), so that the evidence is
    checked and loaded, each evidence set synthesised, and the results payload, the flow of versions
    and the data package descriptor computed, once per build instead of once per chapter that
    shows them. Only what :func:`review` would compute anyway is computed, and forks receive it as
    it was computed. If computing it warned, printed or failed, nothing is kept (returns False):
    each chapter then computes it itself and shows what it shows without a prewarm.
    """
    import contextlib
    import io
    import warnings

    printed = io.StringIO()
    kept = True
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed), \
            contextlib.redirect_stderr(printed):
        warnings.simplefilter("always")
        try:
            rv = review(root)
            for evidence_set in rv.plan.evidence_sets:
                rv.synthesis(evidence_set)
            rv.certainty()
            rv.snapshot_payload()  # the answer, the machine-readable results and the history read it
            rv.flow_versions  # noqa: B018 - the flow diagram, the changes and the snapshot read it
            rv.datapackage  # noqa: B018 - every table that names coded values in words reads it
        except Exception:  # noqa: BLE001 - the chapters will meet (and show) the same error
            kept = False
    if caught or printed.getvalue() or not kept:
        _review_at.cache_clear()
        return False
    return True


def _display(*objs: Any) -> None:
    from IPython.display import display

    display(*objs)


def _markdown(text: str) -> Any:
    from IPython.display import Markdown

    return Markdown(text)


def _html_table(frame: pd.DataFrame, index: bool = False, html_columns: tuple[str, ...] = (),
                classes: str = "review-table") -> Any:
    """A DataFrame as a compact, scrollable HTML table (without the index unless asked).

    Every cell is HTML-escaped except those of ``html_columns``, which hold HTML made by this
    package (counts with their provenance, :mod:`analysis.book.provenance`).
    """
    from IPython.display import HTML

    if not html_columns:
        table = frame.to_html(index=index, escape=True, na_rep="", classes=classes, border=0)
        return HTML(f'<div class="table-scroll">{table}</div>')
    shown = frame.copy()
    for name in shown.columns:
        if name not in html_columns:
            shown[name] = [_escaped(v) for v in shown[name]]
    shown.columns = [_escaped(name) for name in shown.columns]
    if index:
        shown.index = [_escaped(v) for v in shown.index]
    with pd.option_context("display.max_colwidth", None):
        table = shown.to_html(index=index, escape=False, na_rep="", classes=classes, border=0)
    return HTML(f'<div class="table-scroll">{table}</div>')


def _escaped(value: Any) -> str:
    import html

    from analysis.book.provenance import is_blank

    return "" if is_blank(value) else html.escape(str(value))


def show_table(frame: pd.DataFrame, index: bool = False) -> None:
    """Display a table the way every page of the book does (scrolls sideways on a phone)."""
    _display(_html_table(frame, index))


def _glue(name: str, value: Any) -> None:
    from myst_nb import glue

    glue(name, value, display=False)


#: Folder (under the book) where pages write their figures and download files at build time.
GENERATED = "_generated"


def show_figure(root: Path, fig: Any, stem: str, caption: str, alt: str) -> None:
    """Save a figure as SVG and PNG and show it as a captioned MyST figure with alt text.

    ``fig`` is a matplotlib Figure or, better, a :class:`analysis.book.figcache.Plot` (the plotting
    function and its data): a Plot is drawn only when no figure with the same inputs was saved
    before in this build folder (:func:`analysis.book.figcache.cached_save`), so a rebuild redraws
    only the figures whose data changed. The PNG is what the page shows; both files are offered
    for download, so a reader on a phone can open the SVG and zoom.
    """
    from analysis.book.figcache import cached_save
    from analysis.book.plots import save_figure

    folder = root / "book" / GENERATED
    folder.mkdir(exist_ok=True)
    def save(figure: Any, path: Path) -> list[Path]:
        return save_figure(figure, path, alt=alt)

    if isinstance(fig, Plot):
        cached_save(fig, folder / stem, save, extra=("save_figure", alt))
    else:  # an already drawn figure: nothing to save by caching
        save(fig, folder / stem)
    _show_saved(stem, caption, alt)


def show_stored_figure(root: Path, store: Path, figure: StoredFigure, caption: str) -> None:
    """Show a figure of stored results, copied from its store when it is fresh there.

    ``store`` is the folder where the figures of those results are kept
    (:mod:`analysis.book.figstore`, written when the results are written). A figure the store holds
    as drawn from its current inputs is copied; otherwise (the results, the options or the plotting
    code changed since) it is drawn as :func:`show_figure` draws it. The page is the same either way.
    """
    from analysis.book.figstore import restore

    folder = root / "book" / GENERATED
    if restore(store, figure, folder / figure.stem) is None:
        show_figure(root, figure.plot, figure.stem, caption, figure.alt)
        return
    _show_saved(figure.stem, caption, figure.alt)


def _sensitivity(analyse: Any, rows: pd.DataFrame, plan: Plan, excluded: pd.DataFrame) -> pd.DataFrame:
    """``analyse`` (:func:`~analysis.evidence.pipeline.sensitivity_methods` or ``sensitivity_subsets``) of one
    outcome's rows, computed once per build for the pages that show it (sensitivity analyses, downloads) and
    kept for the next build (:func:`analysis.living.buildcache.cached`): after one count changed, only that
    outcome is fitted again."""
    from analysis.living.buildcache import cached

    if analyse is sensitivity_subsets:
        return cached(sensitivity_subsets, rows, plan, excluded)
    return cached(analyse, rows, plan)


def _show_saved(stem: str, caption: str, alt: str) -> None:
    """Display the saved figure ``stem`` as a captioned MyST figure with alt text and downloads."""
    alt_line = " ".join(alt.split())
    _display(_markdown(
        f":::{{figure}} {GENERATED}/{stem}.png\n:alt: {alt_line}\n\n{caption} Download: "
        f"{{download}}`SVG <{GENERATED}/{stem}.svg>` · {{download}}`PNG <{GENERATED}/{stem}.png>`\n:::"
    ))


class Review(LivingReview):
    """One living review (:class:`~analysis.living.review.LivingReview`) and the pieces its pages show."""

    # ----------------------------------------------------------------- home page
    def glue_key_findings(self) -> None:
        """Glue the home page: version, date, at most three plain sentences from the data, citation."""
        studies = self.set_studies()
        included = studies.loc[studies["status"] == "included"]
        size = self.plan_raw.get("presentation", {}).get("size_column", "n")
        _glue("version", self.version_text)
        _glue("version_line", self.version_line)
        _glue("data_date", self.data_date)
        known = included[size].dropna()
        at_least = "at least " if len(known) < len(included) else ""
        _glue("n_included", str(len(included)))
        _glue("n_patients", f"{at_least}{int(known.sum())}")
        _glue("n_awaiting", str(int((studies["status"] == "awaiting_data").sum())))
        _glue("primary_certainty", self.certainty().loc[self.primary_outcome, "certainty"])
        _glue("key_findings", " ".join(self.key_sentences()))
        _glue("citation", self.citation())

    def key_sentences(self) -> list[str]:
        """At most three plain sentences for the home page, generated from the data."""
        synth = self.synthesis()
        primary = synth[self.primary_outcome]
        cert = self.certainty().loc[self.primary_outcome, "certainty"]
        label = primary.label[0].lower() + primary.label[1:]
        if primary.pooled:
            res = primary.result
            first = (f"For the primary outcome, {label}, the {report.pooled_words(res)} is "
                     f"{report.estimate_with_ci(res)}, from {res.k} series with {res.total_n} patients "
                     f"(certainty of the evidence: {cert})."
                     + (" A credible interval (CrI) is the range in which, under the model and its priors, the "
                        "pooled proportion lies with 95% probability." if report.is_bayesian(res) else ""))
        elif primary.k == 0:
            first = f"No study has reported the primary outcome, {label}, yet."
        elif primary.display == "single":
            first = (f"The primary outcome, {label}, has one study: shown as its own proportion, "
                     f"{report.study_result(primary.studies.iloc[0])}; not pooled (certainty: {cert}).")
        else:
            first = (f"The primary outcome, {label}, is not pooled ({primary.reason}): "
                     + "; ".join(report.study_result(s) for _, s in primary.studies.iterrows()) + ".")
        unpooled = [f"{s.label[0].lower() + s.label[1:]} ({_unpooled_words(s)})" for o, s in synth.items()
                    if o != self.primary_outcome and s.k > 0 and not s.pooled]
        second = ("Not pooled: " + "; ".join(unpooled) + ". The figure shows each study's own result."
                  if unpooled else "")
        studies = self.set_studies()
        included = studies.loc[studies["status"] == "included"]
        awaiting = int((studies["status"] == "awaiting_data").sum())
        third = (f"All {len(included)} included studies are small uncontrolled series or case reports"
                 + (f"; {awaiting} more could not be read yet." if awaiting else ".")
                 + " " + NO_COMPARATOR)
        return [x for x in (first, second, third) if x]

    def summary_frame(self) -> pd.DataFrame:
        """One row per outcome with data: what the review shows for it (pooled, single study or side by side)."""
        cert = self.certainty()
        rows = []
        for outcome, synth in self.synthesis().items():
            if synth.k == 0:
                continue
            row = {"label": synth.label + (" (primary)" if outcome == self.primary_outcome else ""),
                   "display": synth.display, "k": synth.k, "n": synth.total_n,
                   "certainty": _certainty_words(cert, outcome),
                   "studies": [(r.proportion, r.ci_lower, r.ci_upper) for r in synth.studies.itertuples()]}
            if synth.display == "side_by_side":
                row.update(estimate=np.nan, lower=np.nan, upper=np.nan, value="not pooled")
            else:
                est, lo, hi = report.shown_estimate(synth)
                row.update(estimate=est, lower=lo, upper=hi,
                           value=f"{report.percent(est)} ({report.interval(lo, hi)})")
            rows.append(row)
        return pd.DataFrame(rows)

    def home_summary(self) -> None:
        """The home page's summary figure: one row per outcome with data."""
        from analysis.book.plots import outcome_summary_plot, outcome_summary_plot_alt_text

        frame = self.summary_frame()
        if frame.empty:
            _display(_markdown("No included study has reported an outcome yet."))
            return
        kinds = sorted({(report.interval_name(s.result), report.interval_word(s.result))
                        for s in self.synthesis().values() if s.pooled}) or [("confidence interval", "CI")]
        interval = " or ".join(f"{name} ({word})" for name, word in kinds)
        show_figure(self.root, Plot(outcome_summary_plot, (frame,)), "summary-outcomes",
                    "Every outcome with data: the proportion of patients with it after the intervention, with no "
                    "comparator. A diamond is a pooled proportion (the median of the studies' true proportions) with "
                    f"its 95% {interval}; a square is one study shown as its own proportion with its exact "
                    "95% interval; open circles are studies not pooled (shown side by side), each with its exact "
                    "interval.", outcome_summary_plot_alt_text(frame))

    @property
    def version_line(self) -> str:
        """The version as the head of a page shows it: "Version 26.1.0", or "Development version (...)"."""
        if self.version != "dev":
            return f"Version {self.version}"
        return self.version_text[0].upper() + self.version_text[1:]

    def citation(self) -> str:
        """How to cite this version (from CITATION.cff)."""
        cff = load_yaml(self.root / "CITATION.cff")
        authors = ", ".join(a.get("name") or a.get("family-names", "") for a in cff["authors"])
        return (
            f"{authors}. {cff['title']}. Living systematic review, "
            + (f"version {self.version}" if self.version != "dev" else self.version_text)
            + f"; data searched up to {self.data_date}."
            + (f" doi:{cff['doi']}" if cff.get("doi") else "")
        )

    # ----------------------------------------------------------------- methods
    def glue_methods(self) -> None:
        """Glue the engine's own methods text of the primary analysis."""
        synth = self.synthesis()
        fitted = [s for s in synth.values() if s.pooled and s.result is not None]
        if fitted:
            text = (f"As the engine describes it for the first outcome with enough studies to pool "
                    f"({fitted[0].label.lower()}): " + fitted[0].result.methods_text())
        else:
            text = _methods_without_data(self.plan)
        _glue("primary_methods", text)
        _glue("min_pool", str(self.plan.min_studies_to_pool))
        _glue("few_study_rules", self.few_study_rules_text())
        _glue("hierarchy_text", self.hierarchy_text())

    def hierarchy_text(self) -> str:
        """The plan's outcome hierarchies in words: "for X: first A, then B or C, then D"."""
        def label(o: str) -> str:
            text = str(self.vocabulary.get(o, {}).get("label", o))
            return text[0].lower() + text[1:]

        parts = []
        for outcome, levels in self.plan.outcome_hierarchy.items():
            steps = [" or ".join(label(o) for o in level) for level in levels]
            parts.append(f"for {label(outcome)}, first {steps[0]}" + "".join(f", then {x}" for x in steps[1:]))
        return "; ".join(parts) if parts else "no outcome is selected from others"

    def few_study_rules_text(self) -> str:
        """The plan's few-study rules in words, from the plan's own numbers."""
        r = self.plan.few_studies
        conflict = []
        if r.do_not_pool:
            conflict.append("the plan lists the outcome as not to be pooled, with its reason ("
                            + "; ".join(f"for {str(self.vocabulary.get(o, {}).get('label', o)).lower()}, {why}"
                                        for o, why in r.do_not_pool.items()) + ")")
        if r.nonoverlapping_study_cis:
            conflict.append("the exact 95% intervals of two studies do not overlap")
        if r.i2_lower_above is not None:
            conflict.append(f"the lower confidence bound of I² exceeds {r.i2_lower_above:g}%")
        text = (
            "an outcome with one study shows that study's own proportion with its exact (Clopper-Pearson) interval, "
            f"with no model and no continuity correction. With fewer than {r.min_studies_to_pool} "
            "studies, or when the studies conflict, they are shown side by side and not pooled into a headline; "
            "studies conflict when " + ", when ".join(conflict[:-1]) + (", or when " if len(conflict) > 1 else "")
            + conflict[-1] + ". "
        )
        if r.uninformative is not None:
            text += (f"A pooled confidence interval reaching below {100 * r.uninformative[0]:g}% and above "
                     f"{100 * r.uninformative[1]:g}% carries no information and is not a headline either. ")
        text += (f"Heterogeneity is estimated, and shown, only from {r.min_studies_heterogeneity} studies: with fewer "
                 "the pages say that it cannot be estimated, rather than print a between-study variance of 0 and "
                 "an I² of 0% (with three studies an estimate of 0 means that heterogeneity cannot be measured, not "
                 "that it is absent; von Hippel 2015). I² always comes with its confidence interval, both from the "
                 "same model (for the binomial-normal model, the profile-likelihood interval of its between-study "
                 "variance; for an inverse-variance model, the Q-profile interval), and the test for heterogeneity "
                 "is the model's own (for the binomial-normal model the likelihood-ratio test, which uses every "
                 "study, including one where all or no patients had the event). A prediction interval needs "
                 f"heterogeneity to be estimable and at least {r.min_studies_prediction} studies; it is on a t "
                 "distribution with k - 1 degrees of freedom (IntHout et al. 2016; Cochrane Handbook version 6.5; "
                 "Higgins et al. 2009 used k - 2). A random-effects estimate on the logit scale is the pooled "
                 "proportion, the median of the studies' true proportions: the inverse logit of the mean logit, "
                 "not the mean of the true proportions.")
        return text

    def protocol_amendments(self) -> Any:
        """The protocol amendments record as a table (empty record: a sentence saying so)."""
        try:
            record = self.evidence["protocol_amendments"]
        except KeyError:
            return _markdown("No amendment to the analysis plan has been recorded.")
        if record.empty:
            return _markdown("No amendment to the analysis plan has been recorded.")
        fields = self.fields("protocol_amendments")
        table = record.assign(date=record["date"].astype(str))
        return _html_table(report.labelled_columns(table, fields, list(record.columns)))

    def search_log(self) -> Any:
        """Sources searched, by date and purpose: queries, results shown, results recorded, new records."""
        log = self.evidence["searches"].copy()
        purposes = self.code_labels("searches").get("purpose", {})
        if "purpose" not in log.columns:
            log["purpose"] = ""
        for column in ("hits", "new_records"):
            if column not in log.columns:
                log[column] = np.nan
        log["purpose"] = log["purpose"].fillna("").map(lambda p: purposes.get(p, str(p).replace("_", " ")))
        table = (
            log.groupby(["search_date", "source", "purpose"], dropna=False, sort=True)
            .agg(queries=("query", "size"), records=("records", "sum"),
                 hits=("hits", lambda v: _whole_or_words(v, "not recorded")),
                 new=("new_records", lambda v: _whole_or_words(v, "")))
            .reset_index()
        )
        table["search_date"] = [str(pd.Timestamp(d).date()) for d in table["search_date"]]
        table.columns = ["Search date", "Source", "Purpose", "Queries", "Results shown",
                         "Results recorded one by one", "New records"]
        return _html_table(table)

    def search_strategy_table(self) -> Any:
        """The search strategy (PRISMA-S): each source, its interface, the exact query and the date limits."""
        kinds = {"database": "bibliographic database", "register": "trial registry", "other": "other method"}
        rows = [
            {
                "Source": src.get("name", src.get("id")),
                "Kind": kinds.get(str(src.get("kind")), str(src.get("kind") or "")),
                "Query": " ".join(str(src.get("query") or "").split()),
                "Date limits": (f"{src.get('date_from') or 'database start'} to "
                                f"{'the day of each run' if str(src.get('date_to')) == 'today' else src.get('date_to') or 'no limit'}"),
            }
            for src in self.search_strategy.get("sources") or []
        ]
        return _html_table(pd.DataFrame(rows, columns=["Source", "Kind", "Query", "Date limits"]))

    def glue_search_dates(self) -> None:
        """Glue the dates of the first and of the latest search in the search log."""
        dates = sorted(str(pd.Timestamp(d).date()) for d in self.evidence["searches"]["search_date"].dropna())
        _glue("first_search", dates[0] if dates else "none")
        _glue("last_search", self.last_search or "none")
        names = [str(s.get("name")) for s in self.search_strategy.get("sources") or []]
        _glue("searched_sources", ", ".join(names) if names else "none")
        log = self.evidence["searches"]
        runs = sorted(str(pd.Timestamp(d).date()) for d in log.loc[log["source"].isin(names), "search_date"].dropna())
        _glue("systematic_status",
              f"These searches were last run on {runs[-1]}." if runs
              else "These searches have not been run yet: their first run is the next scheduled one.")

    def ongoing_table(self) -> Any:
        """Registered studies without results (screening decision ``ongoing``)."""
        rows = [
            {
                "Registration": r.get("nct_id") or r.get("doi") or r.get("pmid") or r.get("record_id"),
                "Title": r.get("title", ""),
                "First found": str(r.get("first_found", ""))[:10],
                "What is known": r.get("reason", ""),
            }
            for r in self.screening_rows if r.get("decision") == "ongoing"
        ]
        if not rows:
            return _markdown("No ongoing study is recorded.")
        return _html_table(pd.DataFrame(rows))

    def new_records_box(self) -> Any:
        """Records found since the latest version's search, by screening decision (living box)."""
        from analysis.living.prisma import since_version

        latest = self.flow_versions[-1]
        counts = since_version(self.screening_rows, latest.get("search_date"))
        labels = {"awaiting": "awaiting screening", "known": "records of studies already in the review",
                  "exclude": "excluded at screening", "not_retrieved": "reports not retrieved",
                  "exclude_fulltext": "excluded after assessment", "include": "included (reports)",
                  "awaiting_classification": "awaiting classification",
                  "ongoing": "ongoing registered studies"}
        rows = [{"New records": labels[k], "n": v} for k, v in counts.items() if k in labels and v]
        rows.append({"New records": "total", "n": counts["records"]})
        _glue("new_since_version", str(latest.get("version")))
        _glue("new_since_date", str(latest.get("search_date")))
        return _html_table(pd.DataFrame(rows))

    def outcome_vocabulary(self) -> Any:
        """The outcome vocabulary as a table."""
        rows = [
            {
                "Outcome": v.get("label", k),
                "Role": v.get("role", ""),
                "Definition": " ".join(str(v.get("definition", "")).split()),
                "Paper wording mapped to it": "; ".join(v.get("paper_wording") or []),
            }
            for k, v in self.vocabulary.items()
        ]
        return _html_table(pd.DataFrame(rows))

    # ----------------------------------------------------------------- flow
    def _flow_runs(self) -> dict[str, Any]:
        """What was searched for this version (:func:`analysis.living.prisma.search_runs`)."""
        from analysis.living.prisma import search_runs

        versions = self.flow_versions
        since = versions[-2].get("search_date") if len(versions) > 1 else None
        return search_runs(self._rows_of("searches"), self._rows_of("search_hits"), since=since,
                           until=versions[-1].get("search_date"))

    def flow_searched_text(self) -> str:
        """In words: the searches whose results this version's diagram counts, per source."""
        runs = self._flow_runs()
        latest = self.flow_versions[-1]
        if not runs["recorded"]:
            return (f"No search of version {latest.get('version')} recorded its results one by one: the "
                    "diagram counts the records of the screening record by the sources that found them.")
        names = self.source_names
        parts = [f"{names.get(r['source_id'], r['source_id'])}: {r['searches']} "
                 f"{'search' if r['searches'] == 1 else 'searches'}, {r['hits']} results"
                 for r in runs["recorded"]]
        total = sum(r["searches"] for r in runs["recorded"])
        return (f"The diagram of version {latest.get('version')} counts every result of the {total} searches "
                f"whose results were recorded one by one ({'; '.join(parts)}). Each result was matched to a record "
                "of the screening record: a record returned by several searches is one record, and its other "
                "results are counted as duplicates removed before screening. A record that no recorded search "
                "returned (named by a lead, or found by a search whose results were not recorded) is counted "
                "once for each source that found it. Every unique record was screened on its title and "
                "abstract, whatever the search that found it was looking for.")

    def flow_reruns_text(self) -> str:
        """In words: which searches were re-run, what the re-runs gave and what was not re-run."""
        runs = self._flow_runs()
        labels = self.code_labels("searches")
        words = labels.get("rerun_result", {})
        purposes = labels.get("purpose", {})
        out = []
        if runs["reruns"]:
            n = sum(runs["reruns"].values())
            same = runs["reruns"].get("as_logged", 0)
            phrases = {"differs": "did not return every record the first run's log names",
                       "not_reproducible": "could not be reproduced"}
            others = [f"{v} {phrases.get(k, words.get(k, k).lower())}"
                      for k, v in sorted(runs["reruns"].items()) if k != "as_logged"]
            out.append(
                f"The searches logged on {_join(runs['rerun_of'])} were run without recording their results one "
                f"by one (their log says in words what each returned), so they were run again with the same "
                f"queries and every result of the re-runs was recorded: of {n} re-runs, "
                + _join([f"{same} gave what the first run's log describes", *others])
                + (" (listed below)" if others else "") + ". A web search does not promise the same pages in the same order from one run to the next: "
                "a re-run is a new search with the same words, and the diagram counts the re-runs, not the "
                "first runs.")
        if runs["unrecorded"]:
            kinds = [f"{purposes.get(k, k.replace('_', ' ')).lower()}: {v}"
                     for k, v in sorted(runs["unrecorded"].items(), key=lambda kv: (-kv[1], kv[0]))]
            n = sum(runs["unrecorded"].values())
            out.append(f"The search log holds {n} more {'search' if n == 1 else 'searches'} whose results were "
                       f"not recorded one by one and that were not re-run, made for other purposes "
                       f"({'; '.join(kinds)}); a record one of them turned up is in the screening record and "
                       "is counted for its source.")
        return " ".join(out)

    def rerun_differences(self) -> Any:
        """The re-runs that did not give what the earlier run's log names, with the notes of both runs."""
        rows = self._flow_runs()["not_as_logged"]
        if not rows:
            return _markdown("Every re-run returned the records the first run's log names.")
        log = {str(r.get("search_id")): r for r in self._rows_of("searches")}
        words = self.code_labels("searches").get("rerun_result", {})
        frame = pd.DataFrame([{
            "Search": f"{r.get('search_id')} ({str(r.get('search_date'))[:10]})",
            "Repeats": f"{r.get('rerun_of')} ({str(log.get(str(r.get('rerun_of')), {}).get('search_date', ''))[:10]})",
            "Query": r.get("query", ""),
            "Result": words.get(str(r.get("rerun_result")), str(r.get("rerun_result"))),
            "What the re-run returned": r.get("notes", ""),
            "What the first run's log says": log.get(str(r.get("rerun_of")), {}).get("notes", ""),
        } for r in rows])
        return _html_table(frame)

    def flow_reconcile_text(self) -> str:
        """In words: the diagram's included studies against the home page's count (the review's own set)."""
        latest = self.flow_versions[-1]
        sets = self.plan.evidence_sets
        by_label = {e["label"]: int(e["n"]) for e in latest.get("included_by_set", [])}
        home = self.set_studies("review")
        home_n = int((home["status"] == "included").sum())
        review_label = str(sets["review"].get("label") or "review")
        in_flow = by_label.get(review_label, 0)
        parts = [f"{by_label.get(str(e.get('label') or k), 0)} in the evidence set “{e.get('label') or k}”"
                 for k, e in sets.items()]
        text = (f"The diagram counts {latest['included_total']} included "
                f"{'study' if latest['included_total'] == 1 else 'studies'}: {_join(parts)}. ")
        if in_flow == home_n:
            text += (f"The {in_flow} of the review's own question are the {home_n} included studies the home "
                     "page counts; the others are analysed apart.")
        else:
            text += (f"The home page counts {home_n} included studies of the review's own question, the diagram "
                     f"{in_flow}: the diagram counts only studies whose included records were first found up to "
                     f"this version's search ({latest.get('search_date')}).")
        reports = latest.get("reports_included_total")
        if reports is not None:
            text += (f" These studies have {reports} reports (a paper, a letter, a meeting abstract or a news "
                     "summary each): PRISMA 2020 counts reports and studies apart.")
        return text

    def glue_flow(self) -> None:
        """Glue the flow page's sentences: what was searched, what the re-runs gave, the included count."""
        _glue("flow_searched", self.flow_searched_text())
        _glue("flow_reruns", self.flow_reruns_text())
        _glue("flow_reconcile", self.flow_reconcile_text())

    def flow_figure(self) -> None:
        """The PRISMA 2020 flow diagram of this version, with the previous version's arm."""
        from analysis.book.plots import prisma_flow, prisma_flow_alt_text

        versions = self.flow_versions
        previous = versions[-2] if len(versions) > 1 else None
        show_figure(self.root, Plot(prisma_flow, (versions[-1], previous)), "prisma-flow",
                f"PRISMA 2020 flow diagram of version {versions[-1].get('version')}.",
                prisma_flow_alt_text(versions[-1], previous))

    # ----------------------------------------------------------------- study tables
    # ----------------------------------------------------------------- provenance of counts
    @functools.cached_property
    def bib_fields(self) -> dict[str, Mapping[str, str]]:
        """Fields of every bibliography entry, by key (``references.bib``)."""
        from analysis.evidence.bibliography import parse_bibliography

        path = self.root / "references.bib"
        if not path.exists():
            return {}
        return {e.key: e.fields for e in parse_bibliography(path).entries}

    @functools.cached_property
    def _confidence_words(self) -> dict[str, str]:
        return self.code_labels("outcomes").get("confidence", {})

    def count_details(self, row: Mapping[str, Any]) -> str:
        """One count (``events/total``) as HTML that opens on its quote, source, confidence and check.

        The study's reference (DOI, PubMed record, web address) comes from its bibliography entry.
        """
        from analysis.book.provenance import count_details, reference_links

        study = str(row.get("study_id", ""))
        bibkey = row.get("bibkey")
        if not isinstance(bibkey, str) or not bibkey:
            match = self.studies.loc[self.studies["study_id"] == study, "bibkey"]
            bibkey = str(match.iloc[0]) if len(match) and isinstance(match.iloc[0], str) else study
        fields = self.bib_fields.get(bibkey, {})
        return count_details(row, confidence_labels=self._confidence_words, references=reference_links(fields),
                             reference_label=self.labels.get(study, "") if fields else "")

    def count_cells(self, rows: pd.DataFrame) -> list[str]:
        """:meth:`count_details` of every row of ``rows`` (outcome counts), in order."""
        return [self.count_details(row) for _, row in rows.iterrows()]

    def labelled_counts(self, rows: pd.DataFrame, label: str = "label") -> str:
        """The counts of ``rows`` as one HTML list, each count behind its study's label."""
        from analysis.book.provenance import count_list

        return count_list(zip(rows[label].astype(str), self.count_cells(rows), strict=True))

    def in_words(self, frame: pd.DataFrame, table: str) -> pd.DataFrame:
        """``frame`` with codes read as words: enum values by their ``x-labels`` (else ``a_b`` -> ``a b``),
        study ids by their citation labels, outcome ids by the vocabulary's labels."""
        out = frame.copy()
        labels = self.code_labels(table)
        for name, spec in self.fields(table).items():
            if name in out.columns and (spec.get("enum") or name in labels):
                words = labels.get(name, {})
                out[name] = out[name].map(
                    lambda v, w=words: w.get(v, v.replace("_", " ")) if isinstance(v, str) else v
                )
        if "study_id" in out.columns:
            out["study_id"] = out["study_id"].map(lambda s: self.labels.get(s, s))
        if "outcome" in out.columns:
            out["outcome"] = out["outcome"].map(lambda o: str(self.vocabulary.get(o, {}).get("label", o)))
        return out

    def _study_table(self, status: str, key: str, evidence_set: str | None = None) -> Any:
        tables = self.plan_raw.get("presentation", {}).get("tables", {})
        columns = tables.get(key, ["study_id"])
        more = [c for c in tables.get(f"{key}_details", []) if c not in columns]
        studies = self.set_studies(evidence_set) if evidence_set else self.studies
        rows = studies.loc[studies["status"] == status].copy()
        if rows.empty:
            return _markdown(f"No study is {status.replace('_', ' ')} in this version.")
        ids = rows["study_id"].to_list()
        rows = _whole_numbers(self.in_words(rows, "studies"))
        fields = self.fields("studies")
        fields["study_id"] = {**fields.get("study_id", {}), "title": "Study"}
        frame = report.labelled_columns(rows, fields, columns)
        if status == "included":  # each count opens on its quote and source
            frame[STUDY_COUNTS_COLUMN] = [self._study_counts(s) for s in ids]
        table = _html_table(frame, html_columns=(STUDY_COUNTS_COLUMN,))
        if not more:
            return table
        details = _html_table(report.labelled_columns(rows, fields, ["study_id", *more]))
        from IPython.display import HTML

        return HTML(
            f"{table.data}<details class=\"study-details\"><summary>All characteristics "
            f"({len(more)} more columns, one row per study)</summary>{details.data}</details>"
        )

    def _study_counts(self, study_id: str) -> str:
        """Every outcome count of one study, labelled by outcome, each opening on its provenance."""
        from analysis.book.provenance import count_list

        rows = self.outcomes.loc[self.outcomes["study_id"] == study_id]
        names = [str(self.vocabulary.get(o, {}).get("label", o)) for o in rows["outcome"]]
        return count_list(zip(names, self.count_cells(rows), strict=True), empty="no count recorded")

    def included_table(self, evidence_set: str = "review") -> Any:
        """Characteristics of the included studies of an evidence set."""
        return self._study_table("included", "included", evidence_set)

    def awaiting_table(self) -> Any:
        """Studies awaiting data, with what is known."""
        return self._study_table("awaiting_data", "awaiting")

    def excluded_table(self) -> Any:
        """Excluded studies with reasons."""
        return self._study_table("excluded", "excluded")

    # ----------------------------------------------------------------- reports and overlapping series
    def _table_or_empty(self, name: str) -> pd.DataFrame:
        """An evidence table, or an empty frame when the data package has no such table."""
        try:
            return self.evidence[name]
        except KeyError:
            return pd.DataFrame()

    def reports_table(self) -> Any:
        """Every study with its reports (paper, letter, abstract, news summary...), what was read of each
        and how many counts come from it (:func:`analysis.book.studyreports.reports_frame`)."""
        from analysis.book.studyreports import REPORTS_COLUMN, reports_frame

        words = self.code_labels("reports").get("kind", {})
        status = self.code_labels("studies").get("status", {})
        frame = reports_frame(self.studies, self._table_or_empty("reports"), self.outcomes,
                              labels=self.labels, kinds=words, status_words=status)
        return _html_table(frame, html_columns=(REPORTS_COLUMN,))

    def overlap_table(self) -> Any:
        """Each judged pair of series that may share patients, with the evidence, what the primary and the
        sensitivity analyses do, and the reason (:func:`analysis.book.studyreports.overlap_frame`)."""
        from analysis.book.studyreports import overlap_frame

        overlap = self._table_or_empty("overlap")
        if overlap.empty:
            return _markdown("No pair of series has been judged to possibly share patients.")
        levels = self.code_labels("overlap").get("overlap", {})
        return _html_table(overlap_frame(overlap, labels=self.labels, levels=levels))

    def alternatives_table(self) -> Any:
        """Alternative readings of uncertain counts beside their primary reading."""
        from analysis.book.studyreports import alternatives_frame

        alternatives = self._table_or_empty("count_alternatives")
        if alternatives.empty:
            return _markdown("No count has an alternative reading.")
        names = {k: str(v.get("label", k)) for k, v in self.vocabulary.items()}
        return _html_table(alternatives_frame(alternatives, self.outcomes, labels=self.labels,
                                              outcome_labels=names))

    # ----------------------------------------------------------------- results
    def show_selection(self, synth: OutcomeSynthesis) -> None:
        """The studies selected for an outcome, each with its own definition (and the outcome it came from)."""
        if synth.k == 0:
            return
        rows = synth.rows
        table = pd.DataFrame({"Study": rows["label"], COUNT_COLUMN: self.count_cells(rows)})
        if "selected_from" in rows.columns:
            table["Selected from"] = [str(self.vocabulary.get(o, {}).get("label", o)) for o in rows["selected_from"]]
        table["The study's definition"] = rows["definition"] if "definition" in rows.columns else ""
        _display(_html_table(table, html_columns=(COUNT_COLUMN,)))
        if len(synth.excluded):
            from IPython.display import HTML

            _display(HTML(
                "<p>Left out of the primary analysis by the plan (single-patient case reports); the sensitivity "
                "analyses put them back:</p>" + self.labelled_counts(synth.excluded)))

    def show_outcome(self, outcome: str | OutcomeSynthesis, result: Any = None, evidence_set: str = "review") -> None:
        """Headline, forest plot, heterogeneity and details of methods of one outcome.

        ``result`` is the pooled fit the page computed itself (``metaprop`` with the plan's
        ``primary`` options); it must be the synthesis' own result, and None when the plan's
        few-study rules do not pool the outcome.
        """
        from analysis.book.plots import (
            forest_plot,
            forest_plot_alt_text,
            study_plot,
            study_plot_alt_text,
        )
        from analysis.book.report import no_prediction_reason, shows_prediction_interval

        synth = outcome if isinstance(outcome, OutcomeSynthesis) else self.synthesis(evidence_set)[outcome]
        _check_page_result(synth, result)
        _display(_markdown(report.headline(synth)))
        if synth.k == 0:
            return
        name = f"forest-{evidence_set}-{synth.outcome}"
        xlabel = f"Proportion with {synth.label[0].lower() + synth.label[1:]}"
        if not synth.pooled:
            note = "Not pooled: " + synth.reason + "."
            show_figure(self.root, Plot(study_plot, (synth.studies,), {"xlabel": xlabel, "note": note}), name,
                        f"{synth.label}, not pooled: each study's proportion with its exact 95% CI; {synth.reason}.",
                        study_plot_alt_text(synth.studies, outcome=synth.label, note=note))
            _display(_markdown(_provenance(synth.rows)))
            return
        rules = synth.rules
        het = {"min_studies_heterogeneity": rules.min_studies_heterogeneity}
        fig = Plot(forest_plot, (synth.result,), {"xlabel": xlabel, **het})
        with_pi = shows_prediction_interval(synth.result, rules.min_studies_prediction, rules.min_studies_heterogeneity)
        caption = (f"Forest plot: {synth.label[0].lower() + synth.label[1:]}. Each row is a study (events/patients, "
                   "proportion with exact 95% CI, weight); the diamond is the pooled proportion (the median of the "
                   f"studies' true proportions) with its 95% {report.interval_word(synth.result)}" + (
                       " and the bar beneath it the 95% prediction interval." if with_pi else
                       f" (no prediction interval: {no_prediction_reason(synth.result, rules.min_studies_prediction, rules.min_studies_heterogeneity)})."))
        show_figure(self.root, fig, name, caption, forest_plot_alt_text(synth.result, outcome=synth.label, **het))
        lines = ["Heterogeneity: " + report.heterogeneity(synth.result, rules.min_studies_heterogeneity) + ".",
                 _provenance(synth.rows),
                 "**Details of methods.** " + synth.result.methods_text()]
        _display(_markdown("\n\n".join(lines)))

    # ----------------------------------------------------------------- robustness panel
    def robustness_panel(self, outcome: str) -> tuple[list[Any], pd.DataFrame]:
        """The specifications of one outcome's robustness panel and their results (one row each).

        Fitted through ``metaprop`` once per build: the results are cached by their inputs in the build's
        cache folder (:func:`analysis.book.figcache.cached_value`), so another chapter, or a rebuild whose
        data did not change for this outcome, reads them instead of refitting.
        """
        from analysis.book.figcache import cached_value
        from analysis.evidence.multiverse import run_panel

        specs = self.robustness_specifications(outcome)
        return specs, run_panel(specs, self.plan, cache=cached_value) if specs else pd.DataFrame()

    def show_robustness(self, synth: OutcomeSynthesis) -> None:
        """The robustness panel of an outcome the plan pools (or the primary outcome): one sentence, a
        specification curve with the plan's analysis marked, the analyses that change one choice, and the
        whole panel as a CSV download. Nothing for other outcomes, or when the plan has no panel."""
        from analysis.book.plots.specification import (
            specification_curve,
            specification_curve_alt_text,
            specification_sentence,
        )
        from analysis.evidence.multiverse import short_labels

        if synth.outcome not in self.focus_outcomes() or self.robustness_plan is None:
            return
        specs, panel = self.robustness_panel(synth.outcome)
        if panel.empty:
            return
        label = synth.label[0].lower() + synth.label[1:]
        _display(_markdown("**How robust is this answer?** The same analysis under every combination of the choices "
                           "the plan names as defensible (methods, studies, outcome definition). "
                           + specification_sentence(panel)))
        stem = f"robustness-{synth.outcome}"
        show_figure(self.root, Plot(specification_curve, (panel,), {"short_labels": short_labels(specs)}), stem,
                    f"Specification curve of {label}: each column is one analysis (method, studies, outcome "
                    "definition, marked in the dots below); above, its estimate with its 95% interval (a credible "
                    "interval for the Bayesian models, a confidence interval for the others), sorted. The plan's "
                    "analysis is the blue diamond on the shaded column. Analyses the plan's few-study rules do not "
                    "pool have no estimate: they are the open marks on the grey band.",
                    specification_curve_alt_text(panel, outcome=label))
        out = self.root / "book" / GENERATED
        out.mkdir(exist_ok=True)
        panel.to_csv(out / f"{stem}.csv", index=False)
        _display(_markdown("The plan's analysis and each analysis that changes one of its choices:"))
        _display(self.one_change_table(panel))
        _display(_markdown(f"Every analysis of the panel: [{stem}.csv]({GENERATED}/{stem}.csv)."))

    def one_change_table(self, panel: pd.DataFrame) -> Any:
        """The plan's analysis, then each analysis of the panel that changes one choice of it (studies, outcome
        definition or method), with its result or why it is not pooled."""
        plan = panel.loc[panel["plan"].astype(bool)].iloc[0]
        same = {c: panel[c] == plan[c] for c in ("method", "inclusion", "definition")}
        steps = [("The plan's analysis", panel.loc[panel["plan"].astype(bool)])]
        for column, other_a, other_b, what in (("inclusion", "method", "definition", "Studies: "),
                                              ("definition", "method", "inclusion", "Outcome definition: "),
                                              ("method", "inclusion", "definition", "Method: ")):
            rows = panel.loc[~same[column] & same[other_a] & same[other_b]]
            steps += [(what + (str(r[f"{column}_label"]) if column == "method" else _lower_first(str(r[f"{column}_label"]))),
                       rows.loc[[i]]) for i, r in rows.iterrows()]
        records = []
        for name, rows in steps:
            row = rows.iloc[0]
            result = (f"{report.percent(row['estimate'])} [{report.interval(row['ci_lower'], row['ci_upper'])}]"
                      if row["display"] == "pooled" else f"not pooled: {row['reason']}")
            records.append({"Analysis": name, "Studies": int(row["k"]), "Patients": int(row["n"]),
                            "Estimate [95% CI or CrI]": result})
        return _html_table(pd.DataFrame(records))

    # ----------------------------------------------------------------- subgroups
    def show_subgroups(self) -> None:
        """Pre-specified subgroup analyses of every outcome with enough studies."""
        from analysis.book.plots import forest_plot_subgroups, forest_plot_subgroups_alt_text
        from analysis.engine.subgroups import subgroup_analysis

        for outcome in self.focus_outcomes():
            synth = self.synthesis()[outcome]
            _display(_markdown(f"### {synth.label}"))
            if not synth.pooled:
                _display(_markdown(_too_few(synth, self.plan)))
                continue
            for spec in self.plan.subgroups:
                rows = synth.rows.loc[synth.rows[spec["column"]].isin(spec.get("levels", []))]
                counts = rows[spec["column"]].value_counts()
                enough = counts[counts >= self.plan.min_studies_to_pool]
                title = f"**{spec['label']}**: "
                if len(enough) < 2:
                    _display(_markdown(title + _subgroup_shortfall(counts, self.plan)))
                    continue
                res = subgroup_analysis(
                    rows["events"].to_numpy(int),
                    rows["total"].to_numpy(int),
                    rows[spec["column"]].astype(str).to_list(),
                    labels=rows["label"].to_list(),
                    min_k=self.plan.min_studies_to_pool,
                    **_engine(self.plan.primary),
                )
                _display(_markdown(title + res.methods_text()))
                het = {"min_studies_heterogeneity": self.plan.few_studies.min_studies_heterogeneity}
                show_figure(self.root, Plot(forest_plot_subgroups, (res,), het), f"subgroups-{outcome}-{spec['id']}",
                        f"Subgroup forest plot: {synth.label.lower()} by {spec['label'].lower()}.",
                        forest_plot_subgroups_alt_text(res))
                words = self.in_words(rows[[spec["column"]]], "studies")[spec["column"]]
                _display(_html_table(pd.DataFrame({"Study": rows["label"].to_numpy(), spec["label"]: words.to_numpy(),
                                                   COUNT_COLUMN: self.count_cells(rows)}),
                                     html_columns=(COUNT_COLUMN,)))

    # ----------------------------------------------------------------- sensitivity
    def sensitivity_methods_table(self) -> None:
        """Each focus outcome under every method of the plan."""
        self._sensitivity_tables(sensitivity_methods, note_unpooled=True)

    def sensitivity_subsets_table(self) -> None:
        """Each focus outcome without secondary/derived data and without case reports."""
        self._sensitivity_tables(sensitivity_subsets, note_unpooled=False)

    def _sensitivity_tables(self, analyse: Any, note_unpooled: bool) -> None:
        for outcome in self.focus_outcomes():
            synth = self.synthesis()[outcome]
            _display(_markdown(f"### {synth.label}"))
            if synth.k == 0 and len(synth.excluded) == 0:
                _display(_markdown("No study has reported this outcome yet."))
                continue
            if note_unpooled and not synth.pooled:
                _display(_markdown(_too_few(synth, self.plan)))
            table = _sensitivity(analyse, synth.rows, self.plan, synth.excluded)
            if "analysis" in table.columns:
                table["analysis"] = table["analysis"].map(self.codes_in_text)
            _display(_html_table(_interval_table(table, self.plan.few_studies)))

    @functools.cached_property
    def _code_words(self) -> dict[str, str]:
        """Words of every coded value of the studies and outcomes tables (the later table's wins)."""
        words: dict[str, str] = {}
        for table in ("studies", "outcomes"):
            for mapping in self.code_labels(table).values():
                words.update(mapping)
        return words

    def codes_in_text(self, text: str) -> str:
        """``text`` with every snake_case code of the data package's ``x-labels`` replaced by its words (lower case)."""
        words = self._code_words
        return re.sub(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b",
                      lambda m: words.get(m.group(0), m.group(0).replace("_", " ")).lower(), str(text))

    def show_leave_one_out(self) -> None:
        """Leave-one-out plots of the focus outcomes with at least three studies."""
        from analysis.book.plots import leave_one_out_plot, leave_one_out_plot_alt_text
        from analysis.engine.sensitivity import leave_one_out

        for outcome in self.focus_outcomes():
            synth = self.synthesis()[outcome]
            need = max(3, self.plan.min_studies_to_pool + 1)  # each analysis left must itself be poolable
            if synth.k < need or not synth.pooled:
                _display(_markdown(f"{synth.label}: {synth.k} studies; leaving one out needs at least {need}, so that "
                                   f"each analysis without one study still pools {need - 1}."))
                continue
            df = leave_one_out(
                synth.rows["events"].to_numpy(int),
                synth.rows["total"].to_numpy(int),
                labels=synth.rows["label"].to_list(),
                **_engine(self.plan.primary),
            )
            df = df.rename(columns={"omitted": "label"})
            show_figure(self.root, Plot(leave_one_out_plot, (df,)), f"leave-one-out-{outcome}",
                    f"Leave-one-out analysis: {synth.label.lower()}, pooled again with each study omitted in turn.",
                    leave_one_out_plot_alt_text(df))

    def show_cumulative(self) -> None:
        """Cumulative meta-analysis of the focus outcomes in the plan's order."""
        from analysis.book.plots import cumulative_plot, cumulative_plot_alt_text
        from analysis.engine.sensitivity import cumulative

        for outcome in self.focus_outcomes():
            synth = self.synthesis()[outcome]
            if not synth.pooled:
                _display(_markdown(f"{synth.label}: {_too_few(synth, self.plan)}"))
                continue
            rows = synth.rows
            order = rows[self.plan.cumulative_order].fillna("9999").to_list()
            df = cumulative(
                rows["events"].to_numpy(int),
                rows["total"].to_numpy(int),
                order,
                labels=rows["label"].to_list(),
                **_engine(self.plan.primary),
            )
            undated = rows.loc[rows[self.plan.cumulative_order].isna(), "label"].to_list()
            note = f" Without a publication date, placed last: {', '.join(undated)}." if undated else ""
            df, skipped = _cumulative_by_the_rules(df.rename(columns={"added": "label"}), rows, self.plan)
            if skipped:
                note += (f" Steps with fewer than {self.plan.min_studies_to_pool} studies are not pooled and not drawn "
                         f"(after {', '.join(skipped)}); the first row is the first study alone, with its exact CI.")
            show_figure(self.root, Plot(cumulative_plot, (df,)), f"cumulative-{outcome}",
                    f"Cumulative meta-analysis: {synth.label.lower()}, by publication date; each row adds one study.{note}",
                    cumulative_plot_alt_text(df))

    # ----------------------------------------------------------------- indirect evidence
    def show_indirect(self) -> None:
        """Context evidence pooled separately, beside the review estimate and the published anchor."""
        direct, context = self.synthesis("review"), self.synthesis("context")
        anchor = self._published_pooled()
        rows = []
        for outcome, meta in self.vocabulary.items():
            for name, synth in (("After CAR-T (this review)", direct[outcome]), ("Poor graft function", context[outcome])):
                if synth.result is not None:
                    rows.append(_comparison_row(meta.get("label", outcome), name, synth))
            for _, ref in anchor.loc[anchor["outcome"] == outcome].iterrows():
                rows.append(_anchor_row(meta.get("label", outcome), ref, self.labels))
        _display(_html_table(pd.DataFrame(rows)))
        for outcome, synth in context.items():
            if synth.pooled:
                _display(_markdown(f"### {synth.label}: poor graft function"))
                self.show_selection(synth)
                self.show_outcome(outcome, evidence_set="context")

    def _published_pooled(self) -> pd.DataFrame:
        try:
            return self.evidence["published_pooled"]
        except KeyError:
            return pd.DataFrame(columns=["bibkey", "outcome"])

    # ----------------------------------------------------------------- risk of bias
    def _rob(self) -> tuple[pd.DataFrame, dict[str, str]]:
        rob = self.evidence["risk_of_bias"]
        included = self.studies.loc[self.studies["status"] == "included", "study_id"]
        items = dict(self.plan_raw.get("risk_of_bias", {}).get("items", {}))
        return rob.loc[rob["study_id"].isin(included)], items

    def rob_items(self) -> Any:
        """The checklist items."""
        _, items = self._rob()
        return _html_table(pd.DataFrame({"Item": list(items), "Question": list(items.values())}))

    def rob_traffic_light(self) -> None:
        """Traffic-light plot of the included studies."""
        from analysis.book.plots import traffic_light, traffic_light_alt_text

        rob, items = self._rob()
        show_figure(self.root, Plot(traffic_light, (rob, items), {"study_labels": self.labels}), "rob-traffic-light",
                "Risk of bias (JBI checklist for case series): one row per included study, one column per item.",
                traffic_light_alt_text(rob, items, study_labels=self.labels))

    def rob_summary(self) -> None:
        """Summary bars of the included studies."""
        from analysis.book.plots import summary_bars, summary_bars_alt_text

        rob, items = self._rob()
        show_figure(self.root, Plot(summary_bars, (rob, items)), "rob-summary",
                "Risk-of-bias summary: share of included studies with each judgement, per item.",
                summary_bars_alt_text(rob, items))

    def summary_of_findings(self) -> Any:
        """Summary-of-findings table in GRADE's format (:func:`analysis.book.sof.sof_table`).

        Per outcome: patients and studies; the proportion per 100 patients (pooled, a single
        study's own with its exact CI, or each study side by side); the certainty as symbols and
        word with a footnote letter per rating down (the short reason of ``grade.csv``); the
        plain-language statement; the counts, each opening on its provenance; the full reasoning
        one click away.
        """
        from IPython.display import HTML

        from analysis.book.sof import sof_table

        return HTML(sof_table([self.sof_row(o, s) for o, s in self.synthesis().items()],
                              levels=self._certainty_levels))

    @property
    def _certainty_levels(self) -> tuple[str, ...]:
        from analysis.evidence.grade import LEVELS

        return tuple(self.plan_raw.get("certainty", {}).get("levels") or LEVELS)

    def _judgements(self) -> pd.DataFrame:
        try:
            return self.evidence["grade"]
        except KeyError:
            return pd.DataFrame(columns=["outcome", "domain", "rating", "reason"])

    def sof_row(self, outcome: str, synth: OutcomeSynthesis) -> Any:
        """One outcome of the summary of findings (:class:`analysis.book.sof.SofRow`)."""
        from analysis.book.sof import SofRow
        from analysis.evidence.grade import DOMAINS, downgrades, plain_statement

        certainty = _certainty_words(self.certainty(), outcome)
        effect, note, amount = _absolute_effect(synth)
        judged = self._judgements()
        mine = judged.loc[judged["outcome"] == outcome]
        order = {d: i for i, d in enumerate(DOMAINS)}
        mine = mine.iloc[sorted(range(len(mine)), key=lambda i: order.get(mine["domain"].iloc[i], len(order)))]
        assessed = certainty not in ("not yet assessed",) and synth.k > 0
        return SofRow(
            outcome=synth.label + (" (primary outcome)" if synth.role == "primary" else ""),
            patients=synth.total_n,
            studies=synth.k,
            effect=effect,
            effect_note=note,
            certainty=certainty,
            downgrades=downgrades(judged, outcome) if assessed else (),
            statement=plain_statement(certainty, synth.label, amount),
            counts_html=self.labelled_counts(synth.rows) if synth.k else "",
            judgements=tuple((str(d), str(r), str(w)) for d, r, w in
                             zip(mine["domain"], mine["rating"], mine["reason"], strict=True)) if assessed else (),
        )

    def grade_wording(self) -> Any:
        """The certainty levels as the summary of findings shows them, with the statement each gives."""
        from analysis.book.sof import certainty_html
        from analysis.evidence.grade import PROPORTION_STATEMENTS, plain_statement

        rows = [{"Certainty": certainty_html(level, self._certainty_levels),
                 "Plain-language statement": plain_statement(level, "the outcome", "about N of every 100 patients")}
                for level in reversed(self._certainty_levels) if level in PROPORTION_STATEMENTS]
        return _html_table(pd.DataFrame(rows), html_columns=("Certainty",))

    # ----------------------------------------------------------------- one study / IPD
    def study_card(self, study_id: str) -> None:
        """What is known of one study, in words: its characteristics and its outcome rows with quotes.

        Identifiers (study id, reference key) and internal curation notes are not shown; coded values
        read as words (:meth:`in_words`); counts not yet checked by a second person are marked.
        """
        study = self.studies.loc[self.studies["study_id"] == study_id]
        if study.empty:
            raise ValueError(f"study {study_id!r} is not in studies.csv")
        fields = self.fields("studies")
        hidden = {"study_id", "bibkey", *self.internal_columns("studies")}
        shown = self.in_words(study, "studies").iloc[0]
        facts = [{"Item": "Study", "Value": self.labels.get(study_id, study_id)}] + [
            {"Item": fields.get(c, {}).get("title", c), "Value": v}
            for c, v in shown.items()
            if c not in hidden and pd.notna(v) and str(v) != ""
        ]
        _display(_html_table(pd.DataFrame(facts)))
        rows = self.outcomes.loc[self.outcomes["study_id"] == study_id]
        if rows.empty:
            _display(_markdown("No outcome count could be read from the published letter yet."))
            return
        _display(_html_table(self.count_rows(rows), html_columns=(COUNT_COLUMN,)))
        _display(_markdown(self.extraction_note(rows)))

    def internal_columns(self, table: str) -> list[str]:
        """Columns kept in the data for the curators but never shown as evidence (``*curation_note*``)."""
        return [name for name in self.fields(table) if "curation_note" in name]

    def count_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Outcome rows as a reader sees them: outcome, the count (HTML: it opens on its quote, source,
        how it was obtained and whether a second person checked it; column :data:`COUNT_COLUMN`), how
        it was obtained, and the study's definition. Display with ``html_columns=(COUNT_COLUMN,)``."""
        shown = self.in_words(rows, "outcomes")
        out = pd.DataFrame({
            "Outcome": shown["outcome"].to_numpy(),
            COUNT_COLUMN: self.count_cells(rows),
            "How the count was obtained": shown["confidence"].to_numpy(),
        })
        if "definition" in rows.columns:
            out["The study's definition"] = rows["definition"].fillna("").to_numpy()
        return out

    def extraction_note(self, rows: pd.DataFrame | None = None) -> str:
        """The marks of single and double extraction explained for the counts ``rows`` (all outcome rows
        by default), with how many counts carry each."""
        rows = self.outcomes if rows is None else rows
        if rows.empty:
            return "No count is shown here."
        single = int((~_checked_column(rows)).sum())
        double = len(rows) - single
        notes = []
        if single:
            notes.append(f"{SINGLE_MARK} Single extraction: {single} of {len(rows)} counts shown here were read from "
                         "their source by one person and have not yet been checked by a second (double extraction "
                         "is pending).")
        if double:
            which = f"all {double} counts" if single == 0 else f"{double} of {len(rows)} counts"
            notes.append(f"{DOUBLE_MARK} Double extraction: {which} shown here were extracted twice, by two people "
                         "reading the sources independently; every difference between them was resolved from the "
                         "source's words (see the methods).")
        return " ".join(notes)

    def extraction_agreements(self) -> list[Any]:
        """Agreement of the two independent extractions before resolution, per compared table
        (:func:`analysis.evidence.agreement.agreement`, declared by the data package's ``x-double-extraction``)."""
        from analysis.evidence.agreement import agreement, comparisons

        out = []
        for resource in self.evidence.package.resources:
            spec = resource.properties.get("x-double-extraction")
            if not isinstance(spec, Mapping):
                continue
            log = _records(self._table_or_empty(resource.name))
            for comparison in comparisons(spec):
                out.append(agreement(comparison, _records(self._table_or_empty(comparison.second)), log))
        return out

    def agreement_text(self) -> str:
        """The agreement of the two extractions in one or two sentences (:func:`agreement_sentence`)."""
        return agreement_sentence(self.extraction_agreements())

    def disagreements_table(self) -> Any:
        """Every difference between the two extractions with its resolution, in words."""
        names = [r.name for r in self.evidence.package.resources if "x-double-extraction" in r.properties]
        log = self._table_or_empty(names[0]) if names else pd.DataFrame()
        if log.empty:
            return _markdown("No difference between the two extractions is recorded.")
        shown = self.in_words(log, names[0])
        outcome = {k: str(v.get("label", k)) for k, v in self.vocabulary.items()}
        items = dict(self.plan_raw.get("risk_of_bias", {}).get("items", {}))
        what = [outcome.get(o, f"{o}: {items[o]}" if o in items else o) for o in log["outcome_or_item"]]
        domains = log["domain"].map(lambda d: d.replace("_", " ") if isinstance(d, str) else "")
        frame = pd.DataFrame({
            "Table": shown["table"], "Round": log["round"], "Study": shown["study_id"].fillna(""),
            "Outcome or item": [f"{w} ({d})" if d else w for w, d in zip(what, domains, strict=True)],
            "Difference": shown["kind"], "First reviewer": log["first_value"].fillna(""),
            "Second reviewer": log["second_value"].fillna(""), "Resolution": shown["resolution"],
            "Value kept": log["resolved_value"].fillna("").replace("", "none"), "Reason (from the source)": log["reason"],
        })
        from IPython.display import HTML

        return HTML(f"<details class=\"study-details\"><summary>Every difference between the two extractions, with "
                    f"its resolution ({len(frame)} rows)</summary>{_html_table(frame).data}</details>")

    def show_ipd(self, study_id: str) -> None:
        """Aggregates and time-to-event curves from private patient data, when present.

        An outcome with a competing event (the plan's ``time_to_event.competing``) is shown as its
        Aalen-Johansen cumulative incidence with that event competing, read off at the plan's
        ``time_to_event.time_points`` (:meth:`_show_incidence`); the others as Kaplan-Meier curves
        (:meth:`_show_km`).
        """
        if study_id not in self.evidence.ipd_studies:
            _display(_markdown(
                "The patient-level file is not present in this build, so the published aggregate (if any) is used."
            ))
            return
        from analysis.evidence.loading import ipd_time_to_event, load_ipd, time_to_event_plan

        rows = self.outcomes.loc[self.outcomes["study_id"] == study_id]
        _display(_markdown("Counts aggregated from the patient-level data (they replace the published ones):"))
        _display(_html_table(self.count_rows(rows), html_columns=(COUNT_COLUMN,)))
        patients = load_ipd(self.data_dir, study_id)
        competing, points = time_to_event_plan(self.plan_raw)
        specs = ipd_time_to_event(self.evidence.package, competing=competing)
        by_outcome = {spec.outcome: spec for spec in specs}
        for spec in specs:
            if spec.competing is not None:
                self._show_incidence(study_id, patients, spec, by_outcome[spec.competing], points)
            else:
                self._show_km(study_id, patients, spec)

    def _outcome_words(self, outcome: str) -> str:
        """An outcome's words in a sentence: its ``short_label`` when the vocabulary gives one, else its label."""
        entry = self.vocabulary.get(outcome, {})
        short = entry.get("short_label")
        return str(short if isinstance(short, str) and short else entry.get("label", outcome)).lower()

    @staticmethod
    def _untimed_note(off: int, label: str) -> str:
        if not off:
            return ""
        return (f" {off} patient{'s' if off != 1 else ''} with {label} recorded but without the day needed "
                f"(of the event, or of the last follow-up) {'are' if off != 1 else 'is'} counted above but "
                "not on the curve.")

    def _show_km(self, study_id: str, patients: pd.DataFrame, spec: Any) -> None:
        """One outcome's Kaplan-Meier curve, drawn as the cumulative proportion with the event (1 - S)."""
        from analysis.book.plots import km_plot, km_plot_alt_text
        from analysis.engine.survival import kaplan_meier
        from analysis.evidence.ipd import time_to_event, untimed

        label = self._outcome_words(spec.outcome)
        time, event = time_to_event(patients, spec, without_time="omit")
        note = self._untimed_note(untimed(patients, spec), label)
        if time.size == 0:
            _display(_markdown(f"No patient has {label} recorded with its day, so there is no curve.{note}"))
            return
        km = kaplan_meier(time, event)
        # the curve starts at the boost (day 0, nobody has the event yet); 1 - S and its band
        args = (np.concatenate(([0.0], km.time)), np.concatenate(([0.0], 1 - km.survival)),
                np.concatenate(([0.0], 1 - km.ci_upper)), np.concatenate(([0.0], 1 - km.ci_lower)))
        kwargs = {"ylabel": f"Cumulative incidence of {label}", "xlabel": "Days after the boost",
                  "censor_times": time[event == 0], "median": km.median}
        show_figure(self.root, Plot(km_plot, args, kwargs), f"km-{study_id}-{spec.outcome}",
                    f"Kaplan-Meier estimate of the cumulative incidence of {label} after the boost, with its 95% "
                    "confidence band where it is defined (patient-level data). Patients without the event are "
                    "censored at their last follow-up.",
                    km_plot_alt_text(*args, **kwargs))
        median = "not reached" if pd.isna(km.median) else f"{km.median:g} days"
        _display(_markdown(f"{km.events} of {km.n} patients; median time: {median}.{note}"))

    def _show_incidence(self, study_id: str, patients: pd.DataFrame, spec: Any, competing: Any,
                        points: tuple[float, ...]) -> None:
        """One outcome's cumulative incidence with a competing event (Aalen-Johansen), its band and summary."""
        from analysis.book.plots import km_plot, km_plot_alt_text
        from analysis.engine.survival import aalen_johansen
        from analysis.evidence.ipd import competing_time_to_event, untimed

        label, other = self._outcome_words(spec.outcome), self._outcome_words(competing.outcome)
        time, status = competing_time_to_event(patients, spec, competing, without_time="omit")
        note = self._untimed_note(untimed(patients, spec, competing), label)
        if time.size == 0:
            _display(_markdown(f"No patient has {label} recorded with its day, so there is no curve.{note}"))
            return
        ci = aalen_johansen(time, status)
        args = (np.concatenate(([0.0], ci.time)), np.concatenate(([0.0], ci.incidence)),
                np.concatenate(([np.nan], ci.ci_lower)), np.concatenate(([np.nan], ci.ci_upper)))
        kwargs = {"ylabel": f"Cumulative incidence of {label}", "xlabel": "Days after the boost",
                  "censor_times": time[status == 0], "median": ci.median, "estimator": "Aalen-Johansen"}
        show_figure(self.root, Plot(km_plot, args, kwargs), f"ci-{study_id}-{spec.outcome}",
                    f"Cumulative incidence of {label} after the boost with {other} as a competing event "
                    "(Aalen-Johansen estimate), with its 95% confidence band where it is defined (patient-level "
                    f"data). A patient with {other} before {label} can no longer have it and is not censored; "
                    "patients with neither are censored at their last follow-up.",
                    km_plot_alt_text(*args, **kwargs))
        _display(_markdown(report.incidence_sentence(ci, label, other, points) + note))

    def change_thresholds(self) -> Any:
        """When a result counts as moved: ``changes`` section of the analysis plan, else the defaults."""
        from analysis.living.whatchanged import Thresholds

        return Thresholds.from_dict(self.plan_raw.get("changes"))

    def glue_changes(self) -> None:
        """Glue the version, the previous one, this version's own trigger and the thresholds of "moved"."""
        previous = self.previous_snapshot()
        _glue("changes_version", self.version_line[0].lower() + self.version_line[1:])  # "version 26.1.0"
        _glue("changes_previous", previous.version if previous else "none (this is the first version)")
        trigger = self.release_trigger()
        _glue("changes_trigger", trigger if trigger else
              "not released yet (the trigger is recorded when this version is released)")
        _glue("changes_thresholds", self.change_thresholds().describe())
        rules = self.alert_rules()
        _glue("answer_rules", rules.describe() if rules else "The plan has no decision rules of when the answer changed.")

    def show_answer(self) -> None:
        """Has the answer changed? The verdict of the plan's decision rules, and each rule, fired or not."""
        from IPython.display import HTML

        from analysis.book.versionpage import answer_html

        _display(HTML(answer_html(self.answer())))

    def show_changes(self) -> None:
        """The change log of the evidence and the results that moved, in sentences, since the previous version."""
        from IPython.display import HTML

        from analysis.book.versionpage import evidence_log_html, moved_results_html
        from analysis.living.whatchanged import NO_CHANGE, evidence_log, results_moved, verdict

        previous = self.previous_snapshot()
        if previous is None:
            _display(_markdown("This is the first version of the review: every study and result is new."))
            return
        old, new = previous.results, self.snapshot_payload()
        log = evidence_log(old, new)
        moved = results_moved(old, new, self.change_thresholds())
        if not log and not moved:
            _display(_markdown(NO_CHANGE))
            return
        _display(_markdown("### Changes to the evidence"))
        if not log:
            _display(_markdown("No change to the evidence (studies, counts, judgements or the analysis plan)."))
        else:
            _display(HTML(evidence_log_html(log)))
        _display(_markdown("### Results that moved"))
        _display(_markdown(verdict(moved)))
        if moved:
            _display(HTML(moved_results_html(moved, self.set_labels(), self.code_labels(), self.field_titles())))

    def set_labels(self) -> dict[str, str]:
        """Evidence-set id to its label (analysis plan)."""
        return {k: str(v.get("label", k)) for k, v in self.plan.evidence_sets.items()}

    def show_history(self) -> None:
        """Estimate of each focus outcome over the released versions and this one."""
        from analysis.book.plots import estimate_over_versions, estimate_over_versions_alt_text
        from analysis.living.changes import history
        from analysis.living.snapshot import load_series

        series = load_series(self.root / "results", self.current_snapshot(), upto=None)
        trend = history(series, "outcomes", ("evidence_set", "outcome", "subgroup"),
                        {"estimate": "result.estimate", "ci_lower": "result.ci_lower",
                         "ci_upper": "result.ci_upper", "k": "k"})
        keep = trend["outcome"].isin(self.focus_outcomes()) & (trend["subgroup"] == "all") & (
            trend["evidence_set"] == "review") & trend["estimate"].notna()
        labels = {k: v.get("label", k) for k, v in self.vocabulary.items()}
        shown = trend.loc[keep]
        show_figure(self.root, Plot(estimate_over_versions, (shown,), {"outcome_labels": labels}), "estimate-over-versions",
                "Pooled proportion (the median of the studies' true proportions) with its 95% CI, or a single study's own "
                "proportion with its exact 95% CI, of the primary outcome and every pooled outcome, in every released "
                "version and this one. Studies shown side by side have no point.",
                estimate_over_versions_alt_text(shown, outcome_labels=labels))

    # ----------------------------------------------------------------- data page
    def data_dictionary(self) -> None:
        """One table per resource of the data package: field, title, type, rules, meaning."""
        for resource in self.evidence.package.resources:
            if not resource.schema.fields:
                continue
            where = resource.path or resource.pattern
            note = (" The columns are public; the files are not: they stay on the investigators' computers."
                    if resource.private else "")
            _display(_markdown(f"### {resource.title or resource.name} (`{where}`)\n\n"
                               f"{' '.join(resource.description.split())}{note}"))
            _display(_html_table(pd.DataFrame([_field_row(f) for f in resource.schema.fields])))

    def machine_readable(self) -> None:
        """Write this version's results for programs (the snapshot, its summary-of-findings rows, the schema)
        into the page's folder of generated files, and list them as downloads."""
        from analysis.living.export import summary_of_findings
        from analysis.living.snapshot import snapshot_json

        out = self.root / "book" / GENERATED
        out.mkdir(exist_ok=True)
        snapshot = self.current_snapshot()
        (out / "results.json").write_text(snapshot_json(snapshot), encoding="utf-8")
        summary_of_findings(snapshot.results).to_csv(out / "summary_of_findings.csv", index=False)
        links = ["- [results.json (this version's results snapshot)](_generated/results.json)",
                 "- [summary_of_findings.csv (one row per outcome)](_generated/summary_of_findings.csv)"]
        schema = self.root / "results" / "results.schema.json"
        if schema.is_file():
            (out / "results.schema.json").write_bytes(schema.read_bytes())
            links.append("- [results.schema.json (the JSON Schema of every field)](_generated/results.schema.json)")
        _display(_markdown("\n".join(links)))

    def downloads(self) -> None:
        """Write CSV copies of the data tables and result tables, and list the links."""
        out = self.root / "book" / "_generated"
        out.mkdir(exist_ok=True)
        links = []
        for name in ("studies", "outcomes", "risk_of_bias", "searches", "screening"):
            path = out / f"{name}.csv"
            self.evidence[name].to_csv(path, index=False)
            links.append(f"- [{name}.csv (data)](_generated/{name}.csv)")
        results = pd.DataFrame([_result_row(s) for s in self.synthesis().values()])
        results.to_csv(out / "results.csv", index=False)
        links.append("- [results.csv (pooled results per outcome)](_generated/results.csv)")
        context = pd.DataFrame([_result_row(s) for s in self.synthesis("context").values()])
        context.to_csv(out / "results-indirect.csv", index=False)
        links.append("- [results-indirect.csv (indirect evidence, per outcome)](_generated/results-indirect.csv)")
        try:  # the record of every change to the analysis plan (PRISMA-LSR L2), when the review keeps one
            self.evidence["protocol_amendments"].to_csv(out / "protocol_amendments.csv", index=False)
            links.append("- [protocol_amendments.csv (changes to the analysis plan)](_generated/protocol_amendments.csv)")
        except KeyError:
            pass
        for outcome in self.focus_outcomes():
            synth = self.synthesis()[outcome]
            rows = synth.rows
            if rows.empty:
                continue
            table = pd.concat([_sensitivity(sensitivity_methods, rows, self.plan, synth.excluded),
                               _sensitivity(sensitivity_subsets, rows, self.plan, synth.excluded)])
            table.insert(0, "outcome", outcome)
            name = f"sensitivity-{outcome}.csv"
            table.to_csv(out / name, index=False)
            links.append(f"- [{name} (sensitivity analyses)](_generated/{name})")
        cert = self.certainty().reset_index(names="outcome")
        cert.to_csv(out / "certainty.csv", index=False)
        links.append("- [certainty.csv (GRADE certainty per outcome)](_generated/certainty.csv)")
        _display(_markdown("\n".join(links)))


# --------------------------------------------------------------------- helpers
def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose values are all whole numbers shown without ".0" (69.0 days -> 69)."""
    out = frame.copy()
    for name in out.columns:
        values = out[name]
        if pd.api.types.is_float_dtype(values) and values.notna().any():
            known = values.dropna()
            if (known == known.round()).all():
                out[name] = values.astype("Int64")
    return out


#: Marker of a count that only one person has extracted (``checked_by`` empty).
SINGLE_MARK = "†"

#: Marker of a count extracted twice, independently (``checked_by`` filled).
DOUBLE_MARK = "✓"


def agreement_sentence(results: Sequence[Any]) -> str:
    """Agreement of two independent extractions in words, from :class:`analysis.evidence.agreement.Agreement` s.

    Examples
    --------
    >>> from analysis.evidence.agreement import Agreement
    >>> agreement_sentence([Agreement("counts", 16, 16, 6), Agreement("ratings", 40, 30, 0)])
    'Before their differences were resolved, the two independent extractions agreed on 16 of 16 counts (100%) and 30 of 40 ratings (75%). A further 6 values were recorded by one reviewer only (6 counts).'
    """
    shown = [a for a in results if a.compared or a.one_sided]
    if not shown:
        return "No value has been extracted a second time yet."
    parts = [f"{a.agreed} of {a.compared} {a.label} ({round(100 * a.rate)}%)" if a.compared
             else f"no {a.label} (none was recorded by both)" for a in shown]
    text = ("Before their differences were resolved, the two independent extractions agreed on "
            f"{_join_words(parts)}.")
    one_sided = [a for a in shown if a.one_sided]
    if one_sided:
        n = sum(a.one_sided for a in one_sided)
        text += (f" A further {n} value{'s were' if n != 1 else ' was'} recorded by one reviewer only "
                 f"({', '.join(f'{a.one_sided} {a.label}' for a in one_sided)}).")
    return text


def _join_words(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [] if frame.empty else frame.to_dict("records")

#: Heading of a table column of counts, each opening on its quote and source.
COUNT_COLUMN = "Events/N (open for the source)"

#: Heading of the studies table's column of every count of a study.
STUDY_COUNTS_COLUMN = "Outcome counts (open for the source)"


def _checked(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _checked_column(rows: pd.DataFrame) -> pd.Series:
    """Whether each row's count was checked by a second person (a filled ``checked_by``)."""
    if "checked_by" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return rows["checked_by"].map(_checked).astype(bool)


def _engine(options: Mapping[str, Any]) -> dict[str, Any]:
    from analysis.evidence.pipeline import engine_options

    return engine_options(options)


def _provenance(rows: pd.DataFrame) -> str:
    counts = rows["confidence"].value_counts()
    parts = [f"{n} {c.replace('_', ' ')}" for c, n in counts.items()]
    return ("Source of the counts: " + ", ".join(parts)
            + " (open a count in the table of studies for its quotation, source and check).")


def _too_few(synth: OutcomeSynthesis, plan: Plan) -> str:
    if synth.k < plan.min_studies_to_pool:
        return (
            f"{synth.k} {'study reports' if synth.k == 1 else 'studies report'} this outcome; "
            f"at least {plan.min_studies_to_pool} are needed to pool, so no pooled analysis is shown."
        )
    return f"Not pooled: {synth.reason}."


def _cumulative_by_the_rules(df: pd.DataFrame, rows: pd.DataFrame, plan: Plan) -> tuple[pd.DataFrame, list[str]]:
    """Cumulative steps as the few-study rules allow: the first study alone with its exact interval, no
    pooled step with fewer studies than the plan pools. Returns the steps kept and the labels of those dropped."""
    from analysis.evidence.fewstudies import exact_studies

    first = df.iloc[0]
    alone = exact_studies(rows.loc[rows["label"] == first["label"]].iloc[:1], float(plan.primary.get("level", 0.95)))
    out = df.copy()
    for column, value in (("estimate", "proportion"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper")):
        out.loc[out.index[0], column] = float(alone[value].iloc[0])
    for column in ("pi_lower", "pi_upper"):
        if column in out.columns:
            out.loc[out.index[0], column] = np.nan
    drop = (out["k"] > 1) & (out["k"] < plan.min_studies_to_pool)
    return out.loc[~drop].reset_index(drop=True), out.loc[drop, "label"].astype(str).to_list()


def _absolute_effect(synth: OutcomeSynthesis) -> tuple[str, str, str]:
    """(effect, how it was obtained, amount for the statement) of an outcome, per 100 patients."""
    if synth.k == 0:
        return "No study", "", ""
    if synth.display == "side_by_side":
        studies = synth.studies
        shown = "; ".join(f"{s['label']}: {report.per_100(s['proportion'])} per 100 "
                          f"({report.per_100(s['ci_lower'])} to {report.per_100(s['ci_upper'])})"
                          for _, s in studies.iterrows())
        low, high = (report.per_100(studies["proportion"].min()), report.per_100(studies["proportion"].max()))
        amount = (f"about {low} of every 100 patients in each study" if low == high
                  else f"between {low} and {high} of every 100 patients, depending on the study")
        return shown, f"Not pooled ({synth.reason}); each study's own proportion with its exact 95% CI.", amount
    est, lo, hi = report.shown_estimate(synth)
    level = round(100 * synth.level)
    note = (f"Pooled from {synth.k} studies ({level}% {report.interval_word(synth.result)})." if synth.pooled
            else f"One study: shown as its own proportion (exact {level}% CI).")
    return report.per_100_with_ci(est, lo, hi), note, f"about {report.per_100(est)} of every 100 patients"


def _unpooled_words(synth: OutcomeSynthesis) -> str:
    """Why an outcome is not pooled, in a few words: one study, or the rules' reason."""
    return "one study: shown as its own proportion" if synth.display == "single" else synth.reason


def _certainty_words(cert: pd.DataFrame, outcome: str) -> str:
    """The certainty of an outcome, or "not yet assessed" when no domain has been judged."""
    if outcome not in cert.index:
        return "not yet assessed"
    if str(cert.loc[outcome, "reasons"]).startswith("not yet assessed"):
        return "not yet assessed"
    return str(cert.loc[outcome, "certainty"])


def _whole_or_words(values: pd.Series, missing: str) -> str:
    """The sum of ``values`` as a whole number, or ``missing`` when none is given."""
    known = pd.to_numeric(values, errors="coerce").dropna()
    return str(int(known.sum())) if len(known) else missing

def _join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _check_page_result(synth: OutcomeSynthesis, result: Any) -> None:
    """A page's own ``metaprop`` call must be the plan's analysis: pooled only where the rules pool."""
    if result is None:
        return
    if not synth.pooled:
        raise ValueError(f"{synth.outcome}: the plan's few-study rules do not pool this outcome ({synth.reason}); "
                         "show its studies without a model")
    mine = (synth.result.estimate, synth.result.ci_lower, synth.result.ci_upper)
    page = (result.estimate, result.ci_lower, result.ci_upper)
    if not all(np.isclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(mine, page, strict=True)):
        raise ValueError(f"{synth.outcome}: the page's fit {page} differs from the plan's primary analysis {mine}")


def _subgroup_shortfall(counts: pd.Series, plan: Plan) -> str:
    have = ", ".join(f"{level}: {n}" for level, n in counts.items()) or "no study has a recorded level"
    return (
        f"too little data for a comparison (studies per subgroup: {have}; each compared subgroup needs "
        f"at least {plan.min_studies_to_pool})."
    )


def _interval_table(frame: pd.DataFrame, rules: Any = None) -> pd.DataFrame:
    """Sensitivity rows for reading: estimate with CI, prediction interval and tau² where heterogeneity can be
    estimated (the plan's ``few_studies`` rules), else the notes say that it cannot."""
    from analysis.evidence.fewstudies import FewStudyRules

    rules = rules or FewStudyRules()
    out = pd.DataFrame({"Analysis": frame["analysis"], "Studies": frame["k"]})
    notes = list(frame["notes"]) if "notes" in frame else [""] * len(frame)
    if "estimate" in frame:
        out["Estimate [95% CI or CrI]"] = [
            "" if pd.isna(e) else f"{report.percent(e)} [{report.interval(lo, hi)}]"
            for e, lo, hi in zip(frame["estimate"], frame["ci_lower"], frame["ci_upper"], strict=True)
        ]
        frame = frame.reindex(columns=[*frame.columns, *(c for c in ("pi_lower", "pi_upper", "tau2")
                                                          if c not in frame.columns)])
        estimable = [pd.notna(k) and rules.heterogeneity_estimable(int(k)) for k in frame["k"]]
        out["Prediction interval"] = [
            report.interval(lo, hi) if ok and pd.notna(lo) and rules.prediction_shown(int(k)) else ""
            for lo, hi, k, ok in zip(frame["pi_lower"], frame["pi_upper"], frame["k"], estimable, strict=True)
        ]
        out["tau²"] = [f"{t:.2f}" if ok and pd.notna(t) else "" for t, ok in zip(frame["tau2"], estimable, strict=True)]
        notes = [_joined_note(n, "" if ok or pd.isna(e) or int(k) < 2 else
                              f"heterogeneity cannot be estimated from {int(k)} studies, so no tau² or prediction interval")
                 for n, ok, e, k in zip(notes, estimable, frame["estimate"], frame["k"], strict=True)]
    out["Notes"] = notes
    return out


def _joined_note(note: Any, extra: str) -> str:
    note = "" if pd.isna(note) else str(note)
    return "; ".join(p for p in (note, extra) if p)


def _comparison_row(outcome: str, name: str, synth: OutcomeSynthesis) -> dict[str, Any]:
    if synth.display == "side_by_side":
        return {"Outcome": outcome, "Evidence": name, "Studies": synth.k, "Patients": synth.total_n,
                "Proportion [95% CI]": "; ".join(report.study_result(s) for _, s in synth.studies.iterrows()),
                "Pooled": f"no ({synth.reason})"}
    est, lo, hi = report.shown_estimate(synth)
    return {
        "Outcome": outcome,
        "Evidence": name,
        "Studies": synth.k,
        "Patients": synth.total_n,
        "Proportion [95% CI]": f"{report.percent(est)} [{report.interval(lo, hi)}]",
        "Pooled": "yes" if synth.pooled else "no (single study, exact CI)",
    }


def _anchor_row(outcome: str, ref: pd.Series, labels: Mapping[str, str]) -> dict[str, Any]:
    ci = "" if pd.isna(ref.get("ci_lower")) else f" [{report.interval(ref['ci_lower'], ref['ci_upper'])}]"
    return {
        "Outcome": outcome,
        "Evidence": f"Published meta-analysis ({labels.get(ref['bibkey'], ref['bibkey'])}; "
                    f"{str(ref['confidence']).replace('_', ' ')} source)",
        "Studies": ref.get("k_studies"),
        "Patients": ref.get("n_patients"),
        "Proportion [95% CI]": report.percent(ref["estimate"]) + (ci or " [CI not reported in the source read]"),
        "Pooled": "reference",
    }


def _field_row(field: Any) -> dict[str, str]:
    """One data-dictionary row from a Table Schema field."""
    rules = ["required"] if field.required else []
    if field.enum:
        words = (getattr(field, "properties", None) or {}).get("x-labels") or {}
        rules.append("one of: " + ", ".join(
            f"{v} (shown as {words[str(v)]!r})" if str(v) in words else str(v) for v in field.enum))
    for value, word in ((field.minimum, "at least"), (field.maximum, "at most")):
        if value is not None:
            rules.append(f"{word} {value:g}")
    feeds = [f"outcome {field.properties['x-outcome']}"] if "x-outcome" in field.properties else []
    feeds += [f"study field {e['field']}" for e in field.properties.get("x-study") or []]
    row = {
        "Column": field.name,
        "Title": field.title,
        "Type": field.type,
        "Rules": "; ".join(rules),
        "Meaning": " ".join(field.description.split()),
    }
    if feeds:
        row["Meaning"] += f" Feeds: {', '.join(feeds)}."
    return row


def _result_row(synth: OutcomeSynthesis) -> dict[str, Any]:
    from analysis.book.report import shows_prediction_interval

    row: dict[str, Any] = {"outcome": synth.outcome, "label": synth.label, "k": synth.k, "n": synth.total_n,
                           "pooled": synth.pooled}
    res = synth.result
    row["display"] = synth.display
    if synth.k == 0:
        return row
    if synth.display == "single":  # a single study: its observed proportion and exact CI, as the page shows
        est, lo, hi = report.shown_estimate(synth)
        row.update(estimate=est, ci_lower=lo, ci_upper=hi,
                   method="single study (not pooled)", ci="exact (Clopper-Pearson)")
        return row
    if not synth.pooled:  # side by side: no pooled number, the reason instead
        row.update(method="not pooled", notes=synth.reason)
        return row
    from analysis.evidence.fewstudies import i2_interval

    row.update(estimate=res.estimate, ci_lower=res.ci_lower, ci_upper=res.ci_upper,
               method=res.method, measure=res.measure, ci=res.ci, pi=res.pi)
    if synth.rules.heterogeneity_estimable(res.k):
        row["tau2"] = res.tau2
    rules = synth.rules
    if rules.heterogeneity_estimable(res.k) and (bounds := i2_interval(res)):
        row.update(i2=res.i2, i2_lower=bounds[0], i2_upper=bounds[1])
    else:
        row["notes"] = f"heterogeneity cannot be estimated from {res.k} studies"
    if shows_prediction_interval(res, rules.min_studies_prediction, rules.min_studies_heterogeneity):
        row.update(pi_lower=res.pi_lower, pi_upper=res.pi_upper)
    return row


def _methods_without_data(plan: Plan) -> str:
    p = plan.primary
    return (
        f"Pre-specified: measure {p.get('measure')}, tau² estimator {p.get('method')}, confidence interval "
        f"{p.get('ci')}, prediction interval {p.get('pi')}; no outcome has enough studies to pool yet."
    )


