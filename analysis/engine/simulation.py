r"""Monte Carlo study of meta-analysis methods for a few small single-arm case series.

Question: when a review pools proportions from 2 to 10 small series (1 to 60 patients each)
with rates between 80 % and 100 %, which method's 95 % confidence interval covers the true pooled
proportion 95 % of the time, with the narrowest intervals, and which prediction interval covers a
new study's true proportion? The study follows the ADEMP structure of Morris et al. (2019, Stat Med
38:2074):

* **Aims**: coverage, bias, interval width and failures of the methods in :data:`METHODS`.
* **Data-generating mechanisms** (:func:`simulate_data`, :data:`MECHANISMS`): for scenario
  :math:`(k, p, \tau)`, each of the :math:`k` studies draws its size :math:`n_i` uniformly from
  the integers ``n_min`` to ``n_max`` and its events
  :math:`x_i \sim \operatorname{Bin}(n_i, \pi_i)` from its true proportion :math:`\pi_i`:

  - ``binomial-normal`` (the model the GLMM and the Bayesian models fit, [hamza2008]):
    :math:`\operatorname{logit}\pi_i = \mu + \tau z_i`, :math:`\mu = \operatorname{logit} p`,
    :math:`z_i \sim N(0, 1)`; :math:`p = 1` gives every study all events.
  - ``beta-binomial`` (between-study variation that is not logit-normal):
    :math:`\pi_i \sim \mathrm{Beta}(a, b)` with median :math:`p` and concentration
    :math:`a + b =` ``param`` (:func:`beta_with_median`); near 100 % this Beta is J-shaped,
    with many studies whose true proportion is almost 1 and a long tail below.
  - ``definition-shift`` (series whose outcome definitions differ): each study uses, with
    probability 1/2 each, a strict or a loose definition whose true proportions differ by
    ``param`` (about 10 percentage points): :math:`\operatorname{logit}\pi_i =
    \operatorname{logit}(p \pm \text{param}/2) + \tau z_i`.
  - ``case-report``: the :math:`k` series of the binomial-normal model plus one single-patient
    report of a success (1/1), the kind of report that is published because it succeeded.
* **Estimand**: the pooled proportion :math:`p`: the *median* true proportion across studies for
  the binomial-normal model (:math:`\operatorname{expit}\mu`, not the mean, which is pulled
  towards 0.5 when :math:`\tau > 0`), the median of the Beta distribution, the proportion
  midway between the two definitions, and the series' median for ``case-report``. Every method's
  pooled estimate is read as an estimate of it. For prediction intervals, the true proportion of a
  new study drawn from the same mechanism (:func:`new_study_coverage`).
* **Methods** (:func:`fit_methods`): the engine's estimators (:mod:`analysis.engine.tau2`,
  :mod:`analysis.engine.glmm`, :mod:`analysis.engine.bayes_bn`) per replicate; pooled means,
  standard errors and interval bounds as closed forms over all replicates at once (the formulas
  of :func:`analysis.engine.rma.rma_uni`); every rule of :func:`analysis.engine.metaprop` that
  replaces a model (exact pooled interval when every study sits at the same boundary, Bayesian
  binomial-normal model when the GLMM has no finite estimate, ad hoc SE when the HKSJ SE is 0)
  applied as ``metaprop`` applies it.
* **Performance measures** (:func:`summarise`), each with its Monte Carlo standard error (MCSE):
  coverage of the CI; coverage of the PI (for each replicate the probability, under the true
  model, that a new study's true proportion falls inside the interval, averaged over replicates;
  this conditional expectation has the same mean as the hit rate of one simulated new study and a
  smaller MCSE); bias of the pooled proportion; median CI and PI widths on the proportion scale;
  mean interval score of the CI ([gneiting2007]); failure rate.

Random numbers: every scenario has its own :class:`numpy.random.Generator`, seeded from the
study seed and the scenario's parameters (:func:`scenario_rng`), so a scenario's data do not
depend on which other scenarios are run or in which order (or on which worker process).

Pure: no file or network I/O (``tools/simulate.py`` runs the study and writes its results).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from analysis.engine.effects import back_transform, escalc, harmonic_mean
from analysis.engine.tau2 import tau2_reml

__all__ = [
    "ENGINE_SETTINGS",
    "MECHANISMS",
    "METHODS",
    "METHOD_LABELS",
    "SUMMARY_COLUMNS",
    "MethodOutput",
    "Scenario",
    "SimulatedData",
    "beta_with_median",
    "check_summary",
    "coverage_band",
    "coverage_by_k",
    "fit_methods",
    "interval_score",
    "median_mcse",
    "method_for",
    "new_study_coverage",
    "nominal_mcse",
    "pi_coverage_probability",
    "pooled_intervals",
    "run_scenario",
    "scenario_grid",
    "scenario_rng",
    "scorecard",
    "simulate_data",
    "summarise",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Methods compared, by short name (all on the logit scale unless said otherwise; every
#: prediction interval of a frequentist method uses t with k - 1 df, as the review's ``pi="t"``).
METHODS: tuple[str, ...] = (
    "DL-z",
    "REML-z",
    "REML-HKSJ",
    "REML-HKSJ-adhoc",
    "GLMM-z",
    "GLMM-t",
    "BAYES-BN-HN0.5",
    "BAYES-BN-HN1.0",
    "BAYES-BN-HN1.0-N1.5",
    "PFT-REML",
)
#: Plain-language names of :data:`METHODS`.
METHOD_LABELS: dict[str, str] = {
    "DL-z": "Logit, DerSimonian-Laird, Wald CI",
    "REML-z": "Logit, REML, Wald CI",
    "REML-HKSJ": "Logit, REML, HKSJ CI",
    "REML-HKSJ-adhoc": "Logit, REML, HKSJ CI with ad hoc correction",
    "GLMM-z": "Binomial-normal GLMM (ML), Wald CI",
    "GLMM-t": "Binomial-normal GLMM (ML), t(k-1) CI",
    "BAYES-BN-HN0.5": "Bayesian binomial-normal, half-normal(0.5) prior on tau",
    "BAYES-BN-HN1.0": "Bayesian binomial-normal, half-normal(1.0) prior on tau",
    "BAYES-BN-HN1.0-N1.5": ("Bayesian binomial-normal, half-normal(1.0) prior on tau, "
                            "N(0, 1.5^2) prior on mu (prior sensitivity)"),
    "PFT-REML": "Freeman-Tukey double arcsine, REML, Wald CI",
}
#: ``metaprop`` settings that each method of :data:`METHODS` reproduces (with ``pi="t"``; the
#: Bayesian binomial-normal methods use the logistic(0, 1) prior on mu unless said otherwise).
ENGINE_SETTINGS: dict[str, dict[str, Any]] = {
    "DL-z": {"measure": "PLO", "method": "DL", "ci": "z"},
    "REML-z": {"measure": "PLO", "method": "REML", "ci": "z"},
    "REML-HKSJ": {"measure": "PLO", "method": "REML", "ci": "hksj"},
    "REML-HKSJ-adhoc": {"measure": "PLO", "method": "REML", "ci": "hksj_adhoc"},
    "GLMM-z": {"measure": "PLO", "method": "GLMM", "ci": "z"},
    "GLMM-t": {"measure": "PLO", "method": "GLMM", "ci": "t"},
    "BAYES-BN-HN0.5": {"measure": "PLO", "method": "BAYES_BN", "ci": "z", "tau_prior_scale": 0.5},
    "BAYES-BN-HN1.0": {"measure": "PLO", "method": "BAYES_BN", "ci": "z", "tau_prior_scale": 1.0},
    "BAYES-BN-HN1.0-N1.5": {"measure": "PLO", "method": "BAYES_BN", "ci": "z",
                            "tau_prior_scale": 1.0, "mu_prior": "normal", "mu_prior_sd": 1.5},
    "PFT-REML": {"measure": "PFT", "method": "REML", "ci": "z"},
}

#: Data-generating mechanisms of :class:`Scenario` (module docstring).
MECHANISMS: tuple[str, ...] = ("binomial-normal", "beta-binomial", "definition-shift",
                               "case-report")


@dataclass(frozen=True)
class Scenario:
    """One data-generating scenario.

    Attributes
    ----------
    k : int
        Studies per meta-analysis (series; ``case-report`` adds one single-patient report).
    proportion : float
        True pooled proportion :math:`p` (the estimand), in (0, 1]; 1 only for the
        binomial-normal and case-report mechanisms (every study then has all events).
    tau : float
        Between-study standard deviation on the logit scale (>= 0; 0 for ``beta-binomial``).
    n_min, n_max : int
        Study sizes are drawn uniformly from the integers ``n_min`` to ``n_max``.
    mechanism : str
        One of :data:`MECHANISMS`.
    param : float
        ``beta-binomial``: the concentration :math:`a + b` of the Beta distribution;
        ``definition-shift``: the difference between the two definitions' true proportions;
        0 otherwise.
    """

    k: int
    proportion: float
    tau: float
    n_min: int = 1
    n_max: int = 60
    mechanism: str = "binomial-normal"
    param: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.k, int | np.integer) and self.k >= 2):
            raise ValueError(f"k must be an integer >= 2; got {self.k!r}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {', '.join(MECHANISMS)}; got {self.mechanism!r}")
        top = self.mechanism in ("binomial-normal", "case-report")
        if not (0 < self.proportion < 1 or (top and self.proportion == 1)):
            raise ValueError(f"proportion must lie in (0, 1) (or be 1 for the binomial-normal and "
                             f"case-report mechanisms); got {self.proportion}")
        if not (math.isfinite(self.tau) and self.tau >= 0):
            raise ValueError(f"tau must be finite and >= 0; got {self.tau}")
        if not 1 <= self.n_min <= self.n_max:
            raise ValueError(f"need 1 <= n_min <= n_max; got {self.n_min}, {self.n_max}")
        self._check_param()

    def _check_param(self) -> None:
        if self.mechanism == "beta-binomial":
            if not (self.param > 0 and self.tau == 0):
                raise ValueError("beta-binomial needs param (the concentration a + b) > 0 and tau 0; "
                                 f"got param {self.param}, tau {self.tau}")
        elif self.mechanism == "definition-shift":
            half = self.param / 2
            if not (self.param > 0 and self.proportion - half > 0 and self.proportion + half <= 1):
                raise ValueError("definition-shift needs param > 0 with both definitions' "
                                 f"proportions in (0, 1]; got p {self.proportion}, param {self.param}")
        elif self.param != 0:
            raise ValueError(f"param must be 0 for mechanism {self.mechanism!r}; got {self.param}")

    @property
    def mu(self) -> float:
        """Logit of the estimand, :math:`\\operatorname{logit}(p)` (infinite for p = 1)."""
        return math.inf if self.proportion == 1 else float(special.logit(self.proportion))

    @property
    def k_total(self) -> int:
        """Studies in each simulated meta-analysis (k, plus one for ``case-report``)."""
        return self.k + (self.mechanism == "case-report")

    def key(self) -> tuple[int, ...]:
        """Integers identifying the scenario (its parameters; used to seed its generator). The
        binomial-normal mechanism keeps the key of the first version of this study."""
        base = (int(self.k), round(self.proportion * 1_000_000), round(self.tau * 1_000_000),
                int(self.n_min), int(self.n_max))
        if self.mechanism == "binomial-normal":
            return base
        return (*base, MECHANISMS.index(self.mechanism), round(self.param * 1_000_000))


def scenario_grid(
    ks: Iterable[int] = (3, 5, 10),
    proportions: Iterable[float] = (0.6, 0.8, 0.95),
    taus: Iterable[float] = (0.0, 0.5, 1.0),
    n_range: tuple[int, int] = (1, 60),
    mechanism: str = "binomial-normal",
    param: float = 0.0,
) -> tuple[Scenario, ...]:
    """Full factorial grid of scenarios, in the order k, proportion, tau. With p = 1 every
    study has all events whatever tau: only tau = 0 is kept for it."""
    return tuple(
        Scenario(int(k), float(p), float(t), n_range[0], n_range[1], mechanism, float(param))
        for k in ks
        for p in proportions
        for t in taus
        if not (float(p) == 1 and float(t) > 0)
    )


def scenario_rng(seed: int, scenario: Scenario) -> np.random.Generator:
    """Generator for one scenario: :class:`numpy.random.SeedSequence` of ``seed`` whose spawn key
    is :meth:`Scenario.key`, so streams of different scenarios are independent and reproducible."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=scenario.key()))


def beta_with_median(median: float, concentration: float) -> tuple[float, float]:
    """Shape parameters (a, b) of the Beta distribution with the given median and a + b.

    The median :math:`I^{-1}_{1/2}(a, c - a)` increases with :math:`a` for fixed
    :math:`c = a + b`, so the root in :math:`a \\in (0, c)` is unique (Brent's method).
    """
    from scipy import optimize

    if not (0 < median < 1 and concentration > 0):
        raise ValueError(f"need 0 < median < 1 and concentration > 0; got {median}, {concentration}")
    c = float(concentration)

    def gap(a: float) -> float:
        return float(special.betaincinv(a, c - a, 0.5)) - median

    a = optimize.brentq(gap, c * 1e-9, c * (1 - 1e-9), xtol=1e-14, rtol=1e-14)
    return float(a), c - float(a)


@dataclass(frozen=True)
class SimulatedData:
    """Replicates of one scenario; arrays of shape (replicates, k_total).

    Attributes
    ----------
    events, n : numpy.ndarray of int
        Event counts and study sizes.
    theta : numpy.ndarray of float
        The studies' true logits (+inf for a true proportion of 1).
    """

    events: IntArray
    n: IntArray
    theta: FloatArray


def _true_logits(scenario: Scenario, shape: tuple[int, int],
                 rng: np.random.Generator) -> FloatArray:
    z = rng.standard_normal(shape)
    if scenario.mechanism == "beta-binomial":
        a, b = beta_with_median(scenario.proportion, scenario.param)
        with np.errstate(divide="ignore"):
            return np.asarray(special.logit(rng.beta(a, b, size=shape)), dtype=float)
    if scenario.mechanism == "definition-shift":
        side = 2 * rng.integers(0, 2, size=shape) - 1
        with np.errstate(divide="ignore"):
            centre = special.logit(scenario.proportion + side * scenario.param / 2)
        return np.asarray(centre + scenario.tau * z, dtype=float)
    return scenario.mu + scenario.tau * z


def simulate_data(scenario: Scenario, replicates: int, rng: np.random.Generator) -> SimulatedData:
    """Draw ``replicates`` meta-analyses of ``scenario`` (module docstring: the mechanisms).

    Draws, in this order and all at once: sizes (``rng.integers``), standard normal effects,
    then the mechanism's own draws (Beta proportions, or the definition of each study), then
    binomial counts. ``case-report`` appends one study with 1 event out of 1. SYNTHETIC data, for
    the simulation study only.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1; got {replicates}")
    shape = (int(replicates), scenario.k)
    n = rng.integers(scenario.n_min, scenario.n_max + 1, size=shape)
    theta = _true_logits(scenario, shape, rng)
    events = rng.binomial(n, special.expit(theta))
    if scenario.mechanism == "case-report":
        one = np.ones((shape[0], 1), dtype=np.int64)
        n, events = np.hstack([n, one]), np.hstack([events, one])
        theta = np.hstack([theta, np.full((shape[0], 1), math.inf)])
    return SimulatedData(events.astype(np.int64), n.astype(np.int64), theta)


# ------------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class MethodOutput:
    """One method's results over all replicates, on the proportion scale; arrays of shape (R,).

    Attributes
    ----------
    estimate, ci_lower, ci_upper, pi_lower, pi_upper : numpy.ndarray of float
        Pooled proportion and interval bounds; NaN only where the method raised an error.
    failed : numpy.ndarray of bool
        True where the method raised an error, did not converge or fell back to another method.
    notes : tuple of str
        Per replicate: why it failed ("" when it did not).
    """

    estimate: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    pi_lower: FloatArray
    pi_upper: FloatArray
    failed: BoolArray
    notes: tuple[str, ...]


def _quantile(level: float, df: int | None) -> float:
    p = 1 - (1 - level) / 2
    return float(stats.norm.ppf(p) if df is None else stats.t.ppf(p, df))


def _reml(yi: FloatArray, vi: FloatArray) -> tuple[FloatArray, list[str]]:
    """REML tau2 per replicate with the engine's solver (:func:`analysis.engine.tau2.tau2_reml`)."""
    tau2 = np.empty(yi.shape[0])
    notes = []
    for r in range(yi.shape[0]):
        est = tau2_reml(yi[r], vi[r])
        tau2[r] = est.tau2
        notes.append("" if est.converged else "REML tau2 solver did not converge")
    return tau2, notes


def _dl(yi: FloatArray, vi: FloatArray) -> FloatArray:
    """DerSimonian-Laird tau2 over replicates (rows), truncated at 0 (:func:`analysis.engine.tau2.tau2_dl`)."""
    w = 1.0 / vi
    sw = w.sum(axis=1)
    mu = (w * yi).sum(axis=1) / sw
    q = (w * (yi - mu[:, None]) ** 2).sum(axis=1)
    c = sw - (w**2).sum(axis=1) / sw
    return np.maximum(0.0, (q - (yi.shape[1] - 1)) / c)


def pooled_intervals(
    yi: FloatArray, vi: FloatArray, tau2: FloatArray, ci: str, level: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Inverse-variance pooled mean with CI and t(k-1) PI over replicates (rows), measure scale.

    The formulas of :func:`analysis.engine.rma.rma_uni` with ``pi="t"``: :math:`w_i = 1/(v_i +
    \\hat\\tau^2)`, :math:`\\hat\\mu = \\sum w_i y_i / \\sum w_i`; SE :math:`(\\sum w_i)^{-1/2}`
    ("z"), the HKSJ SE ("hksj", [knapp2003]; the Wald SE where the HKSJ SE is 0, as
    :func:`analysis.engine.metaprop` does) or the larger of the two ("hksj_adhoc");
    PI :math:`\\hat\\mu \\pm t_{k-1}\\sqrt{SE^2 + \\hat\\tau^2}` (the form of [higgins2009], who used
    k - 2 df).

    Returns
    -------
    mu, ci_lower, ci_upper, pi_lower, pi_upper : numpy.ndarray of shape (R,)
    """
    k = yi.shape[1]
    w = 1.0 / (vi + tau2[:, None])
    sw = w.sum(axis=1)
    mu = (w * yi).sum(axis=1) / sw
    se = 1.0 / np.sqrt(sw)
    df: int | None = None
    if ci in ("hksj", "hksj_adhoc"):
        rss = (w * (yi - mu[:, None]) ** 2).sum(axis=1)
        rss = np.where(rss <= np.finfo(float).eps, 0.0, rss)
        se_hk = np.sqrt(rss / (k - 1) / sw)
        # plain HKSJ with a zero SE (identical effects) takes the Wald SE, as metaprop does
        se = np.where(se_hk > 0, se_hk, se) if ci == "hksj" else np.maximum(se_hk, se)
        df = k - 1
    elif ci != "z":
        raise ValueError(f"ci must be 'z', 'hksj' or 'hksj_adhoc'; got {ci!r}")
    half = _quantile(level, df) * se
    half_pi = _quantile(level, k - 1) * np.sqrt(se**2 + tau2)
    return mu, mu - half, mu + half, mu - half_pi, mu + half_pi


def _output(values: Sequence[FloatArray], failed: BoolArray, notes: Sequence[str],
            transform: Callable[[FloatArray], FloatArray] = special.expit) -> MethodOutput:
    est, lo, hi, plo, phi = (np.asarray(transform(np.asarray(v, dtype=float)), dtype=float)
                             for v in values)
    return MethodOutput(est, lo, hi, plo, phi, np.asarray(failed, dtype=bool), tuple(notes))


def _glmm(events: IntArray, n: IntArray, level: float, ci: str = "z",
          skip: BoolArray | None = None) -> MethodOutput:
    """GLMM per replicate with a Wald (``ci="z"``) or t(k-1) (``"t"``) CI; where it has no finite
    estimate or does not converge, the Bayesian binomial-normal model with metaprop's default
    priors (half-normal(0.5) on tau, logistic(0, 1) on mu), as :func:`analysis.engine.metaprop`
    reports it, counted as a failure."""
    from analysis.engine.glmm import fit_binomial_normal

    k = events.shape[1]
    cq, tc = _quantile(level, k - 1 if ci == "t" else None), _quantile(level, k - 1)
    vals = np.full((5, events.shape[0]), np.nan)
    failed = np.zeros(events.shape[0], dtype=bool)
    notes = [""] * events.shape[0]
    for r in range(events.shape[0]):
        if skip is not None and skip[r]:
            continue
        key = (events[r].tobytes(), n[r].tobytes())
        try:
            g = _GLMM_CACHE.get(key) or fit_binomial_normal(events[r], n[r])
            _GLMM_CACHE[key] = g
            ok, why = bool(g.converged), str(g.message)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            ok, why = False, f"error {type(exc).__name__}"
        if ok:
            half, half_pi = cq * g.se, tc * math.sqrt(g.se**2 + g.tau2)
            vals[:, r] = (g.mu, g.mu - half, g.mu + half, g.mu - half_pi, g.mu + half_pi)
            continue
        failed[r] = True
        reason = ("no finite ML estimate" if why.startswith("every study has")
                  else "did not converge")
        notes[r] = f"{reason}; Bayesian binomial-normal used"
        vals[:, r] = _bayes_values(events[r], n[r], GLMM_FALLBACK, level)
    return _output(vals, failed, notes)


#: Settings of the Bayesian binomial-normal model that replaces a GLMM without a finite
#: estimate: metaprop's defaults.
GLMM_FALLBACK: dict[str, Any] = {"tau_prior_scale": 0.5}


#: GLMM fits of the replicates being fitted (GLMM-z and GLMM-t share them); cleared by
#: :func:`fit_methods`.
_GLMM_CACHE: dict[tuple[bytes, bytes], Any] = {}


def _bayes_values(events: IntArray, n: IntArray, settings: dict[str, Any],
                  level: float) -> tuple[float, ...]:
    """(median, CI, PI) of mu of the Bayesian binomial-normal model with metaprop's settings."""
    from analysis.engine.bayes_bn import binomial_normal

    family = settings.get("mu_prior", "logistic")
    scale = float(settings.get("mu_prior_sd", 1.0)) if family == "normal" else 1.0
    b = binomial_normal(events, n, tau_scale=float(settings["tau_prior_scale"]), mu_scale=scale,
                        level=level, mu_prior=family)
    return (b.mu_median, b.mu_lower, b.mu_upper, b.pred_lower, b.pred_upper)


def _bayes_bn(events: IntArray, n: IntArray, settings: dict[str, Any], level: float,
              skip: BoolArray | None = None) -> MethodOutput:
    """Bayesian binomial-normal model per replicate (:func:`analysis.engine.bayes_bn.binomial_normal`);
    replicates in ``skip`` are left NaN (the caller fills them)."""
    vals = np.full((5, events.shape[0]), np.nan)
    failed = np.zeros(events.shape[0], dtype=bool)
    notes = [""] * events.shape[0]
    for r in range(events.shape[0]):
        if skip is not None and skip[r]:
            continue
        try:
            vals[:, r] = _bayes_values(events[r], n[r], settings, level)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            failed[r], notes[r] = True, f"error {type(exc).__name__}"
    return _output(vals, failed, notes)


def _exact_rows(out: MethodOutput, rows: BoolArray, events: IntArray, n: IntArray,
                level: float) -> MethodOutput:
    """``out`` with the replicates in ``rows`` (every study at the same boundary) replaced by
    the exact pooled interval of :func:`analysis.engine.exact.exact_pooled`, as metaprop does."""
    from analysis.engine.exact import exact_pooled

    if not rows.any():
        return out
    est, lo, hi, plo, phi = (np.array(v, dtype=float) for v in (
        out.estimate, out.ci_lower, out.ci_upper, out.pi_lower, out.pi_upper))
    failed, notes = out.failed.copy(), list(out.notes)
    for r in np.flatnonzero(rows):
        est[r], lo[r], hi[r] = exact_pooled(events[r], n[r], level)
        plo[r], phi[r] = lo[r], hi[r]
        failed[r], notes[r] = False, "every study at one boundary: exact pooled interval"
    return MethodOutput(est, lo, hi, plo, phi, failed, tuple(notes))


def _pft(events: IntArray, n: IntArray, level: float) -> MethodOutput:
    """Freeman-Tukey double arcsine, REML, Wald CI, t PI; Miller's back-transformation with each
    replicate's harmonic mean n (:func:`analysis.engine.effects.back_transform`)."""
    yi, vi = escalc(events, n, "PFT")
    tau2, notes = _reml(yi, vi)
    values = pooled_intervals(yi, vi, tau2, "z", level)
    shown = np.empty((5, events.shape[0]))
    for r in range(events.shape[0]):
        shown[:, r] = back_transform([v[r] for v in values], "PFT", harmonic_mean(n[r]))
    failed = np.array([bool(s) for s in notes])
    return _output(shown, failed, notes, transform=lambda v: v)


def fit_methods(
    events: npt.ArrayLike, n: npt.ArrayLike, methods: Sequence[str] = METHODS, level: float = 0.95
) -> dict[str, MethodOutput]:
    """Fit each of ``methods`` (names from :data:`METHODS`) to every replicate (row).

    Parameters
    ----------
    events, n : array_like of int, shape (R, k)
        Event counts and study sizes of R meta-analyses of k studies.
    methods : sequence of str
        Subset of :data:`METHODS`.
    level : float, default 0.95

    Returns
    -------
    dict of str to MethodOutput
        In the order of ``methods``.

    Notes
    -----
    Logit inverse-variance methods use the engine's continuity correction (0.5 added to studies
    with 0 or n events, :func:`analysis.engine.effects.escalc`); the GLMM, the Bayesian
    binomial-normal model and PFT use none. As :func:`analysis.engine.metaprop` does: replicates
    in which every study has 0 events, or every study has n events, get the exact pooled interval
    whatever the method (noted, not a failure); a GLMM without a finite estimate (studies at
    both boundaries only) or that does not converge is replaced by the Bayesian binomial-normal
    model and counted as a failure.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    x = np.atleast_2d(np.asarray(events, dtype=np.int64))
    m = np.atleast_2d(np.asarray(n, dtype=np.int64))
    if x.shape != m.shape:
        raise ValueError(f"events and n differ in shape ({x.shape} vs {m.shape})")
    yi, vi = escalc(x, m, "PLO")
    exact = np.all(x == 0, axis=1) | np.all(x == m, axis=1)
    out: dict[str, MethodOutput] = {}
    reml: tuple[FloatArray, list[str]] | None = None
    _GLMM_CACHE.clear()
    for method in methods:
        if method == "DL-z":
            res = pooled_intervals(yi, vi, _dl(yi, vi), "z", level)
            out[method] = _output(res, np.zeros(x.shape[0], bool), [""] * x.shape[0])
        elif method.startswith("REML"):
            reml = reml or _reml(yi, vi)
            ci = {"REML-HKSJ": "hksj", "REML-HKSJ-adhoc": "hksj_adhoc"}.get(method, "z")
            failed = np.array([bool(s) for s in reml[1]])
            out[method] = _output(pooled_intervals(yi, vi, reml[0], ci, level), failed, reml[1])
        elif method.startswith("GLMM"):
            out[method] = _glmm(x, m, level, "t" if method == "GLMM-t" else "z", exact)
        elif method == "PFT-REML":
            out[method] = _pft(x, m, level)
        else:
            out[method] = _bayes_bn(x, m, ENGINE_SETTINGS[method], level, exact)
    _GLMM_CACHE.clear()
    return {name: _exact_rows(out[name], exact, x, m, level) for name in methods}


# ------------------------------------------------------------------------------ summaries


def pi_coverage_probability(
    lower: npt.ArrayLike, upper: npt.ArrayLike, mu: float, tau: float
) -> FloatArray:
    """Probability that a new study's true proportion lies in [lower, upper], per replicate.

    .. math:: \\Pr\\{L \\le \\operatorname{expit}(\\mu + \\tau z) \\le U\\} =
              \\Phi\\Bigl(\\frac{\\operatorname{logit}U - \\mu}{\\tau}\\Bigr) -
              \\Phi\\Bigl(\\frac{\\operatorname{logit}L - \\mu}{\\tau}\\Bigr)

    for :math:`\\tau > 0` and finite :math:`\\mu` (logit 0 and 1 are :math:`\\mp\\infty`); for
    :math:`\\tau = 0` or infinite :math:`\\mu` the new study's proportion is
    :math:`\\operatorname{expit}\\mu` and the result is 0 or 1.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if tau == 0 or not math.isfinite(mu):
        p = float(special.expit(mu))
        return ((lo <= p) & (p <= hi)).astype(float)
    with np.errstate(divide="ignore"):
        zl = (special.logit(np.clip(lo, 0.0, 1.0)) - mu) / tau
        zu = (special.logit(np.clip(hi, 0.0, 1.0)) - mu) / tau
    return np.maximum(special.ndtr(zu) - special.ndtr(zl), 0.0)


def new_study_coverage(lower: npt.ArrayLike, upper: npt.ArrayLike,
                       scenario: Scenario) -> FloatArray:
    """Probability that the true proportion of a new study of ``scenario``'s mechanism lies in
    [lower, upper], per replicate: :func:`pi_coverage_probability` for the binomial-normal model
    (and the series of ``case-report``), the Beta distribution function
    :math:`I_U(a, b) - I_L(a, b)` for ``beta-binomial``, and the equal mixture of the two
    definitions' logit-normal distributions for ``definition-shift``."""
    if scenario.mechanism == "beta-binomial":
        a, b = beta_with_median(scenario.proportion, scenario.param)
        lo = np.clip(np.asarray(lower, dtype=float), 0.0, 1.0)
        hi = np.clip(np.asarray(upper, dtype=float), 0.0, 1.0)
        return np.maximum(special.betainc(a, b, hi) - special.betainc(a, b, lo), 0.0)
    if scenario.mechanism == "definition-shift":
        half = scenario.param / 2
        with np.errstate(divide="ignore"):
            centres = [float(special.logit(scenario.proportion + s * half)) for s in (-1, 1)]
        return 0.5 * sum(pi_coverage_probability(lower, upper, c, scenario.tau) for c in centres)
    return pi_coverage_probability(lower, upper, scenario.mu, scenario.tau)


def median_mcse(values: npt.ArrayLike, level: float = 0.95) -> float:
    """Monte Carlo SE of a sample median from the order statistics that bound its CI.

    With :math:`n` values sorted, :math:`l = \\lfloor n/2 - z\\sqrt n/2 \\rfloor` and
    :math:`u = \\lceil n/2 + z\\sqrt n/2 \\rceil` (1-based) bound a distribution-free
    :math:`1-\\alpha` interval for the median, and
    :math:`\\mathrm{MCSE} \\approx (x_{(u)} - x_{(l)}) / (2z)`.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n < 2:
        return math.nan
    z = _quantile(level, None)
    lo = max(math.floor(n / 2 - z * math.sqrt(n) / 2), 1)
    hi = min(math.ceil(n / 2 + z * math.sqrt(n) / 2), n)
    return float((x[hi - 1] - x[lo - 1]) / (2 * z))


def interval_score(lower: npt.ArrayLike, upper: npt.ArrayLike, truth: float,
                   alpha: float = 0.05) -> FloatArray:
    """Interval (Winkler) score of each interval for the true value ([gneiting2007], section
    6.2); smaller is better.

    .. math:: S = (U - L) + \\frac{2}{\\alpha}(L - p)\\,1\\{p < L\\}
              + \\frac{2}{\\alpha}(p - U)\\,1\\{p > U\\}

    It rewards narrow intervals and penalises each miss by its distance, so an interval
    [0, 1] that always covers scores 1.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    return (hi - lo) + (2 / alpha) * np.maximum(lo - truth, 0.0) + (2 / alpha) * np.maximum(
        truth - hi, 0.0)


def nominal_mcse(level: float, replicates: int) -> float:
    """Monte Carlo SE of a coverage estimate AT the nominal level, :math:`\\sqrt{c_0(1-c_0)/R}`:
    the yardstick for judging coverage (it is not 0 for a method that covers 100 %)."""
    return math.sqrt(level * (1 - level) / replicates)


def _mean_and_se(values: FloatArray) -> tuple[float, float]:
    if values.size == 0:
        return math.nan, math.nan
    se = float(np.std(values, ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(np.mean(values)), se


def _notes_text(notes: Iterable[str]) -> str:
    counts = Counter(s for s in notes if s)
    return "; ".join(f"{c} x {why}" for why, c in sorted(counts.items()))


def summarise(output: MethodOutput, scenario: Scenario, level: float = 0.95) -> dict[str, Any]:
    """Performance measures of one method in one scenario, with Monte Carlo SEs.

    Replicates where the method raised an error (NaN bounds) are left out of every measure except
    the failure rate; replicates that converged only after a fallback are kept (what a review
    would report) and counted as failures.

    Returns
    -------
    dict
        ``replicates``, ``n_used``; ``coverage_ci``, ``coverage_pi``, ``bias`` (pooled proportion
        minus :math:`\\operatorname{expit}\\mu`), ``width_ci`` and ``width_pi`` (medians on the
        proportion scale), ``interval_score`` (mean :func:`interval_score` of the CI),
        ``failure_rate``, each followed by ``<name>_mcse``; and ``notes`` (counts of failure
        reasons). ``coverage_ci_mcse`` is the MCSE of the observed coverage,
        :math:`\\sqrt{\\hat c(1-\\hat c)/R}`; judging coverage against the nominal level uses the
        MCSE at the nominal level instead (:func:`nominal_mcse`).
    """
    truth = scenario.proportion
    bounds = np.vstack([output.estimate, output.ci_lower, output.ci_upper, output.pi_lower,
                        output.pi_upper])
    ok = np.all(np.isfinite(bounds), axis=0)
    est, lo, hi, plo, phi = (b[ok] for b in bounds)
    used = int(ok.sum())
    cov = ((lo <= truth) & (truth <= hi)).astype(float)
    cov_ci = float(cov.mean()) if used else math.nan
    score, score_se = _mean_and_se(interval_score(lo, hi, truth, 1 - level))
    cov_pi, cov_pi_se = _mean_and_se(new_study_coverage(plo, phi, scenario))
    bias, bias_se = _mean_and_se(est - truth)
    fail = float(np.mean(output.failed))
    reps = int(output.failed.size)
    return {
        "replicates": reps,
        "n_used": used,
        "coverage_ci": cov_ci,
        "coverage_ci_mcse": math.sqrt(cov_ci * (1 - cov_ci) / used) if used else math.nan,
        "coverage_pi": cov_pi,
        "coverage_pi_mcse": cov_pi_se,
        "bias": bias,
        "bias_mcse": bias_se,
        "width_ci": float(np.median(hi - lo)) if used else math.nan,
        "width_ci_mcse": median_mcse(hi - lo),
        "width_pi": float(np.median(phi - plo)) if used else math.nan,
        "width_pi_mcse": median_mcse(phi - plo),
        "interval_score": score,
        "interval_score_mcse": score_se,
        "failure_rate": fail,
        "failure_rate_mcse": math.sqrt(fail * (1 - fail) / reps),
        "notes": _notes_text(output.notes),
    }


def run_scenario(
    scenario: Scenario,
    replicates: int,
    seed: int,
    methods: Sequence[str] = METHODS,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Simulate one scenario, fit every method and summarise: one row (dict) per method.

    Each row starts with the scenario (``k``, ``proportion``, ``tau``, ``n_min``, ``n_max``,
    ``mechanism``, ``param``) and ``method``, followed by the measures of :func:`summarise`.
    Deterministic given the arguments.
    """
    data = simulate_data(scenario, replicates, scenario_rng(seed, scenario))
    fits = fit_methods(data.events, data.n, methods, level)
    head = {"k": scenario.k, "proportion": scenario.proportion, "tau": scenario.tau,
            "n_min": scenario.n_min, "n_max": scenario.n_max, "mechanism": scenario.mechanism,
            "param": scenario.param}
    return [{**head, "method": name, **summarise(out, scenario, level)} for name, out in fits.items()]


# ------------------------------------------------------------------------- reading results

#: Columns of a stored summary table (one row per scenario and method), as written by
#: ``tools/simulate.py``.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "k", "proportion", "tau", "method", "replicates", "coverage_ci", "coverage_ci_mcse",
    "coverage_pi", "coverage_pi_mcse", "bias", "bias_mcse", "width_ci", "width_ci_mcse",
    "width_pi", "interval_score", "interval_score_mcse", "failure_rate",
)


def method_for(measure: str, method: str, ci: str, tau_prior_scale: float = 0.5,
               mu_prior: str | None = None, mu_prior_sd: float | None = None) -> str | None:
    """Name in :data:`METHODS` of an analysis given by ``metaprop`` settings, or None (the prior
    on mu of the Bayesian binomial-normal model is logistic(0, 1) unless said otherwise)."""
    family = mu_prior or ("normal" if mu_prior_sd is not None else "logistic")
    for name, cfg in ENGINE_SETTINGS.items():
        if (cfg["measure"], cfg["method"]) != (measure, method):
            continue
        if method.startswith("BAYES"):
            same_mu = (cfg.get("mu_prior", "logistic") == family
                       and (family == "logistic" or cfg.get("mu_prior_sd") == mu_prior_sd))
            if cfg["tau_prior_scale"] == tau_prior_scale and same_mu:
                return name
        elif cfg["ci"] == ci:
            return name
    return None


def check_summary(summary: Any) -> None:
    """ValueError naming the columns a summary table lacks (:data:`SUMMARY_COLUMNS`)."""
    missing = [c for c in SUMMARY_COLUMNS if c not in getattr(summary, "columns", ())]
    if missing:
        raise ValueError(f"simulation summary lacks the column(s) {', '.join(missing)}")


def coverage_band(summary: Any, level: float = 0.95, n_se: float = 2.0) -> Any:
    """Where each row's CI coverage lies against ``level`` +/- ``n_se`` MCSE at the nominal level
    (:func:`nominal_mcse` with the row's replicates): a Series of "below", "within", "above"."""
    import pandas as pd

    check_summary(summary)
    se = np.sqrt(level * (1 - level) / summary["replicates"].to_numpy(dtype=float))
    cov = summary["coverage_ci"].to_numpy(dtype=float)
    out = np.where(cov < level - n_se * se, "below", np.where(cov > level + n_se * se, "above",
                                                              "within"))
    return pd.Series(out, index=summary.index, name="band")


def scorecard(summary: Any, level: float = 0.95, n_se: float = 2.0) -> Any:
    """One row per method: two-sided coverage, bias, width and interval score over scenarios.

    Parameters
    ----------
    summary : pandas.DataFrame
        Rows of :func:`run_scenario` (columns :data:`SUMMARY_COLUMNS`).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        Indexed by method (in :data:`METHODS` order where known) with ``scenarios``;
        ``ci_below``, ``ci_within``, ``ci_above`` (scenarios whose coverage lies below, within or
        above ``level`` +/- ``n_se`` MCSE at the nominal level, :func:`coverage_band`); ``ci_min``,
        ``ci_max``; ``bias_max_abs``; ``width_ci_median`` (median over scenarios of the median
        CI width); ``interval_score_mean``; ``failure_max``.
    """
    import pandas as pd

    df = summary.assign(band=coverage_band(summary, level, n_se), abs_bias=summary["bias"].abs())
    g = df.groupby("method", sort=False)
    card = pd.DataFrame({
        "scenarios": g.size(),
        "ci_below": g["band"].apply(lambda b: int((b == "below").sum())),
        "ci_within": g["band"].apply(lambda b: int((b == "within").sum())),
        "ci_above": g["band"].apply(lambda b: int((b == "above").sum())),
        "ci_min": g["coverage_ci"].min(),
        "ci_max": g["coverage_ci"].max(),
        "bias_max_abs": g["abs_bias"].max(),
        "width_ci_median": g["width_ci"].median(),
        "interval_score_mean": g["interval_score"].mean(),
        "failure_max": g["failure_rate"].max(),
    })
    order = [m for m in METHODS if m in card.index] + [m for m in card.index if m not in METHODS]
    return card.loc[order]


def coverage_by_k(summary: Any, column: str = "coverage_ci") -> Any:
    """Range (min, max) of ``column`` over scenarios, per method and k: a DataFrame with a
    (method) index and (k, "min"/"max") columns."""
    check_summary(summary)
    table = summary.groupby(["method", "k"], sort=False)[column].agg(["min", "max"]).unstack("k")
    table = table.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    order = [m for m in METHODS if m in table.index] + [m for m in table.index if m not in METHODS]
    return table.loc[order]
