"""Profile-likelihood confidence interval of the between-study variance of the binomial-normal GLMM.

The GLMM's own interval for :math:`\\tau^2`, so that I² and its interval come from one model (the
inverse-variance Q-profile interval belongs to another model, the normal approximation of the
study logits). Pure functions on arrays; no I/O. metafor offers no interval for ``rma.glmm``; the
tests compare with a brute-force profile in base R (numerical integration of each study's
likelihood, ``optimize`` and ``uniroot``; ``tests/reference/glmm_heterogeneity_reference.R``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats

from analysis.engine.glmm import (
    LOGLIK_TOL,
    NODE_SEQUENCE,
    _agq,
    _converged_loglik,
    _log_choose,
    _validate,
    fit_binomial_normal,
)

__all__ = ["glmm_tau2_interval", "profile_loglik", "tau2_profile_ci"]

#: Largest tau2 searched for the upper bound (logit scale): tau = 100. Beyond it the bound is infinite.
TAU2_MAX = 1e4
#: Root-finding tolerance on tau2 (absolute).
XTOL = 1e-10


def profile_loglik(events: Any, n: Any, tau2: float, mu_start: float | None = None) -> float:
    """The binomial-normal log-likelihood at ``tau2``, maximised over the mean logit.

    .. math:: \\ell_p(\\tau^2) = \\max_{\\mu} \\sum_i \\log \\int \\binom{n_i}{x_i}
              \\operatorname{expit}(\\mu + \\tau z)^{x_i} \\{1 - \\operatorname{expit}(\\mu + \\tau z)\\}^{n_i - x_i}
              \\phi(z)\\,dz

    Newton steps in :math:`\\mu` with the adaptive quadrature of :mod:`analysis.engine.glmm` at the
    node count that reaches its accuracy (``LOGLIK_TOL``) at the optimum.

    Parameters
    ----------
    events, n : array_like of int, shape (k,)
    tau2 : float
        Between-study variance (>= 0).
    mu_start : float, optional
        A mean logit near the maximum (default: the pooled logit).

    Returns
    -------
    float

    Raises
    ------
    ArithmeticError
        When the quadrature or the maximisation over the mean does not converge.
    """
    x, m = _validate(events, n, None)
    if not (math.isfinite(tau2) and tau2 >= 0):
        raise ValueError(f"tau2 must be finite and >= 0, got {tau2!r}")
    tau = math.sqrt(tau2)
    mu = math.log((x.sum() + 0.5) / (m.sum() - x.sum() + 0.5)) if mu_start is None else float(mu_start)
    start = 0
    for _ in range(len(NODE_SEQUENCE)):
        _, index = _converged_loglik(x, m, mu, tau, start)
        if index is None:
            raise ArithmeticError("quadrature did not reach the requested accuracy")
        mu = _newton_in_mu(x, m, mu, tau, NODE_SEQUENCE[index])
        value, again = _converged_loglik(x, m, mu, tau, index)
        if again == index:
            return value + _log_choose(x, m)
        start = index if again is None else again
    raise ArithmeticError("the profile over the mean did not settle")


#: Gain in log-likelihood, predicted by a Newton step, below which a point that stopped creeping counts as the
#: maximum over the mean: the accuracy asked of the quadrature itself (far below the chi-square thresholds the
#: profile intervals are read at).
_FLAT_GAIN = LOGLIK_TOL


def _newton_in_mu(x: np.ndarray, m: np.ndarray, mu: float, tau: float, nodes: int) -> float:
    """Maximise the log-likelihood over mu at fixed tau (concave in mu: Newton with step halving)."""
    value, grad, hess = _agq(x, m, mu, tau, nodes, True)
    for _ in range(100):
        step = -float(grad[0]) / float(hess[0, 0]) if hess[0, 0] < 0 else float(np.sign(grad[0]))
        while True:
            trial, g_new, h_new = _agq(x, m, mu + step, tau, nodes, True)
            if trial >= value - 1e-12 or abs(step) < 1e-12:
                break
            step /= 2.0
        mu, value, grad, hess = mu + step, trial, g_new, h_new
        if abs(step) < 1e-10:
            return mu
    # Where the likelihood is very flat in mu (a large tau), the quadrature's last digits can leave the
    # steps creeping without reaching 1e-10; the point is then accepted when the gain Newton predicts from
    # it is negligible (the profile value is what is wanted, and it is then exact to that gain).
    if hess[0, 0] < 0 and 0.5 * float(grad[0]) ** 2 / -float(hess[0, 0]) < _FLAT_GAIN:
        return mu
    raise ArithmeticError("the maximisation over the mean did not converge")


def tau2_profile_ci(events: Any, n: Any, level: float = 0.95, fit: Any = None) -> tuple[float, float]:
    """Profile-likelihood confidence interval of :math:`\\tau^2` of the binomial-normal model.

    The set of :math:`\\tau^2` whose profile log-likelihood lies within
    :math:`\\chi^2_{1;\\,\\text{level}} / 2` of the maximum [hamza2008] [stijnen2010]: the lower
    bound is 0 when :math:`\\ell_p(0)` is within that distance, else the root below
    :math:`\\hat\\tau^2`; the upper bound the root above it (infinite beyond :data:`TAU2_MAX`).

    Parameters
    ----------
    events, n : array_like of int, shape (k,)
    level : float, optional
        Confidence level. Default = 0.95.
    fit : GLMMFit, optional
        :func:`analysis.engine.glmm.fit_binomial_normal` of the same data (fitted when None).

    Returns
    -------
    tuple of float
        (lower, upper).

    Raises
    ------
    ValueError
        A level outside (0, 1), or a fit without a finite estimate (no profile then).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    fit = fit_binomial_normal(events, n) if fit is None else fit
    if not fit.converged or not math.isfinite(fit.tau2):
        raise ValueError(f"the GLMM has no finite estimate, so tau2 has no profile interval ({fit.message})")
    drop = float(stats.chi2.ppf(level, 1)) / 2.0
    best = max(float(fit.loglik), profile_loglik(events, n, fit.tau2, fit.mu))

    def gap(tau2: float) -> float:
        return best - profile_loglik(events, n, tau2, fit.mu) - drop

    lower = 0.0 if gap(0.0) <= 0 else optimize.brentq(gap, 0.0, fit.tau2, xtol=XTOL)
    high = max(2.0 * fit.tau2, 0.05)
    while gap(high) < 0:
        if high >= TAU2_MAX:
            return float(lower), math.inf
        high = min(4.0 * high, TAU2_MAX)
    upper = optimize.brentq(gap, fit.tau2, high, xtol=XTOL)
    return float(lower), float(upper)


def glmm_tau2_interval(events: Any, n: Any, level: float, fit: Any) -> tuple[tuple[float, float], bool]:
    """:func:`tau2_profile_ci` and whether its upper bound is infinite (the search limit was reached).

    The form :class:`analysis.engine.results.MetaPropResult` stores (``tau2_ci``, ``tau2_ci_capped``).
    """
    lower, upper = tau2_profile_ci(events, n, level, fit)
    return (lower, upper), not math.isfinite(upper)
