"""Tests of the version page's HTML (analysis.book.versionpage); results here are synthetic."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from analysis.book.versionpage import evidence_log_html, moved_results_html
from analysis.living.whatchanged import MovedResult


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def moved(outcome: str, subgroup: str = "all", evidence_set: str = "review") -> MovedResult:
    return MovedResult(outcome=outcome, subgroup=subgroup, evidence_set=evidence_set, label=outcome.title(),
                       before="50%", after="40%", why=("Li 2023: count corrected from 5/5 to 4/5",))


def test_empty_log_and_nothing_moved_give_no_html() -> None:
    assert evidence_log_html({}) == ""
    assert moved_results_html([]) == ""


def test_log_lists_each_sentence_under_its_kind_with_links_and_escaping() -> None:
    html = evidence_log_html({"Outcome counts": ["A <b>, x: corrected from 5/5 to 4/5 (source: https://e.org/a?b=1&c=2)."],
                              "Studies": ["B: added."]})
    page = parse(html)
    assert page.links == ["https://e.org/a?b=1&c=2"]
    assert "b" not in page.tags  # the study text was escaped, not markup
    assert "".join(page.text).startswith("Outcome countsA <b>, x: corrected from 5/5 to 4/5 (source: ")
    assert page.tags.count("li") == 2


def test_subgroups_sit_behind_a_details_element_under_their_outcome() -> None:
    html = moved_results_html([moved("gvhd"), moved("gvhd", "scb_source=allogeneic"), moved("death", "age=adult")],
                              {"review": "Main evidence"}, {"scb_source": {"allogeneic": "Allogeneic"}})
    page = parse(html)
    text = "".join(page.text)
    assert text.startswith("Main evidence")
    assert page.tags.count("details") == 2
    assert "1 subgroup moved" in text
    assert "scb source: allogeneic: Gvhd: 50% → 40%" in text
    assert "Death: the overall result did not move; some subgroups did." in text
    assert "scb_source=" not in text


@given(st.text(max_size=40))
def test_any_text_is_escaped(sentence: str) -> None:
    html = evidence_log_html({"Studies": [sentence]})
    assert "<script" not in html.replace("&lt;script", "")


def test_the_answer_says_which_rules_fired() -> None:
    from analysis.book.versionpage import answer_html
    from analysis.living.alerts import AlertRules, evaluate

    rules = AlertRules.from_plan({"alerts": {"rules": [
        {"id": "moves", "when": "estimate_moves", "outcomes": "all", "points": 0.1},
        {"id": "gained", "when": "pooled_changes", "outcomes": "all"}]}})

    def payload(estimate: float) -> dict:  # SYNTHETIC
        return {"outcomes": [{"evidence_set": "review", "subgroup": "all", "outcome": "o", "label": "Synthetic <o>",
                              "pooled": True, "result": {"estimate": estimate, "ci_lower": 0.1, "ci_upper": 0.9}}]}

    page = answer_html(evaluate(rules, payload(0.5), payload(0.7), "26.0.0"))
    assert page.startswith('<div class="answer"><p class="answer-verdict"><strong>The answer changed</strong>'
                           " since 26.0.0: the pooled estimate of synthetic &lt;o&gt; moved by 20 percentage points")
    assert ("A pooled estimate moves by 10 percentage points or more: <strong>fired</strong>" in page
            and "An outcome gains or loses a pooled estimate: <strong>did not fire</strong>" in page)
    quiet = answer_html(evaluate(rules, payload(0.5), payload(0.52), "26.0.0"))
    assert "<strong>No change to the answer</strong> since 26.0.0" in quiet and "<strong>fired" not in quiet
    first = answer_html(evaluate(rules, None, payload(0.5), None))
    assert "First version" in first and "answer-rules" not in first
