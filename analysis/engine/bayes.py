r"""Bayesian normal-normal random-effects model, computed by numerical integration (no MCMC).

Model (the normal-normal hierarchical model of Roever 2020, key ``roever2020``):

.. math::

    y_i \mid \mu, \tau \sim N(\mu, v_i + \tau^2), \qquad
    \mu \sim N(m_0, s_0^2), \qquad \tau \sim \text{half-normal}(\text{scale}),

with the half-Cauchy prior as an alternative for :math:`\tau`. Given :math:`\tau` the posterior
of :math:`\mu` is normal,

.. math::

    \mu \mid \tau, y \sim N(M(\tau), 1/P(\tau)), \quad w_i = \frac{1}{v_i + \tau^2}, \quad
    P = \sum_i w_i + s_0^{-2}, \quad M = \frac{\sum_i w_i y_i + m_0 s_0^{-2}}{P},

and :math:`\mu` integrates out analytically, leaving the marginal posterior of :math:`\tau`

.. math::

    p(\tau \mid y) \propto p(\tau)\, \prod_i (v_i + \tau^2)^{-1/2}\, (s_0^2 P)^{-1/2}
    \exp\Bigl\{-\tfrac12 \Bigl[\sum_i w_i (y_i - M)^2 + (M - m_0)^2 / s_0^2\Bigr]\Bigr\}.

This one-dimensional density is integrated by composite Gauss-Legendre quadrature on panels
equally spaced in :math:`\log\tau` (plus one panel :math:`[0, \tau_a]` at the origin), placed
where the density exceeds :math:`e^{-50}` times its maximum and narrow enough to resolve its
peak. The marginal posterior of :math:`\mu` is then the normal mixture
:math:`\sum_j W_j\, N(M(\tau_j), 1/P(\tau_j))` over the quadrature nodes, and the posterior
predictive distribution of a new study's true effect :math:`\theta_{new} \sim N(\mu, \tau^2)`
is :math:`\sum_j W_j\, N(M(\tau_j), 1/P(\tau_j) + \tau_j^2)`. Medians and equal-tailed intervals
invert these mixture CDFs by root finding; quantiles of :math:`\tau` invert its CDF panel by
panel. This is the approach of bayesmeta (``roever2020``), there with a different discretisation.

Pure: no file or network I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import optimize, special

from analysis.engine.quadrature import gauss_legendre

__all__ = ["BayesFit", "NormalNormalPosterior", "normal_normal", "posterior"]

TauPrior = Literal["half-normal", "half-cauchy"]

#: Gauss-Legendre nodes per panel.
NODES_PER_PANEL = 12
#: Panels cover the region where the log posterior of tau is within this of its maximum.
LOG_DENSITY_RANGE = 50.0
#: Widest panel, in log(tau).
MAX_PANEL_WIDTH = 0.15


@dataclass(frozen=True)
class BayesFit:
    """Posterior summaries of :func:`normal_normal` (on the scale of ``yi``).

    Attributes
    ----------
    mu_median, mu_lower, mu_upper : float
        Posterior median and equal-tailed credible interval of the mean effect mu.
    tau_median, tau_lower, tau_upper : float
        Posterior median and equal-tailed credible interval of tau.
    tau2_median : float
        Posterior median of tau^2 (``tau_median ** 2``; medians commute with monotone maps).
    pred_lower, pred_upper : float
        Equal-tailed posterior predictive interval of a new study's true effect
        ``theta_new ~ N(mu, tau^2)``.
    mu_post_mean, mu_post_sd : float
        Posterior mean and standard deviation of mu.
    tau_post_mean : float
        Posterior mean of tau.
    tau_scale, mu_sd, mu_mean : float
        Prior settings: scale of the tau prior, SD and mean of the normal prior on mu.
    tau_prior : str
        ``"half-normal"`` or ``"half-cauchy"``.
    level : float
        Credibility level of the intervals.
    k : int
        Number of studies.
    n_nodes : int
        Quadrature nodes used over tau.
    """

    mu_median: float
    mu_lower: float
    mu_upper: float
    tau_median: float
    tau_lower: float
    tau_upper: float
    tau2_median: float
    pred_lower: float
    pred_upper: float
    tau_scale: float
    mu_sd: float
    mu_post_mean: float
    mu_post_sd: float
    tau_post_mean: float
    mu_mean: float
    tau_prior: str
    level: float
    k: int
    n_nodes: int


@dataclass(frozen=True, eq=False)
class NormalNormalPosterior:
    """Joint posterior of (mu, tau) represented by quadrature over tau.

    Built by :func:`posterior`. ``tau``, ``weights``, ``cond_mean`` and ``cond_var`` are the
    nodes, normalised posterior weights, and conditional posterior mean and variance of mu at
    each node. Methods give CDFs and quantiles of mu, tau and the predictive distribution.
    """

    tau: np.ndarray
    weights: np.ndarray
    cond_mean: np.ndarray
    cond_var: np.ndarray
    panel_edges: np.ndarray = field(repr=False)
    panel_mass: np.ndarray = field(repr=False)
    log_norm: float = field(repr=False)
    _logpost: Any = field(repr=False)

    # ---------------------------------------------------------------- mu and prediction

    def _mixture_cdf(self, value: float, var: np.ndarray) -> float:
        z = (value - self.cond_mean) / np.sqrt(var)
        return float(np.sum(self.weights * special.ndtr(z)))

    def _mixture_quantile(self, p: float, var: np.ndarray) -> float:
        sd = np.sqrt(var)
        keep = self.weights > 1e-300
        lo = float(np.min(self.cond_mean[keep] - 12.0 * sd[keep]))
        hi = float(np.max(self.cond_mean[keep] + 12.0 * sd[keep]))
        return float(
            optimize.brentq(
                lambda v: self._mixture_cdf(v, var) - p,
                lo,
                hi,
                xtol=1e-13,
                rtol=4 * np.finfo(float).eps,
                maxiter=500,
            )
        )

    def cdf_mu(self, value: float) -> float:
        """Posterior probability that mu <= value."""
        return self._mixture_cdf(value, self.cond_var)

    def quantile_mu(self, p: float) -> float:
        """Posterior p-quantile of mu (0 < p < 1)."""
        return self._mixture_quantile(_check_prob(p), self.cond_var)

    def quantile_pred(self, p: float) -> float:
        """p-quantile of the predictive distribution of a new study's true effect."""
        return self._mixture_quantile(_check_prob(p), self.cond_var + self.tau**2)

    def mean_mu(self) -> float:
        """Posterior mean of mu."""
        return float(np.sum(self.weights * self.cond_mean))

    def sd_mu(self) -> float:
        """Posterior standard deviation of mu."""
        m = self.mean_mu()
        second = float(np.sum(self.weights * (self.cond_var + self.cond_mean**2)))
        return math.sqrt(max(second - m * m, 0.0))

    # ---------------------------------------------------------------- tau

    def _panel_integral(self, a: float, b: float) -> float:
        """Posterior mass of tau in [a, b] for a sub-interval of one panel."""
        if b <= a:
            return 0.0
        u, w = gauss_legendre(NODES_PER_PANEL)
        if a == 0.0:
            t = 0.5 * b * (u + 1.0)
            return float(0.5 * b * np.sum(w * np.exp(self._logpost(t) - self.log_norm)))
        la, lb = math.log(a), math.log(b)
        t = np.exp(0.5 * (la + lb) + 0.5 * (lb - la) * u)
        return float(0.5 * (lb - la) * np.sum(w * t * np.exp(self._logpost(t) - self.log_norm)))

    def cdf_tau(self, value: float) -> float:
        """Posterior probability that tau <= value."""
        if value <= 0.0:
            return 0.0
        edges = self.panel_edges
        if value >= edges[-1]:
            return 1.0
        i = int(np.searchsorted(edges, value, side="right")) - 1
        return float(np.sum(self.panel_mass[:i]) + self._panel_integral(edges[i], value))

    def quantile_tau(self, p: float) -> float:
        """Posterior p-quantile of tau (0 < p < 1)."""
        p = _check_prob(p)
        cum = np.concatenate([[0.0], np.cumsum(self.panel_mass)])
        i = int(np.clip(np.searchsorted(cum, p, side="left") - 1, 0, self.panel_mass.size - 1))
        a, b = float(self.panel_edges[i]), float(self.panel_edges[i + 1])
        base = float(cum[i])

        def f(t: float) -> float:
            return base + self._panel_integral(a, t) - p

        if f(b) <= 0.0:
            return b
        return float(
            optimize.brentq(f, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        )

    def mean_tau(self) -> float:
        """Posterior mean of tau."""
        return float(np.sum(self.weights * self.tau))


# ------------------------------------------------------------------------- input checks


def _check_prob(p: float) -> float:
    if not (isinstance(p, int | float | np.floating) and 0.0 < float(p) < 1.0):
        msg = f"probability must be strictly between 0 and 1, got {p!r}"
        raise ValueError(msg)
    return float(p)


def _as_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        msg = f"{name} must be numbers, got {values!r}"
        raise ValueError(msg) from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        msg = f"{name} of study {i + 1} is not finite: {arr[i]!r}"
        raise ValueError(msg)
    return arr


def _validate(
    yi: Any,
    vi: Any,
    tau_scale: float,
    mu_sd: float,
    level: float,
    tau_prior: str,
    mu_mean: float,
) -> tuple[np.ndarray, np.ndarray]:
    y, v = _as_array(yi, "yi"), _as_array(vi, "vi")
    if y.size != v.size:
        msg = f"yi and vi have different lengths ({y.size} and {v.size})"
        raise ValueError(msg)
    if y.size == 0:
        msg = "no studies given (k = 0)"
        raise ValueError(msg)
    nonpos = np.flatnonzero(v <= 0)
    if nonpos.size:
        i = int(nonpos[0])
        msg = f"vi of study {i + 1} must be > 0, got {v[i]!r}"
        raise ValueError(msg)
    if not (math.isfinite(tau_scale) and tau_scale > 0):
        msg = f"tau_scale must be finite and > 0, got {tau_scale!r}"
        raise ValueError(msg)
    if not (mu_sd > 0) or math.isnan(mu_sd):
        msg = f"mu_sd must be > 0 (math.inf for a flat prior), got {mu_sd!r}"
        raise ValueError(msg)
    if not math.isfinite(mu_mean):
        msg = f"mu_mean must be finite, got {mu_mean!r}"
        raise ValueError(msg)
    if not (0.0 < level < 1.0):
        msg = f"level must be strictly between 0 and 1, got {level!r}"
        raise ValueError(msg)
    if tau_prior not in ("half-normal", "half-cauchy"):
        msg = f"tau_prior must be 'half-normal' or 'half-cauchy', got {tau_prior!r}"
        raise ValueError(msg)
    return y, v


# ------------------------------------------------------------------------- density of tau


def _log_prior_tau(t: np.ndarray, tau_prior: str, scale: float) -> np.ndarray:
    r = t / scale
    if tau_prior == "half-normal":
        return math.log(2.0 / scale) - 0.5 * math.log(2.0 * math.pi) - 0.5 * r * r
    return math.log(2.0 / (math.pi * scale)) - np.log1p(r * r)


def _conditional(y: np.ndarray, v: np.ndarray, t: np.ndarray, mu_mean: float, mu_sd: float):
    """Conditional posterior of mu given each tau in t, and the log marginal likelihood."""
    w = 1.0 / (v[None, :] + (t * t)[:, None])
    prior_prec = 0.0 if math.isinf(mu_sd) else 1.0 / (mu_sd * mu_sd)
    prec = w.sum(axis=1) + prior_prec
    mean = (w @ y + prior_prec * mu_mean) / prec
    resid = np.sum(w * (y[None, :] - mean[:, None]) ** 2, axis=1)
    if prior_prec > 0.0:
        resid = resid + prior_prec * (mean - mu_mean) ** 2
    loglik = 0.5 * np.sum(np.log(w), axis=1) - 0.5 * np.log(prec) - 0.5 * resid
    if prior_prec > 0.0:
        loglik = loglik + 0.5 * math.log(prior_prec)
    return mean, 1.0 / prec, loglik


def _panels(logpost, y: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """Panel edges: [0, t_a, geometric ... t_max] covering the posterior mass of tau."""
    spread = float(np.ptp(y)) if y.size > 1 else 0.0
    lo_ref = 1e-8 * min(scale, math.sqrt(float(v.min())))
    hi_ref = 1e10 * max(scale, math.sqrt(float(v.max())), spread)
    grid = np.geomspace(lo_ref, hi_ref, 2000)
    lp = logpost(grid)
    top = float(lp.max())
    inside = np.flatnonzero(lp > top - LOG_DENSITY_RANGE)
    first = grid[max(inside[0] - 1, 0)]
    last = grid[min(inside[-1] + 1, grid.size - 1)]
    peak = np.flatnonzero(lp > top - 2.0)
    width = math.log(grid[min(peak[-1] + 1, grid.size - 1)] / grid[max(peak[0] - 1, 0)])
    step = min(MAX_PANEL_WIDTH, width / 10.0)
    count = max(1, math.ceil(math.log(last / first) / step))
    return np.concatenate([[0.0], np.geomspace(first, last, count + 1)])


def posterior(
    yi: Any,
    vi: Any,
    tau_scale: float = 0.5,
    mu_sd: float = 10.0,
    *,
    tau_prior: TauPrior = "half-normal",
    mu_mean: float = 0.0,
) -> NormalNormalPosterior:
    """Quadrature representation of the posterior of the normal-normal model.

    Parameters
    ----------
    yi, vi : array_like of float, shape (k,)
        Effect estimates and their sampling variances (``vi > 0``).
    tau_scale : float, optional
        Scale of the half-normal (or half-Cauchy) prior on tau. Default = 0.5.
    mu_sd : float, optional
        SD of the normal prior on mu; ``math.inf`` gives a flat (improper) prior.
        Default = 10.0.
    tau_prior : {"half-normal", "half-cauchy"}, optional
        Family of the prior on tau. Default = "half-normal".
    mu_mean : float, optional
        Mean of the normal prior on mu. Default = 0.0.

    Returns
    -------
    NormalNormalPosterior
    """
    y, v = _validate(yi, vi, tau_scale, mu_sd, 0.95, tau_prior, mu_mean)

    def logpost(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return _log_prior_tau(t, tau_prior, tau_scale) + _conditional(y, v, t, mu_mean, mu_sd)[2]

    edges = _panels(logpost, y, v, tau_scale)
    u, w = gauss_legendre(NODES_PER_PANEL)
    first = 0.5 * edges[1] * (u + 1.0)
    la, lb = np.log(edges[1:-1]), np.log(edges[2:])
    rest = np.exp(0.5 * (la + lb)[:, None] + 0.5 * (lb - la)[:, None] * u[None, :])
    tau = np.concatenate([first, rest.ravel()])
    jac = np.concatenate(
        [
            np.full(u.size, 0.5 * edges[1]) * w,
            (0.5 * (lb - la)[:, None] * w[None, :] * rest).ravel(),
        ]
    )
    mean, var, loglik = _conditional(y, v, tau, mu_mean, mu_sd)
    lp = _log_prior_tau(tau, tau_prior, tau_scale) + loglik
    top = float(lp.max())
    raw = jac * np.exp(lp - top)
    total = float(raw.sum())
    weights = raw / total
    panel_mass = weights.reshape(-1, u.size).sum(axis=1)
    return NormalNormalPosterior(
        tau=tau,
        weights=weights,
        cond_mean=mean,
        cond_var=var,
        panel_edges=edges,
        panel_mass=panel_mass,
        log_norm=top + math.log(total),
        _logpost=logpost,
    )


def normal_normal(
    yi: Any,
    vi: Any,
    tau_scale: float = 0.5,
    mu_sd: float = 10.0,
    level: float = 0.95,
    *,
    tau_prior: TauPrior = "half-normal",
    mu_mean: float = 0.0,
) -> BayesFit:
    r"""Bayesian normal-normal random-effects meta-analysis by numerical integration.

    Parameters
    ----------
    yi : array_like of float, shape (k,)
        Effect estimates (e.g. logits of proportions).
    vi : array_like of float, shape (k,)
        Their sampling variances, all > 0.
    tau_scale : float, optional
        Scale of the half-normal prior on tau. On the logit scale 0.5 is weakly informative:
        it puts 95 % prior probability on tau < 0.98, and tau = 0.98 would spread 95 % of the
        study odds within a factor exp(1.96 x 0.98) = 6.8 of the mean odds. Default = 0.5.
    mu_sd : float, optional
        SD of the normal prior on mu, centred at ``mu_mean``; vague by default.
        Default = 10.0.
    level : float, optional
        Credibility level of the equal-tailed intervals. Default = 0.95.
    tau_prior : {"half-normal", "half-cauchy"}, optional
        Prior family for tau. Default = "half-normal".
    mu_mean : float, optional
        Prior mean of mu. Default = 0.0.

    Returns
    -------
    BayesFit
        Posterior medians, equal-tailed credible intervals and the posterior predictive
        interval for a new study's true effect, on the scale of ``yi``.

    Raises
    ------
    ValueError
        Non-finite ``yi``/``vi``, ``vi <= 0``, mismatched lengths, k = 0, or invalid prior
        settings; the message names the study or the setting.

    Notes
    -----
    The model, the analytic integration over mu and the quadrature over tau are described in
    the module docstring. As ``tau_scale -> 0`` the result tends to the common-effect model
    with the normal prior on mu; as ``mu_sd -> inf`` the prior on mu becomes flat. With k = 1
    the posterior of tau is essentially its prior, so the predictive interval reflects the
    prior choice.

    References
    ----------
    ``roever2020``: Roever C (2020). Bayesian random-effects meta-analysis using the bayesmeta
    R package. J Stat Softw 93(6):1-51. doi:10.18637/jss.v093.i06
    """
    y, _ = _validate(yi, vi, tau_scale, mu_sd, level, tau_prior, mu_mean)
    post = posterior(yi, vi, tau_scale, mu_sd, tau_prior=tau_prior, mu_mean=mu_mean)
    lo_p, hi_p = 0.5 * (1.0 - level), 0.5 * (1.0 + level)
    tau_median = post.quantile_tau(0.5)
    return BayesFit(
        mu_median=post.quantile_mu(0.5),
        mu_lower=post.quantile_mu(lo_p),
        mu_upper=post.quantile_mu(hi_p),
        tau_median=tau_median,
        tau_lower=post.quantile_tau(lo_p),
        tau_upper=post.quantile_tau(hi_p),
        tau2_median=tau_median**2,
        pred_lower=post.quantile_pred(lo_p),
        pred_upper=post.quantile_pred(hi_p),
        tau_scale=float(tau_scale),
        mu_sd=float(mu_sd),
        mu_post_mean=post.mean_mu(),
        mu_post_sd=post.sd_mu(),
        tau_post_mean=post.mean_tau(),
        mu_mean=float(mu_mean),
        tau_prior=tau_prior,
        level=float(level),
        k=int(y.size),
        n_nodes=int(post.tau.size),
    )
