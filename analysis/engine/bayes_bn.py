r"""Bayesian binomial-normal random-effects model for single proportions, by quadrature (no MCMC).

Model (the binomial-normal hierarchical model, [hamza2008]; with weakly informative priors as in
[gunhan2020]):

.. math::

    x_i \mid \theta_i \sim \mathrm{Bin}(n_i, \operatorname{expit}\theta_i), \quad
    \theta_i \mid \mu, \tau \sim N(\mu, \tau^2), \quad
    \mu \sim \mathrm{Logistic}(m_0, s_0) \text{ or } N(m_0, s_0^2), \quad
    \tau \sim \text{half-normal}(\text{scale}).

The exact binomial likelihood is used, with no continuity correction, so studies with 0 or
:math:`n_i` events need no special treatment.

Prior on :math:`\mu`, the logit of the median true proportion. The default is the standard
logistic distribution, :math:`\mu \sim \mathrm{Logistic}(0, 1)`, whose density
:math:`e^{-\mu}/(1 + e^{-\mu})^2` is exactly the uniform distribution of
:math:`\operatorname{expit}(\mu)` on (0, 1): every median proportion is equally likely a
priori. Normal priors on a logit with a large SD, such as the :math:`N(0, 2.82^2)` used earlier
(the rationale [gunhan2020] give for a log odds RATIO, which is not a baseline logit), are
U-shaped on the proportion scale (about 5 % of the mass of :math:`N(0, 2.82^2)` lies above 99 %)
and so favour proportions near 0 and 1; [northrup2018] show how such "vague" normal priors on
logit-scale intercepts become informative and recommend logistic priors instead. A normal prior
(``mu_prior="normal"``, SD ``mu_scale``) remains available for sensitivity analyses, for example
:math:`N(0, 1.5^2)`, which is nearly flat on the proportion scale but lighter-tailed than the
logistic ([mcelreath2020], section 11.1). Half-normal priors on :math:`\tau` with scales 0.5 and
1.0 are the weakly informative choices for logit-scale heterogeneity discussed by [roever2021].

Computation, deterministic:

1. Each study's marginal likelihood
   :math:`L_i(\mu, \tau) = \int \mathrm{Bin}(x_i; n_i, \operatorname{expit}(\mu + \tau z))
   \varphi(z)\,dz` by adaptive Gauss-Hermite quadrature in :math:`z` (nodes centred at the mode
   of the integrand and scaled by its curvature, as :mod:`analysis.engine.glmm` does,
   [pinheiro1995]) with ``GH_NODES`` nodes.
2. The joint posterior :math:`p(\mu, \tau \mid x) \propto p(\mu)\,p(\tau) \prod_i L_i` on a
   2-D grid: ``TAU_NODES`` values of :math:`\tau = \tau_{max} u^2` (:math:`u` equally spaced in
   [0, 1], dense near 0; :math:`\tau_{max} = 6\times` scale) and ``MU_NODES`` equally spaced
   values of :math:`\mu` over the region where the posterior exceeds :math:`e^{-20}` times its
   maximum (found by a coarse pass over :math:`m_0 \pm 6 s_0` for the normal prior and
   :math:`m_0 \pm 34 s_0` for the logistic, whose log density falls linearly in the tails).
3. The log posterior, smooth in :math:`\mu` and in :math:`u`, is carried by cubic splines to a
   fine grid (``MU_FINE`` x ``TAU_FINE``); the trapezoid rule there gives the marginal
   distribution functions of :math:`\mu` and :math:`\tau`, inverted for the posterior median
   and the equal-tailed credible interval. The posterior predictive
   distribution of a new study's :math:`\theta_{new} \sim N(\mu, \tau^2)` is the grid mixture
   :math:`\sum W_{jl}\,N(\mu_j, \tau_l^2)`.

Back-transformation: :math:`\operatorname{expit}` of the median of :math:`\mu` is the posterior
median of the *median true proportion* across studies (medians commute with monotone maps).

Pure: no file or network I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import interpolate, optimize, special

from analysis.engine.quadrature import gauss_hermite

__all__ = ["MU_PRIORS", "MU_PRIOR_SCALE", "BinomialNormalFit", "binomial_normal", "mu_prior_text"]

FloatArray = npt.NDArray[np.float64]

#: Families of the prior on mu: "logistic" (the default; Logistic(0, 1) is uniform on the
#: proportion scale) and "normal".
MU_PRIORS: tuple[str, ...] = ("logistic", "normal")
#: Default scale of the prior on mu (logit scale): Logistic(0, 1).
MU_PRIOR_SCALE = 1.0
#: Half-widths of the coarse search for the mu range, in prior scales, per family.
_COARSE_HALF_WIDTH = {"normal": 6.0, "logistic": 34.0}
#: Adaptive Gauss-Hermite nodes per study and grid point.
GH_NODES = 11
#: Newton steps towards each integrand's mode (from its normal approximation).
NEWTON_STEPS = 6
#: Grid sizes over tau and over mu (fine pass), and of the coarse pass over mu.
TAU_NODES = 21
MU_NODES = 21
MU_COARSE = 25
#: Points of the fine grids over mu and over u = sqrt(tau / tau_max) to which the log
#: posterior is interpolated by cubic splines.
MU_FINE = 401
TAU_FINE = 201
#: The mu grid covers where the log posterior is within this of its maximum.
LOG_RANGE = 20.0
#: tau grid runs up to this many prior scales (a half-normal has mass 2e-9 beyond 6 scales).
TAU_MAX_SCALES = 6.0
_SQRT2 = math.sqrt(2.0)
_HALF_LOG_PI = 0.5 * math.log(math.pi)


@dataclass(frozen=True)
class BinomialNormalFit:
    """Posterior summaries of :func:`binomial_normal` (logit scale).

    Attributes
    ----------
    mu_median, mu_lower, mu_upper : float
        Posterior median and equal-tailed credible interval of mu.
    mu_post_mean, mu_post_sd : float
        Posterior mean and standard deviation of mu.
    tau_median, tau_lower, tau_upper : float
        Posterior median and equal-tailed credible interval of tau.
    tau2_median : float
        Posterior median of tau^2 (``tau_median ** 2``).
    pred_lower, pred_upper : float
        Equal-tailed posterior predictive interval of a new study's true logit.
    tau_scale, mu_scale, mu_mean, level : float
        Prior settings (half-normal scale of tau; scale and location of the prior on mu) and
        credibility level.
    mu_prior : str
        Family of the prior on mu, "logistic" or "normal" (``mu_scale`` is then its SD).
    k : int
        Number of studies.
    """

    mu_median: float
    mu_lower: float
    mu_upper: float
    mu_post_mean: float
    mu_post_sd: float
    tau_median: float
    tau_lower: float
    tau_upper: float
    tau2_median: float
    pred_lower: float
    pred_upper: float
    tau_scale: float
    mu_scale: float
    mu_mean: float
    level: float
    k: int
    mu_prior: str = "logistic"


def _check(events: Any, n: Any) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(events, dtype=float).ravel()
    m = np.asarray(n, dtype=float).ravel()
    if x.size != m.size or x.size == 0:
        raise ValueError(f"events and n need the same length >= 1 (got {x.size} and {m.size})")
    bad = ~np.isfinite(x) | ~np.isfinite(m) | (x < 0) | (m < 1) | (x > m) | (x != np.floor(x)) \
        | (m != np.floor(m))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"study {i + 1}: need whole counts 0 <= events <= n, n >= 1 "
                         f"(got {x[i]:g}/{m[i]:g})")
    return x, m


def _modes(x: FloatArray, n: FloatArray, mu: FloatArray, tau: FloatArray) -> FloatArray:
    r"""Approximate mode of :math:`g(z) = x(\mu + \tau z) - n \log(1 + e^{\mu + \tau z}) - z^2/2`.

    Start from the normal approximation (the study's continuity-corrected logit
    :math:`y = \operatorname{logit}\{(x + 0.5)/(n + 1)\}` with variance
    :math:`v = 1/(x + 0.5) + 1/(n - x + 0.5)` combined with the prior of :math:`z`), then take
    ``NEWTON_STEPS`` Newton steps kept inside the bracket :math:`[\tau(x - n), \tau x]` that
    holds the root of the strictly decreasing :math:`g'`. The quadrature needs only a good
    centre, not the exact mode: the rule integrates exactly whatever the centre.
    """
    y = np.log((x + 0.5) / (n - x + 0.5))
    v = 1.0 / (x + 0.5) + 1.0 / (n - x + 0.5)
    z = tau * (y - mu) / (v + tau * tau)
    lo, hi = tau * (x - n), tau * x
    for _ in range(NEWTON_STEPS):
        p = special.expit(mu + tau * z)
        grad = tau * (x - n * p) - z
        z = np.clip(z + grad / (1.0 + tau * tau * n * p * (1.0 - p)), lo, hi)
    return z


def _loglik(x: FloatArray, n: FloatArray, mu: FloatArray, tau: FloatArray) -> FloatArray:
    """Sum over studies of log L_i at every (mu, tau) of the broadcast arrays ``mu`` and ``tau``
    (binomial coefficients left out: they cancel in the posterior)."""
    t, logw = gauss_hermite(GH_NODES)
    shape = np.broadcast(mu, tau).shape
    mu_b = np.broadcast_to(mu, shape)[..., None]
    tau_b = np.broadcast_to(tau, shape)[..., None]
    zhat = _modes(x, n, mu_b, tau_b)
    ph = special.expit(mu_b + tau_b * zhat)
    s = 1.0 / np.sqrt(1.0 + tau_b * tau_b * n * ph * (1.0 - ph))
    z = zhat[..., None] + (_SQRT2 * s)[..., None] * t
    eta = mu_b[..., None] + tau_b[..., None] * z
    a = logw + x[:, None] * eta - n[:, None] * np.logaddexp(0.0, eta) - 0.5 * z * z
    amax = a.max(axis=-1)
    li = amax + np.log(np.exp(a - amax[..., None]).sum(axis=-1)) + np.log(s) - _HALF_LOG_PI
    return np.asarray(li.sum(axis=-1), dtype=float)


def _trapezoid_weights(v: FloatArray) -> FloatArray:
    d = np.diff(v)
    w = np.zeros_like(v)
    w[:-1] += d / 2
    w[1:] += d / 2
    return w


def _quantiles(grid: FloatArray, dens: FloatArray, probs: tuple[float, ...]) -> list[float]:
    """Quantiles of a density tabulated on a fine ``grid`` (cumulative trapezoid rule, linear
    interpolation of the distribution function)."""
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(grid))])
    cdf /= cdf[-1]
    return [float(np.interp(p, cdf, grid)) for p in probs]


def _log_prior_mu(mu: FloatArray, family: str, mean: float, scale: float) -> FloatArray:
    r"""Log density of the prior on mu, up to a constant: normal
    :math:`-z^2/2` or logistic :math:`\log\operatorname{expit}(z) + \log\operatorname{expit}(-z)`,
    :math:`z = (\mu - m_0)/s_0`."""
    z = (np.asarray(mu, dtype=float) - mean) / scale
    if family == "normal":
        return -0.5 * z * z
    return -np.logaddexp(0.0, -z) - np.logaddexp(0.0, z)


def _mu_range(x: FloatArray, n: FloatArray, tau: FloatArray, log_prior_tau: FloatArray,
              family: str, mu_mean: float, mu_scale: float) -> tuple[float, float]:
    """Interval of mu where the joint log posterior is within ``LOG_RANGE`` of its maximum."""
    lim = _COARSE_HALF_WIDTH[family] * mu_scale
    mu = np.linspace(mu_mean - lim, mu_mean + lim, MU_COARSE)
    taus = tau[:: max(1, len(tau) // 10)]
    lp = (_loglik(x, n, mu[:, None], taus[None, :])
          + _log_prior_mu(mu, family, mu_mean, mu_scale)[:, None]
          + log_prior_tau[:: max(1, len(tau) // 10)][None, :])
    prof = lp.max(axis=1)
    keep = np.nonzero(prof >= prof.max() - LOG_RANGE)[0]
    step = mu[1] - mu[0]
    return float(mu[keep[0]] - step), float(mu[keep[-1]] + step)


def _predictive(mu: FloatArray, tau: FloatArray, weights: FloatArray, prob: float) -> float:
    """``prob``-quantile of the grid mixture sum W N(mu_j, tau_l^2)."""
    m = np.broadcast_to(mu[:, None], weights.shape).ravel()
    t = np.broadcast_to(tau[None, :], weights.shape).ravel()
    w = weights.ravel()
    keep = w > 1e-14 * w.max()
    m, t, w = m[keep], t[keep], w[keep] / w[keep].sum()
    spread = float(np.max(np.abs(m)) + 12 * np.max(t) + 1.0)

    def cdf(v: float) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(t > 0, (v - m) / np.where(t > 0, t, 1.0), np.where(v >= m, np.inf, -np.inf))
        return float(np.sum(w * special.ndtr(z))) - prob

    return float(optimize.brentq(cdf, -spread, spread, xtol=1e-10))


def binomial_normal(
    events: Any,
    n: Any,
    tau_scale: float = 0.5,
    mu_scale: float = MU_PRIOR_SCALE,
    mu_mean: float = 0.0,
    level: float = 0.95,
    mu_prior: str = "logistic",
) -> BinomialNormalFit:
    r"""Posterior of the Bayesian binomial-normal model (module docstring: model and quadrature).

    Parameters
    ----------
    events, n : array_like of int, shape (k,)
        Event counts and sample sizes (0 <= events <= n, n >= 1); k >= 1.
    tau_scale : float, default 0.5
        Scale of the half-normal prior on tau (logit scale), [roever2021].
    mu_scale, mu_mean : float, default 1 and 0
        Scale and location of the prior on mu (logit scale); the SD for a normal prior.
    level : float, default 0.95
        Credibility level of the equal-tailed intervals.
    mu_prior : {"logistic", "normal"}, default "logistic"
        Family of the prior on mu: Logistic(``mu_mean``, ``mu_scale``), uniform on the
        proportion scale at the defaults ([northrup2018]), or normal with mean ``mu_mean`` and SD ``mu_scale``.

    Returns
    -------
    BinomialNormalFit

    Raises
    ------
    ValueError
        Bad counts or prior settings.
    """
    x, m = _check(events, n)
    for name, v in (("tau_scale", tau_scale), ("mu_scale", mu_scale)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number; got {v!r}")
    if mu_prior not in MU_PRIORS:
        raise ValueError(f"mu_prior must be one of {', '.join(MU_PRIORS)}; got {mu_prior!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1; got {level}")
    tau_max = TAU_MAX_SCALES * tau_scale
    u_c = np.linspace(0.0, 1.0, TAU_NODES)
    tau_c = tau_max * u_c**2
    lo, hi = _mu_range(x, m, tau_c, -0.5 * (tau_c / tau_scale) ** 2, mu_prior, mu_mean,
                       mu_scale)
    mu_c = np.linspace(lo, hi, MU_NODES)
    lp_c = (_loglik(x, m, mu_c[:, None], tau_c[None, :])
            + _log_prior_mu(mu_c, mu_prior, mu_mean, mu_scale)[:, None]
            - 0.5 * (tau_c[None, :] / tau_scale) ** 2)
    # the log posterior is smooth in mu and in u = sqrt(tau / tau_max): cubic splines carry it
    # from the quadrature grid to a fine grid, where the trapezoid rule integrates it
    mu = np.linspace(lo, hi, MU_FINE)
    u = np.linspace(0.0, 1.0, TAU_FINE)
    lp = interpolate.CubicSpline(mu_c, lp_c, axis=0)(mu)
    lp = interpolate.CubicSpline(u_c, lp, axis=1)(u)
    tau = tau_max * u**2
    joint = np.exp(lp - lp.max()) * (2.0 * tau_max * u)[None, :]  # density in (mu, u)
    wm, wu = _trapezoid_weights(mu), _trapezoid_weights(u)
    a = (1 - level) / 2
    probs = (a, 0.5, 1 - a)
    dens_mu = joint @ wu
    mu_lo, mu_med, mu_hi = _quantiles(mu, dens_mu, probs)
    w_mu = dens_mu * wm / np.sum(dens_mu * wm)
    mu_mean_post = float(np.sum(w_mu * mu))
    mu_sd_post = math.sqrt(max(float(np.sum(w_mu * (mu - mu_mean_post) ** 2)), 0.0))
    u_lo, u_med, u_hi = _quantiles(u, wm @ joint, probs)
    t_lo, t_med, t_hi = (tau_max * v * v for v in (u_lo, u_med, u_hi))
    step = max(1, (TAU_FINE - 1) // 40)  # the predictive mixture on every step-th fine point
    weights = (joint * wm[:, None] * wu[None, :])[::step, ::step]
    return BinomialNormalFit(
        mu_median=mu_med, mu_lower=mu_lo, mu_upper=mu_hi, mu_post_mean=mu_mean_post,
        mu_post_sd=mu_sd_post, tau_median=t_med, tau_lower=t_lo, tau_upper=t_hi,
        tau2_median=t_med**2, pred_lower=_predictive(mu[::step], tau[::step], weights, a),
        pred_upper=_predictive(mu[::step], tau[::step], weights, 1 - a), tau_scale=float(tau_scale),
        mu_scale=float(mu_scale), mu_mean=float(mu_mean), level=float(level), k=int(x.size),
        mu_prior=mu_prior)


def mu_prior_text(family: str, scale: float, mean: float = 0.0) -> str:
    """The prior on mu in words, e.g. "logistic(0, 1) prior on mu (uniform on the proportion
    scale)" or "normal prior on mu with mean 0 and SD 1.5"."""
    if family == "logistic":
        flat = " (uniform on the proportion scale)" if (mean, scale) == (0.0, 1.0) else ""
        return f"logistic({mean:g}, {scale:g}) prior on mu{flat}"
    return f"normal prior on mu with mean {mean:g} and SD {scale:g}"
