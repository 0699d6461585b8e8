"""analysis.engine.results.MetaPropResult: immutability, summary(), to_dict(), methods text, printing."""

from __future__ import annotations

import dataclasses
import json

import pytest

from analysis import MetaPropResult, metaprop
from analysis.engine.results import METAFOR_NAMES

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
RES = metaprop(PRITZ_X, PRITZ_N, ci="hksj")


def test_result_is_frozen_and_studies_cannot_be_changed_through_it() -> None:
    assert isinstance(RES, MetaPropResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        RES.estimate = 0.5  # type: ignore[misc]
    s = RES.studies
    s.loc[0, "events"] = 0
    assert RES.studies.loc[0, "events"] == 16


def test_contract_attributes_exist() -> None:
    names = ["k", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "mu", "se", "tau2",
             "q", "q_df", "q_pvalue", "i2", "i2_q", "h2", "tau2_ci", "measure", "method", "ci",
             "pi", "level", "total_events", "total_n", "notes", "studies"]
    for name in names:
        assert hasattr(RES, name), name
    assert isinstance(RES.notes, tuple) and isinstance(RES.tau2_ci, tuple)


def test_metafor_name_map_points_to_real_attributes() -> None:
    for ours in METAFOR_NAMES.values():
        assert hasattr(RES, ours)
    assert len(set(METAFOR_NAMES.values())) == len(METAFOR_NAMES)


def test_summary_has_studies_pooled_and_prediction_rows() -> None:
    s = RES.summary()
    assert s["row"].tolist() == ["study"] * 14 + ["pooled", "prediction"]
    pooled, pred = s.iloc[14], s.iloc[15]
    assert (pooled["proportion"], pooled["ci_lower"], pooled["ci_upper"]) == (
        RES.estimate, RES.ci_lower, RES.ci_upper)
    assert (pooled["events"], pooled["n"]) == (246, 326)
    assert (pred["ci_lower"], pred["ci_upper"]) == (RES.pi_lower, RES.pi_upper)


def test_to_dict_is_json_safe_and_round_trips() -> None:
    d = RES.to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["estimate"] == RES.estimate and back["tau2_ci"] == list(RES.tau2_ci)
    assert back["version"] and "study_rows" not in back


def test_methods_text_names_every_choice() -> None:
    text = RES.methods_text()
    for phrase in ("restricted maximum likelihood", "logit", "Hartung-Knapp-Sidik-Jonkman",
                   "t distribution with 13 df", "typical within-study variance",
                   "Q-based I^2", "Q-profile", "continuity correction of 0.5", "Clopper-Pearson"):
        assert phrase in text, phrase


def test_str_follows_metafor_layout_and_ends_with_methods() -> None:
    text = str(RES)
    assert text.startswith("Random-Effects Model (k = 14; tau^2 estimator: REML)")
    assert "tau^2 (estimated amount of total heterogeneity): 0.3646 [0.0414, 2.0510]" in text
    assert "I^2 (total heterogeneity / total variability):   56.56%" in text
    assert "Q(df = 13) = 29.7854, p-val = 0.0051" in text
    assert "0.7575 [0.6481, 0.8412] (95% CI)" in text
    details = text.split("Details of methods:")
    assert len(details) == 2 and "Clopper-Pearson" in details[1]


def test_str_of_glmm_shows_lrt_and_common_effect_has_no_tau2_line() -> None:
    glmm = str(metaprop(PRITZ_X, PRITZ_N, method="GLMM"))
    assert "LRT(df = 13) = 42.2324" in glmm and "binomial-normal" in glmm
    ee = str(metaprop(PRITZ_X, PRITZ_N, method="EE"))
    assert ee.startswith("Common-Effect Model") and "tau^2 (estimated" not in ee
